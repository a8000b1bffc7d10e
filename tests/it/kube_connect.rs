//! Connecting the Kubernetes backend: the safety rule against clusters that are not the kind
//! cluster, missing kubeconfigs and contexts, an API server that refuses or does not answer
//! (exit 3 with the URL and the reason), and credentials that never reach a message.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use fake_apiserver::{FakeApiServer, Fault};
use kind_chaos::backends::kube::{KubeTarget, connect};
use kind_chaos::backends::{ErrorKind, PodQuery};
use support::kube::{CLUSTER, KubeLab, target};

/// A kubeconfig with one context `context` for `server`, with a bearer token.
fn kubeconfig(dir: &Path, context: &str, server: &str, token: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{context}.kubeconfig"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\ncontexts:\n- name: {context}\n  context:\n    cluster: c\n    user: u\ncurrent-context: {context}\nusers:\n- name: u\n  user:\n    token: {token}\n"
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_with_the_url_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let server = format!("https://127.0.0.1:{port}");
    let kc = kubeconfig(dir.path(), "kind-test", &server, "SECRET-TOKEN-1");
    let e = connect(CLUSTER, &target(&kc), None).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message
            .starts_with(&format!("cannot reach the Kubernetes API at {server}")),
        "{}",
        e.message
    );
    assert!(e.message.contains("Connection refused"), "{}", e.message);
    assert!(!e.message.contains("SECRET-TOKEN"), "{}", e.message);
}

#[tokio::test]
async fn a_server_that_does_not_answer_times_out_as_unavailable() {
    let server = FakeApiServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, server.kubeconfig_yaml("kind-test")).unwrap();
    let t = KubeTarget {
        timeout: Some(Duration::from_millis(400)),
        ..target(&kc)
    };
    server.fail_next("GET", "/version", Fault::delay(Duration::from_secs(5)));
    let start = Instant::now();
    let e = connect(CLUSTER, &t, None).await.err().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.contains(&format!(
            "the Kubernetes API at {} did not answer within 400ms",
            server.url()
        )),
        "{}",
        e.message
    );
    // Once connected, a request that hangs fails the same way.
    let k = connect(CLUSTER, &t, None).await.unwrap();
    server.fail_next(
        "GET",
        "/api/v1/namespaces/default/pods",
        Fault::delay(Duration::from_secs(5)),
    );
    let q = PodQuery {
        namespace: Some("default".into()),
        ..Default::default()
    };
    let e = kind_chaos::backends::KubeOps::pods(&k, &q)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.contains("(to list pods in namespace default)"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_dropped_connection_is_unavailable() {
    let lab = KubeLab::start().await;
    lab.server
        .fail_next("GET", "/api/v1/nodes", Fault::disconnect().times(20));
    let e = kind_chaos::backends::KubeOps::nodes(lab.backend.as_ref())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains(&lab.server.url()), "{}", e.message);
    assert!(e.message.contains("(to list nodes)"), "{}", e.message);
}

#[tokio::test]
async fn a_context_that_is_not_the_kind_cluster_is_refused_unless_allowed_by_name() {
    let server = FakeApiServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, server.kubeconfig_yaml("prod")).unwrap();
    let t = KubeTarget {
        context: Some("prod".into()),
        ..target(&kc)
    };
    let e = connect(CLUSTER, &t, None).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.contains("refusing to inject faults through context `prod` is not kind cluster `test`'s (`kind-test`)"),
        "{}",
        e.message
    );
    assert!(e.message.contains("--allow-context prod"), "{}", e.message);
    assert!(server.requests().is_empty(), "refused before any request");

    let wrong = KubeTarget {
        allow_context: Some("staging".into()),
        ..t.clone()
    };
    let e = connect(CLUSTER, &wrong, None).await.err().unwrap();
    assert!(
        e.message
            .contains("--allow-context names `staging`, not `prod`"),
        "{}",
        e.message
    );

    let allowed = KubeTarget {
        allow_context: Some("prod".into()),
        ..t
    };
    let k = connect(CLUSTER, &allowed, None).await.unwrap();
    assert_eq!(k.context(), "prod");
    assert_eq!(k.server(), server.url());
}

#[tokio::test]
async fn a_kind_named_context_on_a_remote_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(
        dir.path(),
        "kind-test",
        "https://10.20.30.40:6443",
        "SECRET-TOKEN-2",
    );
    let e = connect(CLUSTER, &target(&kc), None).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message
            .contains("points at https://10.20.30.40:6443, which is not on this machine"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("SECRET-TOKEN"), "{}", e.message);
}

#[tokio::test]
async fn missing_kubeconfigs_and_contexts_say_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let e = connect(CLUSTER, &target(&dir.path().join("nope")), None)
        .await
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.starts_with("cannot read the kubeconfig "),
        "{}",
        e.message
    );

    let kc = kubeconfig(
        dir.path(),
        "kind-other",
        "https://127.0.0.1:1",
        "SECRET-TOKEN-3",
    );
    let e = connect(CLUSTER, &target(&kc), None).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.contains("no context `kind-test` in "),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("(its contexts: kind-other)"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("is kind cluster `test` created?"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("SECRET-TOKEN"), "{}", e.message);
}

#[tokio::test]
async fn rejected_credentials_are_unavailable_and_not_echoed() {
    let server = FakeApiServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), "kind-test", &server.url(), "SECRET-TOKEN-4");
    server.fail_next(
        "GET",
        "/version",
        Fault::status(401, "Unauthorized", "Unauthorized"),
    );
    let e = connect(CLUSTER, &target(&kc), None).await.err().unwrap();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message
            .contains("did not accept the kubeconfig's credentials"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("SECRET-TOKEN"), "{}", e.message);
    // The token did go to the server, as a header.
    assert!(server.requests().iter().any(|r| r.path == "/version"));
}
