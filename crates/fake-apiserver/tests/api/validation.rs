//! Field validation as the real server's strategies run it: 422 Invalid with upstream's
//! field paths and messages.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::common::start;

fn pod(extra: Value) -> Pod {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "p", "labels": { "app": "p" } },
        "spec": { "containers": [{ "name": "c", "image": "busybox" }] },
    });
    merge(&mut p, extra);
    serde_json::from_value(p).expect("pod")
}

fn deployment(extra: Value) -> Deployment {
    let mut d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "d" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "d" } },
            "template": {
                "metadata": { "labels": { "app": "d" } },
                "spec": { "containers": [{ "name": "c", "image": "busybox" }] },
            },
        },
    });
    merge(&mut d, extra);
    serde_json::from_value(d).expect("deployment")
}

fn merge(into: &mut Value, extra: Value) {
    match (into, extra) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The 422's message and its one cause's field.
fn invalid(err: kube::Error) -> (String, String) {
    match err {
        kube::Error::Api(s) => {
            assert_eq!(
                (s.code, s.reason.as_str()),
                (422, "Invalid"),
                "{}",
                s.message
            );
            let field = s
                .details
                .and_then(|d| d.causes.into_iter().next())
                .map(|c| c.field)
                .unwrap_or_default();
            (s.message, field)
        }
        other => panic!("expected 422, got {other:?}"),
    }
}

#[tokio::test]
async fn creates_with_bad_fields_are_422_with_upstreams_paths() {
    let (_server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    let cases = [
        (
            json!({ "metadata": { "labels": { "bad key": "x" } } }),
            "metadata.labels",
            "Invalid value: \"bad key\": name part must consist of alphanumeric characters",
        ),
        (
            json!({ "metadata": { "labels": { "Example.com/x": "x" } } }),
            "metadata.labels",
            "prefix part a lowercase RFC 1123 subdomain",
        ),
        (
            json!({ "metadata": { "labels": { "app": "not ok!" } } }),
            "metadata.labels",
            "a valid label must be an empty string",
        ),
        (
            json!({ "metadata": { "finalizers": ["held"] } }),
            "metadata.finalizers",
            "Invalid value: \"held\": name is neither a standard finalizer name nor is it fully qualified",
        ),
        (
            json!({ "spec": { "containers": [{ "name": "c" }] } }),
            "spec.containers[0].image",
            "spec.containers[0].image: Required value",
        ),
        (
            json!({ "spec": { "restartPolicy": "Sometimes" } }),
            "spec.restartPolicy",
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
        ),
    ];
    for (extra, field, msg) in cases {
        let err = pods
            .create(&pp, &pod(extra.clone()))
            .await
            .expect_err("422");
        let (message, got) = invalid(err);
        assert_eq!(got, field, "{extra}: {message}");
        assert!(message.contains(msg), "{extra}: {message}");
    }
    // The standard finalizers and qualified names are fine.
    pods.create(&pp, &pod(json!({ "metadata": { "finalizers": ["example.com/held"], "labels": { "example.com/x": "" } } })))
        .await
        .expect("valid pod");
    let deploys: Api<Deployment> = Api::namespaced(client, "default");
    for (extra, field, msg) in [
        (
            json!({ "spec": { "replicas": -1 } }),
            "spec.replicas",
            "Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            json!({ "spec": { "template": { "spec": { "restartPolicy": "Never" } } } }),
            "spec.template.spec.restartPolicy",
            "Unsupported value: \"Never\": supported values: \"Always\"",
        ),
    ] {
        let err = deploys
            .create(&pp, &deployment(extra.clone()))
            .await
            .expect_err("422");
        let (message, got) = invalid(err);
        assert_eq!(got, field, "{extra}: {message}");
        assert!(message.contains(msg), "{extra}: {message}");
    }
}

#[tokio::test]
async fn a_pod_spec_is_immutable_but_for_images_and_added_tolerations() {
    let (_server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod(json!({})))
        .await
        .expect("pod");
    let pp = PatchParams::default();
    pods.patch(
        "p",
        &pp,
        &Patch::Strategic(
            json!({ "spec": { "containers": [{ "name": "c", "image": "busybox:2" }] } }),
        ),
    )
    .await
    .expect("a new image is allowed");
    // Tolerations have no merge key: a JSON patch appends one (sent by hand: kube's
    // Patch::Json needs its `jsonpatch` feature).
    let ops = json!([{ "op": "add", "path": "/spec/tolerations/-", "value": { "key": "k", "operator": "Exists" } }]);
    let req = http::Request::patch("/api/v1/namespaces/default/pods/p")
        .header("Content-Type", "application/json-patch+json")
        .body(serde_json::to_vec(&ops).expect("ops"))
        .expect("request");
    let added: Pod = client
        .request(req)
        .await
        .expect("an added toleration is allowed");
    let tolerations = added.spec.and_then(|s| s.tolerations).unwrap_or_default();
    assert!(tolerations.iter().any(|t| t.key.as_deref() == Some("k")));
    // Replacing the list drops the DefaultTolerationSeconds ones: refused.
    let err = pods
        .patch(
            "p",
            &pp,
            &Patch::Strategic(
                json!({ "spec": { "tolerations": [{ "key": "k", "operator": "Exists" }] } }),
            ),
        )
        .await
        .expect_err("a removed toleration is not allowed");
    assert_eq!(invalid(err).1, "spec");
    let err = pods
        .patch(
            "p",
            &pp,
            &Patch::Strategic(
                json!({ "spec": { "containers": [{ "name": "c", "command": ["sh"] }] } }),
            ),
        )
        .await
        .expect_err("a new command is not");
    let (message, field) = invalid(err);
    assert_eq!(field, "spec");
    assert!(
        message.contains(
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
        ),
        "{message}"
    );
    let err = pods
        .patch(
            "p",
            &pp,
            &Patch::Merge(json!({ "spec": { "restartPolicy": "Never" } })),
        )
        .await
        .expect_err("nor the restart policy");
    assert_eq!(invalid(err).1, "spec");
}

#[tokio::test]
async fn a_deployments_selector_is_immutable() {
    let (_server, client) = start().await;
    let deploys: Api<Deployment> = Api::namespaced(client, "default");
    deploys
        .create(&PostParams::default(), &deployment(json!({})))
        .await
        .expect("deployment");
    let change = json!({ "spec": {
        "selector": { "matchLabels": { "app": "e" } },
        "template": { "metadata": { "labels": { "app": "e" } } },
    } });
    let err = deploys
        .patch("d", &PatchParams::default(), &Patch::Merge(change))
        .await
        .expect_err("422");
    let (message, field) = invalid(err);
    assert_eq!(field, "spec.selector");
    assert!(
        message.contains("v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"e\"}")
            && message.ends_with("field is immutable"),
        "{message}"
    );
    // A template whose labels the selector does not match is refused too.
    let err = deploys
        .patch(
            "d",
            &PatchParams::default(),
            &Patch::Merge(
                json!({ "spec": { "template": { "metadata": { "labels": { "app": "x" } } } } }),
            ),
        )
        .await
        .expect_err("422");
    assert_eq!(invalid(err).1, "spec.template.metadata.labels");
}

async fn send(client: &kube::Client, req: http::Request<Vec<u8>>) -> (u16, Value) {
    match client.request::<Value>(req).await {
        Ok(v) => (200, v),
        Err(kube::Error::Api(s)) => (s.code, json!({ "message": s.message, "reason": s.reason })),
        Err(other) => panic!("{other:?}"),
    }
}

fn post(path: &str, body: &Value) -> http::Request<Vec<u8>> {
    http::Request::post(path)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(body).expect("body"))
        .expect("request")
}

#[tokio::test]
async fn dry_run_all_answers_what_would_be_stored_and_stores_nothing() {
    let (server, client) = start().await;
    let body = serde_json::to_value(pod(json!({}))).expect("pod");
    let (code, out) = send(
        &client,
        post("/api/v1/namespaces/default/pods?dryRun=All", &body),
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert_eq!(out["metadata"]["name"], "p");
    assert_eq!(out["spec"]["restartPolicy"], "Always", "defaults ran");
    assert!(
        server.get("v1", "Pod", Some("default"), "p").is_none(),
        "nothing stored"
    );
    // Validation still runs.
    let bad = serde_json::to_value(pod(json!({ "spec": { "restartPolicy": "Sometimes" } })))
        .expect("pod");
    let (code, _) = send(
        &client,
        post("/api/v1/namespaces/default/pods?dryRun=All", &bad),
    )
    .await;
    assert_eq!(code, 422);
    // Updates and deletes of a stored object leave it as it was.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod(json!({})))
        .await
        .expect("pod");
    let before = server
        .get("v1", "Pod", Some("default"), "p")
        .expect("stored");
    let patch = http::Request::patch("/api/v1/namespaces/default/pods/p?dryRun=All")
        .header("Content-Type", "application/merge-patch+json")
        .body(
            serde_json::to_vec(&json!({ "metadata": { "labels": { "x": "y" } } })).expect("patch"),
        )
        .expect("request");
    let (code, out) = send(&client, patch).await;
    assert_eq!((code, &out["metadata"]["labels"]["x"]), (200, &json!("y")));
    let delete = http::Request::delete("/api/v1/namespaces/default/pods/p?dryRun=All")
        .body(Vec::new())
        .expect("request");
    assert_eq!(send(&client, delete).await.0, 200);
    assert_eq!(server.get("v1", "Pod", Some("default"), "p"), Some(before));
    let (code, out) = send(
        &client,
        post("/api/v1/namespaces/default/pods?dryRun=Some", &body),
    )
    .await;
    assert_eq!(code, 400, "{out}");
}

#[tokio::test]
async fn strict_field_validation_refuses_unknown_fields_with_400() {
    let (server, client) = start().await;
    let mut body = serde_json::to_value(deployment(json!({}))).expect("deployment");
    body["spec"]["replica"] = json!(2);
    body["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("x");
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let (code, out) = send(
        &client,
        post(&format!("{path}?fieldValidation=Strict"), &body),
    )
    .await;
    assert_eq!(code, 400, "{out}");
    assert_eq!(
        out["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].imagee\""
    );
    assert!(
        server
            .list("apps/v1", "Deployment", Some("default"))
            .is_empty()
    );
    // Without Strict the create succeeds (upstream drops the unknown fields with a warning).
    let (code, out) = send(&client, post(path, &body)).await;
    assert_eq!(code, 200, "{out}");
}

#[tokio::test]
async fn a_pod_stored_without_defaults_still_takes_a_metadata_patch() {
    let (server, client) = start().await;
    // Seeded as it is, without the defaults a create would add.
    server
        .insert(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "seeded", "namespace": "default" },
            "spec": { "containers": [{ "name": "c", "image": "busybox" }] },
        }))
        .expect("seeded");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let fin = Patch::Merge(json!({ "metadata": { "finalizers": ["example.com/held"] } }));
    pods.patch("seeded", &PatchParams::default(), &fin)
        .await
        .expect("metadata changes are not spec changes");
}
