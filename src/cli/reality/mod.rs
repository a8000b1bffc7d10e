//! `chaos reality`: what really runs on each node of a kind cluster (live containerd shims,
//! the pod sandboxes they serve, their containers, whether the kubelet runs), read from inside
//! the node containers. This is the ground truth a game day compares Kubernetes' story with:
//! when the API's pods are given, each sandbox is marked consistent or ghost, and the pods the
//! API places on a node without a live sandbox there are listed as phantoms.
//!
//! `--output json` prints one object, stable for scripts (fields are only ever added):
//!
//! ```text
//! {
//!   "cluster": "kind",
//!   "api": {"connected": false, "reason": "..."},       // reason is null when connected
//!   "nodes": [{
//!     "name": "kind-worker", "role": "worker", "state": "running",   // Docker's state
//!     "error": null,                 // why the node could not be read (e.g. it is paused)
//!     "kubelet_running": true,
//!     "shims": [{"pid": 1234, "sandbox_id": "<64 hex>"}],
//!     "sandboxes": [{
//!       "id": "<64 hex>", "namespace": "default", "name": "web", "uid": "...",
//!       "live": true,                // a shim serves it
//!       "shim_pid": 1234,            // null when not live
//!       "containers": ["app"],       // running containers, where the node tells
//!       "api": null                  // "consistent" | "ghost" when the API is connected
//!     }]
//!   }],
//!   "drift": null   // with the API: [{"node", "namespace", "name", "state", "detail"}]
//! }
//! ```
//!
//! Exit codes: 0 every chosen node was read; 2 unknown node; 3 no Docker or no such cluster;
//! 4 a node could not be read (a paused node, a failed exec): the others are still shown.

use clap::{Args, ValueEnum};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::backends::docker::{DockerNodes, NodeSnapshot};
use crate::backends::{BackendError, ErrorKind, NodeReality, PodQuery, PodView, RealitySource};
use crate::exit::Exit;
use crate::observe::{Agreement, DriftEntry, join};
use crate::report::out::clean;
use crate::{errln, out, outln};

