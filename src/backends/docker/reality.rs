//! Node reality: what really runs in each node container.
//!
//! Where it can, each node is read with no process started in it: its containers from
//! containerd's metadata database as the host sees the node's files ([`metadata`]), else
//! through containerd's socket ([`socket`]), else from the Docker host's `/proc` alone
//! ([`host`]); else
//! (or for a node neither can read) by one exec per node: [`scripts::SCAN`] reads every
//! `/proc/PID/cmdline` and the CRI's view
//! (crictl; where it is missing, containerd's task bundles), so a snapshot of N nodes costs
//! one container listing plus N parallel execs. Parsing is pure (see [`parse`]) and
//! unit-tested on captured output; which sandbox a shim serves comes from its `-id` argument,
//! which pod a sandbox belongs to from the CRI's annotations in the task's OCI spec (or its
//! labels `io.kubernetes.pod.{namespace,name,uid}`).

mod bolt;
mod host;
mod kept;
mod metadata;
mod parse;
mod socket;

use std::time::Duration;

use futures::future::join_all;

pub(crate) use kept::Kept;
pub use parse::{NodeScan, parse_tasks};

use super::{DockerNodes, scripts};
use crate::backends::{BackendError, NodeContainer, NodeReality, RealitySource};

/// One node container and what was found in it (or why it could not be read).
#[derive(Debug, Clone)]
pub struct NodeSnapshot {
    pub node: NodeContainer,
    pub reality: Result<NodeReality, BackendError>,
    /// How the node was read; `None` when it was not (not running, or paused).
    pub source: Option<RealitySource>,
}

/// How to read the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadVia {
    /// Without exec where possible (containerd's metadata database, else its socket, else
    /// the host's `/proc`), else by exec (per node).
    Auto,
    /// Only from containerd's metadata database: a node it cannot read is an error (for tests).
    Metadata,
    /// Only through containerd's socket: a node it cannot read is an error (for tests).
    Socket,
    /// Only from the host's `/proc`: a node it cannot read is an error (for tests).
    Host,
    /// Only by exec.
    Exec,
}

impl ReadVia {
    /// `KIND_CHAOS_REALITY=exec|metadata|socket|host|auto` (default `auto`), so the paths
    /// can be compared.
    pub fn from_env() -> Self {
        match std::env::var("KIND_CHAOS_REALITY").as_deref() {
            Ok("exec") => ReadVia::Exec,
            Ok("metadata") => ReadVia::Metadata,
            Ok("socket") => ReadVia::Socket,
            Ok("host") => ReadVia::Host,
            _ => ReadVia::Auto,
        }
    }
}

/// How long reading one node from the host may take before it is given up (a process in a
/// cgroup being frozen at that moment could block a read of its memory).
const HOST_READ_TIMEOUT: Duration = Duration::from_secs(10);

impl DockerNodes {
    /// Reads every node (or one), in parallel. A node that is not running reports nothing
    /// running in it; a paused node, whose processes cannot be read, reports an error.
    pub async fn snapshot(&self, node: Option<&str>) -> Result<Vec<NodeSnapshot>, BackendError> {
        self.snapshot_via(node, ReadVia::from_env()).await
    }

    /// [`Self::snapshot`], choosing how the nodes are read.
    pub async fn snapshot_via(
        &self,
        node: Option<&str>,
        via: ReadVia,
    ) -> Result<Vec<NodeSnapshot>, BackendError> {
        let all = self.nodes().await?;
        self.read_nodes(all, node, via).await
    }

    /// [`Self::snapshot`] of the nodes as the last listing gave them (see
    /// [`Self::listed_nodes`]), for a command that reads them right after connecting: one
    /// Docker listing less.
    pub async fn snapshot_listed(
        &self,
        node: Option<&str>,
    ) -> Result<Vec<NodeSnapshot>, BackendError> {
        let all = self.listed_nodes().await?;
        self.read_nodes(all, node, ReadVia::from_env()).await
    }

    /// Reads the `node` (else every one) of `all`.
    async fn read_nodes(
        &self,
        all: Vec<NodeContainer>,
        node: Option<&str>,
        via: ReadVia,
    ) -> Result<Vec<NodeSnapshot>, BackendError> {
        let chosen: Vec<NodeContainer> = match node {
            None => all,
            Some(want) => {
                let names: Vec<String> = all.iter().map(|n| n.name.clone()).collect();
                let one: Vec<NodeContainer> = all.into_iter().filter(|n| n.name == want).collect();
                if one.is_empty() {
                    return Err(self.no_node(want, names));
                }
                one
            }
        };
        let reads = chosen.into_iter().map(|n| async move {
            let (reality, source) = self.read_node(&n, via).await;
            if let Some(source) = source {
                tracing::info!(node = %n.name, ?source, "node reality read");
            }
            NodeSnapshot {
                node: n,
                reality,
                source,
            }
        });
        Ok(join_all(reads).await)
    }

