//! The faults, one module per kind (or small family), each holding side by side how the fault
//! is described, which undo it needs, how it is injected and how that undo is carried out
//! (chaos-mesh keeps a fault's apply and recover together the same way).
//!
//! This file is the registry: the [`Fault`] trait every fault implements, [`of`] (which fault
//! an action is: it asks each family's own `of`, so a fault added to a family is found without
//! a line here) and [`UndoRecord`] (every fault's undo in one enum, because the journal stores
//! them tagged by kind). The undo's matches are exhaustive, so the compiler names every line a
//! new kind of undo must add here.

/// Declares a family's faults and its lookup: for each `Fault(Body)`, a struct wrapping the
/// body of the `Action` variant of the same name, and the family's `of`, the fault an action
/// is when the family holds it. A fault added to a family is one line of its `family!`.
macro_rules! family {
    ($($fault:ident($body:ty)),+ $(,)?) => {
        $(pub struct $fault<'a>(pub &'a $body);)+

        /// The fault `action` is, when this family holds it.
        pub fn of(
            action: &$crate::playbook::model::Action,
        ) -> Option<Box<dyn $crate::engine::faults::Fault + '_>> {
            match action {
                $($crate::playbook::model::Action::$fault(body) => Some(Box::new($fault(body))),)+
                _ => None,
            }
        }
    };
}

mod apply;
mod container;
mod delete;
mod etcd;
mod exec;
mod finalizer;
mod network;
mod node;
mod resource;
mod schedule;

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backends::{ContainerAction, EtcdBackup, EtcdSelector, Result};
use crate::playbook::model::{Action, NodeTaint, ResourceRef};

use super::backends::Backends;

pub use apply::applied_refs;

/// What the engine knows about one kind of fault.
#[async_trait]
pub trait Fault: Send + Sync {
    /// One line for progress lines, reports and `--dry-run`.
    fn describe(&self) -> String;

    /// The undo it will need, known before it is injected; `None`: it has no undo.
    fn undo(&self) -> Option<UndoRecord> {
        None
    }

    /// The undo as `--dry-run` shows it.
    fn planned(&self) -> Option<String> {
        self.undo().map(|r| r.describe())
    }

    /// The undo written ahead to the journal: [`Fault::undo`], completed with what only the
    /// backends know (where etcd's backup file will be).
    async fn intent(&self, _b: &Backends) -> Result<Option<UndoRecord>> {
        Ok(self.undo())
    }

    /// Carries the fault out. `undo` is the record journaled ahead (the intent), built once;
    /// the result is the undo now owed (`None` when nothing was changed that needs one).
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>>;

    /// Whether `undo` is still owed when injecting fails part way (it may have changed some).
    fn owed_if_failed(&self, _undo: &UndoRecord) -> bool {
        false
    }
}

/// One family's lookup: the fault `action` is, when the family holds it (the `of` that
/// [`family!`] writes).
type Family = for<'a> fn(&'a Action) -> Option<Box<dyn Fault + 'a>>;

/// The families, asked in turn. A new fault in an existing family adds nothing here; the unit
/// tests check that every fault key has exactly one family.
const FAMILIES: &[Family] = &[
    node::of,
    container::of,
    delete::of,
    finalizer::of,
    schedule::of,
    etcd::of,
    exec::of,
    network::of,
    resource::of,
];

/// The fault an action is; `None` for the actions that are not faults (apply, wait, sleep,
/// assert, group, undo).
pub fn of(action: &Action) -> Option<Box<dyn Fault + '_>> {
    FAMILIES.iter().find_map(|family| family(action))
}

/// The undo a fault will need, known before it is injected (for `etcd-delete`, without the
/// backup file the backend will name: see [`Fault::intent`]).
pub fn record_for(action: &Action) -> Option<UndoRecord> {
    of(action)?.undo()
}

/// The undo a step would register, described for `--dry-run`.
pub fn planned(action: &Action) -> Option<String> {
    of(action)?.planned()
}

