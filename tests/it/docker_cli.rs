//! The `chaos` binary against real Docker and the kind-like test cluster `dc-cli` (a name of its
//! own, never the seeds' `k8splayground`, which may be a user's real cluster or the one of
//! scripts/run.sh; `playbooks/node-faults.yaml` runs on it with `--cluster`):
//! `chaos reality` JSON, `chaos load-image`, the node-faults playbook end to end, a node that
//! disappears in the middle of a run (the rollback reports which undo worked), and bad input.
//! Tests that fault or need every node take `SERIAL`; the read-only ones run alongside.

use crate::support::testcluster;

use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use testcluster::{TestCluster, docker, shared};

use crate::support::killed::KilledRun;
use crate::support::wait::eventually;
use crate::support::{chaos_in, text};

const CLUSTER: &str = "dc-cli";

/// Worker 3 is removed by one test; the others use the control plane and workers 1 and 2.
fn cluster() -> &'static TestCluster {
    shared(CLUSTER, 3)
}

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn chaos(args: &[&str]) -> Output {
    chaos_in(&state_dir())
        .args(args)
        .output()
        .expect("run chaos")
}

/// Journals and run locks of the runs of this binary; emptied once per test run.
fn state_dir() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("docker-cli-state");
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("state dir");
        d
    })
    .clone()
}

#[test]
fn reality_json_matches_the_pods_started() {
    let c = cluster();
    let _g = serial();
    let w2 = c.worker(2);
    let cp = c.control_plane();
    let mut want = Vec::new();
    for (node, name) in [(&w2, "one"), (&w2, "two"), (&cp, "three")] {
        let uid = format!("uid-cli-{name}");
        want.push((
            node.clone(),
            name,
            uid.clone(),
            c.pod(node, "t-cli", name, &uid),
        ));
    }
    let started = Instant::now();
    let out = chaos(&["reality", "--cluster", CLUSTER, "--output", "json"]);
    let took = started.elapsed();
    eprintln!("chaos reality --output json took {took:?}");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["cluster"], CLUSTER);
    assert_eq!(v["api"]["connected"], false);
    assert_eq!(v["drift"], Value::Null);
    let nodes = v["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&cp.as_str()) && names.contains(&w2.as_str()),
        "{names:?}"
    );
    for n in nodes {
        let role = if n["name"] == cp.as_str() {
            "control-plane"
        } else {
            "worker"
        };
        assert_eq!(n["role"], role);
        assert_eq!(n["state"], "running");
        assert_eq!(n["error"], Value::Null);
        assert_eq!(n["kubelet_running"], true);
    }
    let node = |name: &str| nodes.iter().find(|n| n["name"] == name).unwrap();
    assert_eq!(node(&w2)["shims"].as_array().unwrap().len(), 2);
    for (on, name, uid, id) in &want {
        let sandboxes = node(on)["sandboxes"].as_array().unwrap();
        let sb = sandboxes
            .iter()
            .find(|s| s["id"] == id.as_str())
            .unwrap_or_else(|| panic!("sandbox of {name} missing on {on}: {sandboxes:#?}"));
        assert_eq!(sb["namespace"], "t-cli");
        assert_eq!(sb["name"], *name);
        assert_eq!(sb["uid"], uid.as_str());
        assert_eq!(sb["live"], true);
        assert!(sb["shim_pid"].as_u64().unwrap() > 1);
    }
    // One node, as a table.
    let out = chaos(&["reality", "--cluster", CLUSTER, "--node", &w2]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    // The test cluster has no API server: the node side is shown and the API says why not.
    assert!(table.contains("API: not connected ("), "{table}");
    assert!(
        table.contains("t-cli/one") && table.contains("t-cli/two"),
        "{table}"
    );
    // Only the asked node has a section (the API's message may name the control plane).
    assert!(!table.contains(&format!("{cp} (")), "{table}");
    for (on, _, _, id) in &want {
        c.unpod(on, id);
    }
}

