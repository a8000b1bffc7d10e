//! NamespaceLifecycle admission: every write but a delete into a namespace that does not
//! exist is a 404 naming the namespace (the pod left behind by `/finalize` can be read and
//! deleted, not changed); creates into a terminating namespace are a 403 with the
//! `NamespaceTerminating` cause. Checked with the kube client and with `/usr/bin/kubectl`.

use std::process::Command;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, EvictParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::common::{eventually, is_terminating, pod, start};

const FIN: &str = "chaos.example/held";

/// A pod stored in namespace `gone`, which does not exist: the state `/finalize` leaves.
fn dangling(server: &fake_apiserver::FakeApiServer) {
    let mut p = serde_json::to_value(pod("web", Some("kind-worker"), &[FIN])).expect("pod");
    p["metadata"]["namespace"] = json!("gone");
    server.insert(p).expect("insert");
}

fn status(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Upstream's answer: the error of the namespace lookup, as is.
fn assert_namespace_not_found(s: &kube::core::Status, ns: &str) {
    assert_eq!(s.code, 404, "{s:?}");
    assert_eq!(s.reason, "NotFound", "{s:?}");
    assert_eq!(s.message, format!("namespaces \"{ns}\" not found"), "{s:?}");
    let d = s.details.as_ref().expect("details");
    assert_eq!(d.name, ns);
    assert_eq!(d.kind, "namespaces");
    assert_eq!(d.group, "");
}

#[tokio::test]
async fn every_write_to_an_object_whose_namespace_is_gone_is_404_namespace_not_found() {
    let (server, client) = start().await;
    dangling(&server);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "gone");
    let pp = PatchParams::default();
    let labels = json!({ "metadata": { "labels": { "touched": "yes" } } });

    let merge = pods.patch("web", &pp, &Patch::Merge(&labels)).await;
    assert_namespace_not_found(&status(merge.expect_err("merge patch")), "gone");
    let strategic = pods.patch("web", &pp, &Patch::Strategic(&labels)).await;
    assert_namespace_not_found(&status(strategic.expect_err("strategic")), "gone");
    // kube's Patch::Json needs its `jsonpatch` feature: send the JSON patch by hand.
    let ops = json!([{ "op": "remove", "path": "/metadata/finalizers/0" }]);
    let req = http::Request::patch("/api/v1/namespaces/gone/pods/web")
        .header("Content-Type", "application/json-patch+json")
        .body(serde_json::to_vec(&ops).expect("ops"))
        .expect("request");
    let jp = client.request::<Pod>(req).await;
    assert_namespace_not_found(&status(jp.expect_err("json patch")), "gone");
    let apply = PatchParams::apply("test");
    let mut cfg = serde_json::to_value(pod("web", Some("kind-worker"), &[])).expect("pod");
    cfg["metadata"]["namespace"] = json!("gone");
    let ssa = pods.patch("web", &apply, &Patch::Apply(&cfg)).await;
    assert_namespace_not_found(&status(ssa.expect_err("apply")), "gone");

    let current = pods.get("web").await.expect("reads still work");
    let put = pods.replace("web", &PostParams::default(), &current).await;
    assert_namespace_not_found(&status(put.expect_err("put")), "gone");
    let phase = json!({"status": {"phase": "Running"}});
    let st = pods.patch_status("web", &pp, &Patch::Merge(&phase)).await;
    assert_namespace_not_found(&status(st.expect_err("status")), "gone");

    // Creates into the missing namespace: the same answer.
    let create = pods
        .create(&PostParams::default(), &pod("new", None, &[]))
        .await;
    assert_namespace_not_found(&status(create.expect_err("create")), "gone");

    // Nothing was changed, and deletes are not refused.
    let stored = server
        .get("v1", "Pod", Some("gone"), "web")
        .expect("stored");
    assert_eq!(stored["metadata"]["finalizers"], json!([FIN]));
    assert!(stored["metadata"]["labels"].get("touched").is_none());
    pods.delete("web", &DeleteParams::default())
        .await
        .expect("a delete into a missing namespace is admitted");
    let stored = server.get("v1", "Pod", Some("gone"), "web").expect("held");
    assert!(is_terminating(&stored));
    // A write to an object that is not stored is the object's own 404 (the real server
    // reads it before admission).
    let err = pods
        .patch("nothing", &pp, &Patch::Merge(&labels))
        .await
        .expect_err("missing");
    assert_eq!(status(err).message, "pods \"nothing\" not found");
}

