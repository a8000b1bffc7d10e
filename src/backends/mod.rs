//! The backend traits the engine drives, speaking only this project's types, and the adapters
//! behind them. A backend is one way into the cluster: the node containers (Docker), the
//! Kubernetes API, and etcd. The engine connects each lazily through a [`Connector`], so a
//! playbook that only touches nodes and etcd runs while the API server is down.

pub mod docker;
pub mod etcd;
#[cfg(feature = "test-fake-cluster")]
pub mod fake;
pub mod http;
pub mod kube;
mod network;
mod resource;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};

pub use network::*;
pub use resource::*;
pub use types::*;

use crate::playbook::model::{NodeTaint, Propagation, ResourceRef};

/// What went wrong talking to a backend. The kind decides the exit code.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct BackendError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The backend cannot be reached or is not set up (no Docker, no cluster, etcd down): exit 3.
    Unavailable,
    /// The named thing does not exist (a node, a pod).
    NotFound,
    /// The backend refused or failed the operation.
    Failed,
}

impl BackendError {
    pub fn unavailable(m: impl Into<String>) -> Self {
        BackendError {
            kind: ErrorKind::Unavailable,
            message: m.into(),
        }
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        BackendError {
            kind: ErrorKind::NotFound,
            message: m.into(),
        }
    }
    pub fn failed(m: impl Into<String>) -> Self {
        BackendError {
            kind: ErrorKind::Failed,
            message: m.into(),
        }
    }
}

pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// The node containers of a kind cluster: faults on them and what really runs in them.
#[async_trait]
pub trait NodeOps: Send + Sync {
    /// The cluster's node containers.
    async fn nodes(&self) -> Result<Vec<NodeContainer>>;
    /// `chmod -x` the kubelet and kill it (`stop`), or `chmod +x` and wait for it (`start`).
    async fn kubelet(&self, node: &str, action: KubeletAction) -> Result<()>;
    /// Pause, unpause, stop, start or kill a node container.
    async fn container(&self, node: &str, action: ContainerAction) -> Result<()>;
    /// Sends a signal to a pod's container process inside `node`.
    async fn kill_pod_container(&self, node: &str, kill: PodSignal<'_>) -> Result<()>;
    /// Runs an argv in a node container.
    async fn exec(&self, node: &str, argv: &[String]) -> Result<ExecOutput>;
    /// Drops the node's traffic with peers: rules in the iptables chain `cut.chain`, jumped to
    /// from `INPUT` and `OUTPUT`. Fails, adding nothing, when that chain exists already.
    async fn partition(&self, node: &str, cut: &Partition) -> Result<()>;
    /// Removes the chain and every jump to it; succeeds when there is none (idempotent).
    async fn heal(&self, node: &str, chain: &str) -> Result<()>;
    /// Degrades what the node sends with a root qdisc of kind-chaos's own on its interface on
    /// the `kind` network. Fails, leaving nothing, when the kernel lacks sch_netem or another
    /// root qdisc is there.
    async fn shape(&self, node: &str, shaping: &Shaping) -> Result<()>;
    /// Removes that qdisc if it is there (idempotent); leaves a qdisc not ours alone.
    async fn unshape(&self, node: &str) -> Result<()>;
    /// Starts a CPU hog in the node (it ends by itself after `hog.seconds`).
    async fn hog(&self, node: &str, hog: &CpuHog) -> Result<()>;
    /// Stops the hog named `marker` if it still runs (idempotent).
    async fn unhog(&self, node: &str, marker: &str) -> Result<()>;
    /// Takes memory or disk in the node (freed by itself after `fill.seconds`). Fails, leaving
    /// nothing, when it cannot take all of it or a fill of that marker is there already.
    async fn fill(&self, node: &str, fill: &Fill) -> Result<Held>;
    /// Frees the fill named `marker` and stops its timer; returns the bytes freed, 0 when
    /// there was nothing (idempotent).
    async fn unfill(&self, node: &str, marker: &str) -> Result<u64>;
    /// Removes every fault of kind-chaos's found in the node, journaled or not: iptables
    /// chains named [`CHAIN_PREFIX`]..., its qdisc, hogs and fills. Returns what it removed,
    /// one line each.
    async fn sweep(&self, node: &str) -> Result<Vec<String>>;
    /// What runs on the nodes (all of them when `node` is `None`), read in parallel.
    async fn reality(&self, node: Option<&str>) -> Result<Vec<NodeReality>>;
    /// The node container's IP address on the `kind` network (where a `hostPort`, a
    /// `NodePort` or a `hostNetwork` pod of the node is reached).
    async fn address(&self, node: &str) -> Result<String>;
}

/// The Kubernetes API.
#[async_trait]
pub trait KubeOps: Send + Sync {
    /// Server-side applies the documents; returns what was applied, for deletion later.
    async fn apply(
        &self,
        documents: &[serde_json::Value],
        namespace: Option<&str>,
    ) -> Result<Vec<ResourceRef>>;
    async fn delete(&self, target: &ResourceRef, opts: &DeleteOptions) -> Result<()>;
    async fn pods(&self, query: &PodQuery) -> Result<Vec<PodView>>;
    async fn pod_logs(
        &self,
        pod: &PodKey,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String>;
    async fn nodes(&self) -> Result<Vec<NodeView>>;
    async fn namespace(&self, name: &str) -> Result<Option<NamespaceView>>;
    async fn get(&self, target: &ResourceRef) -> Result<Option<serde_json::Value>>;
    /// Whether the API server would accept a write to the object: a dry-run (`dryRun=All`)
    /// empty merge patch, which goes through admission and changes nothing.
    async fn write_check(&self, target: &ResourceRef) -> Result<WriteCheck>;
    async fn events(&self, namespace: &str) -> Result<Vec<EventView>>;
    /// Adds or removes one finalizer; `Ok(false)` when there was nothing to change.
    async fn finalizer(
        &self,
        target: &ResourceRef,
        finalizer: &str,
        op: FinalizerOp,
    ) -> Result<bool>;
    /// Removes every finalizer; returns the ones removed.
    async fn clear_finalizers(&self, target: &ResourceRef) -> Result<Vec<String>>;
    /// Empties `spec.finalizers` of a namespace through `/finalize`.
    async fn finalize_namespace(&self, name: &str) -> Result<()>;
    async fn cordon(&self, node: &str, cordoned: bool) -> Result<()>;
    async fn taint(&self, taint: &NodeTaint, present: bool) -> Result<()>;
    /// Something in the cluster changed: waits look again at once instead of at the next poll.
    /// Backends that cannot watch return a stream that never yields.
    fn changes(&self) -> BoxStream<'static, ()> {
        Box::pin(futures::stream::pending())
    }
    /// Every change to the pods of `scope.namespaces`, those namespaces and `scope.nodes`,
    /// starting with their state now (a list), for the run's timeline. A watch that breaks is
    /// re-established by the backend (yielding [`ApiChange::Broken`], then the state listed
    /// again); the stream never ends by itself. Backends that cannot watch yield one empty
    /// `Listed`, then nothing.
    fn watch(&self, _scope: &WatchScope) -> BoxStream<'static, ApiChange> {
        let listed = ApiChange::Listed {
            what: "nothing (this backend cannot watch)".into(),
        };
        Box::pin(futures::stream::iter([listed]).chain(futures::stream::pending()))
    }
}

