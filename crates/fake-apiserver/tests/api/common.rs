//! Test helpers: a started server with a kube client built from its kubeconfig.

use std::time::Duration;

use fake_apiserver::FakeApiServer;
use k8s_openapi::api::core::v1::Pod;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

pub async fn start() -> (FakeApiServer, kube::Client) {
    let server = FakeApiServer::start().await.expect("fake apiserver starts");
    let kubeconfig =
        Kubeconfig::from_yaml(&server.kubeconfig_yaml("kind-fake")).expect("kubeconfig parses");
    let options = KubeConfigOptions {
        context: Some("kind-fake".into()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("kube config");
    let client = kube::Client::try_from(config).expect("kube client");
    (server, client)
}

/// Polls `check` every 10 ms until it holds, for at most 5 s.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A busybox pod like the labs' (grace 5 s), optionally bound to a node and with finalizers.
pub fn pod(name: &str, node: Option<&str>, finalizers: &[&str]) -> Pod {
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [{ "name": "main", "image": "busybox", "command": ["sh", "-c", "while true; do echo .; sleep 30; done"] }],
        },
    });
    if let Some(node) = node {
        v["spec"]["nodeName"] = json!(node);
    }
    if !finalizers.is_empty() {
        v["metadata"]["finalizers"] = json!(finalizers);
    }
    serde_json::from_value(v).expect("pod json")
}

pub fn api_status(err: &kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub fn is_terminating(v: &Value) -> bool {
    v["metadata"]["deletionTimestamp"].is_string()
}
