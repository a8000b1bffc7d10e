//! Forced deletes run end to end by the engine, in process, on the real Kubernetes backend
//! against the fake API server, with the requests they make (the seeds' labs themselves run
//! whole on the local cluster, tests/it/local_labs.rs); and the bad inputs a run must report
//! clearly (unknown kind, unreachable API server, RBAC), with the exit code CI acts on.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use fake_apiserver::{Fault, PodTermination};
use kind_chaos::backends::kube::{KubeTarget, connect};
use kind_chaos::backends::*;
use kind_chaos::engine::{self, PlaybookReport, RunOptions, RunStatus, StepStatus, UndoStatus};
use kind_chaos::exit::Exit;
use kind_chaos::playbook;
use support::Recorder;
use support::kube::{CLUSTER, KubeLab, KubeOnly};
use tokio_util::sync::CancellationToken;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kube")
        .join(name)
}

async fn run(connector: Arc<dyn Connector>, name: &str) -> PlaybookReport {
    let plan = match playbook::load(&fixture(name)) {
        Ok(p) => p,
        Err(e) => panic!("{}", e.render(false)),
    };
    let mut rec = Recorder::default();
    engine::run(
        &plan,
        connector,
        &mut rec,
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await
}

fn summary(r: &PlaybookReport) -> String {
    r.steps
        .iter()
        .map(|s| {
            format!(
                "{:?} {} {}",
                s.status,
                s.label(),
                s.message.as_deref().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_passed(r: &PlaybookReport) {
    assert_eq!(r.status, RunStatus::Passed, "{}", summary(r));
    assert!(
        r.undo.iter().all(|u| u.status == UndoStatus::Undone),
        "{:?}",
        r.undo
    );
}

#[tokio::test]
async fn forced_delete_lab() {
    let lab = KubeLab::with_nodes().await;
    // The simulated kubelet takes the pod's whole grace period (5 s) to confirm a delete.
    lab.server.pod_termination(PodTermination::GracePeriod);
    let start = std::time::Instant::now();
    let report = run(lab.connector(), "forced-delete.yaml").await;
    assert_passed(&report);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(4),
        "the forced delete did not wait for the grace period: {:?}",
        start.elapsed()
    );
    let deletes: Vec<_> = lab
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE" && r.path.ends_with("/pods/collected-resources"))
        .collect();
    // The graceful delete, the forced one, then the teardown's (404: already gone).
    assert_eq!(deletes.len(), 3, "{deletes:?}");
    assert_eq!(deletes[0].option("gracePeriodSeconds"), None);
    assert_eq!(
        deletes[1].option("gracePeriodSeconds").as_deref(),
        Some("0")
    );
    assert_eq!(
        deletes[1].option("propagationPolicy").as_deref(),
        Some("Background")
    );
}

#[tokio::test]
async fn an_unknown_kind_fails_the_apply_step_with_the_file_and_document() {
    let lab = KubeLab::start().await;
    let report = run(lab.connector(), "unknown-kind.yaml").await;
    assert_eq!(Exit::of(&report), Exit::StepFailed);
    let step = &report.steps[0];
    assert_eq!(step.status, StepStatus::Error);
    assert!(
        step.description.contains("unknown-kind.yaml"),
        "{}",
        step.description
    );
    let m = step.message.as_deref().unwrap_or_default();
    assert!(
        m.contains("document 2 (Pdo web): unknown kind `Pdo`"),
        "{m}"
    );
    assert!(m.contains("did you mean `Pod`?"), "{m}");
    assert!(lab.get("v1", "Namespace", None, "typo").is_none());
}

/// Connects on first use, as the CLI's connector does.
struct Connecting(KubeTarget);

#[async_trait]
impl Connector for Connecting {
    async fn nodes(&self) -> Result<Arc<dyn NodeOps>> {
        Err(BackendError::unavailable("no node backend in this test"))
    }
    async fn kube(&self) -> Result<Arc<dyn KubeOps>> {
        Ok(Arc::new(connect(CLUSTER, &self.0, None).await?))
    }
    async fn etcd(&self) -> Result<Arc<dyn EtcdOps>> {
        Err(BackendError::unavailable("no etcd backend in this test"))
    }
}

#[tokio::test]
async fn an_unreachable_api_server_is_exit_3_with_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\ncontexts:\n- name: kind-test\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user: {{}}\n"
        ),
    )
    .unwrap();
    let target = KubeTarget {
        kubeconfig: Some(kc),
        ..KubeTarget::default()
    };
    let report = run(Arc::new(Connecting(target)), "api-only.yaml").await;
    assert_eq!(Exit::of(&report), Exit::Environment, "{}", summary(&report));
    let m = report.steps[0].message.as_deref().unwrap_or_default();
    assert!(
        m.contains(&format!("https://127.0.0.1:{port}")) && m.contains("Connection refused"),
        "{m}"
    );
}

#[tokio::test]
async fn an_rbac_refusal_fails_the_step_with_exit_4() {
    let lab = KubeLab::with_nodes().await;
    lab.server.fail_next(
        "DELETE",
        "/api/v1/namespaces/collected-resources/pods/collected-resources",
        Fault::forbidden(
            r#"pods "collected-resources" is forbidden: User "dev" cannot delete resource "pods" in API group "" in the namespace "collected-resources""#,
        ),
    );
    let report = run(lab.connector(), "forced-delete.yaml").await;
    assert_eq!(Exit::of(&report), Exit::StepFailed, "{}", summary(&report));
    let failed = report
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Error)
        .unwrap();
    let m = failed.message.as_deref().unwrap_or_default();
    assert!(m.starts_with("forbidden:"), "{m}");
    assert!(
        m.contains("to delete Pod collected-resources/collected-resources (RBAC)"),
        "{m}"
    );
}

