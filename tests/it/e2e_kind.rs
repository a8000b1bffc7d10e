//! End-to-end tests against a real kind cluster: the Kubernetes backend's scenarios of the
//! fake-API-server tests (`kube_*.rs`), checked against a real API server, kubelet and
//! controllers. Every test is `#[ignore = "needs a kind cluster"]`; `scripts/e2e-kind.sh`
//! creates or reuses the cluster from `kind-config.yaml`, builds and loads the lab images and
//! runs them with `--ignored`.
//!
//! The cluster is `$KIND_CHAOS_E2E_CLUSTER` (default `k8splayground`, the seeds' cluster:
//! `-worker` labelled `mock-server=true`, `-worker2` tainted `playground_test`). The tests
//! share it, so they run one at a time (`--test-threads=1`, as the script does) and each
//! cleans up the namespaces it creates.

use crate::support;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::kube::config::Kubeconfig;
use kind_chaos::backends::docker::DockerNodes;
use kind_chaos::backends::kube::kind_config::{ADMIN_CONF, kind_kubeconfig};
use kind_chaos::backends::kube::{KubeBackend, KubeTarget, connect};
use kind_chaos::backends::{DeleteOptions, KubeOps};
use kind_chaos::engine::{self, RunOptions, StepStatus};
use support::kube::{KubeOnly, namespace, rref};
use support::{Recorder, chaos_in, text};
use tokio_util::sync::CancellationToken;

fn cluster() -> String {
    std::env::var("KIND_CHAOS_E2E_CLUSTER").unwrap_or_else(|_| "k8splayground".into())
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

async fn backend() -> KubeBackend {
    let docker = DockerNodes::connect(&cluster()).await.ok();
    match connect(&cluster(), &KubeTarget::default(), docker.as_ref()).await {
        Ok(b) => b,
        Err(e) => panic!(
            "cannot connect to kind cluster {}: {}",
            cluster(),
            e.message
        ),
    }
}

/// The kind cluster's kubeconfig: from the default kubeconfig, else built from the
/// control-plane container as kind does.
async fn kind_kubeconfig_yaml() -> Kubeconfig {
    let name = format!("kind-{}", cluster());
    if let Ok(kc) = Kubeconfig::read()
        && kc.contexts.iter().any(|c| c.name == name)
    {
        return kc;
    }
    let docker = DockerNodes::connect(&cluster()).await.expect("docker");
    let cp = docker.control_plane().await.expect("control plane");
    let admin = docker.read_file(&cp, ADMIN_CONF).await.expect("admin.conf");
    let (_, port) = docker
        .published_port(&cp, "6443/tcp")
        .await
        .expect("inspect")
        .expect("6443 published");
    kind_kubeconfig(
        &String::from_utf8(admin).expect("utf-8"),
        &cluster(),
        "127.0.0.1",
        port,
    )
    .expect("kind kubeconfig")
}

/// `chaos run PLAYBOOK --cluster C ARGS...` with a private state folder.
async fn chaos_run(playbook: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let state = tempfile::tempdir().unwrap();
    let mut c = chaos_in(state.path());
    c.arg("run")
        .arg(playbook)
        .args(["--cluster", &cluster()])
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || c.output().expect("chaos runs"))
        .await
        .unwrap();
    drop(state);
    out
}

fn fixture(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/kube").join(name)
}

