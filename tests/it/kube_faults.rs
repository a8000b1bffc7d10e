//! The Kubernetes backend's faults through the real kube client against the fake API server:
//! deletes as kubectl sends them, finalizers (blocking, releasing, concurrent writers),
//! `/finalize`, cordons and taints, and RBAC refusals.

use crate::support;

use kind_chaos::backends::{DeleteOptions, ErrorKind, FinalizerOp, PodQuery};
use kind_chaos::playbook::model::{NodeTaint, Propagation, TaintEffect};
use serde_json::json;
use support::kube::{KubeLab, eventually, is_terminating, namespace, pod, rref};

const FIN: &str = "kind-chaos.dev/test";

#[tokio::test]
async fn a_forced_delete_sends_grace_0_and_background_like_kubectl() {
    let lab = KubeLab::start().await;
    lab.insert(pod("default", "web", Some("test-worker"), &[]));
    lab.server.clear_requests();
    let k = lab.ops();
    k.delete(
        &rref("v1", "Pod", Some("default"), "web"),
        &DeleteOptions::force(),
    )
    .await
    .unwrap();
    let deletes: Vec<_> = lab
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].path, "/api/v1/namespaces/default/pods/web");
    assert_eq!(
        deletes[0].option("gracePeriodSeconds").as_deref(),
        Some("0")
    );
    assert_eq!(
        deletes[0].option("propagationPolicy").as_deref(),
        Some("Background")
    );
    assert!(lab.get("v1", "Pod", Some("default"), "web").is_none());
}

#[tokio::test]
async fn a_delete_with_a_grace_period_leaves_the_pod_terminating_while_its_kubelet_is_down() {
    let lab = KubeLab::start().await;
    lab.server.kubelet_up("test-worker", false);
    lab.insert(pod("default", "web", Some("test-worker"), &[]));
    let k = lab.ops();
    let opts = DeleteOptions {
        grace_period_seconds: Some(7),
        propagation: Some(Propagation::Foreground),
    };
    let r = rref("v1", "Pod", Some("default"), "web");
    k.delete(&r, &opts).await.unwrap();
    let sent = lab
        .server
        .requests()
        .into_iter()
        .rfind(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(sent.option("gracePeriodSeconds").as_deref(), Some("7"));
    assert_eq!(
        sent.option("propagationPolicy").as_deref(),
        Some("Foreground")
    );
    let q = PodQuery {
        namespace: Some("default".into()),
        name: Some("web".into()),
        ..Default::default()
    };
    let seen = k.pods(&q).await.unwrap();
    assert!(seen[0].deletion_timestamp.is_some(), "{seen:?}");
    lab.server.kubelet_up("test-worker", true);
    eventually("the kubelet confirms the deletion", || {
        lab.get("v1", "Pod", Some("default"), "web").is_none()
    })
    .await;
    let e = k.delete(&r, &DeleteOptions::default()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.message, "Pod default/web not found");
}

#[tokio::test]
async fn a_finalizer_keeps_a_pod_terminating_until_it_is_removed() {
    let lab = KubeLab::start().await;
    lab.insert(pod("default", "web", Some("test-worker"), &[]));
    let k = lab.ops();
    let r = rref("v1", "Pod", Some("default"), "web");
    assert!(k.finalizer(&r, FIN, FinalizerOp::Add).await.unwrap());
    assert!(
        !k.finalizer(&r, FIN, FinalizerOp::Add).await.unwrap(),
        "adding it twice changes nothing"
    );
    k.delete(&r, &DeleteOptions::default()).await.unwrap();
    lab.server.settle();
    let obj = lab
        .get("v1", "Pod", Some("default"), "web")
        .expect("held by the finalizer");
    assert!(is_terminating(&obj));
    // The server refuses new finalizers on an object being deleted; the message says so.
    let e = k
        .finalizer(&r, "other/one", FinalizerOp::Add)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Failed);
    assert!(
        e.message
            .contains("cannot add finalizer `other/one` to Pod default/web"),
        "{}",
        e.message
    );
    assert!(e.message.contains("422"), "{}", e.message);
    assert!(k.finalizer(&r, FIN, FinalizerOp::Remove).await.unwrap());
    eventually("the pod goes once its finalizer is removed", || {
        lab.get("v1", "Pod", Some("default"), "web").is_none()
    })
    .await;
    let e = k.finalizer(&r, FIN, FinalizerOp::Remove).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn finalizer_patches_are_pinned_with_test_operations() {
    let lab = KubeLab::start().await;
    lab.insert(pod("default", "web", None, &["a/one", FIN, "b/two"]));
    let k = lab.ops();
    let r = rref("v1", "Pod", Some("default"), "web");
    lab.server.clear_requests();
    assert!(k.finalizer(&r, FIN, FinalizerOp::Remove).await.unwrap());
    let patch = lab
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/json-patch+json")
    );
    assert_eq!(
        patch.body_json().unwrap(),
        json!([
            {"op": "test", "path": "/metadata/finalizers/1", "value": FIN},
            {"op": "remove", "path": "/metadata/finalizers/1"},
        ])
    );
    let obj = lab.get("v1", "Pod", Some("default"), "web").unwrap();
    assert_eq!(obj["metadata"]["finalizers"], json!(["a/one", "b/two"]));
    assert!(!k.finalizer(&r, FIN, FinalizerOp::Remove).await.unwrap());
}