    /// What runs on the nodes; fails if any chosen node cannot be read.
    pub(crate) async fn reality(
        &self,
        node: Option<&str>,
    ) -> Result<Vec<NodeReality>, BackendError> {
        self.snapshot(node)
            .await?
            .into_iter()
            .map(|s| s.reality)
            .collect()
    }

    async fn read_node(
        &self,
        n: &NodeContainer,
        via: ReadVia,
    ) -> (Result<NodeReality, BackendError>, Option<RealitySource>) {
        match n.state.as_str() {
            "running" => {}
            "paused" => return (Err(paused(&n.name)), None),
            _ => {
                let empty = NodeReality {
                    node: n.name.clone(),
                    ..NodeReality::default()
                };
                return (Ok(empty), None);
            }
        }
        let mut why_not = Vec::new();
        for (way, source) in [
            (ReadVia::Metadata, RealitySource::ContainerdMetadata),
            (ReadVia::Socket, RealitySource::ContainerdSocket),
            (ReadVia::Host, RealitySource::HostProc),
        ] {
            if via != ReadVia::Auto && via != way {
                continue;
            }
            match self.read_host(&n.name, way).await {
                Ok(host::HostRead::Scan(scan)) => {
                    return (Ok(scan.reality(&n.name)), Some(source));
                }
                Ok(host::HostRead::Paused) => return (Err(paused(&n.name)), Some(source)),
                Ok(host::HostRead::Fallback(why)) if via == way => {
                    let msg = format!("node `{}` cannot be read from the host: {why}", n.name);
                    return (Err(BackendError::failed(msg)), Some(source));
                }
                Ok(host::HostRead::Fallback(why)) => why_not.push(why),
                Err(e) => return (Err(e), Some(source)),
            }
        }
        if !why_not.is_empty() {
            tracing::debug!(node = %n.name, why = %why_not.join("; "), "node reality by exec");
        }
        let reality = self.scan(&n.name).await.map(|s| s.reality(&n.name));
        (reality, Some(RealitySource::Exec))
    }

    /// Keeps nothing between reads of the nodes: for a command that reads them once, which
    /// then takes no fingerprint of each node's files for a later read (see [`Kept`]).
    pub fn keep_nothing(&self) {
        self.kept.turn_off();
    }

    /// Forgets what reading through containerd's socket kept (open channels, last listings), so
    /// that the next read connects and lists again: how every read went before they were kept
    /// (for `chaos-bench sample-cost --forget-kept`, which measures the difference).
    #[doc(hidden)]
    pub fn forget_kept(&self) {
        self.kept.clear();
    }

    /// The host PID of a node's PID 1 as found without asking Docker ([`host::find_pid`]), for
    /// tests that compare it with Docker's answer.
    #[doc(hidden)]
    pub async fn host_pid_from_cgroup(&self, node: &str) -> Option<u32> {
        if self.listed_id(node).is_none() {
            self.nodes().await.ok()?;
        }
        let id = self.listed_id(node)?;
        tokio::task::spawn_blocking(move || host::find_pid(&id))
            .await
            .ok()
            .flatten()
            .map(|(pid, _)| pid)
    }

    /// Reads one node from the host's `/proc` whatever Docker's listing says of its state, so
    /// that the check of its frozen cgroup can be shown on a paused node.
    #[doc(hidden)]
    pub async fn read_from_host(&self, node: &str) -> Result<NodeReality, BackendError> {
        match self.read_host(node, ReadVia::Host).await? {
            host::HostRead::Scan(scan) => Ok(scan.reality(node)),
            host::HostRead::Paused => Err(paused(node)),
            host::HostRead::Fallback(why) => Err(BackendError::failed(format!(
                "node `{node}` cannot be read from the host: {why}"
            ))),
        }
    }

