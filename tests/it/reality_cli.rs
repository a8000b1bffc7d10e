//! `chaos reality` end to end on a local test cluster with its API and kubelets (`cl-reality`):
//! `-o wide` shows a pod's IP, phase and restarts from the API beside what runs on the node,
//! `--node worker` means `cl-reality-worker`, a paused node is one line however many pods the
//! API places there, and `--watch` prints one snapshot after another until Ctrl-C.
//!
//! Needs Docker, kubectl and the lab images; fails, never skips, without them.

use crate::support::local_api;
use crate::support::testcluster;
use crate::support::wait::eventually;
use crate::support::{chaos_bin, text};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use local_api::run_script;
use serde_json::Value;

const CLUSTER: &str = "cl-reality";
const KUBECTL: &str = "/usr/bin/kubectl";
const RUNS: &str = "kind-chaos/small-entrypoint-exec:0.1.0";

static KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();

fn chaos(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("home");
    chaos_bin()
        .args(args)
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .output()
        .expect("run chaos")
}

/// The cluster, with a pod `web` on the worker and a pod `db` on worker2. (The local cluster
/// has no CNI, so pods have no IP in the API; the IP column must say so, not make one up.)
fn kubeconfig() -> &'static Path {
    KUBECONFIG.get_or_init(|| {
        assert!(Path::new(KUBECTL).exists(), "{KUBECTL} is missing");
        testcluster::start(CLUSTER, &["--workers", "2", "--api"]);
        local_api::lab_images(&[RUNS]);
        let out = chaos(&["load-image", RUNS, "--cluster", CLUSTER]);
        assert!(out.status.success(), "{}", text(&out));
        let kc = PathBuf::from(run_script(&["kubeconfig", CLUSTER]).trim());
        for (name, node) in [("web", "cl-reality-worker"), ("db", "cl-reality-worker2")] {
            let pod = serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": { "name": name, "namespace": "default" },
                "spec": {
                    "nodeName": node,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{ "name": "main", "image": RUNS, "imagePullPolicy": "Never" }]
                }
            });
            local_api::kubectl_ok_at(
                KUBECTL,
                &kc,
                &["create", "--validate=false", "-f", "-"],
                Some(&pod.to_string()),
            );
        }
        eventually("web and db Running", Duration::from_secs(60), || {
            let out = local_api::kubectl_ok_at(KUBECTL, &kc, &["get", "pods", "-o", "json"], None);
            let list: Value = serde_json::from_str(&out).ok()?;
            let items = list["items"].as_array()?;
            (items.len() == 2 && items.iter().all(|p| p["status"]["phase"] == "Running"))
                .then_some(())
        });
        kc
    })
}

/// The pod's IP as the API has it (`None` before one is reported).
fn pod_ip(name: &str) -> Option<String> {
    let out = local_api::kubectl_ok_at(
        KUBECTL,
        kubeconfig(),
        &["get", "pod", name, "-o", "jsonpath={.status.podIP}"],
        None,
    );
    Some(out.trim().to_string()).filter(|ip| !ip.is_empty())
}

#[test]
fn wide_shows_ip_phase_and_restarts_for_a_short_node_name() {
    kubeconfig();
    let ip = pod_ip("web");
    let out = chaos(&[
        "reality",
        "--cluster",
        CLUSTER,
        "--node",
        "worker",
        "-o",
        "wide",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("API: connected"), "{table}");
    assert!(
        table.contains("cl-reality-worker (worker, running)"),
        "{table}"
    );
    assert!(!table.contains("cl-reality-worker2"), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains("default/web"))
        .unwrap_or_else(|| panic!("no row for web:\n{table}"));
    let ip_cell = ip.clone().unwrap_or_else(|| "—".into());
    for cell in [ip_cell.as_str(), "Running", "consistent", "main"] {
        assert!(row.contains(cell), "{cell} not in {row}");
    }
    assert!(
        row.trim_end_matches(['│', ' ']).ends_with(" 0"),
        "restarts 0 last: {row}"
    );
    assert!(
        table.contains("total: 1 node · 1 sandbox (1 live) · 1 container · 0 ghosts · 0 phantoms"),
        "{table}"
    );
    let json = chaos(&[
        "reality",
        "--cluster",
        CLUSTER,
        "--node",
        "worker",
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(
        v["nodes"][0]["sandboxes"][0]["ip"],
        ip.map_or(Value::Null, Value::from)
    );
    assert_eq!(v["nodes"][0]["sandboxes"][0]["phase"], "Running");
    assert_eq!(v["nodes"][0]["sandboxes"][0]["restarts"], 0);
    assert_eq!(v["totals"]["nodes"], 1);
}

struct Unpause(&'static str);

impl Drop for Unpause {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["unpause", self.0])
            .output();
    }
}

#[test]
fn a_paused_node_is_reported_once() {
    kubeconfig();
    testcluster::docker(&["pause", "cl-reality-worker2"]);
    let _unpause = Unpause("cl-reality-worker2");
    let out = chaos(&["reality", "--cluster", CLUSTER]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(table.matches("cl-reality-worker2").count(), 1, "{table}");
    assert!(
        table.contains(
            "cl-reality-worker2 (worker) · PAUSED: not read; the API places 1 pod here, not checked"
        ),
        "{table}"
    );
    assert!(!table.contains("default/db"), "{table}");
    assert!(table.contains("(1 not read)"), "{table}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("cl-reality-worker2").count(), 1, "{stderr}");
}

#[test]
fn watch_prints_snapshots_until_ctrl_c() {
    kubeconfig();
    for (output, snapshot_starts) in [("table", "--- "), ("json", "{")] {
        let home = tempfile::tempdir().expect("home");
        let mut child = chaos_bin()
            .args([
                "reality",
                "--cluster",
                CLUSTER,
                "--node",
                "worker",
                "-o",
                output,
                "--watch",
                "--interval",
                "300ms",
            ])
            .env("HOME", home.path())
            .env_remove("KUBECONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut snapshots = Vec::new();
        let mut current = String::new();
        while snapshots.len() < 3 {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("{output}: no snapshot within 30 s: {snapshots:?}"));
            if line.starts_with(snapshot_starts) && !current.is_empty() {
                snapshots.push(std::mem::take(&mut current));
            }
            current += &line;
            current.push('\n');
        }
        let kill = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{output}");
        for s in &snapshots {
            if output == "json" {
                let v: Value = serde_json::from_str(s.trim()).expect("one JSON object a line");
                assert_eq!(v["nodes"][0]["name"], "cl-reality-worker");
                assert_eq!(v["nodes"][0]["sandboxes"][0]["name"], "web");
            } else {
                assert!(s.contains("default/web"), "{output}: {s}");
            }
        }
    }
}