/// Deletes a namespace and waits (up to 2 minutes) until it is gone.
async fn remove_namespace(k: &KubeBackend, name: &str) {
    let _ = k
        .delete(
            &rref("v1", "Namespace", None, name),
            &DeleteOptions::default(),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if k.namespace(name).await.ok().flatten().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("namespace {name} did not go within 2 minutes");
}

#[tokio::test]
#[ignore = "needs a kind cluster"]
async fn e2e_connects_and_reads_the_seeds_cluster_shape() {
    let k = backend().await;
    assert_eq!(k.context(), format!("kind-{}", cluster()));
    let nodes = k.nodes().await.unwrap();
    let c = cluster();
    let worker = nodes
        .iter()
        .find(|n| n.name == format!("{c}-worker"))
        .unwrap();
    assert_eq!(worker.ready, "True");
    assert_eq!(
        worker.labels.get("mock-server").map(String::as_str),
        Some("true")
    );
    let worker2 = nodes
        .iter()
        .find(|n| n.name == format!("{c}-worker2"))
        .unwrap();
    assert!(
        worker2.taints.iter().any(|t| t.key == "playground_test"),
        "{worker2:?}"
    );
    let system = k
        .pods(&kind_chaos::backends::PodQuery {
            namespace: Some("kube-system".into()),
            selector: Some("component=kube-apiserver".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(system.len(), 1);
    assert_eq!(system[0].phase, "Running");
}

#[tokio::test]
#[ignore = "needs a kind cluster"]
async fn e2e_without_a_kubeconfig_the_credentials_come_from_the_control_plane_container() {
    let k = backend().await;
    k.apply(&[namespace("scratch")], None).await.unwrap();
    let out = chaos_run(
        &fixture("api-only.yaml"),
        &[],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test]
#[ignore = "needs a kind cluster"]
async fn e2e_dangling_resources_lab_with_node_checks() {
    let out = chaos_run(&root().join("playbooks/dangling-resources.yaml"), &[], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    remove_namespace(&backend().await, "dangling-resources").await;
}

#[tokio::test]
#[ignore = "needs a kind cluster"]
async fn e2e_forced_delete_lab() {
    let start = Instant::now();
    let out = chaos_run(&fixture("forced-delete.yaml"), &[], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    eprintln!("forced-delete lab took {:?}", start.elapsed());
    remove_namespace(&backend().await, "collected-resources").await;
}

#[tokio::test]
#[ignore = "needs a kind cluster"]
async fn e2e_an_unknown_kind_is_exit_4_with_the_file_and_document() {
    let out = chaos_run(&fixture("unknown-kind.yaml"), &[], &[]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(
        all.contains("document 2 (Pdo web): unknown kind `Pdo`"),
        "{all}"
    );
    assert!(all.contains("unknown-kind.yaml"), "{all}");
}

#[tokio::test]
#[ignore = "needs a kind cluster"]
async fn e2e_a_foreign_context_is_refused_unless_allowed() {
    let k = backend().await;
    k.apply(&[namespace("scratch")], None).await.unwrap();
    let mut kc = kind_kubeconfig_yaml().await;
    let kind_name = format!("kind-{}", cluster());
    for c in kc.contexts.iter_mut().filter(|c| c.name == kind_name) {
        c.name = "prod".into();
    }
    kc.current_context = Some("prod".into());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, serde_json::to_string(&kc).unwrap()).unwrap();
    let p = path.display().to_string();
    let out = chaos_run(
        &fixture("api-only.yaml"),
        &["--kubeconfig", &p, "--context", "prod"],
        &[],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(all.contains("refusing to inject faults"), "{all}");
    let out = chaos_run(
        &fixture("api-only.yaml"),
        &[
            "--kubeconfig",
            &p,
            "--context",
            "prod",
            "--allow-context",
            "prod",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test]
#[ignore = "needs a kind cluster"]
async fn e2e_rbac_forbidden_is_exit_4_with_a_clear_message() {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    let k = backend().await;
    let sa = serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "kind-chaos-e2e-nobody", "namespace": "default"}});
    k.apply(&[sa], None).await.unwrap();
    let api: ::kube::Api<ServiceAccount> = ::kube::Api::namespaced(k.client().clone(), "default");
    let req = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token = api
        .create_token_request("kind-chaos-e2e-nobody", &Default::default(), &req)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
        .expect("a token");
    let mut kc = kind_kubeconfig_yaml().await;
    let kind_name = format!("kind-{}", cluster());
    let user = kc
        .contexts
        .iter()
        .find(|c| c.name == kind_name)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
        .unwrap();
    for u in kc.auth_infos.iter_mut().filter(|u| u.name == user) {
        u.auth_info = Some(::kube::config::AuthInfo {
            token: Some(token.clone().into()),
            ..Default::default()
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, serde_json::to_string(&kc).unwrap()).unwrap();
    let p = path.display().to_string();
    let out = chaos_run(&fixture("api-only.yaml"), &["--kubeconfig", &p], &[]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(all.contains("forbidden:"), "{all}");
    assert!(all.contains("(RBAC)"), "{all}");
    assert!(!all.contains(&token), "the token never reaches the output");
    let _ = k
        .delete(
            &rref(
                "v1",
                "ServiceAccount",
                Some("default"),
                "kind-chaos-e2e-nobody",
            ),
            &DeleteOptions::default(),
        )
        .await;
}

#[tokio::test]
#[ignore = "needs a kind cluster"]
async fn e2e_a_wait_is_woken_by_the_watch_not_the_interval() {
    let k = Arc::new(backend().await);
    remove_namespace(&k, "kind-chaos-e2e-watch").await;
    let p = support::plan(&format!(
        "{}steps:\n  - wait:\n      until: {{namespace: {{name: kind-chaos-e2e-watch, state: active}}}}\n      timeout: 50s\n      interval: 1m\n",
        support::HEADER
    ));
    let creator = k.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        creator
            .apply(&[namespace("kind-chaos-e2e-watch")], None)
            .await
            .unwrap();
    });
    let mut rec = Recorder::default();
    let report = engine::run(
        &p,
        Arc::new(KubeOnly(k.clone())),
        &mut rec,
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await;
    assert_eq!(report.steps[0].status, StepStatus::Passed);
    let took = report.steps[0].duration;
    eprintln!("watch-driven wait on a real cluster: created at 500ms, seen at {took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    remove_namespace(&k, "kind-chaos-e2e-watch").await;
}

#[tokio::test]
#[ignore = "needs a kind cluster"]
async fn e2e_finalizer_blocks_a_pod_until_removed() {
    let k = backend().await;
    let ns = "kind-chaos-e2e-finalizer";
    remove_namespace(&k, ns).await;
    let mut pod = support::kube::pod(ns, "held", None, &[]);
    pod["spec"]["containers"][0]["image"] = "kind-chaos/small-entrypoint-shell:0.1.0".into();
    pod["spec"]["containers"][0]["imagePullPolicy"] = "Never".into();
    k.apply(&[namespace(ns), pod], None).await.unwrap();
    let r = rref("v1", "Pod", Some(ns), "held");
    assert!(
        k.finalizer(
            &r,
            "kind-chaos.dev/e2e",
            kind_chaos::backends::FinalizerOp::Add
        )
        .await
        .unwrap()
    );
    k.delete(&r, &DeleteOptions::force()).await.unwrap();
    let q = kind_chaos::backends::PodQuery {
        namespace: Some(ns.into()),
        ..Default::default()
    };
    let pods = k.pods(&q).await.unwrap();
    assert_eq!(pods.len(), 1);
    assert!(pods[0].deletion_timestamp.is_some());
    assert!(
        k.finalizer(
            &r,
            "kind-chaos.dev/e2e",
            kind_chaos::backends::FinalizerOp::Remove
        )
        .await
        .unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !k.pods(&q).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the pod did not go");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    remove_namespace(&k, ns).await;
}
