//! The control plane's node rules as the served mode runs them: DefaultTolerationSeconds
//! admission, the heartbeat-driven node lifecycle controller (Lease not renewed for the
//! grace period -> conditions Unknown, unreachable taints, NodeNotReady events), taint-based
//! eviction after the tolerations, the scheduler's Scheduled event, and `pods/log` proxied
//! to the node's kubelet. Each test fails if its rule is removed.

use std::time::Duration;

use fake_apiserver::{FakeApiServer, FakeNode};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams, PostParams};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{api_status, pod, start};

const GRACE: Duration = Duration::from_secs(40);

fn lease(node: &str, renew: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": { "name": node, "namespace": "kube-node-lease" },
        "spec": { "holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": renew },
    })
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn taints(node: &Value) -> Vec<(String, String)> {
    node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["key"].as_str().unwrap_or("").to_string(),
                t["effect"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn events(server: &FakeApiServer, reason: &str, name: &str) -> Vec<Value> {
    server
        .list("v1", "Event", None)
        .into_iter()
        .filter(|e| e["reason"] == reason && e["involvedObject"]["name"] == name)
        .collect()
}

/// A server with the node lifecycle on, one Ready node `w` with a Lease, and a pod on it
/// created through the API (so admission runs).
async fn cluster() -> (FakeApiServer, kube::Client) {
    let (server, client) = start().await;
    server.register_resource("coordination.k8s.io/v1", "Lease", "leases", true);
    server.add_node(FakeNode::new("w")).expect("node");
    server
        .insert(lease("w", "2026-01-01T00:00:00.000000Z"))
        .expect("lease");
    server.simulate_kubelets(false);
    server.node_lifecycle(Some(GRACE));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("p", Some("w"), &[]))
        .await
        .expect("create pod");
    (server, client)
}

/// Moves the paused clock on and lets the controllers run.
async fn pass(server: &FakeApiServer, d: Duration) {
    tokio::time::advance(d).await;
    server.settle();
}

#[tokio::test]
async fn admission_gives_pods_300s_not_ready_and_unreachable_tolerations() {
    let (server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    pods.create(&PostParams::default(), &pod("plain", None, &[]))
        .await
        .expect("create");
    let mut own: Pod = pod("own", None, &[]);
    let own_toleration = json!([{ "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 7 }]);
    own.spec.as_mut().expect("spec").tolerations =
        Some(serde_json::from_value(own_toleration).expect("toleration"));
    pods.create(&PostParams::default(), &own)
        .await
        .expect("create");

    let plain = server
        .get("v1", "Pod", Some("default"), "plain")
        .expect("plain");
    assert_eq!(
        plain["spec"]["tolerations"],
        json!([
            { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
            { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
        ])
    );
    let own = server
        .get("v1", "Pod", Some("default"), "own")
        .expect("own");
    let tol = own["spec"]["tolerations"].as_array().expect("tolerations");
    assert_eq!(tol.len(), 2, "only not-ready is added: {tol:?}");
    assert_eq!(
        tol[0]["tolerationSeconds"], 7,
        "the pod's own toleration is kept"
    );
    assert_eq!(tol[1]["key"], "node.kubernetes.io/not-ready");
}

#[tokio::test]
async fn a_node_whose_lease_stops_turns_unknown_with_unreachable_taints() {
    let (server, _client) = cluster().await;
    tokio::time::pause();
    // Renewed every 10 s: the node stays Ready past the grace period.
    for i in 0..6 {
        server
            .insert(lease(
                "w",
                &format!("2026-01-01T00:00:{:02}.000000Z", 10 * (i + 1)),
            ))
            .expect("renew");
        pass(&server, Duration::from_secs(10)).await;
    }
    let node = server.get("v1", "Node", None, "w").expect("node");
    assert_eq!(condition(&node, "Ready").expect("Ready")["status"], "True");
    assert!(taints(&node).is_empty(), "{:?}", taints(&node));

    // No renewal: just before the grace period nothing changes, after it everything does.
    pass(&server, GRACE - Duration::from_secs(1)).await;
    let node = server.get("v1", "Node", None, "w").expect("node");
    assert_eq!(condition(&node, "Ready").expect("Ready")["status"], "True");
    pass(&server, Duration::from_secs(2)).await;
    let node = server.get("v1", "Node", None, "w").expect("node");
    for c in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
        let cond = condition(&node, c).unwrap_or_else(|| panic!("{c}"));
        assert_eq!(cond["status"], "Unknown", "{c}");
        assert_eq!(
            cond["message"], "Kubelet stopped posting node status.",
            "{c}"
        );
    }
    assert_eq!(
        taints(&node),
        vec![
            ("node.kubernetes.io/unreachable".into(), "NoSchedule".into()),
            ("node.kubernetes.io/unreachable".into(), "NoExecute".into()),
        ]
    );
    assert!(node["spec"]["taints"][1]["timeAdded"].is_string());
    assert_eq!(
        events(&server, "NodeNotReady", "w").len(),
        1,
        "the node's event"
    );
    let p = server.get("v1", "Pod", Some("default"), "p").expect("pod");
    assert_eq!(
        events(&server, "NodeNotReady", "p").len(),
        1,
        "the pod's event"
    );
    assert!(
        p["metadata"]["deletionTimestamp"].is_null(),
        "not evicted yet"
    );

    // The kubelet is back: a renewal and a Ready status; the taints go.
    server
        .insert(lease("w", "2026-01-01T00:05:00.000000Z"))
        .expect("renew");
    server
        .set_node_ready("w", fake_apiserver::ReadyStatus::True)
        .expect("ready");
    pass(&server, Duration::from_secs(1)).await;
    let node = server.get("v1", "Node", None, "w").expect("node");
    assert!(taints(&node).is_empty(), "{:?}", taints(&node));
}

#[tokio::test]
async fn pods_are_evicted_when_their_toleration_runs_out() {
    let (server, _client) = cluster().await;
    server
        .insert({
            let mut p = server.get("v1", "Pod", Some("default"), "p").expect("p");
            p["metadata"]["name"] = json!("forever");
            p["metadata"]["uid"] = json!("forever-uid");
            p["spec"]["tolerations"] = json!([{ "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute" }]);
            p
        })
        .expect("forever");
    tokio::time::pause();
    pass(&server, GRACE + Duration::from_secs(1)).await;
    let node = server.get("v1", "Node", None, "w").expect("node");
    assert_eq!(
        condition(&node, "Ready").expect("Ready")["status"],
        "Unknown"
    );

    pass(&server, Duration::from_secs(298)).await;
    let p = server.get("v1", "Pod", Some("default"), "p").expect("pod");
    assert!(
        p["metadata"]["deletionTimestamp"].is_null(),
        "299 s < 300 s"
    );
    pass(&server, Duration::from_secs(2)).await;
    let p = server.get("v1", "Pod", Some("default"), "p").expect("pod");
    assert!(
        p["metadata"]["deletionTimestamp"].is_string(),
        "evicted after 300 s"
    );
    assert_eq!(
        p["metadata"]["deletionGracePeriodSeconds"], 5,
        "the pod's own grace period"
    );
    let target = condition(&p, "DisruptionTarget").expect("DisruptionTarget");
    assert_eq!(target["reason"], "DeletionByTaintManager");
    let ev = events(&server, "TaintManagerEviction", "p");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["message"], "Marking for deletion Pod default/p");
    let forever = server
        .get("v1", "Pod", Some("default"), "forever")
        .expect("forever");
    assert!(
        forever["metadata"]["deletionTimestamp"].is_null(),
        "a toleration without seconds tolerates forever"
    );
}

#[tokio::test]
async fn the_scheduler_binds_and_records_a_scheduled_event() {
    let (server, client) = start().await;
    server.add_node(FakeNode::new("w")).expect("node");
    server.simulate_kubelets(false);
    server.auto_schedule(true);
    let pods: Api<Pod> = Api::namespaced(client, "default");
    pods.create(&PostParams::default(), &pod("s", None, &[]))
        .await
        .expect("create");
    server.settle();
    let p = server.get("v1", "Pod", Some("default"), "s").expect("pod");
    assert_eq!(p["spec"]["nodeName"], "w");
    assert_eq!(
        p["status"]["phase"], "Pending",
        "no simulated kubelet starts it"
    );
    let ev = events(&server, "Scheduled", "s");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["message"], "Successfully assigned default/s to w");
    assert_eq!(ev[0]["source"]["component"], "default-scheduler");
}

/// A one-request-per-connection stand-in for a kubelet's log endpoint: answers `status`
/// with `body` and reports the request line.
async fn fake_kubelet(
    status: u16,
    body: &'static str,
) -> (u16, tokio::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let line = String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let _ = tx.send(line).await;
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    (port, rx)
}

fn node_at(server: &FakeApiServer, name: &str, port: u16) {
    let mut node = server.add_node(FakeNode::new(name)).expect("node");
    node["status"]["addresses"] = json!([{ "type": "InternalIP", "address": "127.0.0.1" }]);
    node["status"]["daemonEndpoints"] = json!({ "kubeletEndpoint": { "Port": port } });
    server.insert(node).expect("node address");
}

#[tokio::test]
async fn pod_logs_come_from_the_nodes_kubelet() {
    let (server, client) = start().await;
    server.proxy_pod_logs(true);
    let (port, mut seen) = fake_kubelet(200, "Received 15\n").await;
    node_at(&server, "w", port);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("p", Some("w"), &[]))
        .await
        .expect("create");
    let params = LogParams {
        previous: true,
        ..LogParams::default()
    };
    let text = pods.logs("p", &params).await.expect("logs");
    assert_eq!(text, "Received 15\n");
    assert_eq!(
        seen.recv().await.expect("request"),
        "GET /containerLogs/default/p/main?previous=true HTTP/1.1"
    );

    // The kubelet's error is the API's, with its status and text.
    let (port, _seen) = fake_kubelet(
        400,
        "previous terminated container \"main\" in pod \"q\" not found",
    )
    .await;
    node_at(&server, "w2", port);
    pods.create(&PostParams::default(), &pod("q", Some("w2"), &[]))
        .await
        .expect("create");
    let err = pods.logs("q", &params).await.expect_err("kubelet said 400");
    assert_eq!(api_status(&err), (400, "BadRequest".into()));
    assert!(
        err.to_string().contains("previous terminated container"),
        "{err}"
    );

    // No kubelet listening: a 500, as when the node's kubelet is down.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = closed.local_addr().expect("addr").port();
    drop(closed);
    node_at(&server, "w3", dead);
    pods.create(&PostParams::default(), &pod("r", Some("w3"), &[]))
        .await
        .expect("create");
    let err = pods
        .logs("r", &LogParams::default())
        .await
        .expect_err("down");
    assert_eq!(api_status(&err).0, 500);
    assert!(
        err.to_string().contains("/containerLogs/default/r/main"),
        "{err}"
    );

    // A pod on no node has no logs to fetch.
    pods.create(&PostParams::default(), &pod("u", None, &[]))
        .await
        .expect("create");
    let err = pods
        .logs("u", &LogParams::default())
        .await
        .expect_err("unbound");
    assert_eq!(api_status(&err), (400, "BadRequest".into()));
}

#[tokio::test]
async fn cordon_taints_the_node_unschedulable_and_uncordon_removes_only_that_taint() {
    let (server, client) = start().await;
    server
        .add_node(FakeNode::new("kind-worker2").taint("playground_test", "x", "NoSchedule"))
        .expect("node");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client);
    let cordon = |on: bool| kube::api::Patch::Merge(json!({ "spec": { "unschedulable": on } }));
    nodes
        .patch(
            "kind-worker2",
            &kube::api::PatchParams::default(),
            &cordon(true),
        )
        .await
        .expect("cordon");
    crate::common::eventually("the unschedulable taint", || {
        server
            .get("v1", "Node", None, "kind-worker2")
            .is_some_and(|n| {
                taints(&n)
                    == [
                        ("playground_test".to_string(), "NoSchedule".to_string()),
                        (
                            "node.kubernetes.io/unschedulable".to_string(),
                            "NoSchedule".to_string(),
                        ),
                    ]
            })
    })
    .await;
    nodes
        .patch(
            "kind-worker2",
            &kube::api::PatchParams::default(),
            &cordon(false),
        )
        .await
        .expect("uncordon");
    crate::common::eventually("only the node's own taint left", || {
        server
            .get("v1", "Node", None, "kind-worker2")
            .is_some_and(|n| {
                taints(&n) == [("playground_test".to_string(), "NoSchedule".to_string())]
            })
    })
    .await;
}
