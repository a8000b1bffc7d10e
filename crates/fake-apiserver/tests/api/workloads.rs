//! Deployment -> ReplicaSet -> Pods as kube-controller-manager keeps them: names, the
//! `pod-template-hash` label, controller ownerReferences, replacement of vanished pods,
//! rolling updates, statuses and cascading deletion.

use fake_apiserver::{FakeApiServer, FakeNode};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::common::{eventually, start};

fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "c", "image": image }] },
            },
        },
    })
}

async fn cluster() -> (FakeApiServer, Api<Deployment>, Api<Pod>) {
    let (server, client) = start().await;
    server.add_node(FakeNode::new("kind-worker")).expect("node");
    server.auto_schedule(true);
    (
        server,
        Api::namespaced(client.clone(), "default"),
        Api::namespaced(client, "default"),
    )
}

async fn create(deploys: &Api<Deployment>, d: Value) {
    deploys
        .create(
            &PostParams::default(),
            &serde_json::from_value(d).expect("deploy"),
        )
        .await
        .expect("create deployment");
}

fn sets(server: &FakeApiServer) -> Vec<Value> {
    server.list("apps/v1", "ReplicaSet", Some("default"))
}

fn pods(server: &FakeApiServer) -> Vec<Value> {
    server.list("v1", "Pod", Some("default"))
}

fn running(server: &FakeApiServer) -> Vec<Value> {
    pods(server)
        .into_iter()
        .filter(|p| {
            p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null()
        })
        .collect()
}

fn controller(obj: &Value) -> &Value {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .and_then(|refs| refs.iter().find(|r| r["controller"] == true))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn a_deployment_owns_a_replicaset_named_by_its_template_hash_which_owns_the_pods() {
    let (server, deploys, _) = cluster().await;
    create(&deploys, deployment("web", 2, "busybox")).await;
    eventually("two running pods", || running(&server).len() == 2).await;
    let d = server
        .get("apps/v1", "deployments", Some("default"), "web")
        .expect("deployment");
    let rs = sets(&server);
    assert_eq!(rs.len(), 1, "{rs:?}");
    let rs = &rs[0];
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .expect("hash label")
        .to_string();
    assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash
    );
    assert_eq!(rs["spec"]["selector"]["matchLabels"]["app"], "web");
    assert_eq!(
        rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"],
        hash
    );
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let owner = controller(rs);
    assert_eq!(owner["kind"], "Deployment");
    assert_eq!(owner["uid"], d["metadata"]["uid"]);
    assert_eq!(owner["blockOwnerDeletion"], true);
    for p in pods(&server) {
        let name = p["metadata"]["name"].as_str().expect("name");
        let suffix = name.strip_prefix(&format!("web-{hash}-")).expect(name);
        assert_eq!(suffix.len(), 5, "{name}");
        assert_eq!(p["metadata"]["labels"]["pod-template-hash"], hash);
        assert_eq!(controller(&p)["kind"], "ReplicaSet");
        assert_eq!(controller(&p)["uid"], rs["metadata"]["uid"]);
    }
    eventually("statuses", || {
        let rs = &sets(&server)[0];
        let d = server
            .get("apps/v1", "deployments", Some("default"), "web")
            .expect("deployment");
        rs["status"]["replicas"] == 2
            && rs["status"]["readyReplicas"] == 2
            && rs["status"]["availableReplicas"] == 2
            && rs["status"]["fullyLabeledReplicas"] == 2
            && rs["status"]["observedGeneration"] == rs["metadata"]["generation"]
            && d["status"]["replicas"] == 2
            && d["status"]["updatedReplicas"] == 2
            && d["status"]["readyReplicas"] == 2
            && d["status"]["availableReplicas"] == 2
            && d["status"]["observedGeneration"] == 1
            && d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    })
    .await;
}

#[tokio::test]
async fn the_replicaset_replaces_a_deleted_pod_and_one_removed_from_storage() {
    let (server, deploys, pod_api) = cluster().await;
    create(&deploys, deployment("web", 1, "busybox")).await;
    eventually("one running pod", || running(&server).len() == 1).await;
    let first = running(&server)[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    pod_api
        .delete(&first, &DeleteParams::default())
        .await
        .expect("delete pod");
    eventually("a replacement under a new name", || {
        let r = running(&server);
        r.len() == 1 && r[0]["metadata"]["name"] != first.as_str()
    })
    .await;
    let second = running(&server)[0]["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    // An etcd-style removal: no deletion, the key just goes.
    server
        .remove("v1", "Pod", Some("default"), &second)
        .expect("removed");
    eventually("replaced again", || {
        let r = running(&server);
        r.len() == 1 && r[0]["metadata"]["name"] != second.as_str()
    })
    .await;
    assert_eq!(sets(&server).len(), 1, "still one ReplicaSet");
}

#[tokio::test]
async fn scaling_the_deployment_scales_its_replicaset() {
    let (server, deploys, _) = cluster().await;
    create(&deploys, deployment("web", 3, "busybox")).await;
    eventually("three running pods", || running(&server).len() == 3).await;
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 1 } })),
        )
        .await
        .expect("scale");
    eventually("one pod left", || pods(&server).len() == 1).await;
    assert_eq!(sets(&server)[0]["spec"]["replicas"], 1);
}