#[tokio::test]
async fn the_connector_used_by_these_tests_is_the_real_backend() {
    // Guard against a helper quietly swapping in the in-memory fake cluster.
    let lab = KubeLab::start().await;
    let kube = KubeOnly(lab.ops()).kube().await.unwrap();
    kube.namespace("default").await.unwrap();
    assert!(
        lab.server
            .requests()
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/default")
    );
}

#[tokio::test]
async fn a_finalizer_on_a_pod_whose_namespace_was_finalized_away_is_really_undone() {
    // Issue 11.1: the PATCH removing our finalizer is refused with `404 namespaces "X" not
    // found` (NamespaceLifecycle); that must not be read as "the pod is already gone".
    let lab = KubeLab::with_nodes().await;
    let ns = "collected-resources";
    let report = run(lab.connector(), "finalizer-namespace-gone.yaml").await;
    assert_passed(&report);
    let undo = report
        .undo
        .iter()
        .find(|u| {
            u.description
                .starts_with("remove finalizer kind-chaos.dev/hold")
        })
        .expect("the finalizer's undo");
    let m = undo.message.as_deref().unwrap_or_default();
    for step in [
        "namespace collected-resources no longer exists",
        "recreated namespace collected-resources",
        "removed finalizer kind-chaos.dev/hold from Pod collected-resources/collected-resources",
        "deleted namespace collected-resources again",
        "Pod collected-resources/collected-resources is gone",
    ] {
        assert!(m.contains(step), "the undo report lacks `{step}`: {m}");
    }
    // The refused PATCH really happened, then the lab's sequence.
    let reqs = lab.server.requests();
    let pod_path = format!("/api/v1/namespaces/{ns}/pods/{ns}");
    let refused = reqs
        .iter()
        .position(|r| r.method == "PATCH" && r.path == pod_path && r.status == 404)
        .expect("a PATCH refused with 404");
    let recreate = reqs[refused..]
        .iter()
        .position(|r| r.method == "PATCH" && r.path == format!("/api/v1/namespaces/{ns}"))
        .expect("the namespace recreated (server-side apply)");
    assert!(
        reqs[refused + recreate..]
            .iter()
            .any(|r| r.method == "PATCH" && r.path == pod_path && r.status == 200),
        "the finalizer removed once the namespace is back"
    );
    assert!(
        lab.get("v1", "Pod", Some(ns), ns).is_none(),
        "the pod is really gone"
    );
    support::kube::eventually("the namespace is gone again", || {
        lab.get("v1", "Namespace", None, ns).is_none()
    })
    .await;
}

#[tokio::test]
async fn the_undo_of_an_applied_job_takes_its_pods_with_it() {
    let lab = KubeLab::with_nodes().await;
    let report = run(lab.connector(), "job-undo.yaml").await;
    assert_eq!(report.status, RunStatus::Passed, "{}", summary(&report));
    let deletes: Vec<_> = lab
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE" && r.path.ends_with("/jobs/undo"))
        .collect();
    assert!(!deletes.is_empty(), "the Job was deleted");
    assert_eq!(
        deletes[0].option("propagationPolicy").as_deref(),
        Some("Background")
    );
    support::kube::eventually("the Job's pod is collected", || {
        lab.server.list("v1", "Pod", Some("default")).is_empty()
    })
    .await;
}
