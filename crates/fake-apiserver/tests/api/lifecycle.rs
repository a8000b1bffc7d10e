use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy};
use serde_json::json;

use crate::common::{api_status, eventually, is_terminating, pod, start};

const FIN: &str = "chaos.example/dangling";

fn namespace(name: &str) -> Namespace {
    serde_json::from_value(json!({ "metadata": { "name": name } })).expect("ns")
}

fn drop_finalizers() -> Patch<serde_json::Value> {
    Patch::Merge(json!({ "metadata": { "finalizers": null } }))
}

#[tokio::test]
async fn finalizer_keeps_a_deleted_pod_terminating_until_removed() {
    let (server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod("held", Some("kind-worker"), &[FIN]),
    )
    .await
    .expect("create");
    let answer = pods
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let terminating = answer
        .left()
        .expect("a pod still there is returned, not a Status");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(5));
    server.settle();
    let stored = server
        .get("v1", "Pod", Some("default"), "held")
        .expect("still stored");
    assert!(is_terminating(&stored));
    assert_eq!(
        stored["metadata"]["deletionGracePeriodSeconds"], 0,
        "the kubelet confirmed"
    );

    // No new finalizer once deletion started (the real rule); removing them is fine.
    let add = Patch::Merge(json!({ "metadata": { "finalizers": [FIN, "chaos.example/other"] } }));
    let err = pods
        .patch("held", &PatchParams::default(), &add)
        .await
        .expect_err("no new finalizers");
    assert_eq!(api_status(&err), (422, "Invalid".into()));

    pods.patch("held", &PatchParams::default(), &drop_finalizers())
        .await
        .expect("remove finalizer");
    assert!(server.get("v1", "Pod", Some("default"), "held").is_none());
}