#[tokio::test]
async fn a_template_change_rolls_to_a_new_replicaset_and_keeps_the_old_at_zero() {
    let (server, deploys, _) = cluster().await;
    let mut d = deployment("web", 2, "busybox");
    // No pod may go before its replacement is ready.
    d["spec"]["strategy"] =
        json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 } });
    create(&deploys, d).await;
    eventually("two running pods", || running(&server).len() == 2).await;
    let old_hash = sets(&server)[0]["metadata"]["labels"]["pod-template-hash"].clone();
    // The kubelet stops starting pods: the surge pod stays Pending, so the rollout waits.
    server.kubelet_up("kind-worker", false);
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({ "spec": { "template": { "spec": { "containers": [{ "name": "c", "image": "busybox:2" }] } } } })),
        )
        .await
        .expect("new image");
    eventually("a second ReplicaSet with one surge pod", || {
        let s = sets(&server);
        s.len() == 2
            && s.iter().any(|r| {
                r["metadata"]["labels"]["pod-template-hash"] != old_hash
                    && r["spec"]["replicas"] == 1
                    && r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
            })
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let old = sets(&server)
        .into_iter()
        .find(|r| r["metadata"]["labels"]["pod-template-hash"] == old_hash)
        .expect("old rs");
    assert_eq!(
        old["spec"]["replicas"], 2,
        "maxUnavailable 0 keeps the old pods"
    );
    assert_eq!(running(&server).len(), 2);
    server.kubelet_up("kind-worker", true);
    eventually("the rollout completes", || {
        let s = sets(&server);
        let r = running(&server);
        s.len() == 2
            && s.iter().any(|r| {
                r["metadata"]["labels"]["pod-template-hash"] == old_hash
                    && r["spec"]["replicas"] == 0
            })
            && r.len() == 2
            && r.iter().all(|p| {
                p["metadata"]["labels"]["pod-template-hash"] != old_hash
                    && p["spec"]["containers"][0]["image"] == "busybox:2"
            })
    })
    .await;
    eventually("deployment status", || {
        let d = server
            .get("apps/v1", "deployments", Some("default"), "web")
            .expect("deployment");
        d["status"]["updatedReplicas"] == 2
            && d["status"]["replicas"] == 2
            && d["status"]["observedGeneration"] == 2
            && d["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Progressing" && c["reason"] == "NewReplicaSetAvailable")
            })
    })
    .await;
}

#[tokio::test]
async fn recreate_scales_the_old_replicaset_to_zero_before_the_new_one_starts() {
    let (server, deploys, _) = cluster().await;
    let mut d = deployment("web", 2, "busybox");
    d["spec"]["strategy"] = json!({ "type": "Recreate" });
    create(&deploys, d).await;
    eventually("two running pods", || running(&server).len() == 2).await;
    let old_hash = sets(&server)[0]["metadata"]["labels"]["pod-template-hash"].clone();
    // Old pods stay Terminating while the kubelet is down: the new ReplicaSet must wait.
    server.kubelet_up("kind-worker", false);
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({ "spec": { "template": { "spec": { "containers": [{ "name": "c", "image": "busybox:2" }] } } } })),
        )
        .await
        .expect("new image");
    eventually("old ReplicaSet at zero", || {
        sets(&server).iter().any(|r| {
            r["metadata"]["labels"]["pod-template-hash"] == old_hash && r["spec"]["replicas"] == 0
        })
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        sets(&server).iter().all(|r| r["spec"]["replicas"] == 0),
        "the new ReplicaSet waits for the old pods: {:?}",
        sets(&server)
    );
    server.kubelet_up("kind-worker", true);
    eventually("new pods run", || {
        let r = running(&server);
        r.len() == 2
            && r.iter()
                .all(|p| p["metadata"]["labels"]["pod-template-hash"] != old_hash)
    })
    .await;
}

#[tokio::test]
async fn deleting_the_deployment_collects_its_replicasets_and_pods() {
    let (server, deploys, _) = cluster().await;
    create(&deploys, deployment("web", 2, "busybox")).await;
    eventually("two running pods", || running(&server).len() == 2).await;
    deploys
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("ReplicaSet and pods collected", || {
        sets(&server).is_empty() && pods(&server).is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_replicaset_adopts_an_orphan_pod_its_selector_matches() {
    let (server, client) = start().await;
    server.auto_schedule(true);
    server.add_node(FakeNode::new("kind-worker")).expect("node");
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let orphan = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "orphan", "labels": { "app": "rs" } },
        "spec": { "containers": [{ "name": "c", "image": "busybox" }] },
    });
    pod_api
        .create(
            &PostParams::default(),
            &serde_json::from_value(orphan).expect("pod"),
        )
        .await
        .expect("pod");
    let rs_api: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::namespaced(client, "default");
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": { "name": "rs" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "rs" } },
            "template": {
                "metadata": { "labels": { "app": "rs" } },
                "spec": { "containers": [{ "name": "c", "image": "busybox" }] },
            },
        },
    });
    rs_api
        .create(
            &PostParams::default(),
            &serde_json::from_value(rs).expect("rs"),
        )
        .await
        .expect("rs");
    eventually("two pods, the orphan adopted", || {
        let p = pods(&server);
        p.len() == 2
            && p.iter().all(|p| controller(p)["name"] == "rs")
            && p.iter().any(|p| p["metadata"]["name"] == "orphan")
    })
    .await;
}