    /// Reads one running node without exec, bounded: with containerd's metadata database
    /// ([`ReadVia::Metadata`]), through its socket ([`ReadVia::Socket`]) or from the host's
    /// `/proc` alone (otherwise). Where the node's PID 1 was
    /// found before, it is used again without asking Docker (a timeline samples every few
    /// seconds); else it is looked for in the container's cgroup ([`host::find_pid`]: one
    /// `docker inspect` per node would cost a snapshot of many nodes more than the reads
    /// themselves); else Docker is asked. The read itself checks that the process is still
    /// PID 1 of that container, and a read that fails with a PID found without Docker is
    /// retried once with Docker's answer.
    async fn read_host(&self, node: &str, way: ReadVia) -> Result<host::HostRead, BackendError> {
        if let Err(why) = host::possible() {
            return Ok(host::HostRead::Fallback(why));
        }
        if let Some(known) = self.host_pids.get(node) {
            match self.read_host_at(node, way, known.clone()).await? {
                host::HostRead::Fallback(_) => self.host_pids.forget(node),
                read => return Ok(read),
            }
        }
        // From the container's cgroup where the listing gave its ID (no request to Docker).
        if let Some(id) = self.listed_id(node) {
            let found = tokio::task::spawn_blocking({
                let id = id.clone();
                move || host::find_pid(&id)
            })
            .await
            .ok()
            .flatten();
            if let Some((pid, path)) = found {
                let at = HostPid { pid, id, path };
                let read = self.read_host_at(node, way, at.clone()).await?;
                if !matches!(read, host::HostRead::Fallback(_)) {
                    self.host_pids.remember(node, at);
                    return Ok(read);
                }
            }
        }
        let c = match self.inspect(node).await {
            Ok(c) => c,
            Err(e) => return Ok(host::HostRead::Fallback(e.message)),
        };
        let pid = c.state.as_ref().and_then(|s| s.pid).unwrap_or_default();
        let Ok(pid) = u32::try_from(pid) else {
            return Ok(host::HostRead::Fallback(format!("Docker gave PID {pid}")));
        };
        if pid == 0 {
            return Ok(host::HostRead::Fallback("Docker gave no PID".into()));
        }
        let at = HostPid {
            pid,
            id: c.id.unwrap_or_default(),
            path: c
                .config
                .and_then(|cfg| cfg.env)
                .unwrap_or_default()
                .into_iter()
                .find_map(|e| e.strip_prefix("PATH=").map(str::to_string)),
        };
        let read = self.read_host_at(node, way, at.clone()).await?;
        if !matches!(read, host::HostRead::Fallback(_)) {
            self.host_pids.remember(node, at);
        }
        Ok(read)
    }

    async fn read_host_at(
        &self,
        node: &str,
        way: ReadVia,
        at: HostPid,
    ) -> Result<host::HostRead, BackendError> {
        let HostPid { pid, id, path } = at;
        let kept = &self.kept;
        let read = async move {
            if way == ReadVia::Metadata {
                Ok(socket::read(pid, id, path, kept, socket::Lister::Metadata).await)
            } else if way == ReadVia::Socket {
                Ok(socket::read(pid, id, path, kept, socket::Lister::Socket).await)
            } else {
                tokio::task::spawn_blocking(move || host::read(pid, &id, path.as_deref())).await
            }
        };
        match tokio::time::timeout(HOST_READ_TIMEOUT, read).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Ok(host::HostRead::Fallback(format!(
                "the host read failed: {e}"
            ))),
            Err(_) => Err(BackendError::failed(format!(
                "reading node `{node}` from the host took over {}s",
                HOST_READ_TIMEOUT.as_secs()
            ))),
        }
    }

    /// The raw scan of one running node: processes, sandboxes, containers, tasks.
    pub(crate) async fn scan(&self, node: &str) -> Result<NodeScan, BackendError> {
        let out = self
            .exec_script(node, "reading the node's processes", scripts::SCAN, &[])
            .await?;
        if out.exit_code != 0 || !out.stdout.contains("@@kind-chaos:end@@") {
            return Err(BackendError::failed(format!(
                "reading the processes of node `{node}` failed (exit {}): {}",
                out.exit_code,
                super::exec::first_lines(&out.stderr, &out.stdout)
            )));
        }
        parse::parse_scan(&out.stdout).map_err(|e| {
            BackendError::failed(format!("reading the processes of node `{node}`: {e}"))
        })
    }
}

/// Where a node container's PID 1 is on the host, as Docker last said.
#[derive(Debug, Clone)]
pub(crate) struct HostPid {
    pid: u32,
    /// The container's ID: the read checks the process's cgroup names it.
    id: String,
    /// The PATH a `docker exec` in it would use.
    path: Option<String>,
}

/// The host PIDs found so far, by node name.
#[derive(Debug, Default)]
pub(crate) struct HostPids(std::sync::Mutex<std::collections::HashMap<String, HostPid>>);

impl HostPids {
    fn get(&self, node: &str) -> Option<HostPid> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .cloned()
    }

    fn remember(&self, node: &str, at: HostPid) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.to_string(), at);
    }

    fn forget(&self, node: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(node);
    }
}

fn paused(node: &str) -> BackendError {
    BackendError::failed(format!(
        "node `{node}` is paused: its processes cannot be read until it is unpaused"
    ))
}