#[tokio::test]
async fn a_terminating_namespace_refuses_creates_with_namespace_terminating_and_allows_updates() {
    let (server, client) = start().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "ending"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("ns");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "ending");
    pods.create(
        &PostParams::default(),
        &pod("held", Some("kind-worker"), &[FIN]),
    )
    .await
    .expect("pod");
    pods.create(&PostParams::default(), &pod("free", None, &[FIN]))
        .await
        .expect("pod");
    namespaces
        .delete("ending", &DeleteParams::default())
        .await
        .expect("delete ns");
    eventually("the namespace is terminating", || {
        server
            .get("v1", "Namespace", None, "ending")
            .is_some_and(|n| n["status"]["phase"] == "Terminating")
    })
    .await;

    let err = pods
        .create(&PostParams::default(), &pod("late", None, &[]))
        .await
        .expect_err("terminating");
    let s = status(err);
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        s.message,
        "pods \"late\" is forbidden: unable to create new content in namespace ending because it is being terminated"
    );
    let d = s.details.expect("details");
    assert_eq!((d.name.as_str(), d.kind.as_str()), ("late", "pods"));
    assert_eq!(d.causes.len(), 1);
    assert_eq!(d.causes[0].reason, "NamespaceTerminating");
    assert_eq!(d.causes[0].message, "namespace ending is being terminated");
    assert_eq!(d.causes[0].field, "metadata.namespace");

    // An eviction is a create (of pods/eviction): refused the same way, as `kubectl drain`
    // expects.
    let err = pods
        .evict("held", &EvictParams::default())
        .await
        .expect_err("eviction in a terminating namespace");
    let s = status(err);
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        s.details.expect("details").causes[0].reason,
        "NamespaceTerminating"
    );

    // Updates are admitted: that is how finalizers get removed.
    let drop = json!({ "metadata": { "finalizers": null } });
    pods.patch("held", &PatchParams::default(), &Patch::Merge(&drop))
        .await
        .expect("updates into a terminating namespace pass");
}

/// `kubectl --kubeconfig FILE args...`; (exit success, stdout, stderr).
fn kubectl(
    kubeconfig: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    use std::io::Write;
    let mut cmd = Command::new("/usr/bin/kubectl");
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("/usr/bin/kubectl runs (it must be installed)");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("kubectl finishes");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_the_namespace_lifecycle_answers() {
    let (server, _client) = start().await;
    dangling(&server);
    let dir = std::env::temp_dir().join(format!("fake-apiserver-kubectl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig_yaml("kind-fake")).expect("kubeconfig");
    let kc = kubeconfig.clone();
    let (get, patch, create) = tokio::task::spawn_blocking(move || {
        let get = kubectl(
            &kc,
            &["get", "pod", "web", "-n", "gone", "-o", "json"],
            None,
        );
        let patch = kubectl(
            &kc,
            &[
                "patch",
                "pod",
                "web",
                "-n",
                "gone",
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ],
            None,
        );
        let manifest =
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"gone"}}"#;
        let create = kubectl(
            &kc,
            &["create", "--validate=false", "-f", "-"],
            Some(manifest),
        );
        (get, patch, create)
    })
    .await
    .expect("kubectl thread");
    let _ = std::fs::remove_dir_all(&dir);

    assert!(get.0, "kubectl get of the dangling pod works: {}", get.2);
    let seen: Value = serde_json::from_str(&get.1).expect("kubectl get -o json");
    assert_eq!(seen["metadata"]["finalizers"], json!([FIN]));
    assert!(!patch.0, "kubectl patch must fail: {} {}", patch.1, patch.2);
    assert!(
        patch
            .2
            .contains(r#"Error from server (NotFound): namespaces "gone" not found"#),
        "{}",
        patch.2
    );
    assert!(
        !create.0,
        "kubectl create must fail: {} {}",
        create.1, create.2
    );
    assert!(
        create.2.contains(r#"namespaces "gone" not found"#),
        "{}",
        create.2
    );
    let stored = server
        .get("v1", "Pod", Some("gone"), "web")
        .expect("stored");
    assert_eq!(stored["metadata"]["finalizers"], json!([FIN]));
}
