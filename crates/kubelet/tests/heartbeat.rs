//! The node side against the in-process fake API server: registration with labels and
//! taints, NodeStatus, and a Lease whose renewTime advances (short intervals, no long
//! sleeps).

use std::time::Duration;

use clap::Parser;
use fake_apiserver::FakeApiServer;
use kubelet::{Config, heartbeat, node_facts};
use serde_json::Value;

async fn client_for(server: &FakeApiServer, dir: &tempfile::TempDir) -> kube::Client {
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, server.kubeconfig_yaml("kind-test")).unwrap();
    kubelet::kube_client(&path).await.unwrap()
}

async fn server() -> FakeApiServer {
    let s = FakeApiServer::start().await.unwrap();
    s.register_resource("coordination.k8s.io/v1", "Lease", "leases", true);
    s
}

/// Polls `f` every 20 ms for up to 5 s.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..250 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

fn ready_reason(node: &Value) -> Option<String> {
    node["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")
        .map(|c| c["reason"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn registers_a_ready_node_and_keeps_renewing_its_lease() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let cfg = Config::parse_from([
        "kubelet",
        "--hostname-override",
        "kc-worker2",
        "--node-labels",
        "mock-server=true",
        "--register-with-taints",
        "playground_test=ensure_only_tolerations_run_here:NoSchedule",
        "--node-ip",
        "172.18.0.9",
        "--node-lease-renew-interval",
        "100ms",
        "--node-status-update-frequency",
        "100ms",
    ]);
    let facts = node_facts(&cfg, "containerd://1.6.20".to_string());
    let task = tokio::spawn(heartbeat::run(client, cfg, facts));

    let node = eventually("the node to be Ready", || {
        let n = server.get("v1", "Node", None, "kc-worker2")?;
        ready_reason(&n).map(|r| (n, r))
    })
    .await;
    let (node, reason) = node;
    assert_eq!(reason, "KubeletReady");
    assert_eq!(node["metadata"]["labels"]["mock-server"], "true");
    assert_eq!(
        node["metadata"]["labels"]["kubernetes.io/hostname"],
        "kc-worker2"
    );
    assert_eq!(node["spec"]["taints"][0]["key"], "playground_test");
    assert_eq!(
        node["spec"]["taints"][0]["value"],
        "ensure_only_tolerations_run_here"
    );
    let status = &node["status"];
    assert_eq!(status["addresses"][0]["type"], "InternalIP");
    assert_eq!(status["addresses"][0]["address"], "172.18.0.9");
    assert_eq!(
        status["nodeInfo"]["containerRuntimeVersion"],
        "containerd://1.6.20"
    );
    assert_eq!(status["nodeInfo"]["operatingSystem"], "linux");
    assert!(
        !status["nodeInfo"]["kernelVersion"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert!(
        status["capacity"]["memory"]
            .as_str()
            .unwrap()
            .ends_with("Ki")
    );
    assert_eq!(status["allocatable"], status["capacity"]);

    let lease = eventually("the lease", || {
        server.get(
            "coordination.k8s.io/v1",
            "Lease",
            Some("kube-node-lease"),
            "kc-worker2",
        )
    })
    .await;
    assert_eq!(lease["spec"]["holderIdentity"], "kc-worker2");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "Node");
    assert_eq!(
        lease["metadata"]["ownerReferences"][0]["uid"],
        node["metadata"]["uid"]
    );
    let first = lease["spec"]["renewTime"].as_str().unwrap().to_string();
    let later = eventually("the lease to be renewed", || {
        let l = server.get(
            "coordination.k8s.io/v1",
            "Lease",
            Some("kube-node-lease"),
            "kc-worker2",
        )?;
        let t = l["spec"]["renewTime"].as_str()?.to_string();
        (t > first).then_some(t)
    })
    .await;
    assert!(later > first);

    // The heartbeat on the Node moves too.
    let hb = |n: &Value| {
        n["status"]["conditions"][3]["lastHeartbeatTime"]
            .as_str()
            .map(str::to_string)
    };
    let hb0 = hb(&node).unwrap();
    eventually("a newer NodeStatus heartbeat", || {
        let n = server.get("v1", "Node", None, "kc-worker2")?;
        hb(&n).filter(|t| *t > hb0)
    })
    .await;
    task.abort();
}

#[tokio::test]
async fn a_deleted_node_is_registered_again() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    let cfg = Config::parse_from([
        "kubelet",
        "--hostname-override",
        "kc-control-plane",
        "--node-labels",
        "node-role.kubernetes.io/control-plane=",
        "--node-lease-renew-interval",
        "100ms",
        "--node-status-update-frequency",
        "100ms",
    ]);
    let facts = node_facts(&cfg, "containerd://1.6.20".to_string());
    let task = tokio::spawn(heartbeat::run(client, cfg, facts));
    let uid = eventually("the node", || {
        let n = server.get("v1", "Node", None, "kc-control-plane")?;
        ready_reason(&n)?;
        n["metadata"]["uid"].as_str().map(str::to_string)
    })
    .await;
    let n = server.get("v1", "Node", None, "kc-control-plane").unwrap();
    assert_eq!(
        n["metadata"]["labels"]["node-role.kubernetes.io/control-plane"],
        ""
    );
    server
        .remove("v1", "Node", None, "kc-control-plane")
        .unwrap();
    eventually("the node to come back under a new uid", || {
        let n = server.get("v1", "Node", None, "kc-control-plane")?;
        ready_reason(&n)?;
        (n["metadata"]["uid"].as_str()? != uid).then_some(())
    })
    .await;
    task.abort();
}
