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
//!
//! `--watch` shows it again every `--interval` until Ctrl-C: on a terminal the screen is
//! redrawn, otherwise each snapshot follows the last (JSON: one compact object a line).
//! The data is built in [`view`], the table in [`table`].

mod table;
mod view;

use std::io::IsTerminal;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::backends::docker::DockerNodes;
use crate::backends::{BackendError, Connector, ErrorKind, PodQuery, PodView};
use crate::exit::Exit;
use crate::report::out::Stream;
use crate::{errln, out, outln};

pub use table::render_table;
pub use view::{NodeView, RealityView};

#[derive(Args, Debug)]
#[command(after_long_help = JSON_FORMAT)]
pub struct RealityArgs {
    #[command(flatten)]
    pub cluster: super::connect::ClusterArg,
    /// Only this node: its container name (`kind-worker`) or the name without the cluster's
    /// prefix (`worker`).
    #[arg(long)]
    pub node: Option<String>,
    /// `table` for people, `wide` adds each pod's IP, phase and restarts from the API, `json`
    /// for scripts (its format: `chaos reality --help`).
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Show it again every --interval until Ctrl-C (redrawn on a terminal; piped, one
    /// snapshot after another).
    #[arg(long, short = 'w')]
    pub watch: bool,
    /// How often --watch reads the nodes again, like `2s` or `500ms`.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = interval, requires = "watch")]
    pub interval: std::time::Duration,
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Wide,
    Json,
}

/// `--interval`: a duration as playbooks write them, at least 100ms.
fn interval(text: &str) -> Result<std::time::Duration, String> {
    let d = crate::playbook::values::parse_duration(text)?;
    if d < std::time::Duration::from_millis(100) {
        return Err(format!("{text} is too short: at least 100ms"));
    }
    Ok(d)
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
                     source (how it was read: containerd-metadata, containerd-socket,
                     host-proc, exec, or null if it was not), api_pods (pods the API places
                     there, null without it);
                     each sandbox also has ip, phase, restarts from the API (null without it)
  drift              null without the API, else [{node, namespace, name, state, detail}]
                     with state consistent|ghost|phantom
  totals             {nodes, unread, sandboxes, live, containers, ghosts, phantoms}
                     (ghosts and phantoms null without the API)
With --watch, one compact JSON object a line, one a snapshot.

Exit codes: 0 every chosen node was read; 2 unknown node; 3 no Docker or no such cluster;
4 a node could not be read (paused, exec failed): the other nodes are still shown.";

pub async fn run(args: RealityArgs) -> Exit {
    let cluster = args.cluster.name();
    let nodes = match DockerNodes::connect(&cluster).await {
        Ok(n) => Arc::new(n),
        Err(e) => return fail(&e),
    };
    // The API's backend reads its credentials through the same Docker connection.
    let conn = super::connect::connector_with(&cluster, &args.connect, nodes.clone());
    let node = match &args.node {
        Some(want) => match nodes.listed_nodes().await {
            Ok(all) => {
                let names: Vec<String> = all.into_iter().map(|n| n.name).collect();
                // An unknown name goes on as given: the snapshot says which nodes there are.
                Some(full_node_name(&names, &cluster, want).unwrap_or_else(|| want.clone()))
            }
            Err(e) => return fail(&e),
        },
        None => None,
    };
    if !args.watch {
        nodes.keep_nothing();
        return match once(&conn, &nodes, node.as_deref(), true).await {
            Ok(view) => show(&view, args.output, false),
            Err(e) => fail(&e),
        };
    }
    watch(&args, &conn, &nodes, node.as_deref()).await
}

/// The container name `want` means: itself, or `CLUSTER-want` (`worker` is `kind-worker`).
fn full_node_name(names: &[String], cluster: &str, want: &str) -> Option<String> {
    let prefixed = format!("{cluster}-{want}");
    names
        .iter()
        .find(|n| *n == want)
        .or_else(|| names.iter().find(|n| **n == prefixed))
        .cloned()
}

/// One snapshot: the nodes' side and the API's pods, read at once. `first`: the nodes as
/// connecting listed them a moment ago, else listed again (each round of `--watch`).
async fn once(
    conn: &Result<Arc<dyn Connector>, String>,
    nodes: &DockerNodes,
    node: Option<&str>,
    first: bool,
) -> Result<RealityView, BackendError> {
    // The API's side, when the API server answers; the node side is shown either way. Both
    // are read at once: the join compares two views of one moment, and neither waits on the
    // other (finding the kubeconfig may itself read a file out of the control plane).
    let api = async {
        match conn {
            Ok(conn) => match conn.kube().await {
                Ok(kube) => kube.pods(&PodQuery::default()).await.map_err(|e| e.message),
                Err(e) => Err(e.message),
            },
            Err(e) => Err(e.clone()),
        }
    };
    let snaps = async {
        if first {
            nodes.snapshot_listed(node).await
        } else {
            nodes.snapshot(node).await
        }
    };
    let (snaps, api): (_, Result<Vec<PodView>, String>) = tokio::join!(snaps, api);
    let snaps = snaps?;
    Ok(RealityView::new(
        nodes.cluster(),
        &snaps,
        api.as_deref().map_err(String::as_str),
    ))
}

/// Prints a snapshot (`compact`: JSON on one line) and says which nodes could not be read;
/// the exit code of that snapshot.
fn show(view: &RealityView, output: Output, compact: bool) -> Exit {
    match output {
        Output::Json => {
            let text = if compact {
                serde_json::to_string(view)
            } else {
                serde_json::to_string_pretty(view)
            };
            match text {
                Ok(text) => outln!("{text}"),
                Err(e) => {
                    errln!("error: cannot render JSON: {e}");
                    return Exit::StepFailed;
                }
            }
        }
        Output::Table => out!("{}", render_table(view, false)),
        Output::Wide => out!("{}", render_table(view, true)),
    }
    let unread: Vec<&NodeView> = view.nodes.iter().filter(|n| n.error.is_some()).collect();
    for n in &unread {
        let e = n.error.as_deref().unwrap_or_default();
        // Once a node: the error usually names it already.
        if e.contains(&n.name) {
            errln!("warning: not read: {e}");
        } else {
            errln!("warning: node {} could not be read: {e}", n.name);
        }
    }
    if unread.is_empty() {
        Exit::Passed
    } else {
        Exit::StepFailed
    }
}

/// `--watch`: a snapshot every interval until Ctrl-C (or SIGTERM); the last snapshot's exit
/// code. On a terminal the screen is cleared before each; piped, a line with the time
/// separates the tables.
async fn watch(
    args: &RealityArgs,
    conn: &Result<Arc<dyn Connector>, String>,
    nodes: &DockerNodes,
    node: Option<&str>,
) -> Exit {
    let Some(mut stop) = super::interrupt::StopSignals::listen() else {
        return Exit::Environment;
    };
    let tty = std::io::stdout().is_terminal();
    let mut last = Exit::Passed;
    let mut first = true;
    loop {
        let started = tokio::time::Instant::now();
        let round = tokio::select! {
            r = once(conn, nodes, node, std::mem::take(&mut first)) => r,
            _ = stop.recv() => return last,
        };
        match round {
            Ok(view) => {
                if tty {
                    // Home and clear: the only raw escape written, and it is ours.
                    Stream::Stdout.write_bytes(b"\x1b[H\x1b[2J");
                } else if args.output != Output::Json {
                    outln!(
                        "--- {}",
                        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                    );
                }
                last = show(&view, args.output, true);
            }
            Err(e) => {
                // The cluster may come back (a restarted Docker): said, and tried again.
                errln!("error: {e}");
                last = Exit::Environment;
            }
        }
        if Stream::Stdout.is_gone() {
            return last;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + args.interval) => {}
            _ = stop.recv() => return last,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::docker::NodeSnapshot;
    use crate::backends::{NodeContainer, NodeReality, PodKey, RealitySource, Sandbox, Shim};

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
        let table = render_table(&v, false);
        assert!(
            table.contains("API: not connected (connection refused)"),
            "{table}"
        );
        assert!(table.contains("default/web"), "{table}");
        assert!(table.contains("42"));
        assert!(
            table.contains("kind-worker2 (worker) · PAUSED: not read\n"),
            "{table}"
        );
        assert!(
            table.contains("total: 2 nodes (1 not read) · 1 sandbox (1 live) · 1 container\n"),
            "{table}"
        );
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
        let table = render_table(&RealityView::new("kind", &s, Err("no\x1b[2J api")), false);
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
        let table = render_table(&v, false);
        assert!(table.contains("GHOST"), "{table}");
        assert!(table.contains("PHANTOM"), "{table}");
    }

    fn api_pods() -> Vec<PodView> {
        let pod = |name: &str, node: &str, ip: Option<&str>| PodView {
            key: PodKey {
                namespace: "default".into(),
                name: name.into(),
            },
            uid: "u1".into(),
            node: Some(node.into()),
            ip: ip.map(str::to_string),
            phase: "Running".into(),
            containers: vec![crate::backends::ContainerView {
                name: "app".into(),
                restarts: 3,
                ..Default::default()
            }],
            ..PodView::default()
        };
        vec![
            pod("web", "kind-worker", Some("10.244.1.7")),
            pod("db", "kind-worker2", None),
            pod("cache", "kind-worker2", None),
        ]
    }

    #[test]
    fn wide_adds_ip_phase_and_restarts_from_the_api_and_says_when_it_cannot() {
        let pods = api_pods();
        let v = RealityView::new("kind", &snap(), Ok(&pods));
        let table = render_table(&v, true);
        assert!(table.contains("IP"), "{table}");
        assert!(table.contains("10.244.1.7"), "{table}");
        assert!(table.contains("Running"), "{table}");
        let row = table.lines().find(|l| l.contains("default/web")).unwrap();
        assert!(row.contains(" 3 "), "{row}");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["nodes"][0]["sandboxes"][0]["ip"], "10.244.1.7");
        assert_eq!(json["nodes"][0]["sandboxes"][0]["restarts"], 3);
        assert_eq!(json["totals"]["ghosts"], 0);
        assert_eq!(json["totals"]["phantoms"], 0);
        let offline = render_table(&RealityView::new("kind", &snap(), Err("refused")), true);
        assert!(
            offline.contains("IP, phase and restarts come from the API: not shown"),
            "{offline}"
        );
        assert!(!offline.contains("10.244"), "{offline}");
    }

    #[test]
    fn a_paused_node_is_one_line_however_many_pods_the_api_places_there() {
        let pods = api_pods();
        let v = RealityView::new("kind", &snap(), Ok(&pods));
        let table = render_table(&v, false);
        assert_eq!(table.matches("kind-worker2").count(), 1, "{table}");
        assert!(
            table.contains(
                "kind-worker2 (worker) · PAUSED: not read; the API places 2 pods here, not checked"
            ),
            "{table}"
        );
        assert!(!table.contains("default/db"), "{table}");
        assert!(!table.contains("PHANTOM"), "{table}");
        assert!(
            table.ends_with(
                "total: 2 nodes (1 not read) · 1 sandbox (1 live) · 1 container · 0 ghosts · 0 phantoms\n"
            ),
            "{table}"
        );
    }

    #[test]
    fn a_node_is_named_with_or_without_the_cluster_prefix() {
        let names = vec!["kind-control-plane".to_string(), "kind-worker".to_string()];
        assert_eq!(
            full_node_name(&names, "kind", "worker").as_deref(),
            Some("kind-worker")
        );
        assert_eq!(
            full_node_name(&names, "kind", "kind-worker").as_deref(),
            Some("kind-worker")
        );
        assert_eq!(full_node_name(&names, "kind", "worker2"), None);
    }

    #[test]
    fn the_watch_interval_is_a_duration_of_at_least_100ms() {
        assert_eq!(interval("500ms"), Ok(std::time::Duration::from_millis(500)));
        assert!(interval("10ms").unwrap_err().contains("at least 100ms"));
        assert!(interval("2").is_err());
    }
}