#[tokio::test]
async fn a_concurrent_finalizer_change_is_not_clobbered() {
    let lab = KubeLab::start().await;
    lab.insert(pod("default", "web", None, &["a/one", FIN]));
    let k = lab.ops();
    let r = rref("v1", "Pod", Some("default"), "web");
    // Another writer removes `a/one` between our read and our patch (the patch is held in
    // flight while it does): the patch's test (FIN at index 1) fails for real, we read again
    // and remove FIN at its new index 0, keeping the other writer's change.
    lab.server.fail_next(
        "PATCH",
        "/api/v1/namespaces/default/pods/web",
        fake_apiserver::Fault::delay(std::time::Duration::from_millis(300)),
    );
    let mut changed = pod("default", "web", None, &[FIN]);
    changed["metadata"]["labels"]["touched"] = json!("yes");
    let (removed, ()) = tokio::join!(k.finalizer(&r, FIN, FinalizerOp::Remove), async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        lab.insert(changed);
    });
    assert!(removed.unwrap());
    let obj = lab.get("v1", "Pod", Some("default"), "web").unwrap();
    assert_eq!(obj["metadata"]["labels"]["touched"], "yes");
    assert!(
        obj["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{obj}"
    );
    let patches: Vec<_> = lab
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 2, "refused once, then recomputed");
}

#[tokio::test]
async fn clearing_finalizers_returns_what_was_removed() {
    let lab = KubeLab::start().await;
    lab.insert(pod("default", "web", None, &["a/one", "b/two"]));
    let k = lab.ops();
    let r = rref("v1", "Pod", Some("default"), "web");
    assert_eq!(
        k.clear_finalizers(&r).await.unwrap(),
        vec!["a/one".to_string(), "b/two".to_string()]
    );
    assert!(k.clear_finalizers(&r).await.unwrap().is_empty());
    // Any kind, through discovery: a ConfigMap.
    lab.insert(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "finalizers": ["x/y"]}}));
    let cm = rref("v1", "ConfigMap", Some("default"), "cm");
    assert_eq!(
        k.clear_finalizers(&cm).await.unwrap(),
        vec!["x/y".to_string()]
    );
}

#[tokio::test]
async fn a_namespace_hangs_on_a_finalizer_and_finalize_releases_it_while_the_pod_stays() {
    let lab = KubeLab::start().await;
    let k = lab.ops();
    k.apply(
        &[
            namespace("dangling"),
            pod("dangling", "dangling", Some("test-worker"), &[FIN]),
        ],
        None,
    )
    .await
    .unwrap();
    k.delete(
        &rref("v1", "Namespace", None, "dangling"),
        &DeleteOptions::default(),
    )
    .await
    .unwrap();
    lab.server.settle();
    let ns = k.namespace("dangling").await.unwrap().expect("still there");
    assert_eq!(ns.phase, "Terminating");
    assert_eq!(ns.finalizers, vec!["kubernetes".to_string()]);
    // Deleting it again (as the undo of an apply does) is not an error: the server's 409
    // Conflict for a namespace already on its way out means the delete is done.
    let before = lab.server.requests().len();
    k.delete(
        &rref("v1", "Namespace", None, "dangling"),
        &DeleteOptions::default(),
    )
    .await
    .unwrap();
    let again = &lab.server.requests()[before];
    assert_eq!((again.method.as_str(), again.status), ("DELETE", 409));
    let q = PodQuery {
        namespace: Some("dangling".into()),
        ..Default::default()
    };
    let pods = k.pods(&q).await.unwrap();
    assert!(pods[0].deletion_timestamp.is_some(), "{pods:?}");
    k.finalize_namespace("dangling").await.unwrap();
    let put = lab
        .server
        .requests()
        .into_iter()
        .rfind(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.path, "/api/v1/namespaces/dangling/finalize");
    assert_eq!(put.body_json().unwrap()["spec"]["finalizers"], json!([]));
    eventually("the namespace goes", || {
        lab.get("v1", "Namespace", None, "dangling").is_none()
    })
    .await;
    assert_eq!(k.namespace("dangling").await.unwrap(), None);
    let pods = k.pods(&q).await.unwrap();
    assert_eq!(pods.len(), 1, "the pod dangles without its namespace");
    assert!(pods[0].deletion_timestamp.is_some());
    let e = k.finalize_namespace("dangling").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.message, "namespace dangling not found");
}

