//! Pods run as real containerd sandboxes and containers in a test node: status from the
//! real processes (running, exit codes, reasons), restart policies, command vs ENTRYPOINT.

mod support;

use clap::Parser;

use support::{Lab, TestNode, eventually, main_status, pod};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_run_and_report_real_status() {
    let node = TestNode::up("kc-kubelet-run");
    let lab = Lab::start(&node).await;
    let n = node.node.as_str();

    // The image's ENTRYPOINT (the probe), restartPolicy Always: Running and Ready.
    lab.create(pod("runs", n, None, "Always", 30)).await;
    // command replaces the ENTRYPOINT; Never: Failed with the real exit code.
    lab.create(pod("fails", n, Some(&["sh", "-c", "exit 3"]), "Never", 30))
        .await;
    // OnFailure and exit 0: Succeeded, reason Completed, not restarted.
    lab.create(pod(
        "completes",
        n,
        Some(&["sh", "-c", "exit 0"]),
        "OnFailure",
        30,
    ))
    .await;
    // Always and exit 1: restarted at once, then CrashLoopBackOff for 10 s.
    lab.create(pod(
        "crashes",
        n,
        Some(&["sh", "-c", "sleep 0.2; exit 1"]),
        "Always",
        30,
    ))
    .await;

    let runs = eventually(60, "pod runs to be Running and Ready", || {
        let p = lab.get("runs")?;
        (p["status"]["phase"] == "Running" && main_status(&p)["ready"] == true).then_some(p)
    })
    .await;
    let st = main_status(&runs);
    assert!(st["state"]["running"]["startedAt"].is_string(), "{st}");
    assert!(
        st["containerID"]
            .as_str()
            .unwrap()
            .starts_with("containerd://")
    );
    assert_eq!(st["restartCount"], 0);
    let conds = runs["status"]["conditions"].as_array().unwrap();
    for ty in ["Ready", "ContainersReady", "Initialized", "PodScheduled"] {
        assert!(
            conds
                .iter()
                .any(|c| c["type"] == ty && c["status"] == "True"),
            "{ty} in {conds:?}"
        );
    }
    assert_eq!(runs["status"]["hostIP"], "172.18.0.2");

    let fails = eventually(30, "pod fails to be Failed", || {
        let p = lab.get("fails")?;
        (p["status"]["phase"] == "Failed").then_some(p)
    })
    .await;
    let t = &main_status(&fails)["state"]["terminated"];
    assert_eq!(t["exitCode"], 3);
    assert_eq!(t["reason"], "Error");
    assert!(
        t["startedAt"].is_string() && t["finishedAt"].is_string(),
        "{t}"
    );
    assert_eq!(main_status(&fails)["restartCount"], 0);

    let completes = eventually(30, "pod completes to be Succeeded", || {
        let p = lab.get("completes")?;
        (p["status"]["phase"] == "Succeeded").then_some(p)
    })
    .await;
    assert_eq!(
        main_status(&completes)["state"]["terminated"]["reason"],
        "Completed"
    );
    assert_eq!(main_status(&completes)["restartCount"], 0);

    let crashes = eventually(30, "pod crashes to be in CrashLoopBackOff", || {
        let p = lab.get("crashes")?;
        (main_status(&p)["state"]["waiting"]["reason"] == "CrashLoopBackOff").then_some(p)
    })
    .await;
    let st = main_status(&crashes);
    assert_eq!(crashes["status"]["phase"], "Running", "{crashes}");
    assert_eq!(st["restartCount"], 1, "{st}");
    assert_eq!(st["lastState"]["terminated"]["exitCode"], 1);
    assert!(
        st["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .starts_with("back-off 10s")
    );
    let backed_off_at = std::time::Instant::now();
    let restarted = eventually(30, "pod crashes to restart after its back-off", || {
        let p = lab.get("crashes")?;
        (main_status(&p)["restartCount"].as_u64()? >= 2).then_some(p)
    })
    .await;
    let waited = backed_off_at.elapsed();
    // 10 s from the exit, which was at most ~1 s before the back-off was first seen.
    assert!(
        waited >= std::time::Duration::from_secs(8),
        "restarted after {waited:?}"
    );
    eprintln!("second restart {waited:?} after CrashLoopBackOff was first seen");
    assert_eq!(
        main_status(&restarted)["lastState"]["terminated"]["exitCode"],
        1
    );

    // The sandboxes carry the CRI's labels, as `chaos reality` reads them.
    let rt = node.runtime().await;
    let uid = runs["metadata"]["uid"].as_str().unwrap();
    let sandboxes = rt
        .list(&[
            ("io.kubernetes.pod.uid", uid),
            ("io.cri-containerd.kind", "sandbox"),
        ])
        .await
        .unwrap();
    assert_eq!(sandboxes.len(), 1);
    assert_eq!(sandboxes[0].labels["io.kubernetes.pod.name"], "runs");
    assert_eq!(
        sandboxes[0].labels["io.kubernetes.pod.namespace"],
        "default"
    );

    // The whole program (`kubelet::run`, as the binary runs it) against the same
    // containerd: the Node reports containerd's own version from its Version API.
    let kubeconfig = lab.dir.path().join("kubeconfig");
    let socket = node.socket();
    let cfg = kubelet::Config::parse_from([
        "kubelet".into(),
        "--kubeconfig".into(),
        kubeconfig.into_os_string(),
        "--container-runtime-endpoint".into(),
        socket.into_os_string(),
        "--hostname-override".into(),
        "kc-whole-kubelet".into(),
    ]);
    let whole = tokio::spawn(kubelet::run(cfg));
    let n = eventually(30, "its status", || {
        let n = lab.server.get("v1", "Node", None, "kc-whole-kubelet")?;
        n["status"]["nodeInfo"].is_object().then_some(n)
    })
    .await;
    let version = n["status"]["nodeInfo"]["containerRuntimeVersion"]
        .as_str()
        .unwrap();
    assert!(version.starts_with("containerd://1."), "{version}");
    eprintln!("containerRuntimeVersion {version}");
    whole.abort();
}
