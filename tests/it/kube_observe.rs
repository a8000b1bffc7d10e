//! The Kubernetes backend's reads and setup through the real kube client against the fake API
//! server: server-side apply via discovery, pods by every query shape, logs, nodes,
//! namespaces, any object, events.

use crate::support;

use kind_chaos::backends::{ErrorKind, PodKey, PodQuery};
use serde_json::json;
use support::kube::{KubeLab, eventually, namespace, pod, rref};

fn manifests(file: &str) -> Vec<serde_json::Value> {
    support::kube::manifest_documents(file)
}

#[tokio::test]
async fn apply_resolves_kinds_and_applies_server_side_with_our_field_manager() {
    let lab = KubeLab::with_nodes().await;
    let k = lab.ops();
    let docs = manifests("deployment.yaml");
    let refs = k.apply(&docs, None).await.unwrap();
    assert_eq!(
        refs,
        vec![rref("apps/v1", "Deployment", Some("default"), "deployment")]
    );
    let patch = lab
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        patch.path,
        "/apis/apps/v1/namespaces/default/deployments/deployment"
    );
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert_eq!(
        patch.query_param("fieldManager").as_deref(),
        Some("kind-chaos")
    );
    assert_eq!(patch.query_param("force").as_deref(), Some("true"));
    // The deployment controller and scheduler start its pod on the labelled worker.
    let q = PodQuery {
        namespace: Some("default".into()),
        selector: Some("app.kubernetes.io/name=deployment".into()),
        ..Default::default()
    };
    let mut running = Vec::new();
    for _ in 0..300 {
        running = k.pods(&q).await.unwrap();
        if running.iter().any(|p| p.phase == "Running" && p.ready) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0].node.as_deref(), Some("test-worker"));
    // Applying again converges: same answer, no error.
    assert_eq!(k.apply(&docs, None).await.unwrap(), refs);
}

#[tokio::test]
async fn apply_puts_namespaced_objects_in_the_step_namespace_and_leaves_cluster_ones_alone() {
    let lab = KubeLab::start().await;
    let k = lab.ops();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}});
    let refs = k
        .apply(&[namespace("lab"), cm.clone()], Some("lab"))
        .await
        .unwrap();
    assert_eq!(
        refs,
        vec![
            rref("v1", "Namespace", None, "lab"),
            rref("v1", "ConfigMap", Some("lab"), "cm")
        ]
    );
    assert_eq!(
        lab.get("v1", "ConfigMap", Some("lab"), "cm").unwrap()["data"]["a"],
        "1"
    );
    let refs = k.apply(&[cm], None).await.unwrap();
    assert_eq!(refs[0].namespace.as_deref(), Some("default"));
}