#[tokio::test]
async fn deleting_a_namespace_collects_its_pods() {
    let lab = KubeLab::start().await;
    let k = lab.ops();
    k.apply(
        &[
            namespace("collected"),
            pod("collected", "collected", Some("test-worker"), &[]),
        ],
        None,
    )
    .await
    .unwrap();
    k.delete(
        &rref("v1", "Namespace", None, "collected"),
        &DeleteOptions::default(),
    )
    .await
    .unwrap();
    eventually("namespace and pod go", || {
        lab.get("v1", "Namespace", None, "collected").is_none()
            && lab
                .get("v1", "Pod", Some("collected"), "collected")
                .is_none()
    })
    .await;
}

#[tokio::test]
async fn cordon_and_taints_are_idempotent() {
    let lab = KubeLab::with_nodes().await;
    let k = lab.ops();
    k.cordon("test-worker", true).await.unwrap();
    k.cordon("test-worker", true).await.unwrap();
    let node = |n: &str| lab.get("v1", "Node", None, n).unwrap();
    assert_eq!(node("test-worker")["spec"]["unschedulable"], true);
    k.cordon("test-worker", false).await.unwrap();
    assert!(node("test-worker")["spec"]["unschedulable"].is_null());

    let t = NodeTaint {
        node: "test-worker".into(),
        key: "chaos".into(),
        value: Some("on".into()),
        effect: TaintEffect::NoExecute,
    };
    k.taint(&t, true).await.unwrap();
    lab.server.clear_requests();
    k.taint(&t, true).await.unwrap();
    assert!(
        lab.server.requests().iter().all(|r| r.method == "GET"),
        "a taint already there is not written again"
    );
    let nodes = k.nodes().await.unwrap();
    let w = nodes.iter().find(|n| n.name == "test-worker").unwrap();
    assert_eq!(w.taints.len(), 1);
    assert_eq!(w.taints[0].value.as_deref(), Some("on"));
    k.taint(&t, false).await.unwrap();
    k.taint(&t, false).await.unwrap();
    let taints = &node("test-worker")["spec"]["taints"];
    assert!(taints.as_array().is_none_or(|a| a.is_empty()), "{taints}");
    // The seeds' taint on worker2 is untouched by a taint of another key.
    let other = NodeTaint {
        node: "test-worker2".into(),
        ..t.clone()
    };
    k.taint(&other, true).await.unwrap();
    let w2 = node("test-worker2");
    assert_eq!(w2["spec"]["taints"].as_array().unwrap().len(), 2, "{w2}");

    let e = k.cordon("nope", true).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(
        e.message.contains(
            "no node `nope`; the cluster has test-control-plane, test-worker, test-worker2"
        ),
        "{}",
        e.message
    );
    let e = k
        .taint(
            &NodeTaint {
                node: "nope".into(),
                ..t
            },
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn rbac_refusals_name_the_verb_and_the_resource() {
    let lab = KubeLab::start().await;
    lab.insert(pod("default", "web", None, &[]));
    let k = lab.ops();
    lab.server.fail_next(
        "DELETE",
        "/api/v1/namespaces/default/pods/web",
        fake_apiserver::Fault::forbidden(
            r#"pods "web" is forbidden: User "dev" cannot delete resource "pods" in API group "" in the namespace "default""#,
        ),
    );
    let e = k
        .delete(
            &rref("v1", "Pod", Some("default"), "web"),
            &DeleteOptions::force(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Failed);
    assert!(
        e.message
            .starts_with("forbidden: the API server at http://127.0.0.1:"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("to delete Pod default/web (RBAC)"),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains(r#"User "dev" cannot delete resource "pods""#),
        "{}",
        e.message
    );
    assert!(lab.get("v1", "Pod", Some("default"), "web").is_some());
}

/// The undo record of `finalizer-add`, applied through the engine's lazy backends (as a run's
/// unwind and `chaos recover` apply it).
async fn undo_finalizer(lab: &KubeLab, ns: &str, name: &str) -> Result<Option<String>, String> {
    let record = kind_chaos::engine::UndoRecord::FinalizerRemove {
        resource: rref("v1", "Pod", Some(ns), name),
        finalizer: FIN.into(),
    };
    let b = kind_chaos::engine::Backends::new(lab.connector());
    record.apply(&b).await.map_err(|e| e.message)
}

#[tokio::test]
async fn the_finalizer_undo_recreates_a_vanished_namespace_and_deletes_it_again() {
    let lab = KubeLab::start().await;
    // The state `namespace-delete` + `namespace-finalize` leave: the pod stored, held by our
    // finalizer, in a namespace that no longer exists.
    let mut p = pod("gone", "web", Some("test-worker"), &[FIN]);
    p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    p["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    lab.insert(p);
    let k = lab.ops();
    let r = rref("v1", "Pod", Some("gone"), "web");
    let e = k.finalizer(&r, FIN, FinalizerOp::Remove).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(
        e.message,
        "cannot remove finalizer `kind-chaos.dev/test` from Pod gone/web: namespace gone does not exist (the API server refuses writes into a missing namespace)"
    );

    let note = undo_finalizer(&lab, "gone", "web").await.unwrap().unwrap();
    assert_eq!(
        note,
        "namespace gone no longer exists, so the API server refuses changes to Pod gone/web (still stored); recreated namespace gone; removed finalizer kind-chaos.dev/test from Pod gone/web; deleted namespace gone again; Pod gone/web is gone"
    );
    assert!(lab.get("v1", "Pod", Some("gone"), "web").is_none());
    eventually("the recreated namespace goes again", || {
        lab.get("v1", "Namespace", None, "gone").is_none()
    })
    .await;
    // Run again (`chaos recover` after a crash): nothing left, nothing to say.
    assert_eq!(undo_finalizer(&lab, "gone", "web").await.unwrap(), None);
}

#[tokio::test]
async fn an_interrupted_undo_leaves_no_recreated_namespace_behind() {
    let lab = KubeLab::start().await;
    // Killed after recreating the namespace, before removing the finalizer.
    let mut ns = namespace("gone");
    ns["metadata"]["annotations"] = json!({"kind-chaos.dev/recreated-to-undo": "Pod gone/web"});
    ns["spec"] = json!({"finalizers": ["kubernetes"]});
    ns["status"] = json!({"phase": "Active"});
    lab.server.insert(ns).unwrap();
    lab.insert(pod("gone", "web", None, &[FIN]));
    let note = undo_finalizer(&lab, "gone", "web").await.unwrap();
    assert_eq!(
        note.as_deref(),
        Some("deleted namespace gone again (an interrupted undo had recreated it)")
    );
    eventually("the namespace goes with the pod", || {
        lab.get("v1", "Namespace", None, "gone").is_none()
            && lab.get("v1", "Pod", Some("gone"), "web").is_none()
    })
    .await;
    // A namespace someone else made is left alone.
    lab.server.insert(namespace("kept")).unwrap();
    lab.insert(pod("kept", "web", Some("test-worker"), &[FIN]));
    assert_eq!(undo_finalizer(&lab, "kept", "web").await.unwrap(), None);
    assert!(lab.get("v1", "Namespace", None, "kept").is_some());
}

#[tokio::test]
async fn an_edit_of_a_pod_whose_namespace_is_gone_is_refused_until_it_is_back() {
    // dangling-resources' `writable`: a dry-run empty patch, through admission, storing nothing.
    let lab = KubeLab::start().await;
    lab.insert(pod("gone", "web", Some("test-worker"), &[FIN]));
    let rv = |lab: &KubeLab| {
        lab.get("v1", "Pod", Some("gone"), "web").expect("stored")["metadata"]["resourceVersion"]
            .clone()
    };
    let before = rv(&lab);
    let k = lab.ops();
    let r = rref("v1", "Pod", Some("gone"), "web");
    lab.server.clear_requests();
    match k.write_check(&r).await.unwrap() {
        kind_chaos::backends::WriteCheck::Refused { code, message } => {
            assert_eq!(code, 404);
            assert_eq!(message, "namespaces \"gone\" not found");
        }
        other => panic!("accepted without its namespace: {other:?}"),
    }
    let patches: Vec<_> = lab
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert_eq!(patches[0].option("dryRun").as_deref(), Some("All"));

    lab.insert(namespace("gone"));
    assert_eq!(
        k.write_check(&r).await.unwrap(),
        kind_chaos::backends::WriteCheck::Accepted
    );
    assert_eq!(rv(&lab), before, "a dry run stores nothing");
}