#[tokio::test]
async fn namespace_hangs_terminating_and_finalize_releases_it_while_the_pod_stays() {
    let (server, client) = start().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = "dangling-resources";
    let created = namespaces
        .create(&PostParams::default(), &namespace(ns))
        .await
        .expect("ns");
    assert_eq!(
        created.status.and_then(|s| s.phase).as_deref(),
        Some("Active")
    );
    assert_eq!(
        created.spec.and_then(|s| s.finalizers),
        Some(vec!["kubernetes".to_string()])
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.create(
        &PostParams::default(),
        &pod(ns, Some("kind-worker"), &[FIN]),
    )
    .await
    .expect("pod");

    namespaces
        .delete(ns, &DeleteParams::default())
        .await
        .expect("delete ns");
    eventually("the namespace controller deleted the pod", || {
        server
            .get("v1", "Pod", Some(ns), ns)
            .is_some_and(|p| is_terminating(&p))
    })
    .await;
    server.settle();
    let hanging = server
        .get("v1", "Namespace", None, ns)
        .expect("namespace hangs");
    assert_eq!(hanging["status"]["phase"], "Terminating");
    let conditions = hanging["status"]["conditions"].to_string();
    assert!(conditions.contains(FIN), "{conditions}");
    // New content is refused while Terminating.
    let err = pods
        .create(&PostParams::default(), &pod("late", None, &[]))
        .await
        .expect_err("terminating");
    assert_eq!(api_status(&err), (403, "Forbidden".into()));

    let mut body: Namespace = namespaces.get(ns).await.expect("get ns");
    if let Some(spec) = body.spec.as_mut() {
        spec.finalizers = Some(vec![]);
    }
    namespaces
        .replace_subresource("finalize", ns, &PostParams::default(), &body)
        .await
        .expect("finalize");
    eventually("the namespace went", || {
        server.get("v1", "Namespace", None, ns).is_none()
    })
    .await;
    let stuck = server
        .get("v1", "Pod", Some(ns), ns)
        .expect("the pod stays, dangling");
    assert!(is_terminating(&stuck));

    namespaces
        .create(&PostParams::default(), &namespace(ns))
        .await
        .expect("recreate works");
    assert!(
        pods.get(ns)
            .await
            .expect("pod visible again")
            .metadata
            .deletion_timestamp
            .is_some()
    );
    pods.patch(ns, &PatchParams::default(), &drop_finalizers())
        .await
        .expect("remove finalizer");
    assert!(server.get("v1", "Pod", Some(ns), ns).is_none());
}

#[tokio::test]
async fn empty_namespace_goes_after_delete() {
    let (server, client) = start().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(&PostParams::default(), &namespace("collected-resources"))
        .await
        .expect("ns");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "collected-resources");
    pods.create(&PostParams::default(), &pod("p", Some("kind-worker"), &[]))
        .await
        .expect("pod");
    let answer = namespaces
        .delete("collected-resources", &DeleteParams::default())
        .await
        .expect("delete");
    let ns = answer.left().expect("namespace returned");
    assert_eq!(
        ns.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    eventually("namespace and pod gone", || {
        server
            .get("v1", "Namespace", None, "collected-resources")
            .is_none()
            && server
                .get("v1", "Pod", Some("collected-resources"), "p")
                .is_none()
    })
    .await;
}

#[tokio::test]
async fn force_delete_is_recorded_and_immediate() {
    let (server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod("forced", Some("kind-worker"), &[]),
    )
    .await
    .expect("create");
    server.kubelet_up("kind-worker", false);
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    pods.delete("forced", &dp).await.expect("force delete");
    assert!(
        server.get("v1", "Pod", Some("default"), "forced").is_none(),
        "grace 0 needs no kubelet"
    );
    let req = server
        .requests()
        .into_iter()
        .rfind(|r| r.method == "DELETE")
        .expect("delete recorded");
    assert_eq!(req.path, "/api/v1/namespaces/default/pods/forced");
    assert_eq!(req.option("gracePeriodSeconds").as_deref(), Some("0"));
    assert_eq!(
        req.option("propagationPolicy").as_deref(),
        Some("Background")
    );
    assert_eq!(req.status, 200);
}

#[tokio::test]
async fn kubelet_down_keeps_graceful_deleted_pods_terminating() {
    let (server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod("stuck", Some("kind-worker"), &[]),
    )
    .await
    .expect("create");
    pods.create(&PostParams::default(), &pod("unscheduled", None, &[]))
        .await
        .expect("create");
    server.kubelet_up("kind-worker", false);
    pods.delete("stuck", &DeleteParams::default())
        .await
        .expect("delete");
    pods.delete("unscheduled", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(
        server
            .get("v1", "Pod", Some("default"), "unscheduled")
            .is_none(),
        "no node: deleted at once"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    server.settle();
    let stuck = server
        .get("v1", "Pod", Some("default"), "stuck")
        .expect("still there");
    assert!(is_terminating(&stuck));
    server.kubelet_up("kind-worker", true);
    eventually("kubelet back: pod gone", || {
        server.get("v1", "Pod", Some("default"), "stuck").is_none()
    })
    .await;
}

#[tokio::test]
async fn deployment_controller_and_scheduler_run_the_lab_workload() {
    let (server, client) = start().await;
    server
        .add_node(fake_apiserver::FakeNode::new("kind-control-plane").control_plane())
        .expect("node");
    server
        .add_node(fake_apiserver::FakeNode::new("kind-worker").label("mock-server", "true"))
        .expect("node");
    server
        .add_node(fake_apiserver::FakeNode::new("kind-worker2").taint(
            "playground_test",
            "ensure_only_tolerations_run_here",
            "NoSchedule",
        ))
        .expect("node");
    server.auto_schedule(true);
    let deploys: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "default");
    let d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "deployment" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app.kubernetes.io/name": "deployment" } },
            "template": {
                "metadata": { "labels": { "app.kubernetes.io/name": "deployment" } },
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{ "name": "busybox", "image": "busybox" }],
                    "tolerations": [{ "key": "playground_test", "operator": "Exists", "effect": "NoSchedule" }],
                    "affinity": { "nodeAffinity": { "preferredDuringSchedulingIgnoredDuringExecution": [
                        { "weight": 100, "preference": { "matchExpressions": [{ "key": "mock-server", "operator": "Exists" }] } }
                    ] } },
                },
            },
        },
    });
    deploys
        .create(
            &PostParams::default(),
            &serde_json::from_value(d).expect("deploy"),
        )
        .await
        .expect("create");
    eventually("one running pod on the labelled worker", || {
        let pods = server.list("v1", "Pod", Some("default"));
        pods.len() == 1
            && pods[0]["spec"]["nodeName"] == "kind-worker"
            && pods[0]["status"]["phase"] == "Running"
    })
    .await;
    let first = server.list("v1", "Pod", Some("default"))[0]["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(first.starts_with("deployment-"), "{first}");
    // Killing the pod: the controller replaces it.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.delete(&first, &DeleteParams::default())
        .await
        .expect("delete pod");
    eventually("a replacement runs", || {
        let pods = server.list("v1", "Pod", Some("default"));
        pods.len() == 1
            && pods[0]["metadata"]["name"] != first.as_str()
            && pods[0]["status"]["phase"] == "Running"
    })
    .await;
    eventually("deployment status", || {
        server
            .get("apps/v1", "deployments", Some("default"), "deployment")
            .is_some_and(|d| d["status"]["readyReplicas"] == 1)
    })
    .await;
    // Deleting the deployment takes its pods (garbage collector, background).
    deploys
        .delete("deployment", &DeleteParams::default())
        .await
        .expect("delete deploy");
    eventually("pods collected", || {
        server.list("v1", "Pod", Some("default")).is_empty()
    })
    .await;
}

