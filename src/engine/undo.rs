//! Undo records: what a fault changed and how to change it back. Each is self-contained and
//! idempotent, so running it twice (after a crash, by `chaos recover`) is harmless.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::backends::{ContainerAction, EtcdBackup, EtcdSelector, KubeletAction};
use crate::playbook::model::{Action, NodeTaint, ResourceRef};
use crate::playbook::values::Signal;

use super::backends::Backends;
use crate::backends::{BackendError, ErrorKind, KubeOps, RestoreReport};

mod finalizer;

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
}

impl UndoRecord {
    pub fn describe(&self) -> String {
        match self {
            UndoRecord::KubeletStart { node } => {
                format!("make the kubelet executable again on {node} and wait for it")
            }
            UndoRecord::NodeUnpause { node } => format!("unpause node container {node}"),
            UndoRecord::NodeStart { node } => format!("start node container {node}"),
            UndoRecord::NodeContinue { node } => {
                format!("resume node container {node} (SIGCONT to its stopped PID 1)")
            }
            UndoRecord::FinalizerRemove {
                resource,
                finalizer,
            } => format!("remove finalizer {finalizer} from {resource}"),
            UndoRecord::NodeUncordon { node } => format!("uncordon {node}"),
            UndoRecord::NodeUntaint { taint } => {
                format!("remove taint {} from {}", taint.key, taint.node)
            }
            UndoRecord::EtcdRestore {
                selector,
                file: Some(file),
                deleted,
                ..
            } => match deleted {
                Some(n) => format!(
                    "restore {n} etcd value(s) of {selector} from {}",
                    file.display()
                ),
                None => format!(
                    "restore the etcd values of {selector} that were deleted, from {}",
                    file.display()
                ),
            },
            UndoRecord::EtcdRestore {
                selector, backup, ..
            } => {
                format!(
                    "restore {} etcd value(s) of {selector}",
                    backup.entries.len()
                )
            }
            UndoRecord::Exec { node, command } => format!("run `{}` in {node}", command.join(" ")),
            UndoRecord::DeleteApplied { resources } => {
                let names: Vec<String> = resources.iter().map(ToString::to_string).collect();
                format!("delete what was applied: {}", names.join(", "))
            }
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
    pub async fn apply(&self, b: &Backends) -> Result<Option<String>, BackendError> {
        match self {
            UndoRecord::KubeletStart { node } => {
                b.nodes().await?.kubelet(node, KubeletAction::Start).await?;
            }
            UndoRecord::NodeUnpause { node } => {
                b.nodes()
                    .await?
                    .container(node, ContainerAction::Unpause)
                    .await?;
            }
            // "Start" resumes a PID 1 a stop signal froze, and checks the node runs.
            UndoRecord::NodeStart { node } | UndoRecord::NodeContinue { node } => {
                b.nodes()
                    .await?
                    .container(node, ContainerAction::Start)
                    .await?;
            }
            UndoRecord::FinalizerRemove {
                resource,
                finalizer,
            } => {
                return finalizer::remove(b.kube().await?.as_ref(), resource, finalizer).await;
            }
            UndoRecord::NodeUncordon { node } => b.kube().await?.cordon(node, false).await?,
            UndoRecord::NodeUntaint { taint } => b.kube().await?.taint(taint, false).await?,
            UndoRecord::EtcdRestore {
                file: Some(file),
                deleted,
                ..
            } => {
                return match b.etcd().await?.restore_file(file, false).await? {
                    Some(report) => Ok(skipped_note(&report)),
                    None => match deleted {
                        Some(n) if *n > 0 => Err(BackendError::failed(format!(
                            "the backup file {} of the {n} deleted value(s) is gone; they \
                             cannot be restored",
                            file.display()
                        ))),
                        // The delete writes its file before it deletes anything.
                        _ => Ok(Some(
                            "nothing had been deleted (the delete wrote no backup file)".into(),
                        )),
                    },
                };
            }
            UndoRecord::EtcdRestore { backup, .. } => {
                let report = b.etcd().await?.restore(backup, false).await?;
                return Ok(skipped_note(&report));
            }
            UndoRecord::Exec { node, command } => {
                let out = b.nodes().await?.exec(node, command).await?;
                if out.exit_code != 0 {
                    return Err(BackendError::failed(format!(
                        "`{}` exited with {}: {}",
                        command.join(" "),
                        out.exit_code,
                        out.stderr.trim()
                    )));
                }
            }
            UndoRecord::DeleteApplied { resources } => {
                let kube = b.kube().await?;
                let mut failures = Vec::new();
                for r in resources.iter().rev() {
                    if let Err(e) = delete_confirmed(kube.as_ref(), r).await {
                        failures.push(format!("{r}: {e}"));
                    }
                }
                if !failures.is_empty() {
                    return Err(BackendError::failed(failures.join("; ")));
                }
            }
        }
        Ok(None)
    }
}

/// Deletes `r`; a 404 counts as done only once a read confirms the object is gone (deletes
/// are never refused for a missing namespace, but a 404 that leaves the object stored must
/// not be reported as undone).
async fn delete_confirmed(kube: &dyn KubeOps, r: &ResourceRef) -> Result<(), BackendError> {
    match kube.delete(r, &Default::default()).await {
        Err(e) if e.kind == ErrorKind::NotFound => match kube.get(r).await {
            // Gone, or of a kind the server does not know (nothing of it can exist).
            Ok(None) => Ok(()),
            Err(again) if again.kind == ErrorKind::NotFound => Ok(()),
            Ok(Some(_)) => Err(BackendError::failed(format!(
                "{}, yet it is still stored",
                e.message
            ))),
            Err(again) => Err(again),
        },
        other => other,
    }
}

/// What a restore left alone, worth saying: keys written again since the delete are never
/// overwritten.
fn skipped_note(report: &RestoreReport) -> Option<String> {
    (!report.skipped.is_empty()).then(|| {
        format!(
            "{} key(s) were written again since and were left as they are: {}",
            report.skipped.len(),
            report.skipped.join(", ")
        )
    })
}

/// The undo a fault will need, known before it is injected (written ahead to the journal). For
/// `etcd-delete` the planned record names no backup yet: the engine adds the file the backend
/// will write (see `inject`).
pub fn record_for(action: &Action) -> Option<UndoRecord> {
    Some(match action {
        Action::KubeletStop(n) => UndoRecord::KubeletStart {
            node: n.node.clone(),
        },
        Action::NodePause(n) => UndoRecord::NodeUnpause {
            node: n.node.clone(),
        },
        Action::NodeStop(n) => UndoRecord::NodeStart {
            node: n.node.clone(),
        },
        Action::NodeKill(n) => node_kill_undo(&n.node, n.signal),
        Action::FinalizerAdd(f) => UndoRecord::FinalizerRemove {
            resource: f.resource.clone(),
            finalizer: f.finalizer.clone(),
        },
        Action::NodeCordon(n) => UndoRecord::NodeUncordon {
            node: n.node.clone(),
        },
        Action::NodeTaint(t) => UndoRecord::NodeUntaint { taint: t.clone() },
        Action::EtcdDelete(e) => UndoRecord::EtcdRestore {
            selector: match (&e.key, &e.prefix) {
                (Some(k), _) => EtcdSelector::Key(k.clone()),
                (None, p) => EtcdSelector::Prefix(p.clone().unwrap_or_default()),
            },
            file: None,
            deleted: None,
            backup: EtcdBackup::default(),
        },
        Action::Exec(x) => UndoRecord::Exec {
            node: x.node.clone(),
            command: x.undo.clone()?,
        },
        _ => return None,
    })
}

/// The undo of `node-kill`: a stop signal (`SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`) froze
/// PID 1 while Docker still says `running`, so it is resumed; any other signal ended it, so
/// the container is started.
pub fn node_kill_undo(node: &str, signal: Option<Signal>) -> UndoRecord {
    let node = node.to_string();
    // Linux numbers: SIGSTOP 19, SIGTSTP 20, SIGTTIN 21, SIGTTOU 22.
    match signal.map(|s| s.0) {
        Some(19..=22) => UndoRecord::NodeContinue { node },
        _ => UndoRecord::NodeStart { node },
    }
}

/// The undo a step would register, described for `--dry-run`.
pub fn planned(action: &Action) -> Option<String> {
    match (action, record_for(action)?) {
        (Action::EtcdDelete(_), UndoRecord::EtcdRestore { selector, .. }) => Some(format!(
            "restore the deleted etcd values of {selector} from their backup"
        )),
        (_, record) => Some(record.describe()),
    }
}

/// What applying these documents will create, for the journal (the namespace of a document
/// that names none is the step's, else `default`; cluster-scoped kinds are not known before
/// discovery, so the applied record, which comes from the server, replaces this one).
pub fn applied_refs(documents: &[serde_json::Value], namespace: Option<&str>) -> Vec<ResourceRef> {
    documents
        .iter()
        .map(|d| ResourceRef::of_document(d, namespace))
        .collect()
}
