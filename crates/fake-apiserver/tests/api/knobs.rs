use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};

use crate::common::{api_status, pod, start};

#[tokio::test]
async fn pod_logs_current_and_previous() {
    let (server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod("logger", Some("kind-worker"), &[]),
    )
    .await
    .expect("create");
    server.set_pod_log("default", "logger", "main", false, "line one\nline two\n");
    server.set_pod_log("default", "logger", "main", true, "before the crash\n");
    let current = pods
        .logs("logger", &LogParams::default())
        .await
        .expect("logs");
    assert_eq!(current, "line one\nline two\n");
    let tail = pods
        .logs(
            "logger",
            &LogParams {
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("tail");
    assert_eq!(tail, "line two\n");
    let previous = pods
        .logs(
            "logger",
            &LogParams {
                previous: true,
                container: Some("main".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(previous.expect("previous"), "before the crash\n");
    let err = pods
        .logs(
            "logger",
            &LogParams {
                container: Some("nope".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("bad container");
    assert_eq!(api_status(&err).0, 400);
    let err = pods
        .logs("missing", &LogParams::default())
        .await
        .expect_err("no pod");
    assert_eq!(api_status(&err), (404, "NotFound".into()));
}

#[tokio::test]
async fn injected_failures() {
    let (server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("victim", None, &[]))
        .await
        .expect("create");
    server.fail_next(
        "DELETE",
        "/api/v1/namespaces/default/pods",
        fake_apiserver::Fault::forbidden("pods \"victim\" is forbidden: User \"chaos\" cannot delete resource \"pods\" in API group \"\" in the namespace \"default\""),
    );
    let err = pods
        .delete("victim", &DeleteParams::default())
        .await
        .expect_err("forbidden");
    assert_eq!(api_status(&err), (403, "Forbidden".into()));
    server.fail_next(
        "*",
        "/api/v1",
        fake_apiserver::Fault::internal("etcdserver: request timed out").times(2),
    );
    for _ in 0..2 {
        assert_eq!(
            api_status(&pods.get("victim").await.expect_err("500")).0,
            500
        );
    }
    assert!(pods.get("victim").await.is_ok(), "the fault was used up");

    server.fail_next(
        "GET",
        "/api/v1/namespaces/default/pods/victim",
        fake_apiserver::Fault::delay(Duration::from_millis(300)),
    );
    let started = std::time::Instant::now();
    pods.get("victim").await.expect("delayed get");
    assert!(started.elapsed() >= Duration::from_millis(300));

    server.fail_next(
        "GET",
        "/api/v1/namespaces/default/pods/victim",
        fake_apiserver::Fault::disconnect(),
    );
    assert!(
        !matches!(pods.get("victim").await, Ok(_) | Err(kube::Error::Api(_))),
        "connection dropped"
    );
}

#[tokio::test]
async fn recorded_events_are_listed() {
    let (server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("evented", None, &[]))
        .await
        .expect("create");
    let stored = server
        .get("v1", "Pod", Some("default"), "evented")
        .expect("stored");
    server
        .record_event(
            &stored,
            "Warning",
            "BackOff",
            "Back-off restarting failed container",
        )
        .expect("event");
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let found = events
        .list(&ListParams::default().fields("involvedObject.name=evented,reason=BackOff"))
        .await
        .expect("events");
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].type_.as_deref(), Some("Warning"));
}
