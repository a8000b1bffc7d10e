//! The local test cluster with kubelets in its nodes (`scripts/testcluster.sh up NAME --api`):
//! every node runs crates/kubelet as `/usr/bin/kubelet` under its restart loop, with
//! `/etc/kubernetes/kubelet.conf` (a `system:node:<node>` certificate from the cluster CA) and
//! kind-config.yaml's labels and taints as flags. The kubelets register the nodes, renew their
//! Leases and run the pods bound to them in the node's containerd; the served API plays no
//! kubelet itself.
//!
//! Needs Docker, kubectl and the lab images (`scripts/build-images.sh`); fails, never skips,
//! without them. The cluster is started once for this binary and removed at exit
//! (`KIND_CHAOS_KEEP_TESTCLUSTER=1` keeps it).

mod hooks;
mod lifecycle;
mod pod_exec;

use crate::support::local_api;
use crate::support::testcluster;
use crate::support::wait::eventually;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use local_api::run_script;
use serde_json::Value;
use testcluster::docker;

const CLUSTER: &str = "kl-kubelets";
const KUBECTL: &str = "/usr/bin/kubectl";
const RUNS: &str = "kind-chaos/small-entrypoint-exec:0.1.0";
/// STOPSIGNAL SIGINT, and the process exits on SIGTERM only: a stop waits for SIGKILL.
const IGNORES_STOP: &str = "kind-chaos/stopsignal:0.1.0";

static KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();

fn chaos(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("home");
    // No kubeconfig anywhere: chaos finds the API through Docker, as for a kind cluster.
    Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(args)
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .output()
        .expect("run chaos")
}

fn kubeconfig() -> &'static Path {
    KUBECONFIG.get_or_init(|| {
        assert!(
            Path::new(KUBECTL).exists(),
            "{KUBECTL} is missing: the local cluster is driven with the real kubectl"
        );
        let t0 = Instant::now();
        testcluster::start(CLUSTER, &["--workers", "2", "--api"]);
        eprintln!("up --api with kubelets: {:?}", t0.elapsed());
        local_api::lab_images(&[RUNS, IGNORES_STOP]);
        for image in [RUNS, IGNORES_STOP] {
            let out = chaos(&["load-image", image, "--cluster", CLUSTER]);
            assert!(
                out.status.success(),
                "chaos load-image {image} failed (build the lab images with scripts/build-images.sh): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        PathBuf::from(run_script(&["kubeconfig", CLUSTER]).trim())
    })
}

fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    local_api::kubectl_at(KUBECTL, kubeconfig(), args, stdin)
}

fn kubectl_ok(args: &[&str], stdin: Option<&str>) -> String {
    local_api::kubectl_ok_at(KUBECTL, kubeconfig(), args, stdin)
}

fn get_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&kubectl_ok(&all, None)).expect("json")
}

fn ready(node: &Value) -> Option<&str> {
    node["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["status"]
        .as_str()
}

fn pod_json(name: &str, node: &str, image: &str, grace: u32) -> String {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default" },
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": grace,
            "containers": [{ "name": "main", "image": image, "imagePullPolicy": "Never" }]
        }
    })
    .to_string()
}

/// Creates the pod and waits until the kubelet reports it Running with its container running.
fn run_pod(name: &str, node: &str, image: &str, grace: u32) -> Value {
    kubectl_ok(
        &["create", "--validate=false", "-f", "-"],
        Some(&pod_json(name, node, image, grace)),
    );
    eventually(
        &format!("pod {name} Running on {node}"),
        Duration::from_secs(30),
        || {
            let pod = get_json(&["get", "pod", name]);
            let running = pod["status"]["phase"] == "Running"
                && pod["status"]["containerStatuses"][0]["state"]["running"].is_object();
            running.then_some(pod)
        },
    )
}

