//! What `chaos reality` shows, as data: the nodes' side (shims, sandboxes, containers, the
//! kubelet), joined with the API's pods when the API answers (each sandbox consistent or ghost,
//! the pods without a sandbox as phantoms, and for `-o wide` each pod's IP, phase and
//! restarts), and the totals across nodes. The table and the JSON are both rendered from this.

use serde::Serialize;

use crate::backends::docker::NodeSnapshot;
use crate::backends::{NodeReality, PodView, RealitySource};
use crate::observe::{Agreement, DriftEntry, join};

#[derive(Debug, Clone, Serialize)]
pub struct RealityView {
    pub cluster: String,
    pub api: ApiStatus,
    pub nodes: Vec<NodeView>,
    /// The join of API and nodes; `None` when the API is not connected.
    pub drift: Option<Vec<DriftView>>,
    pub totals: Totals,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiStatus {
    pub connected: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub name: String,
    pub role: String,
    pub state: String,
    pub error: Option<String>,
    pub kubelet_running: bool,
    pub shims: Vec<ShimView>,
    pub sandboxes: Vec<SandboxView>,
    /// How the node was read (containerd-metadata, containerd-socket, host-proc or exec); null
    /// when it was not.
    pub source: Option<RealitySource>,
    /// How many pods the API places on this node; null without the API.
    pub api_pods: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShimView {
    pub pid: u32,
    pub sandbox_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SandboxView {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub live: bool,
    pub shim_pid: Option<u32>,
    pub containers: Vec<String>,
    pub api: Option<Agreement>,
    /// The pod's IP as the API reports it; null without the API or before the pod has one.
    pub ip: Option<String>,
    /// The pod's phase in the API; null without the API or when the API has no such pod.
    pub phase: Option<String>,
    /// The restarts of the pod's containers in the API (summed); null as `phase`.
    pub restarts: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftView {
    pub node: String,
    pub namespace: String,
    pub name: String,
    pub state: Agreement,
    pub detail: String,
}

/// Counts across every node shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub nodes: usize,
    /// Nodes that could not be read (paused, exec failed).
    pub unread: usize,
    pub sandboxes: usize,
    /// Sandboxes a shim serves.
    pub live: usize,
    /// Running containers.
    pub containers: usize,
    /// Null without the API.
    pub ghosts: Option<usize>,
    /// Null without the API.
    pub phantoms: Option<usize>,
}

impl RealityView {
    /// The nodes' side, joined with the API's pods when `api` has them (else the reason).
    pub fn new(cluster: &str, snaps: &[NodeSnapshot], api: Result<&[PodView], &str>) -> Self {
        let read: Vec<NodeReality> = snaps
            .iter()
            .filter_map(|s| s.reality.as_ref().ok().cloned())
            .collect();
        let drift: Option<Vec<DriftEntry>> = api.ok().map(|pods| join(pods, &read));
        let nodes: Vec<NodeView> = snaps
            .iter()
            .map(|s| node_view(s, drift.as_deref(), api.ok()))
            .collect();
        let drift: Option<Vec<DriftView>> = drift.map(|d| {
            d.into_iter()
                .map(|e| DriftView {
                    node: e.node,
                    namespace: e.pod.namespace,
                    name: e.pod.name,
                    state: e.state,
                    detail: e.detail,
                })
                .collect()
        });
        let totals = totals(&nodes, drift.as_deref());
        RealityView {
            cluster: cluster.to_string(),
            api: ApiStatus {
                connected: api.is_ok(),
                reason: api.err().map(str::to_string),
            },
            nodes,
            drift,
            totals,
        }
    }
}

fn totals(nodes: &[NodeView], drift: Option<&[DriftView]>) -> Totals {
    let count = |state: Agreement| drift.map(|d| d.iter().filter(|e| e.state == state).count());
    Totals {
        nodes: nodes.len(),
        unread: nodes.iter().filter(|n| n.error.is_some()).count(),
        sandboxes: nodes.iter().map(|n| n.sandboxes.len()).sum(),
        live: nodes
            .iter()
            .flat_map(|n| &n.sandboxes)
            .filter(|s| s.live)
            .count(),
        containers: nodes
            .iter()
            .flat_map(|n| &n.sandboxes)
            .map(|s| s.containers.len())
            .sum(),
        ghosts: count(Agreement::Ghost),
        phantoms: count(Agreement::Phantom),
    }
}

fn node_view(s: &NodeSnapshot, drift: Option<&[DriftEntry]>, pods: Option<&[PodView]>) -> NodeView {
    let (error, reality) = match &s.reality {
        Ok(r) => (None, r.clone()),
        Err(e) => (Some(e.message.clone()), NodeReality::default()),
    };
    let sandboxes = reality
        .sandboxes
        .iter()
        .map(|sb| {
            // The API's pod of this sandbox: same name, and the same uid when both know it.
            let pod = pods.and_then(|pods| {
                pods.iter().find(|p| {
                    p.key == sb.pod && (p.uid.is_empty() || sb.uid.is_empty() || p.uid == sb.uid)
                })
            });
            SandboxView {
                id: sb.id.clone(),
                namespace: sb.pod.namespace.clone(),
                name: sb.pod.name.clone(),
                uid: sb.uid.clone(),
                live: sb.live,
                shim_pid: reality
                    .shims
                    .iter()
                    .find(|sh| sh.sandbox_id == sb.id)
                    .map(|sh| sh.pid),
                containers: sb.containers.clone(),
                api: drift.and_then(|d| {
                    d.iter()
                        .find(|e| e.node == s.node.name && e.pod == sb.pod && sb.live)
                        .map(|e| e.state)
                }),
                ip: pod.and_then(|p| p.ip.clone()),
                phase: pod.map(|p| p.phase.clone()),
                restarts: pod.map(PodView::restarts),
            }
        })
        .collect();
    NodeView {
        name: s.node.name.clone(),
        role: s.node.role.clone(),
        state: s.node.state.clone(),
        error,
        kubelet_running: reality.kubelet_running,
        shims: reality
            .shims
            .iter()
            .map(|sh| ShimView {
                pid: sh.pid,
                sandbox_id: sh.sandbox_id.clone(),
            })
            .collect(),
        sandboxes,
        source: s.source,
        api_pods: pods.map(|pods| {
            pods.iter()
                .filter(|p| p.node.as_deref() == Some(s.node.name.as_str()))
                .count()
        }),
    }
}
