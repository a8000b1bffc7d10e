use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::common::{api_status, pod, start};

fn configmap(name: &str, data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({ "metadata": { "name": name }, "data": data }))
        .expect("configmap")
}

#[tokio::test]
async fn create_get_list_replace_patch_delete() {
    let (_server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(
            &PostParams::default(),
            &configmap("one", json!({ "a": "1" })),
        )
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let rv1: u64 = created
        .metadata
        .resource_version
        .clone()
        .expect("rv")
        .parse()
        .expect("numeric rv");

    let got = cms.get("one").await.expect("get");
    assert_eq!(
        got.data
            .as_ref()
            .and_then(|d| d.get("a"))
            .map(String::as_str),
        Some("1")
    );
    assert_eq!(
        cms.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );

    let mut changed = got.clone();
    changed.data = Some([("a".to_string(), "2".to_string())].into());
    let replaced = cms
        .replace("one", &PostParams::default(), &changed)
        .await
        .expect("replace");
    let rv2: u64 = replaced
        .metadata
        .resource_version
        .clone()
        .expect("rv")
        .parse()
        .expect("numeric rv");
    assert!(rv2 > rv1);

    // A stale resourceVersion is a 409 Conflict.
    let err = cms
        .replace("one", &PostParams::default(), &got)
        .await
        .expect_err("stale update");
    assert_eq!(api_status(&err), (409, "Conflict".into()));

    let patched = cms
        .patch(
            "one",
            &PatchParams::default(),
            &Patch::Merge(json!({ "data": { "b": "3" } })),
        )
        .await
        .expect("merge patch");
    assert_eq!(patched.data.as_ref().map(|d| d.len()), Some(2));

    cms.delete("one", &DeleteParams::default())
        .await
        .expect("delete");
    let err = cms.get("one").await.expect_err("gone");
    assert_eq!(api_status(&err), (404, "NotFound".into()));
}

#[tokio::test]
async fn errors_map_to_kube_api_errors() {
    let (_server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &configmap("dup", json!({})))
        .await
        .expect("create");
    let err = cms
        .create(&PostParams::default(), &configmap("dup", json!({})))
        .await
        .expect_err("duplicate");
    assert_eq!(api_status(&err), (409, "AlreadyExists".into()));
    if let kube::Error::Api(s) = &err {
        assert_eq!(s.message, "configmaps \"dup\" already exists");
    }

    let err = cms
        .create(&PostParams::default(), &configmap("Bad_Name", json!({})))
        .await
        .expect_err("invalid");
    assert_eq!(api_status(&err), (422, "Invalid".into()));

    let missing: Api<Pod> = Api::namespaced(client.clone(), "nope");
    let err = missing
        .create(&PostParams::default(), &pod("p", None, &[]))
        .await
        .expect_err("no namespace");
    assert_eq!(api_status(&err), (404, "NotFound".into()));
    if let kube::Error::Api(s) = &err {
        assert_eq!(s.message, "namespaces \"nope\" not found");
    }

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let err = namespaces
        .delete("default", &DeleteParams::default())
        .await
        .expect_err("immortal");
    assert_eq!(api_status(&err), (403, "Forbidden".into()));
}

#[tokio::test]
async fn cluster_scoped_nodes_and_selectors() {
    let (server, client) = start().await;
    server
        .add_node(fake_apiserver::FakeNode::new("kind-control-plane").control_plane())
        .expect("node");
    server
        .add_node(fake_apiserver::FakeNode::new("kind-worker").label("mock-server", "true"))
        .expect("node");
    let nodes: Api<Node> = Api::all(client.clone());
    let all = nodes.list(&ListParams::default()).await.expect("nodes");
    assert_eq!(all.items.len(), 2);
    let labelled = nodes
        .list(&ListParams::default().labels("mock-server=true"))
        .await
        .expect("labelled");
    assert_eq!(labelled.items.len(), 1);
    let set_based = nodes
        .list(&ListParams::default().labels("mock-server in (true,yes),!nope"))
        .await
        .expect("set");
    assert_eq!(set_based.items.len(), 1);

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, node) in [
        ("a", Some("kind-worker")),
        ("b", Some("kind-control-plane")),
        ("c", None),
    ] {
        pods.create(&PostParams::default(), &pod(name, node, &[]))
            .await
            .expect("pod");
    }
    let on_worker = pods
        .list(&ListParams::default().fields("spec.nodeName=kind-worker"))
        .await
        .expect("fields");
    assert_eq!(
        on_worker
            .items
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["a"]
    );
    let unscheduled = pods
        .list(&ListParams::default().fields("spec.nodeName="))
        .await
        .expect("unscheduled");
    assert_eq!(unscheduled.items.len(), 1);
    let by_name = pods
        .list(&ListParams::default().fields("metadata.name=b,metadata.namespace=default"))
        .await
        .expect("name");
    assert_eq!(by_name.items.len(), 1);
    let all_ns: Api<Pod> = Api::all(client.clone());
    assert_eq!(
        all_ns
            .list(&ListParams::default().labels("app!=a"))
            .await
            .expect("all")
            .items
            .len(),
        2
    );
    let err = pods
        .list(&ListParams::default().fields("spec.bogus=x"))
        .await
        .expect_err("unsupported field");
    assert_eq!(api_status(&err).0, 400);
}