#[tokio::test]
async fn an_unknown_kind_is_refused_before_anything_is_applied() {
    let lab = KubeLab::start().await;
    let k = lab.ops();
    let docs = [
        namespace("lab"),
        json!({"apiVersion": "v1", "kind": "Pdo", "metadata": {"name": "x", "namespace": "lab"}}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
    ];
    let e = k.apply(&docs, None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Failed);
    let m = &e.message;
    assert!(m.starts_with("nothing applied: "), "{m}");
    assert!(m.contains("document 2 (Pdo x): unknown kind `Pdo`"), "{m}");
    assert!(m.contains("did you mean `Pod`?"), "{m}");
    assert!(
        m.contains("document 3 (Widget w): unknown kind `Widget`"),
        "{m}"
    );
    assert!(
        m.contains("serves no API group version `example.com/v1`"),
        "{m}"
    );
    assert!(
        m.contains("document 4 (ConfigMap): needs `metadata.name`"),
        "{m}"
    );
    assert!(
        lab.get("v1", "Namespace", None, "lab").is_none(),
        "document 1 was not applied"
    );
    // A kind registered later (a CRD installed by an earlier step) is found: misses are not cached.
    lab.server
        .register_resource("example.com/v1", "Widget", "widgets", true);
    let refs = k.apply(&docs[2..3], None).await.unwrap();
    assert_eq!(refs[0].namespace.as_deref(), Some("default"));
}

#[tokio::test]
async fn pods_by_namespace_name_selector_and_node() {
    let lab = KubeLab::start().await;
    let k = lab.ops();
    k.apply(&[namespace("a")], None).await.unwrap();
    lab.insert(pod("a", "one", Some("test-worker"), &[]));
    lab.insert(pod("a", "two", Some("test-worker2"), &[]));
    lab.insert(pod("default", "three", Some("test-worker"), &[]));
    let names = |q: PodQuery| {
        let k = k.clone();
        async move {
            k.pods(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.key.to_string())
                .collect::<Vec<_>>()
        }
    };
    let ns = |n: &str| Some(n.to_string());
    assert_eq!(
        names(PodQuery {
            namespace: ns("a"),
            ..Default::default()
        })
        .await,
        ["a/one", "a/two"]
    );
    assert_eq!(
        names(PodQuery {
            namespace: ns("a"),
            name: ns("two"),
            ..Default::default()
        })
        .await,
        ["a/two"]
    );
    assert_eq!(
        names(PodQuery {
            namespace: ns("a"),
            selector: ns("app=one"),
            ..Default::default()
        })
        .await,
        ["a/one"]
    );
    assert_eq!(
        names(PodQuery {
            node: ns("test-worker"),
            ..Default::default()
        })
        .await,
        ["a/one", "default/three"]
    );
    let list = lab
        .server
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/api/v1/pods")
        .unwrap();
    assert_eq!(
        list.query_param("fieldSelector").as_deref(),
        Some("spec.nodeName=test-worker")
    );
    assert!(
        names(PodQuery {
            namespace: ns("nope"),
            ..Default::default()
        })
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn pod_views_carry_phase_readiness_restarts_and_the_last_exit() {
    let lab = KubeLab::start().await;
    let mut p = pod("default", "crashy", Some("test-worker"), &[]);
    p["status"] = json!({
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "busybox", "image": "busybox", "imageID": "", "ready": false,
            "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]
    });
    lab.insert(p);
    let got = lab
        .ops()
        .pods(&PodQuery {
            namespace: Some("default".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let v = &got[0];
    assert_eq!(
        (v.phase.as_str(), v.ready, v.restarts()),
        ("Running", false, 4)
    );
    assert_eq!(v.containers[0].last_exit_code, Some(1));
    assert_eq!(v.containers[0].last_reason.as_deref(), Some("Error"));
    assert_eq!(v.node.as_deref(), Some("test-worker"));
    assert!(!v.uid.is_empty());
}

#[tokio::test]
async fn logs_of_the_current_and_the_previous_container() {
    let lab = KubeLab::start().await;
    lab.insert(pod("default", "web", Some("test-worker"), &[]));
    lab.server
        .set_pod_log("default", "web", "busybox", false, "now 1\nnow 2\n");
    lab.server
        .set_pod_log("default", "web", "busybox", true, "before\n");
    let k = lab.ops();
    let key = PodKey {
        namespace: "default".into(),
        name: "web".into(),
    };
    assert_eq!(
        k.pod_logs(&key, None, false).await.unwrap(),
        "now 1\nnow 2\n"
    );
    assert_eq!(
        k.pod_logs(&key, Some("busybox"), true).await.unwrap(),
        "before\n"
    );
    let e = k
        .pod_logs(
            &PodKey {
                name: "gone".into(),
                ..key
            },
            None,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(
        e.message.contains("log of pod default/gone"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn nodes_namespaces_objects_and_events() {
    let lab = KubeLab::with_nodes().await;
    let k = lab.ops();
    lab.server
        .set_node_ready("test-worker2", fake_apiserver::ReadyStatus::Unknown)
        .unwrap();
    let nodes = k.nodes().await.unwrap();
    let names: Vec<_> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["test-control-plane", "test-worker", "test-worker2"]);
    assert_eq!(nodes[1].ready, "True");
    assert_eq!(nodes[1].labels["mock-server"], "true");
    assert_eq!(nodes[2].ready, "Unknown");
    assert_eq!(nodes[2].taints[0].key, "playground_test");

    assert_eq!(
        k.namespace("default").await.unwrap().unwrap().phase,
        "Active"
    );
    assert_eq!(k.namespace("nope").await.unwrap(), None);

    let obj = k
        .get(&rref("v1", "Node", None, "test-worker"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(obj["metadata"]["labels"]["mock-server"], "true");
    assert_eq!(
        k.get(&rref("v1", "Pod", Some("default"), "nope"))
            .await
            .unwrap(),
        None
    );
    let e = k
        .get(&rref("v9", "Pod", Some("default"), "x"))
        .await
        .unwrap_err();
    assert!(e.message.contains("unknown kind `Pod`"), "{}", e.message);

    let p = lab.insert(pod("default", "web", Some("test-worker"), &[]));
    lab.server
        .record_event(&p, "Normal", "Killing", "Stopping container busybox")
        .unwrap();
    eventually("the event is stored", || {
        !lab.server.list("v1", "Event", Some("default")).is_empty()
    })
    .await;
    let events = k.events("default").await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].reason.as_str(), events[0].object.as_str()),
        ("Killing", "pod/web")
    );
    assert!(k.events("kube-system").await.unwrap().is_empty());
}
