//! Node reality from containerd's view of the node's containers, read with no process
//! started in the node: from containerd's metadata database ([`super::metadata`]) or through
//! its API at its socket (`/proc/PID/root/run/containerd/containerd.sock`), both reached
//! through the node's filesystem as the host sees it.
//!
//! The host's `/proc` alone (see [`super::host`]) cannot name the pod of a task whose OCI spec
//! lacks the CRI's annotations: those live in containerd's metadata (its labels), which the
//! exec path reads with one `ctr` process per task. The metadata database (and containerd's
//! API, which answers from it) gives every container's labels and spec at once, so this path
//! reads any node the host can reach: the database in a few page reads, the API at the cost
//! of a gRPC connection and a listing in the node's containerd (where the database cannot be
//! read). The tasks (PID, running or not) come from the task bundles as the host sees them
//! ([`host::bundle_tasks`]), not from containerd's task listing, which asks every task's shim
//! for its state (a round trip per pod). On a node with `crictl` (kind's) it also gives the
//! CRI's view: every sandbox containerd keeps for the CRI, a stopped one (no task) included,
//! as `crictl pods` lists it. The processes (shims, kubelet) still come from the host's
//! `/proc`, and both are handed to the same interpretation as the exec path's output
//! ([`super::parse::api_view`], [`super::parse::with_processes`]). containerd types stay in
//! this file. What is kept between reads of the same node (the channel, the last listing) is
//! [`super::kept`]'s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use containerd_client::services::v1::ListContainersRequest;
use containerd_client::services::v1::containers_client::ContainersClient;
use tonic::Request;
use tonic::metadata::MetadataValue;

use super::host::{self, HostRead};
use super::kept::{Fingerprint, Kept, fingerprint};
use super::metadata;
use super::parse::{ApiContainer, ApiView, Task, api_view, with_processes};

/// containerd's socket inside a kind node.
const SOCKET: &str = "/run/containerd/containerd.sock";
/// The containerd namespace of the CRI's containers.
const NAMESPACE: &str = "k8s.io";
/// How long connecting and the two calls may take together.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where the containers' labels and specs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lister {
    /// containerd's metadata database, read from the host ([`super::metadata`]).
    Metadata,
    /// containerd's API through its socket.
    Socket,
}

/// Reads the node whose PID 1 is host process `pid` (see [`host::read`] for the arguments),
/// with what earlier reads kept (see [`super::kept`]), its containers listed by `lister`.
/// Everything but a request to containerd's socket is done in one blocking task.
pub async fn read(
    pid: u32,
    container_id: String,
    path: Option<String>,
    kept: &Arc<Kept>,
    lister: Lister,
) -> HostRead {
    let shared = Arc::clone(kept);
    let checked = tokio::task::spawn_blocking(move || {
        let node = host::node(pid, &container_id, path.as_deref(), false)?;
        let Some(node) = node else {
            return Ok(None);
        };
        let (processes, live) = host::processes_and_pids(&node)?;
        let tasks = host::bundle_tasks(&node.root, &live)?;
        // Kept per source: the socket's path, or the database's. A command that reads once
        // keeps nothing, and takes no fingerprint.
        let key = match lister {
            Lister::Socket => format!("{}{SOCKET}", node.root),
            Lister::Metadata => format!("{}{}", node.root, metadata::META_DB),
        };
        let at = shared
            .on()
            .then(|| fingerprint(&node.root, &tasks, SystemTime::now()))
            .flatten();
        let now = Instant::now();
        let known = at.as_ref().and_then(|at| shared.view(&key, at, now));
        let listed = match (&known, lister) {
            (None, Lister::Metadata) => Some(metadata::containers(&node.root, NAMESPACE)),
            _ => None,
        };
        let read = Read {
            node,
            processes,
            tasks,
            key,
            at,
            now,
            known,
        };
        Ok(Some((read, listed)))
    })
    .await;
    let (read, listed) = match checked {
        Ok(Ok(Some(read))) => read,
        Ok(Ok(None)) => return HostRead::Paused,
        Ok(Err(why)) => return HostRead::Fallback(why),
        Err(e) => return HostRead::Fallback(format!("the host read failed: {e}")),
    };
    let Read {
        node,
        processes,
        tasks,
        key,
        at,
        now,
        known,
    } = read;
    let view = match known {
        Some(view) => view,
        None => {
            let listed = match listed {
                Some(listed) => listed,
                None => list_bounded(&key, kept).await,
            };
            match listed {
                Ok(containers) => {
                    let view = api_view(tasks, &containers, node.crictl);
                    kept.keep_view(&key, at, now, view.clone());
                    view
                }
                Err(why) => {
                    kept.forget(&key);
                    return HostRead::Fallback(why);
                }
            }
        }
    };
    match with_processes(&processes, &view) {
        Ok(scan) => HostRead::Scan(scan),
        Err(why) => HostRead::Fallback(why),
    }
}

/// What the blocking part of [`read`] found.
struct Read {
    node: host::HostNode,
    processes: String,
    tasks: Vec<Task>,
    /// Where the listing is kept.
    key: String,
    at: Option<Fingerprint>,
    now: Instant,
    /// The listing kept from an earlier read, still good.
    known: Option<ApiView>,
}

/// [`list`], bounded by [`TIMEOUT`], its errors naming the socket.
async fn list_bounded(socket: &str, kept: &Kept) -> Result<Vec<ApiContainer>, String> {
    match tokio::time::timeout(TIMEOUT, list(socket, kept)).await {
        Ok(Ok(containers)) => Ok(containers),
        Ok(Err(why)) => Err(format!("containerd at {socket}: {why}")),
        Err(_) => Err(format!(
            "containerd at {socket} did not answer within {}s",
            TIMEOUT.as_secs()
        )),
    }
}

/// The containers of namespace k8s.io, through the channel kept for this socket (opened and
/// kept if there is none).
async fn list(socket: &str, kept: &Kept) -> Result<Vec<ApiContainer>, String> {
    if !std::path::Path::new(socket).exists() {
        return Err("no such socket".into());
    }
    let channel = match kept.channel(socket) {
        Some(channel) => channel,
        None => {
            let channel = containerd_client::connect(socket)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            kept.keep_channel(socket, channel.clone());
            channel
        }
    };
    let containers = ContainersClient::new(channel)
        .list(namespaced(ListContainersRequest::default()))
        .await
        .map_err(|e| format!("listing containers: {}", e.message()))?
        .into_inner()
        .containers
        .into_iter()
        .map(|c| {
            let labels: BTreeMap<String, String> = c.labels.into_iter().collect();
            (c.id, labels, c.spec.map(|s| s.value).unwrap_or_default())
        })
        .collect();
    Ok(containers)
}

/// A request in namespace k8s.io.
fn namespaced<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(
        "containerd-namespace",
        MetadataValue::from_static(NAMESPACE),
    );
    r
}