#[test]
fn kubelets_register_ready_nodes_and_renew_their_leases() {
    kubeconfig();
    let nodes = [
        "kl-kubelets-control-plane",
        "kl-kubelets-worker",
        "kl-kubelets-worker2",
    ];
    for node in nodes {
        // The restart loop runs the real binary with the node's flags, as `kubelet`.
        let cmdline = docker(&[
            "exec",
            node,
            "sh",
            "-c",
            "tr '\\0' ' ' </proc/$(cat /run/kind-chaos/kubelet.pid)/cmdline",
        ]);
        assert!(cmdline.starts_with("/usr/bin/kubelet"), "{node}: {cmdline}");
        assert!(
            !cmdline.contains("infinity"),
            "{node} still runs the sleep stand-in"
        );
        let conf = docker(&["exec", node, "cat", "/etc/kubernetes/kubelet.conf"]);
        assert!(
            conf.contains("server: https://kl-kubelets-control-plane:6443\n")
                && conf.contains(&format!("- name: system:node:{node}\n")),
            "{conf}"
        );
    }
    let list = get_json(&["get", "nodes"]);
    let items = list["items"].as_array().expect("items");
    let mut names: Vec<&str> = items
        .iter()
        .map(|n| n["metadata"]["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, nodes);
    let node = |name: &str| {
        items
            .iter()
            .find(|n| n["metadata"]["name"] == name)
            .expect("node")
    };
    for n in items {
        assert_eq!(ready(n), Some("True"), "{n}");
    }
    let cp = node("kl-kubelets-control-plane");
    assert_eq!(
        cp["metadata"]["labels"]["node-role.kubernetes.io/control-plane"],
        ""
    );
    assert_eq!(
        cp["spec"]["taints"][0]["key"],
        "node-role.kubernetes.io/control-plane"
    );
    let w1 = node("kl-kubelets-worker");
    assert_eq!(w1["metadata"]["labels"]["mock-server"], "true");
    assert!(w1["spec"].get("taints").is_none(), "{w1}");
    let w2 = node("kl-kubelets-worker2");
    assert_eq!(
        w2["spec"]["taints"],
        serde_json::json!([{ "key": "playground_test", "value": "ensure_only_tolerations_run_here", "effect": "NoSchedule" }])
    );
    // Each kubelet holds its Lease and renews it every 10 s.
    let renewals = || -> Vec<String> {
        nodes
            .iter()
            .map(|n| {
                let lease = get_json(&["get", "lease", "-n", "kube-node-lease", n]);
                assert_eq!(lease["spec"]["holderIdentity"], *n, "{lease}");
                lease["spec"]["renewTime"]
                    .as_str()
                    .expect("renewTime")
                    .to_string()
            })
            .collect()
    };
    let first = renewals();
    eventually("every Lease renewed", Duration::from_secs(25), || {
        let now = renewals();
        now.iter().zip(&first).all(|(a, b)| a != b).then_some(())
    });
}

#[test]
fn a_pod_from_a_lab_image_runs_on_its_node_and_chaos_sees_it_consistent() {
    kubeconfig();
    let pod = run_pod("runs-here", "kl-kubelets-worker", RUNS, 30);
    let started = pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
        .as_str()
        .unwrap_or("");
    assert!(!started.is_empty(), "{pod}");
    let view = eventually(
        "chaos reality shows runs-here consistent",
        Duration::from_secs(20),
        || {
            let out = chaos(&["reality", "--cluster", CLUSTER, "--output", "json"]);
            assert!(
                out.status.success(),
                "chaos reality: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let view: Value = serde_json::from_slice(&out.stdout).expect("json");
            let ok = view["drift"].as_array().is_some_and(|d| {
                d.iter().any(|e| {
                    e["name"] == "runs-here"
                        && e["state"] == "consistent"
                        && e["node"] == "kl-kubelets-worker"
                })
            });
            ok.then_some(view)
        },
    );
    assert_eq!(view["api"]["connected"], true, "{view}");
}

/// Follows one pod with `kubectl get -w` and returns each event's object as it comes.
fn watch_pod(
    name: &str,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<(Instant, Value)>,
) {
    let mut child = Command::new(KUBECTL)
        .env("KUBECONFIG", kubeconfig())
        .args(["get", "pod", name, "-w", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // `-o json` prints each object as indented JSON; an object ends with a `}` line.
        let mut buf = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            buf.push_str(&line);
            buf.push('\n');
            if line == "}" {
                if let Ok(v) = serde_json::from_str::<Value>(&buf)
                    && tx.send((Instant::now(), v)).is_err()
                {
                    break;
                }
                buf.clear();
            }
        }
    });
    (child, rx)
}

#[test]
fn a_pod_ignoring_its_stop_signal_is_killed_after_its_grace_period() {
    kubeconfig();
    run_pod("ignores-stop", "kl-kubelets-worker2", IGNORES_STOP, 30);
    let (mut watcher, events) = watch_pod("ignores-stop");
    // The first event is the pod as it is now: the watch is established.
    events
        .recv_timeout(Duration::from_secs(10))
        .expect("watch started");
    let t0 = Instant::now();
    kubectl_ok(
        &[
            "delete",
            "pod",
            "ignores-stop",
            "--grace-period=3",
            "--wait=false",
        ],
        None,
    );
    let (seen, last) = loop {
        let (at, pod) = events
            .recv_timeout(Duration::from_secs(20))
            .expect("the kubelet reports the stopped container");
        if let Some(t) = pod["status"]["containerStatuses"][0]["state"]["terminated"].as_object() {
            break (at, t.clone());
        }
    };
    let _ = watcher.kill();
    let _ = watcher.wait();
    let took = seen.duration_since(t0);
    assert_eq!(last["exitCode"], 137, "{last:?}");
    assert!(
        took >= Duration::from_secs(3),
        "terminated after {took:?}, before the 3 s grace period"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    eventually(
        "the kubelet confirms the deletion",
        Duration::from_secs(10),
        || {
            let out = kubectl(&["get", "pod", "ignores-stop"], None);
            (!out.status.success()).then_some(())
        },
    );
}

#[test]
fn chmod_x_and_a_kill_keep_the_real_kubelet_down_until_chmod_x() {
    kubeconfig();
    let node = "kl-kubelets-control-plane";
    let sh = |script: &str| docker(&["exec", node, "sh", "-c", script]);
    sh("chmod -x /usr/bin/kubelet && kill $(cat /run/kind-chaos/kubelet.pid)");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(sh("pidof kubelet || echo down").trim(), "down");
    sh("chmod +x /usr/bin/kubelet");
    let cmdline = eventually("the kubelet back", Duration::from_secs(10), || {
        let pid = sh("pidof kubelet || true");
        let pid = pid.trim();
        (!pid.is_empty()).then(|| sh(&format!("tr '\\0' ' ' </proc/{pid}/cmdline")))
    });
    assert!(
        cmdline
            .starts_with("/usr/bin/kubelet --node-labels=node-role.kubernetes.io/control-plane="),
        "{cmdline}"
    );
}
