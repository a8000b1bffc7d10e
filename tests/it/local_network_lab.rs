//! The network-partition lab (playbooks/network-partition.yaml) end to end on a local cluster
//! of its own (`scripts/testcluster.sh up nt-lab --api`: the served fake API server and
//! crates/kubelet on real containerd), beside the other labs of `local_labs` and apart from
//! them: the playbook runs unmodified but for the cluster name and must exit 0 with `passed`;
//! the scheduler placed one pod of the Deployment in the whole run, so the pod that runs after
//! the heal is the one from before the partition (what tells a partition from `kubelet-stop`).
//!
//! Needs Docker, /usr/bin/kubectl and the lab image small-entrypoint-shell (built with
//! scripts/build-images.sh when missing); fails, never skips, without them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::local_api::{all_lab_images, kubectl_at, lab_images, run_script};
use crate::support::{testcluster, text};

const KUBECTL: &str = "/usr/bin/kubectl";
const CLUSTER: &str = "nt-lab";
const IMAGE_DIR: &str = "small-entrypoint-shell";

/// playbooks/network-partition.yaml and the manifest it applies, with `k8splayground` renamed.
fn copy_lab(to: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks");
    std::fs::create_dir_all(to.join("manifests")).expect("mkdir");
    for file in ["network-partition.yaml", "manifests/deployment.yaml"] {
        let body = std::fs::read_to_string(root.join(file)).expect("read the lab");
        std::fs::write(to.join(file), body.replace("k8splayground", CLUSTER)).expect("write");
    }
    to.join("network-partition.yaml")
}

fn chaos(dir: &Path, args: &[&str]) -> Output {
    let state = dir.join("state");
    std::fs::create_dir_all(state.join("locks")).expect("mkdir");
    Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(args)
        .env("HOME", dir)
        .env("CHAOS_STATE_DIR", &state)
        .env("CHAOS_LOCK_DIR", state.join("locks"))
        .env_remove("KUBECONFIG")
        .output()
        .expect("run chaos")
}

#[test]
fn network_partition_lab_keeps_the_pods_and_the_node_comes_back() {
    assert!(
        Path::new(KUBECTL).exists(),
        "{KUBECTL} is missing: the local cluster is checked with the real kubectl"
    );
    testcluster::start(CLUSTER, &["--workers", "2", "--api"]);
    let image = all_lab_images()
        .into_iter()
        .find(|i| i.contains(&format!("/{IMAGE_DIR}:")))
        .expect("the lab's image among images/");
    lab_images(std::slice::from_ref(&image));
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = PathBuf::from(run_script(&["kubeconfig", CLUSTER]).trim());
    let out = chaos(dir.path(), &["load-image", "--cluster", CLUSTER, &image]);
    assert!(out.status.success(), "chaos load-image: {}", text(&out));
    let playbook = copy_lab(dir.path());

    let report = dir.path().join("report.json");
    let out = chaos(
        dir.path(),
        &[
            "run",
            "--json",
            report.to_str().expect("utf-8"),
            playbook.to_str().expect("utf-8"),
        ],
    );
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(&report)
            .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}", text(&out))),
    )
    .expect("report json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json["playbooks"][0]["status"], "passed", "{json:#}");

    // The playbook asserted one pod, on the worker, no restarts, before and after the heal;
    // that it is the same pod shows in the events: the scheduler placed exactly one pod of the
    // Deployment in the whole run (a recreated pod would be scheduled again).
    let events = kubectl_at(
        KUBECTL,
        &kubeconfig,
        &["get", "events", "-n", "default", "-o", "json"],
        None,
    );
    assert!(
        events.status.success(),
        "kubectl get events: {}",
        text(&events)
    );
    let events: Value = serde_json::from_slice(&events.stdout).expect("events json");
    let scheduled: Vec<&str> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == "Scheduled")
        .filter_map(|e| e["involvedObject"]["name"].as_str())
        .filter(|name| name.starts_with("deployment-"))
        .collect();
    assert_eq!(
        scheduled.len(),
        1,
        "pods scheduled in the run: {scheduled:?}"
    );
}
