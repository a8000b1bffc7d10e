//! `exec` probes in a pod on the local cluster: `chaos run` finds the pod through the API (its
//! node and the container's `containerd://` ID the kubelet reported) and runs the command in
//! the container from its node with `ctr task exec`. A file the pod wrote is seen, then not
//! once it is removed, then the pod is gone.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use super::{CLUSTER, RUNS, get_json, kubectl, kubectl_ok};
use crate::support::testcluster::docker;
use crate::support::wait::eventually;

const POD: &str = "pod-exec";
const NODE: &str = "kl-kubelets-worker";

/// The steady state checks the file by the pod's name and its content by a selector; the
/// probe samples it for 2 s.
fn playbook() -> String {
    format!(
        r#"apiVersion: chaos/v1alpha1
kind: Playbook
name: pod-exec
cluster: {CLUSTER}
steady-state:
  - exec: {{pod: {{name: {POD}}}, command: [sh, -c, "test -e /dev/shm/x"]}}
  - exec: {{pod: {{selector: lab=pod-exec, container: main}}, command: [cat, /dev/shm/x], output: "^ready$"}}
steps:
  - name: file probe
    probe:
      exec: {{pod: {{name: {POD}}}, command: [sh, -c, "test -e /dev/shm/x"]}}
      interval: 500ms
      during:
        - sleep: 2s
"#
    )
}

/// `chaos run --json` of the playbook, with private state; the report of the one playbook.
fn run(dir: &Path) -> (Output, Value) {
    let file = dir.join("pod-exec.yaml");
    std::fs::write(&file, playbook()).expect("write playbook");
    let report = dir.join("report.json");
    let _ = std::fs::remove_file(&report);
    let out = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["run", "--json"])
        .arg(&report)
        .arg(&file)
        .env("HOME", dir.join("home"))
        .env("CHAOS_STATE_DIR", dir.join("state"))
        .env("CHAOS_LOCK_DIR", dir.join("lock"))
        .env_remove("KUBECONFIG")
        .output()
        .expect("run chaos");
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let json: Value = serde_json::from_str(&text).expect("report json");
    (out, json["playbooks"][0].clone())
}

fn step<'a>(report: &'a Value, id: &str, phase: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id && s["phase"] == phase))
        .unwrap_or_else(|| panic!("no step {id} in {phase}: {report:#}"))
}

#[test]
fn an_exec_probe_runs_in_the_pods_container_until_the_file_or_the_pod_is_gone() {
    super::kubeconfig();
    let dir = tempfile::tempdir().expect("tempdir");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": POD, "namespace": "default", "labels": { "lab": "pod-exec" } },
        "spec": {
            "nodeName": NODE,
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main", "image": RUNS, "imagePullPolicy": "Never",
                "command": ["sh", "-c", "echo ready > /dev/shm/x; exec sleep 3600"]
            }]
        }
    });
    kubectl_ok(
        &["create", "--validate=false", "-f", "-"],
        Some(&pod.to_string()),
    );
    let id = eventually(
        &format!("pod {POD} Running"),
        Duration::from_secs(30),
        || {
            let p = get_json(&["get", "pod", POD]);
            let c = &p["status"]["containerStatuses"][0];
            (p["status"]["phase"] == "Running" && c["state"]["running"].is_object())
                .then(|| c["containerID"].as_str().map(str::to_string))
                .flatten()
        },
    );

    // The container wrote its file (looked at as the probe does, from the node).
    let cid = id
        .strip_prefix("containerd://")
        .expect("a containerd ID")
        .to_string();
    let mut n = 0;
    eventually(
        "the container wrote /dev/shm/x",
        Duration::from_secs(10),
        || {
            n += 1;
            let exec_id = format!("pe-cat-{n}");
            let out = Command::new("docker")
                .args([
                    "exec",
                    NODE,
                    "ctr",
                    "-n",
                    "k8s.io",
                    "task",
                    "exec",
                    "--exec-id",
                ])
                .args([exec_id.as_str(), cid.as_str(), "cat", "/dev/shm/x"])
                .output()
                .expect("docker exec");
            (out.status.success() && out.stdout == b"ready\n").then_some(())
        },
    );

    // The file is there: every check and every sample is ok.
    let (out, report) = run(dir.path());
    assert_eq!(report["status"], "passed", "{report:#}");
    assert!(out.status.success());
    let probe = &step(&report, "steps[0]", "steps")["probe"];
    let samples = probe["samples"].as_array().expect("samples");
    assert!(samples.len() >= 4, "{probe:#}");
    assert!(samples.iter().all(|s| s["ok"] == true), "{probe:#}");
    assert_eq!(
        step(&report, "steady-state[1]", "steady-before")["verdict"]["observed"],
        "exit 0"
    );

    // Removed in the container (as the probe runs its command): the steady state fails.
    docker(&[
        "exec",
        NODE,
        "ctr",
        "-n",
        "k8s.io",
        "task",
        "exec",
        "--exec-id",
        "pe-rm",
        &cid,
        "busybox",
        "rm",
        "/dev/shm/x",
    ]);
    let (out, report) = run(dir.path());
    assert_eq!(report["status"], "not-steady", "{report:#}");
    assert!(!out.status.success());
    let first = &step(&report, "steady-state[0]", "steady-before")["verdict"];
    assert_eq!(first["holds"], false, "{first:#}");
    assert_eq!(first["observed"], "exit 1", "{first:#}");
    let second = &step(&report, "steady-state[1]", "steady-before")["verdict"];
    assert!(
        second["observed"]
            .as_str()
            .is_some_and(|o| o.starts_with("exit 1")),
        "{second:#}"
    );

    // The pod is gone: a failed check that says so, not an error of the run.
    kubectl_ok(&["delete", "pod", POD, "--wait=false"], None);
    eventually(&format!("pod {POD} gone"), Duration::from_secs(40), || {
        (!kubectl(&["get", "pod", POD], None).status.success()).then_some(())
    });
    let (_, report) = run(dir.path());
    assert_eq!(report["status"], "not-steady", "{report:#}");
    assert_eq!(
        step(&report, "steady-state[0]", "steady-before")["verdict"]["observed"],
        format!("pod default/{POD} not found")
    );
    assert_eq!(
        step(&report, "steady-state[1]", "steady-before")["verdict"]["observed"],
        "no Running pod matches `lab=pod-exec` in default (0 matching)"
    );
}