/// etcd, raw.
#[async_trait]
pub trait EtcdOps: Send + Sync {
    /// Reads the keys and values (one key, or all under a prefix) at one revision, changing
    /// nothing: the engine journals them before it asks for the delete.
    async fn read(&self, selector: &EtcdSelector) -> Result<EtcdBackup>;
    /// A fresh path for the backup file of a delete of `selector`, chosen before anything is
    /// read so that the journal can name it ahead. `None` for a backend that keeps no backup
    /// files (the in-memory fake): the engine journals the values instead.
    fn backup_path(&self, _selector: &EtcdSelector) -> Option<std::path::PathBuf> {
        None
    }
    /// Reads the keys (one, or all under a prefix) at one revision, then deletes them. A
    /// backend with backup files writes every value to `backup` (else a path of its own) and
    /// flushes it to disk before the first key is deleted. The returned backup holds every
    /// value deleted.
    async fn delete(
        &self,
        selector: &EtcdSelector,
        backup: Option<&std::path::Path>,
    ) -> Result<EtcdBackup>;
    /// Puts the backed-up values back; keys that exist again are skipped unless `force`.
    async fn restore(&self, backup: &EtcdBackup, force: bool) -> Result<RestoreReport>;
    /// Puts back what a backup file written by [`EtcdOps::delete`] holds; `Ok(None)` when the
    /// file does not exist (a delete writes it before it deletes anything, so then it deleted
    /// nothing).
    async fn restore_file(
        &self,
        path: &std::path::Path,
        _force: bool,
    ) -> Result<Option<RestoreReport>> {
        Err(BackendError::failed(format!(
            "cannot restore {}: this etcd backend keeps no backup files",
            path.display()
        )))
    }
    async fn exists(&self, key: &str) -> Result<bool>;
    async fn count(&self, prefix: &str) -> Result<u64>;
}

/// Creates backends on first use.
#[async_trait]
pub trait Connector: Send + Sync {
    async fn nodes(&self) -> Result<Arc<dyn NodeOps>>;
    async fn kube(&self) -> Result<Arc<dyn KubeOps>>;
    async fn etcd(&self) -> Result<Arc<dyn EtcdOps>>;
}

/// How a delete is carried out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<Propagation>,
}

impl DeleteOptions {
    /// What `kubectl delete --force` sends: grace 0, background propagation.
    pub fn force() -> Self {
        DeleteOptions {
            grace_period_seconds: Some(0),
            propagation: Some(Propagation::Background),
        }
    }
}