#[test]
fn bad_input_exits_with_the_documented_codes() {
    let c = cluster();
    let missing = format!("{CLUSTER}-worker9");
    let out = chaos(&["reality", "--cluster", CLUSTER, "--node", &missing]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("no node `{missing}`")), "{err}");
    assert!(
        err.contains(&c.control_plane()) && err.contains(&c.worker(1)),
        "{err}"
    );

    let out = chaos(&["reality", "--cluster", "kc-no-such-cluster"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no kind cluster `kc-no-such-cluster`"),
        "{err}"
    );
    assert!(err.contains(CLUSTER), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["reality", "--cluster", CLUSTER])
        .env("DOCKER_HOST", "unix:///tmp/kind-chaos-no-docker-here.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "cannot reach the Docker daemon at unix:///tmp/kind-chaos-no-docker-here.sock"
        ),
        "{err}"
    );

    // The same for a run: the step errors with exit 3, nothing is left to undo.
    // (Its own state folder: the run lock of the cluster may be held by another test's run.)
    let own_state = tempfile::tempdir().unwrap();
    let playbook = concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks/node-faults.yaml");
    let out = chaos_in(own_state.path())
        .args(["run", playbook])
        .env("DOCKER_HOST", "unix:///tmp/kind-chaos-no-docker-here.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cannot reach the Docker daemon"),
        "{}",
        text(&out)
    );

    let out = chaos(&[
        "load-image",
        "kind-chaos-test/no-such-image:0",
        "--cluster",
        CLUSTER,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn load_image_into_every_node() {
    let c = cluster();
    let _g = serial();
    let image = format!("kind-chaos-test/cli-load:{}", std::process::id());
    docker(&["tag", "kind-chaos-pause:test", &image]);
    let out = chaos(&["load-image", &image, "--cluster", CLUSTER]);
    docker(&["rmi", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let nodes = docker(&[
        "ps",
        "--filter",
        &format!("label=io.x-k8s.kind.cluster={CLUSTER}"),
        "--format",
        "{{.Names}}",
    ]);
    let nodes: Vec<&str> = nodes.lines().collect();
    assert!(nodes.len() >= 3, "{nodes:?}");
    for node in nodes {
        let images = c.docker_exec_ok(node, &["ctr", "-n", "k8s.io", "images", "ls", "-q"]);
        assert!(
            images.lines().any(|l| l == format!("docker.io/{image}")),
            "{image} not in {node}: {images}"
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(node));
    }
}

#[test]
fn node_faults_playbook_runs_end_to_end() {
    let c = cluster();
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let playbook = concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks/node-faults.yaml");
    let started = Instant::now();
    let out = chaos(&[
        "run",
        playbook,
        "--cluster",
        CLUSTER,
        "--json",
        report.to_str().unwrap(),
    ]);
    eprintln!("node-faults.yaml took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let pb = &v["playbooks"][0];
    assert_eq!(pb["status"], "passed", "{pb:#}");
    let undo = pb["undo"].as_array().unwrap();
    assert!(undo.iter().all(|u| u["status"] == "undone"), "{undo:#?}");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &c.worker(2)]).trim(),
        "running"
    );
}

/// A node container removed while a run has it faulted: the next step fails, the rollback
/// still unpauses the other node, and the report says which undo worked and which did not.
#[test]
fn a_node_removed_midway_rolls_back_and_reports_each_undo() {
    let c = cluster();
    let _g = serial();
    let (w2, w3) = (c.worker(2), c.worker(3));
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("removed-midway.yaml");
    std::fs::write(
        &playbook,
        format!(
            "apiVersion: chaos/v1alpha1
kind: Playbook
name: node-removed-midway
cluster: {CLUSTER}
timeout: 1m
steps:
  - name: pause-worker2
    node-pause: {{node: {w2}}}
  - name: break-kubelet
    kubelet-stop: {{node: {w3}}}
  - name: window
    sleep: 6s
  - name: touch-removed-node
    exec: {{node: {w3}, command: [\"true\"]}}
"
        ),
    )
    .unwrap();
    let report = dir.path().join("report.json");
    let child = chaos_in(&state_dir())
        .args([
            "run",
            playbook.to_str().unwrap(),
            "--json",
            report.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the kubelet of worker 3 is broken (so both faults are in), remove worker 3.
    eventually("the faults appear", Duration::from_secs(20), || {
        let paused = docker(&["inspect", "-f", "{{.State.Status}}", &w2]).trim() == "paused";
        let broken = !c
            .docker_exec(&w3, &["test", "-x", "/usr/bin/kubelet"])
            .status
            .success();
        (paused && broken).then_some(())
    });
    docker(&["rm", "-f", "-v", &w3]);
    let out = child.wait_with_output().unwrap();
    eprintln!("{}", text(&out));
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let pb = &v["playbooks"][0];
    assert_eq!(pb["status"], "rollback-failed", "{pb:#}");
    let undo = pb["undo"].as_array().unwrap();
    let status = |needle: &str| {
        undo.iter()
            .find(|u| {
                u["description"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(needle)
            })
            .map(|u| {
                (
                    u["status"].as_str().unwrap().to_string(),
                    u["message"].clone(),
                )
            })
            .unwrap_or_else(|| panic!("no undo about {needle}: {undo:#?}"))
    };
    let (kubelet, why) = status(&format!("kubelet executable again on {w3}"));
    assert_eq!(kubelet, "failed");
    // Said as the container gone (Docker's 404), or, when a reality sample of the timeline
    // during the sleep listed the nodes after the removal, as no such node in the cluster.
    let why = why.as_str().unwrap_or_default();
    assert!(
        why.contains(&format!(
            "`{w3}` of kind cluster `{CLUSTER}` no longer exists"
        )) || why.contains(&format!("no node `{w3}` in kind cluster `{CLUSTER}`")),
        "{why}"
    );
    assert_eq!(status(&format!("unpause node container {w2}")).0, "undone");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ROLLBACK FAILED"), "{}", text(&out));
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &w2]).trim(),
        "running"
    );
}

/// Node-reality assertions and a container kill through the engine, on pods the test starts:
/// the engine finds the pod's node from the nodes' sandboxes (no API yet) and kills its process.
#[test]
fn node_reality_assertions_and_container_kill_through_a_playbook() {
    let c = cluster();
    let _g = serial();
    let w = c.worker(1);
    let keep = c.pod(&w, "t-play", "keep", "uid-keep");
    let victim = c.pod(&w, "t-play", "victim", "uid-victim");
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("reality.yaml");
    std::fs::write(
        &playbook,
        format!(
            "apiVersion: chaos/v1alpha1
kind: Playbook
name: node-reality
cluster: {CLUSTER}
timeout: 1m
steps:
  - assert:
      shims: {{node: {w}, count: 2}}
  - assert:
      sandbox: {{namespace: t-play, pod: victim, node: {w}}}
  - assert:
      sandbox: {{namespace: t-play, pod: never-started, present: false}}
  - container-kill: {{namespace: t-play, pod: victim, signal: SIGKILL}}
  - assert:
      kubelet: {{node: {w}, running: true}}
"
        ),
    )
    .unwrap();
    let out = chaos(&["run", playbook.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tasks = c.docker_exec_ok(&w, &["ctr", "-n", "k8s.io", "tasks", "ls"]);
    let status = |id: &str| {
        tasks
            .lines()
            .find(|l| l.starts_with(id))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(status(&victim), "STOPPED", "{tasks}");
    assert_eq!(status(&keep), "RUNNING", "{tasks}");

    // The same assertion failing is an outcome (exit 1) that says what was seen.
    std::fs::write(
        &playbook,
        format!(
            "apiVersion: chaos/v1alpha1
kind: Playbook
name: node-reality-fails
cluster: {CLUSTER}
steps:
  - assert:
      shims: {{node: {w}, count: 5}}
"
        ),
    )
    .unwrap();
    let out = chaos(&["run", playbook.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 shim(s)"),
        "{}",
        text(&out)
    );
    c.unpod(&w, &keep);
    c.unpod(&w, &victim);
}

/// Whether the kubelet (stand-in) runs in `node`, as `chaos reality` reports it.
fn kubelet_running(node: &str) -> bool {
    let out = chaos(&[
        "reality",
        "--cluster",
        CLUSTER,
        "--node",
        node,
        "--output",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["nodes"][0]["kubelet_running"] == Value::Bool(true)
}

#[test]
fn after_sigkill_during_a_kubelet_fault_recover_brings_the_kubelet_back() {
    let c = cluster();
    let _g = serial();
    let w1 = c.worker(1);
    // Its own state folder: recover acts on every journal of the cluster in it, and other
    // tests here leave journals behind on purpose (an undo that could not be done).
    let killed = KilledRun::new(
        CLUSTER,
        &format!(
            "  - kubelet-stop: {{node: {w1}}}\n  - wait:\n      until: {{kubelet: {{node: {w1}, running: true}}}}\n      timeout: 5m\n"
        ),
        "wait until",
    );
    // Nothing undid the fault: the stand-in stays dead across several restart intervals.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !kubelet_running(&w1),
        "the kubelet came back without recover"
    );

    let said = killed.recovered();
    assert!(
        said.contains(&format!(
            "✔ undone (steps[0]): make the kubelet executable again on {w1}"
        )),
        "{said}"
    );
    eventually("the kubelet is back", Duration::from_secs(10), || {
        kubelet_running(&w1).then_some(())
    });
    killed.assert_nothing_left();
}