#[tokio::test]
async fn termination_delay_and_node_monitor() {
    let (server, client) = start().await;
    server
        .add_node(fake_apiserver::FakeNode::new("kind-worker"))
        .expect("node");
    server.auto_schedule(true);
    server.pod_termination(fake_apiserver::PodTermination::After(
        std::time::Duration::from_millis(300),
    ));
    server.node_monitor_grace(Some(std::time::Duration::from_millis(50)));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("slow", None, &[]))
        .await
        .expect("create");
    eventually("running", || {
        server
            .get("v1", "Pod", Some("default"), "slow")
            .is_some_and(|p| p["status"]["phase"] == "Running")
    })
    .await;
    pods.delete("slow", &DeleteParams::default())
        .await
        .expect("delete");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        server.get("v1", "Pod", Some("default"), "slow").is_some(),
        "still stopping"
    );
    eventually("stopped after the delay", || {
        server.get("v1", "Pod", Some("default"), "slow").is_none()
    })
    .await;

    pods.create(&PostParams::default(), &pod("watched", None, &[]))
        .await
        .expect("create");
    eventually("running", || {
        server
            .get("v1", "Pod", Some("default"), "watched")
            .is_some_and(|p| p["status"]["phase"] == "Running")
    })
    .await;
    server.kubelet_up("kind-worker", false);
    let ready = |v: &serde_json::Value| {
        v["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .map(|c| c["status"].clone())
    };
    eventually("node unknown, tainted, pod not ready", || {
        let node = server
            .get("v1", "Node", None, "kind-worker")
            .unwrap_or_default();
        let taints = node["spec"]["taints"].to_string();
        let pod = server
            .get("v1", "Pod", Some("default"), "watched")
            .unwrap_or_default();
        ready(&node) == Some(json!("Unknown"))
            && taints.contains("node.kubernetes.io/unreachable")
            && ready(&pod) == Some(json!("False"))
    })
    .await;
    server.kubelet_up("kind-worker", true);
    eventually("node and pod ready again", || {
        let node = server
            .get("v1", "Node", None, "kind-worker")
            .unwrap_or_default();
        let pod = server
            .get("v1", "Pod", Some("default"), "watched")
            .unwrap_or_default();
        ready(&node) == Some(json!("True"))
            && node["spec"].get("taints").is_none()
            && ready(&pod) == Some(json!("True"))
    })
    .await;
}

#[tokio::test]
async fn kube_runtime_wait_and_eviction_work() {
    use kube::runtime::wait::{await_condition, conditions};
    let (_server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let created = pods
        .create(
            &PostParams::default(),
            &pod("evicted", Some("kind-worker"), &[]),
        )
        .await
        .expect("create");
    let uid: &'static str = Box::leak(created.metadata.uid.clone().expect("uid").into_boxed_str());
    let waiter = tokio::spawn(await_condition(
        pods.clone(),
        "evicted",
        conditions::is_deleted(uid),
    ));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    pods.evict("evicted", &kube::api::EvictParams::default())
        .await
        .expect("evict");
    tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .expect("deleted in time")
        .expect("task")
        .expect("wait");
}

#[tokio::test]
async fn without_simulated_kubelets_graceful_deletes_wait_for_a_real_kubelet() {
    let (server, client) = start().await;
    server.simulate_kubelets(false);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod("waits", Some("kind-worker"), &[]),
    )
    .await
    .expect("create");
    pods.delete("waits", &DeleteParams::default())
        .await
        .expect("delete");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    server.settle();
    let waiting = server
        .get("v1", "Pod", Some("default"), "waits")
        .expect("still there: no simulated kubelet confirms");
    assert!(is_terminating(&waiting));
    // What the real kubelet does once its containers stopped: confirm with grace 0.
    pods.delete("waits", &DeleteParams::default().grace_period(0))
        .await
        .expect("confirm");
    eventually("confirmed: pod gone", || {
        server.get("v1", "Pod", Some("default"), "waits").is_none()
    })
    .await;
}
