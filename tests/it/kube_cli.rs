//! The `chaos` binary against the fake API server: the API-only labs end to end through
//! `--kubeconfig`, `--context`, `--allow-context` and `$KUBECONFIG`, and the exit codes and
//! messages of the bad inputs (unknown kind, unreachable server, foreign context, RBAC).
//!
//! The fake server runs in the test's tokio runtime; the binary is a child process that
//! reaches it over loopback with the kubeconfig written to a temporary folder.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;

use fake_apiserver::{Fault, PodTermination};
use support::kube::{KubeLab, namespace};
use support::{chaos_in, text};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kube")
        .join(name)
        .display()
        .to_string()
}

/// `chaos run FIXTURE ARGS...` with a private state folder, off the test's runtime threads.
/// The fake API server has no kind node containers beside it, so the kind context is allowed
/// by name unless the test names its own (see [`chaos_run_strict`]).
async fn chaos_run(state: &Path, playbook: &str, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut args = args.to_vec();
    if !args.contains(&"--allow-context") {
        args.extend(["--allow-context", "kind-test"]);
    }
    chaos_run_strict(state, playbook, &args, env).await
}

/// `chaos run FIXTURE ARGS...` exactly as given.
async fn chaos_run_strict(
    state: &Path,
    playbook: &str,
    args: &[&str],
    env: &[(&str, &Path)],
) -> Output {
    let mut c = chaos_in(state);
    c.env_remove("KUBECONFIG")
        .arg("run")
        .arg(fixture(playbook))
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    tokio::task::spawn_blocking(move || c.output().expect("chaos runs"))
        .await
        .expect("joined")
}

fn kubeconfig_arg(lab: &KubeLab) -> Vec<String> {
    vec!["--kubeconfig".into(), lab.kubeconfig.display().to_string()]
}

async fn run_lab(lab: &KubeLab, playbook: &str, extra: &[&str]) -> Output {
    let state = lab.dir.path().join("state");
    let mut args: Vec<String> = kubeconfig_arg(lab);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chaos_run(&state, playbook, &args, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forced_delete_lab_passes_through_the_binary() {
    let lab = KubeLab::with_nodes().await;
    lab.server.pod_termination(PodTermination::GracePeriod);
    let out = run_lab(&lab, "forced-delete.yaml", &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let forced = lab
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .any(|r| {
            r.option("gracePeriodSeconds").as_deref() == Some("0")
                && r.option("propagationPolicy").as_deref() == Some("Background")
        });
    assert!(forced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_kubeconfig_comes_from_the_environment() {
    let lab = KubeLab::start().await;
    lab.insert(namespace("scratch"));
    let state = lab.dir.path().join("state");
    let out = chaos_run(
        &state,
        "api-only.yaml",
        &[],
        &[("KUBECONFIG", lab.kubeconfig.as_path())],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kind_is_exit_4_naming_the_file_and_the_document() {
    let lab = KubeLab::start().await;
    let out = run_lab(&lab, "unknown-kind.yaml", &[]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(all.contains("unknown-kind.yaml"), "{all}");
    assert!(
        all.contains("document 2 (Pdo web): unknown kind `Pdo`"),
        "{all}"
    );
    assert!(all.contains("did you mean `Pod`?"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_that_refuses_connections_is_exit_3_with_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let kc: PathBuf = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\ncontexts:\n- name: kind-test\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user: {{token: SECRET-TOKEN}}\n"
        ),
    )
    .unwrap();
    let kc_arg = kc.display().to_string();
    let out = chaos_run(
        &dir.path().join("state"),
        "api-only.yaml",
        &["--kubeconfig", &kc_arg],
        &[],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(
        all.contains(&format!(
            "cannot reach the Kubernetes API at https://127.0.0.1:{port}"
        )),
        "{all}"
    );
    assert!(all.contains("Connection refused"), "{all}");
    assert!(!all.contains("SECRET-TOKEN"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_context_is_refused_unless_allowed_by_name() {
    let lab = KubeLab::start().await;
    lab.insert(namespace("scratch"));
    let kc = lab.dir.path().join("prod.kubeconfig");
    std::fs::write(&kc, lab.server.kubeconfig_yaml("prod")).unwrap();
    let kc_arg = kc.display().to_string();
    let state = lab.dir.path().join("state");
    let out = chaos_run(
        &state,
        "api-only.yaml",
        &["--kubeconfig", &kc_arg, "--context", "prod"],
        &[],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(
        all.contains("refusing to inject faults through context `prod`"),
        "{all}"
    );
    assert!(all.contains("--allow-context prod"), "{all}");
    assert!(
        lab.get("v1", "Namespace", None, "scratch").is_some(),
        "nothing was deleted"
    );
    let out = chaos_run(
        &state,
        "api-only.yaml",
        &[
            "--kubeconfig",
            &kc_arg,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rbac_refusal_is_exit_4_with_a_clear_message() {
    let lab = KubeLab::start().await;
    lab.insert(namespace("scratch"));
    lab.server.fail_next(
        "DELETE",
        "/api/v1/namespaces/scratch",
        Fault::forbidden(
            r#"namespaces "scratch" is forbidden: User "dev" cannot delete resource "namespaces" in API group "" in the namespace "scratch""#,
        ),
    );
    let out = run_lab(&lab, "api-only.yaml", &[]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(all.contains("forbidden:"), "{all}");
    assert!(all.contains("to delete Namespace scratch (RBAC)"), "{all}");
    assert!(
        all.contains(r#"User "dev" cannot delete resource "namespaces""#),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_context_without_the_clusters_node_containers_is_refused() {
    let lab = KubeLab::start().await;
    lab.insert(namespace("scratch"));
    let state = lab.dir.path().join("state");
    let kc = lab.kubeconfig.display().to_string();
    let out = chaos_run_strict(&state, "api-only.yaml", &["--kubeconfig", &kc], &[]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(
        all.contains("refusing to use the Kubernetes API at http://127.0.0.1:"),
        "{all}"
    );
    assert!(all.contains("as kind cluster `test`"), "{all}");
    assert!(all.contains("--allow-context kind-test"), "{all}");
    assert!(
        lab.get("v1", "Namespace", None, "scratch").is_some(),
        "nothing was deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_finalizer_in_a_vanished_namespace_is_recovered_step_by_step() {
    // Issue 11.1 through the binary: `--retain` leaves the finalizer on the pod whose
    // namespace was finalized away; `chaos recover` must really remove it, saying how.
    let lab = KubeLab::with_nodes().await;
    let ns = "collected-resources";
    let out = run_lab(&lab, "finalizer-namespace-gone.yaml", &["--retain"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let held = lab.get("v1", "Pod", Some(ns), ns).expect("the pod dangles");
    assert_eq!(held["metadata"]["finalizers"][0], "kind-chaos.dev/hold");
    assert!(lab.get("v1", "Namespace", None, ns).is_none());

    let state = lab.dir.path().join("state");
    let mut c = chaos_in(&state);
    c.env_remove("KUBECONFIG")
        .arg("recover")
        .args(kubeconfig_arg(&lab))
        .args(["--allow-context", "kind-test"]);
    let out = tokio::task::spawn_blocking(move || c.output().expect("chaos recover runs"))
        .await
        .expect("joined");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for step in [
        "recreated namespace collected-resources",
        "removed finalizer kind-chaos.dev/hold from Pod collected-resources/collected-resources",
        "deleted namespace collected-resources again",
    ] {
        assert!(t.contains(step), "recover does not say `{step}`:\n{t}");
    }
    assert!(lab.get("v1", "Pod", Some(ns), ns).is_none(), "{t}");
}