#[derive(Args, Debug)]
#[command(after_long_help = JSON_FORMAT)]
pub struct RealityArgs {
    /// The kind cluster (default `kind`).
    #[arg(long, value_parser = super::connect::cluster_arg)]
    pub cluster: Option<String>,
    /// Only this node (a node container name, like `kind-worker`).
    #[arg(long)]
    pub node: Option<String>,
    /// `table` for people, `json` for scripts (its format: `chaos reality --help`).
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// The JSON output's format, for `--help`.
const JSON_FORMAT: &str =
    "JSON output (--output json), stable for scripts; fields are only ever added:
  cluster            the kind cluster
  api.connected      whether the Kubernetes API's pods were joined in; api.reason says why not
  nodes[]            name, role, state (Docker's: running, paused, exited...),
                     error (why the node could not be read, else null), kubelet_running,
                     shims[] {pid, sandbox_id},
                     sandboxes[] {id, namespace, name, uid, live (a shim serves it),
                                  shim_pid, containers (running ones), api (consistent|ghost|null)},
                     source (how it was read: containerd-socket, host-proc, exec, or null
                     if it was not)
  drift              null without the API, else [{node, namespace, name, state, detail}]
                     with state consistent|ghost|phantom

Exit codes: 0 every chosen node was read; 2 unknown node; 3 no Docker or no such cluster;
4 a node could not be read (paused, exec failed): the other nodes are still shown.";

pub async fn run(args: RealityArgs) -> Exit {
    let cluster = super::connect::cluster_name(args.cluster.as_deref(), None);
    let nodes = match DockerNodes::connect(&cluster).await {
        Ok(n) => n,
        Err(e) => return fail(&e),
    };
    // The API's side, when the API server answers; the node side is shown either way. Both
    // are read at once: the join compares two views of one moment, and neither waits on the
    // other (finding the kubeconfig may itself read a file out of the control plane).
    let api = async {
        match super::connect::connector(&cluster, &args.connect) {
            Ok(conn) => match conn.kube().await {
                Ok(kube) => kube.pods(&PodQuery::default()).await.map_err(|e| e.message),
                Err(e) => Err(e.message),
            },
            Err(e) => Err(e),
        }
    };
    let (snaps, api): (_, Result<Vec<PodView>, String>) =
        tokio::join!(nodes.snapshot(args.node.as_deref()), api);
    let snaps = match snaps {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let view = RealityView::new(&cluster, &snaps, api.as_deref().map_err(String::as_str));
    match args.output {
        Output::Json => match serde_json::to_string_pretty(&view) {
            Ok(text) => outln!("{text}"),
            Err(e) => {
                errln!("error: cannot render JSON: {e}");
                return Exit::StepFailed;
            }
        },
        Output::Table => out!("{}", render_table(&view)),
    }
    let unread: Vec<&NodeView> = view.nodes.iter().filter(|n| n.error.is_some()).collect();
    for n in &unread {
        errln!(
            "warning: node {} could not be read: {}",
            n.name,
            n.error.as_deref().unwrap_or_default()
        );
    }
    if unread.is_empty() {
        Exit::Passed
    } else {
        Exit::StepFailed
    }
}

/// The exit code a backend error calls for, after printing it.
pub(crate) fn fail(e: &BackendError) -> Exit {
    errln!("error: {e}");
    match e.kind {
        ErrorKind::Unavailable => Exit::Environment,
        ErrorKind::NotFound => Exit::Usage,
        ErrorKind::Failed => Exit::StepFailed,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RealityView {
    pub cluster: String,
    pub api: ApiStatus,
    pub nodes: Vec<NodeView>,
    /// The join of API and nodes; `None` when the API is not connected.
    pub drift: Option<Vec<DriftView>>,
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
    /// How the node was read (containerd-socket, host-proc or exec); null when it was not.
    pub source: Option<RealitySource>,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftView {
    pub node: String,
    pub namespace: String,
    pub name: String,
    pub state: Agreement,
    pub detail: String,
}

impl RealityView {
    /// The nodes' side, joined with the API's pods when `api` has them (else the reason).
    pub fn new(cluster: &str, snaps: &[NodeSnapshot], api: Result<&[PodView], &str>) -> Self {
        let read: Vec<NodeReality> = snaps
            .iter()
            .filter_map(|s| s.reality.as_ref().ok().cloned())
            .collect();
        let drift: Option<Vec<DriftEntry>> = api.ok().map(|pods| join(pods, &read));
        let nodes = snaps
            .iter()
            .map(|s| node_view(s, drift.as_deref()))
            .collect();
        RealityView {
            cluster: cluster.to_string(),
            api: ApiStatus {
                connected: api.is_ok(),
                reason: api.err().map(str::to_string),
            },
            nodes,
            drift: drift.map(|d| {
                d.into_iter()
                    .map(|e| DriftView {
                        node: e.node,
                        namespace: e.pod.namespace,
                        name: e.pod.name,
                        state: e.state,
                        detail: e.detail,
                    })
                    .collect()
            }),
        }
    }
}

fn node_view(s: &NodeSnapshot, drift: Option<&[DriftEntry]>) -> NodeView {
    let (error, reality) = match &s.reality {
        Ok(r) => (None, r.clone()),
        Err(e) => (Some(e.message.clone()), NodeReality::default()),
    };
    let sandboxes = reality
        .sandboxes
        .iter()
        .map(|sb| SandboxView {
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
    }
}

fn word(a: Agreement) -> &'static str {
    match a {
        Agreement::Consistent => "consistent",
        Agreement::Ghost => "GHOST",
        Agreement::Phantom => "PHANTOM",
    }
}

/// A heading and a table per node, then what the API side says. Names come from the nodes and
/// the API, not from us: their control bytes are escaped (in the cells, so columns stay aligned).
pub fn render_table(v: &RealityView) -> String {
    let mut out = String::new();
    let api = if v.api.connected {
        "API: connected".to_string()
    } else {
        format!(
            "API: not connected ({})",
            v.api.reason.as_deref().unwrap_or("unknown reason")
        )
    };
    out += &format!("cluster {} · {api}\n", v.cluster);
    for n in &v.nodes {
        out += &format!("\n{} ({}, {})", n.name, n.role, n.state);
        if let Some(e) = &n.error {
            out += &format!(": not read: {e}\n");
            continue;
        }
        let orphan = n
            .shims
            .iter()
            .filter(|sh| !n.sandboxes.iter().any(|sb| sb.id == sh.sandbox_id))
            .count();
        out += &format!(
            " · kubelet {} · {} shim(s)",
            if n.kubelet_running {
                "running"
            } else {
                "NOT running"
            },
            n.shims.len()
        );
        if orphan > 0 {
            out += &format!(", {orphan} serving no known sandbox");
        }
        out.push('\n');
        let phantoms: Vec<&DriftView> = v
            .drift
            .iter()
            .flatten()
            .filter(|d| d.node == n.name && d.state == Agreement::Phantom)
            .collect();
        if n.sandboxes.is_empty() && phantoms.is_empty() {
            out += "  no pod sandboxes\n";
            continue;
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        let mut header = vec!["pod", "sandbox", "shim pid", "containers"];
        if v.api.connected {
            header.push("API");
        }
        t.set_header(header);
        for sb in &n.sandboxes {
            let mut row = vec![
                clean(&format!("{}/{}", sb.namespace, sb.name)).into_owned(),
                clean(&sb.id.chars().take(13).collect::<String>()).into_owned(),
                sb.shim_pid
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "— (dead)".into()),
                if sb.containers.is_empty() {
                    "—".to_string()
                } else {
                    clean(&sb.containers.join(", ")).into_owned()
                },
            ];
            if v.api.connected {
                row.push(sb.api.map(word).unwrap_or("—").to_string());
            }
            t.add_row(row);
        }
        for p in phantoms {
            t.add_row(vec![
                clean(&format!("{}/{}", p.namespace, p.name)).into_owned(),
                "—".into(),
                "—".into(),
                "—".into(),
                clean(&format!("PHANTOM: {}", p.detail)).into_owned(),
            ]);
        }
        out += &t.to_string();
        out.push('\n');
    }
    clean(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::{NodeContainer, PodKey, Sandbox, Shim};

    fn snap() -> Vec<NodeSnapshot> {
        let pod = |n: &str| PodKey {
            namespace: "default".into(),
            name: n.into(),
        };
        vec![
            NodeSnapshot {
                node: NodeContainer {
                    name: "kind-worker".into(),
                    role: "worker".into(),
                    state: "running".into(),
                },
                reality: Ok(NodeReality {
                    node: "kind-worker".into(),
                    kubelet_running: true,
                    shims: vec![Shim {
                        pid: 42,
                        sandbox_id: "aaaa".into(),
                    }],
                    sandboxes: vec![Sandbox {
                        id: "aaaa".into(),
                        pod: pod("web"),
                        uid: "u1".into(),
                        live: true,
                        containers: vec!["app".into()],
                    }],
                }),
                source: Some(RealitySource::HostProc),
            },
            NodeSnapshot {
                node: NodeContainer {
                    name: "kind-worker2".into(),
                    role: "worker".into(),
                    state: "paused".into(),
                },
                reality: Err(BackendError::failed("node `kind-worker2` is paused")),
                source: None,
            },
        ]
    }

    #[test]
    fn without_the_api_the_node_side_is_shown_and_said_so() {
        let v = RealityView::new("kind", &snap(), Err("connection refused"));
        let table = render_table(&v);
        assert!(
            table.contains("API: not connected (connection refused)"),
            "{table}"
        );
        assert!(table.contains("default/web"), "{table}");
        assert!(table.contains("42"));
        assert!(table.contains("kind-worker2 (worker, paused): not read"));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["api"]["connected"], false);
        assert_eq!(json["drift"], serde_json::Value::Null);
        assert_eq!(json["nodes"][0]["sandboxes"][0]["shim_pid"], 42);
        assert_eq!(
            json["nodes"][0]["sandboxes"][0]["api"],
            serde_json::Value::Null
        );
        assert_eq!(json["nodes"][1]["error"], "node `kind-worker2` is paused");
    }

    #[test]
    fn control_bytes_in_names_are_escaped_in_the_table() {
        let mut s = snap();
        if let Ok(r) = s[0].reality.as_mut() {
            r.sandboxes[0].pod.name = "web\x1b]0;pwned\x07\u{9b}2J".into();
            r.sandboxes[0].containers = vec!["app\0".into()];
        }
        let table = render_table(&RealityView::new("kind", &s, Err("no\x1b[2J api")));
        assert!(!table.chars().any(crate::report::out::is_unsafe), "{table}");
        assert!(
            table.contains("default/web\\x1b]0;pwned\\x07\\u{9b}2J"),
            "{table}"
        );
        assert!(table.contains("app\\0"), "{table}");
        assert!(table.contains("no\\x1b[2J api"), "{table}");
    }

    #[test]
    fn with_the_api_pods_are_marked_and_phantoms_listed() {
        let pods = vec![
            PodView {
                key: PodKey {
                    namespace: "default".into(),
                    name: "web".into(),
                },
                uid: "u1".into(),
                node: Some("kind-worker".into()),
                phase: "Running".into(),
                deletion_timestamp: Some("2026-01-01T00:00:00Z".into()),
                ..PodView::default()
            },
            PodView {
                key: PodKey {
                    namespace: "default".into(),
                    name: "gone".into(),
                },
                node: Some("kind-worker".into()),
                phase: "Running".into(),
                ..PodView::default()
            },
        ];
        let v = RealityView::new("kind", &snap(), Ok(&pods));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["nodes"][0]["sandboxes"][0]["api"], "ghost");
        let drift = json["drift"].as_array().unwrap();
        assert!(
            drift
                .iter()
                .any(|d| d["name"] == "gone" && d["state"] == "phantom")
        );
        let table = render_table(&v);
        assert!(table.contains("GHOST"), "{table}");
        assert!(table.contains("PHANTOM"), "{table}");
    }
}
