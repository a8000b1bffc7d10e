//! Node reality from containerd's own API, reached through the node's filesystem as the host
//! sees it (`/proc/PID/root/run/containerd/containerd.sock`), with no process started in the
//! node.
//!
//! The host's `/proc` alone (see [`super::host`]) cannot name the pod of a task whose OCI spec
//! lacks the CRI's annotations: those live in containerd's metadata (its labels), which the
//! exec path reads with one `ctr` process per task. containerd's API gives every container's
//! labels and spec in one call, so this path reads any node the host can reach at the cost of
//! a gRPC round trip. The tasks (PID, running or not) come from the task bundles as the host
//! sees them ([`host::bundle_tasks`]), not from containerd's task listing, which asks every
//! task's shim for its state (a round trip per pod). On a node with `crictl` (kind's) it
//! also gives the CRI's view: every sandbox containerd keeps for the CRI, a stopped one (no
//! task) included, as `crictl pods` lists it. The processes (shims, kubelet) still
//! come from the host's `/proc`, and both are handed to the same interpretation as the exec
//! path's output ([`super::parse::api_view`], [`super::parse::with_processes`]). containerd types stay in this file. What
//! is kept between reads of the same node (the channel, the last listing) is [`super::kept`]'s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use containerd_client::services::v1::ListContainersRequest;
use containerd_client::services::v1::containers_client::ContainersClient;
use tonic::Request;
use tonic::metadata::MetadataValue;

use super::host::{self, HostRead};
use super::kept::{Kept, fingerprint};
use super::parse::{ApiContainer, api_view, with_processes};

/// containerd's socket inside a kind node.
const SOCKET: &str = "/run/containerd/containerd.sock";
/// The containerd namespace of the CRI's containers.
const NAMESPACE: &str = "k8s.io";
/// How long connecting and the two calls may take together.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the node whose PID 1 is host process `pid` (see [`host::read`] for the arguments),
/// with what earlier reads kept (see [`super::kept`]).
pub async fn read(pid: u32, container_id: String, path: Option<String>, kept: &Kept) -> HostRead {
    let checked = tokio::task::spawn_blocking(move || {
        let node = host::node(pid, &container_id, path.as_deref(), false)?;
        let Some(node) = node else {
            return Ok(None);
        };
        let (processes, live) = host::processes_and_pids(&node)?;
        let tasks = host::bundle_tasks(&node.root, &live)?;
        let at = fingerprint(&node.root, &tasks, SystemTime::now());
        Ok(Some((node, processes, tasks, at)))
    })
    .await;
    let (node, processes, tasks, at) = match checked {
        Ok(Ok(Some(read))) => read,
        Ok(Ok(None)) => return HostRead::Paused,
        Ok(Err(why)) => return HostRead::Fallback(why),
        Err(e) => return HostRead::Fallback(format!("the host read failed: {e}")),
    };
    let socket = format!("{}{SOCKET}", node.root);
    let now = Instant::now();
    let known = at.as_ref().and_then(|at| kept.view(&socket, at, now));
    let view = match known {
        Some(view) => view,
        None => match tokio::time::timeout(TIMEOUT, list(&socket, kept)).await {
            Ok(Ok(containers)) => {
                let view = api_view(tasks, &containers, node.crictl);
                kept.keep_view(&socket, at, now, view.clone());
                view
            }
            Ok(Err(why)) => {
                kept.forget(&socket);
                return HostRead::Fallback(format!("containerd at {socket}: {why}"));
            }
            Err(_) => {
                kept.forget(&socket);
                return HostRead::Fallback(format!(
                    "containerd at {socket} did not answer within {}s",
                    TIMEOUT.as_secs()
                ));
            }
        },
    };
    match with_processes(&processes, &view) {
        Ok(scan) => HostRead::Scan(scan),
        Err(why) => HostRead::Fallback(why),
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
