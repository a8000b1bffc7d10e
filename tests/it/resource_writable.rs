//! `resource: {writable}` judges the API server's answer to a dry-run empty edit: accepted
//! (200) is writable; 403 Forbidden, 404 (the object, or its namespace, is gone), 409
//! Conflict and 422 Invalid are refusals the condition reports with their code and message;
//! anything else (a 500) is an error of the backend, never a verdict. Against the fake API
//! server (the kube backend's real requests) and the in-memory fake cluster (the engine's
//! verdicts), including seed 001's dangling pod whose namespace was removed from etcd: not
//! editable until the namespace is created again.

use crate::support;

use std::sync::Arc;

use fake_apiserver::Fault;
use kind_chaos::backends::fake::{FakeCluster, WriteRefusal};
use kind_chaos::backends::{ErrorKind, NamespaceView, WriteCheck};
use kind_chaos::engine::{self, RunOptions, RunStatus};
use serde_json::json;
use support::kube::{KubeLab, namespace, pod, rref};
use support::{HEADER, Recorder, plan};
use tokio_util::sync::CancellationToken;

const POD_PATH: &str = "/api/v1/namespaces/default/pods/web";

#[tokio::test]
async fn the_api_servers_refusals_are_told_apart_from_acceptance() {
    let lab = KubeLab::start().await;
    lab.insert(pod("default", "web", None, &[]));
    let k = lab.ops();
    let r = rref("v1", "Pod", Some("default"), "web");
    assert_eq!(k.write_check(&r).await.unwrap(), WriteCheck::Accepted);
    for (code, reason, message) in [
        (
            403,
            "Forbidden",
            "pods \"web\" is forbidden: User \"u\" cannot patch resource \"pods\"",
        ),
        (
            409,
            "Conflict",
            "Operation cannot be fulfilled on pods \"web\": the object has been modified",
        ),
        (
            422,
            "Invalid",
            "Pod \"web\" is invalid: metadata.labels: Invalid value",
        ),
    ] {
        lab.server
            .fail_next("PATCH", POD_PATH, Fault::status(code, reason, message));
        assert_eq!(
            k.write_check(&r).await.unwrap(),
            WriteCheck::Refused {
                code,
                message: message.into()
            },
            "{code}"
        );
    }
    // The injected answers were used up: the same edit is accepted again.
    assert_eq!(k.write_check(&r).await.unwrap(), WriteCheck::Accepted);
}

#[tokio::test]
async fn an_object_whose_stored_state_fails_validation_cannot_be_edited() {
    // Not injected: the server validates the patched object (even an empty patch) and
    // answers 422 for a label value Kubernetes refuses.
    let lab = KubeLab::start().await;
    let mut bad = pod("default", "web", None, &[]);
    bad["metadata"]["labels"] = json!({ "app": "not a valid value!" });
    lab.insert(bad);
    let r = rref("v1", "Pod", Some("default"), "web");
    match lab.ops().write_check(&r).await.unwrap() {
        WriteCheck::Refused { code, message } => {
            assert_eq!(code, 422, "{message}");
            assert!(message.contains("metadata.labels"), "{message}");
        }
        other => panic!("an invalid object was editable: {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_object_is_a_404_refusal_and_a_server_error_is_an_error() {
    let lab = KubeLab::start().await;
    let k = lab.ops();
    let r = rref("v1", "Pod", Some("default"), "web");
    match k.write_check(&r).await.unwrap() {
        WriteCheck::Refused { code, .. } => assert_eq!(code, 404),
        other => panic!("{other:?}"),
    }
    lab.insert(pod("default", "web", None, &[]));
    lab.server.fail_next(
        "PATCH",
        POD_PATH,
        Fault::internal("etcdserver: request timed out"),
    );
    let err = k.write_check(&r).await.expect_err("a 500 is no verdict");
    assert_eq!(err.kind, ErrorKind::Failed, "{err}");
}

#[tokio::test]
async fn a_dangling_pod_becomes_editable_once_its_namespace_is_back() {
    // Seed 001: the namespace's key was removed from etcd; its pod is still stored.
    let lab = KubeLab::start().await;
    lab.insert(pod("vanished", "web", None, &[]));
    let k = lab.ops();
    let r = rref("v1", "Pod", Some("vanished"), "web");
    assert_eq!(
        k.write_check(&r).await.unwrap(),
        WriteCheck::Refused {
            code: 404,
            message: "namespaces \"vanished\" not found".into()
        }
    );
    lab.insert(namespace("vanished"));
    assert_eq!(k.write_check(&r).await.unwrap(), WriteCheck::Accepted);
}

/// Runs `assert: resource: {writable: WANT}` on the pod `web` of `ns` against the fake.
async fn judge(fake: &FakeCluster, ns: &str, want: bool) -> RunStatus {
    let yaml = format!(
        "{HEADER}steps:\n  - assert:\n      resource:\n        resource: {{apiVersion: v1, kind: Pod, namespace: {ns}, name: web}}\n        writable: {want}\n"
    );
    let report = engine::run(
        &plan(&yaml),
        Arc::new(fake.clone()),
        &mut Recorder::default(),
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await;
    report.status
}

fn with_pod(ns: &str) -> FakeCluster {
    let fake = FakeCluster::kind_like("kind");
    fake.state().objects.insert(
        format!("Pod {ns}/web"),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": ns, "name": "web"}}),
    );
    fake
}

#[tokio::test(start_paused = true)]
async fn the_condition_holds_for_each_answer_as_the_playbook_says() {
    let fake = with_pod("default");
    assert_eq!(judge(&fake, "default", true).await, RunStatus::Passed);
    assert_eq!(judge(&fake, "default", false).await, RunStatus::Failed);
    for (code, message) in [
        (403, "pods \"web\" is forbidden"),
        (409, "the object has been modified"),
        (422, "Pod \"web\" is invalid"),
    ] {
        let fake = with_pod("default");
        fake.state().write_refusals.insert(
            "Pod default/web".into(),
            WriteRefusal {
                code,
                message: message.into(),
            },
        );
        assert_eq!(
            judge(&fake, "default", false).await,
            RunStatus::Passed,
            "{code}"
        );
        assert_eq!(
            judge(&fake, "default", true).await,
            RunStatus::Failed,
            "{code}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_namespace_gone_case_holds_until_the_namespace_is_recreated() {
    let fake = with_pod("dangling");
    assert_eq!(judge(&fake, "dangling", false).await, RunStatus::Passed);
    assert_eq!(judge(&fake, "dangling", true).await, RunStatus::Failed);
    fake.state().namespaces.push(NamespaceView {
        name: "dangling".into(),
        phase: "Active".into(),
        finalizers: Vec::new(),
    });
    assert_eq!(judge(&fake, "dangling", true).await, RunStatus::Passed);
    assert_eq!(judge(&fake, "dangling", false).await, RunStatus::Failed);
}