#[tokio::test]
async fn server_side_apply_creates_then_updates() {
    let (_server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PatchParams::apply("chaos").force();
    let first = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "applied", "labels": { "keep": "1", "drop": "1" } },
        "data": { "k": "v1" },
    });
    let created = cms
        .patch("applied", &pp, &Patch::Apply(&first))
        .await
        .expect("apply creates");
    assert_eq!(
        created
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("v1")
    );
    let second = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "applied", "labels": { "keep": "1" } },
        "data": { "k": "v2" },
    });
    let updated = cms
        .patch("applied", &pp, &Patch::Apply(&second))
        .await
        .expect("apply updates");
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    assert_eq!(
        updated
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("v2")
    );
    let labels = updated.metadata.labels.unwrap_or_default();
    assert!(
        labels.contains_key("keep") && !labels.contains_key("drop"),
        "{labels:?}"
    );
    // Applying the same configuration again changes nothing.
    let again = cms
        .patch("applied", &pp, &Patch::Apply(&second))
        .await
        .expect("apply no-op");
    assert_eq!(
        again.metadata.resource_version,
        updated.metadata.resource_version
    );
}

#[tokio::test]
async fn finalizers_by_json_and_strategic_patch() {
    let (_server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &configmap("f", json!({})))
        .await
        .expect("create");
    // kube's Patch::Json needs its `jsonpatch` feature: send the JSON patch by hand.
    let ops =
        json!([{ "op": "add", "path": "/metadata/finalizers", "value": ["chaos.example/one"] }]);
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/f")
        .header("Content-Type", "application/json-patch+json")
        .body(serde_json::to_vec(&ops).expect("ops"))
        .expect("request");
    let one: ConfigMap = client.request(req).await.expect("json patch");
    assert_eq!(
        one.metadata.finalizers,
        Some(vec!["chaos.example/one".into()])
    );
    let smp = Patch::Strategic(json!({ "metadata": { "finalizers": ["chaos.example/two"] } }));
    let both = cms
        .patch("f", &PatchParams::default(), &smp)
        .await
        .expect("strategic");
    assert_eq!(
        both.metadata.finalizers,
        Some(vec!["chaos.example/one".into(), "chaos.example/two".into()])
    );
}

#[tokio::test]
async fn delete_collection_and_status_subresource() {
    let (server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["c1", "c2", "keep"] {
        pods.create(&PostParams::default(), &pod(name, None, &[]))
            .await
            .expect("pod");
    }
    // Writes to the main resource keep status; /status writes change only status.
    let mut p = pods.get("c1").await.expect("get");
    p.status = Some(serde_json::from_value(json!({ "phase": "Running" })).expect("status"));
    let kept = pods
        .replace("c1", &PostParams::default(), &p)
        .await
        .expect("replace");
    assert_eq!(
        kept.status.and_then(|s| s.phase).as_deref(),
        Some("Pending")
    );
    let status = Patch::Merge(
        json!({ "status": { "phase": "Running" }, "metadata": { "labels": { "ignored": "yes" } } }),
    );
    let changed = pods
        .patch_status("c1", &PatchParams::default(), &status)
        .await
        .expect("status");
    assert_eq!(
        changed.status.and_then(|s| s.phase).as_deref(),
        Some("Running")
    );
    assert!(
        !changed
            .metadata
            .labels
            .unwrap_or_default()
            .contains_key("ignored")
    );

    let gone = pods
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("app in (c1,c2)"),
        )
        .await
        .expect("deletecollection");
    assert_eq!(gone.left().map(|l| l.items.len()), Some(2));
    let left: Vec<String> = server
        .list("v1", "pods", Some("default"))
        .iter()
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(left, ["keep"]);
}

#[tokio::test]
async fn a_protobuf_namespace_create_as_kubectl_sends_it() {
    let (server, client) = start().await;
    // The body `kubectl create namespace x` sends (kubectl 1.32).
    let body = b"k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x19\n\x11\n\x01x\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x00\x1a\x02\n\x00\x1a\x00\"\x00".to_vec();
    let req = http::Request::post(
        "/api/v1/namespaces?fieldManager=kubectl-create&fieldValidation=Strict",
    )
    .header("Content-Type", "application/vnd.kubernetes.protobuf")
    .header(
        "Accept",
        "application/vnd.kubernetes.protobuf,application/json",
    )
    .body(body)
    .expect("request");
    let out: serde_json::Value = client.request(req).await.expect("created");
    assert_eq!(out["metadata"]["name"], "x");
    assert!(server.get("v1", "Namespace", None, "x").is_some());
}