/// What a fault changed and how to change it back. Each is self-contained and idempotent, so
/// running it twice (after a crash, by `chaos recover`) is harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "undo")]
pub enum UndoRecord {
    KubeletStart {
        node: String,
    },
    NodeUnpause {
        node: String,
    },
    NodeStart {
        node: String,
    },
    /// After `node-kill` with a stop signal: `SIGCONT` to the node's PID 1.
    NodeContinue {
        node: String,
    },
    FinalizerRemove {
        resource: ResourceRef,
        finalizer: String,
    },
    NodeUncordon {
        node: String,
    },
    NodeUntaint {
        taint: NodeTaint,
    },
    /// Put back what an `etcd-delete` removed. The journal names the backup file (written and
    /// fsync'd before the first key is deleted) rather than holding the values: the file holds
    /// exactly the values read at the delete's own revision, also when the run died before it
    /// could record `applied`.
    EtcdRestore {
        selector: EtcdSelector,
        /// The backup file of the delete (backends that write one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<PathBuf>,
        /// How many values the delete removed; `None` until it is known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deleted: Option<usize>,
        /// The values themselves: only from backends that keep no backup file (the in-memory
        /// fake), and in journals of version 1.
        #[serde(default, skip_serializing_if = "EtcdBackup::is_empty")]
        backup: EtcdBackup,
    },
    Exec {
        node: String,
        command: Vec<String>,
    },
    DeleteApplied {
        resources: Vec<ResourceRef>,
    },
    /// After `network-partition`: remove the node's iptables chain of that partition.
    NetworkHeal {
        node: String,
        chain: String,
    },
    /// After `network-delay`, `-loss`, `-bandwidth`: remove kind-chaos's qdisc from the node.
    NetworkUnshape {
        node: String,
    },
    /// After `cpu-hog`: stop its busy loops if they still run.
    HogStop {
        node: String,
        marker: String,
    },
    /// After `memory-hog` or `disk-fill`: stop its timer and free what it holds.
    FillFree {
        node: String,
        marker: String,
        /// The bytes the node reported held once the fill was written; `None` until then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held: Option<u64>,
    },
}

impl UndoRecord {
    pub fn describe(&self) -> String {
        match self {
            UndoRecord::KubeletStart { node } => node::kubelet_start_text(node),
            UndoRecord::NodeUnpause { node } => node::unpause_text(node),
            UndoRecord::NodeStart { node } => node::start_text(node),
            UndoRecord::NodeContinue { node } => node::continue_text(node),
            UndoRecord::FinalizerRemove {
                resource,
                finalizer,
            } => finalizer::remove_text(resource, finalizer),
            UndoRecord::NodeUncordon { node } => schedule::uncordon_text(node),
            UndoRecord::NodeUntaint { taint } => schedule::untaint_text(taint),
            UndoRecord::EtcdRestore {
                selector,
                file,
                deleted,
                backup,
            } => etcd::restore_text(selector, file.as_deref(), *deleted, backup),
            UndoRecord::Exec { node, command } => exec::undo_text(node, command),
            UndoRecord::DeleteApplied { resources } => apply::delete_text(resources),
            UndoRecord::NetworkHeal { node, chain } => network::heal_text(node, chain),
            UndoRecord::NetworkUnshape { node } => network::unshape_text(node),
            UndoRecord::HogStop { node, marker } => resource::stop_text(node, marker),
            UndoRecord::FillFree { node, marker, held } => resource::free_text(node, marker, *held),
        }
    }

    /// The backup file an `etcd-delete` wrote its values to, for the reports.
    pub fn backup_file(&self) -> Option<&std::path::Path> {
        match self {
            UndoRecord::EtcdRestore { file, .. } => file.as_deref(),
            _ => None,
        }
    }

    /// Carries the undo out; `Ok(Some(note))` when it succeeded with something worth saying
    /// (etcd keys written again since the delete are left alone, not overwritten).
    pub async fn apply(&self, b: &Backends) -> Result<Option<String>> {
        match self {
            UndoRecord::KubeletStart { node } => node::kubelet_start(b, node).await,
            UndoRecord::NodeUnpause { node } => {
                node::container_back(b, node, ContainerAction::Unpause).await
            }
            UndoRecord::NodeStart { node } | UndoRecord::NodeContinue { node } => {
                node::container_back(b, node, ContainerAction::Start).await
            }
            UndoRecord::FinalizerRemove {
                resource,
                finalizer,
            } => finalizer::remove(b, resource, finalizer).await,
            UndoRecord::NodeUncordon { node } => schedule::uncordon(b, node).await,
            UndoRecord::NodeUntaint { taint } => schedule::untaint(b, taint).await,
            UndoRecord::EtcdRestore {
                file,
                deleted,
                backup,
                ..
            } => etcd::restore(b, file.as_deref(), *deleted, backup).await,
            UndoRecord::Exec { node, command } => exec::undo(b, node, command).await,
            UndoRecord::DeleteApplied { resources } => apply::delete(b, resources).await,
            UndoRecord::NetworkHeal { node, chain } => network::heal(b, node, chain).await,
            UndoRecord::NetworkUnshape { node } => network::unshape(b, node).await,
            UndoRecord::HogStop { node, marker } => resource::stop(b, node, marker).await,
            UndoRecord::FillFree { node, marker, .. } => resource::free(b, node, marker).await,
        }
    }
}

#[cfg(test)]
mod tests;
