use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher::{self, Event};
use serde_json::json;

use crate::common::start;

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(
        json!({ "metadata": { "name": name, "labels": { "w": "yes" } }, "data": {} }),
    )
    .expect("cm")
}

fn set_data(v: &str) -> Patch<serde_json::Value> {
    Patch::Merge(json!({ "data": { "v": v } }))
}

async fn next<S, T>(stream: &mut S) -> T
where
    S: futures::Stream<Item = T> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("event in time")
        .expect("stream open")
}

#[tokio::test]
async fn watch_sees_added_modified_deleted_in_order() {
    let (_server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = cms
        .watch(&WatchParams::default().labels("w=yes"), &rv)
        .await
        .expect("watch")
        .boxed();
    cms.create(&PostParams::default(), &configmap("x"))
        .await
        .expect("create");
    cms.patch("x", &PatchParams::default(), &set_data("1"))
        .await
        .expect("patch");
    cms.delete("x", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match next(&mut stream).await.expect("event") {
            WatchEvent::Added(_) => seen.push("ADDED"),
            WatchEvent::Modified(cm) => {
                assert_eq!(
                    cm.data.and_then(|d| d.get("v").cloned()).as_deref(),
                    Some("1")
                );
                seen.push("MODIFIED");
            }
            WatchEvent::Deleted(_) => seen.push("DELETED"),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn broken_watch_is_resumed_without_missing_a_transition() {
    let (server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut events = watcher::watcher(cms.clone(), watcher::Config::default()).boxed();
    loop {
        if let Event::InitDone = next(&mut events).await.expect("init") {
            break;
        }
    }
    cms.create(&PostParams::default(), &configmap("r"))
        .await
        .expect("create");
    match next(&mut events).await.expect("apply") {
        Event::Apply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("r")),
        other => panic!("unexpected {other:?}"),
    }
    // Break the stream, then change the object while no watch is open.
    server.break_watches();
    cms.patch("r", &PatchParams::default(), &set_data("while-broken"))
        .await
        .expect("patch");
    cms.delete("r", &DeleteParams::default())
        .await
        .expect("delete");
    let mut got_modified = false;
    loop {
        match next(&mut events).await {
            Ok(Event::Apply(cm)) => {
                assert_eq!(
                    cm.data.and_then(|d| d.get("v").cloned()).as_deref(),
                    Some("while-broken")
                );
                got_modified = true;
            }
            Ok(Event::Delete(cm)) => {
                assert_eq!(cm.metadata.name.as_deref(), Some("r"));
                break;
            }
            Ok(other) => panic!("a resumed watch must not re-list: {other:?}"),
            Err(e) => panic!("unexpected watcher error {e}"),
        }
    }
    assert!(
        got_modified,
        "the modification made while the watch was broken was missed"
    );
    let watches: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.query_param("watch").is_some())
        .collect();
    assert!(watches.len() >= 2, "the watcher reconnected");
    let lists = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.query_param("watch").is_none())
        .count();
    assert_eq!(
        lists, 1,
        "resumed from the last resourceVersion, no re-list"
    );
}

#[tokio::test]
async fn too_old_resource_version_makes_the_watcher_relist() {
    let (server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut events = watcher::watcher(cms.clone(), watcher::Config::default()).boxed();
    loop {
        if let Event::InitDone = next(&mut events).await.expect("init") {
            break;
        }
    }
    cms.create(&PostParams::default(), &configmap("late"))
        .await
        .expect("create");
    server.compact_history();
    let mut saw_gone = false;
    let mut relisted = false;
    loop {
        match next(&mut events).await {
            Err(watcher::Error::WatchError(status)) => {
                assert_eq!(status.code, 410);
                saw_gone = true;
            }
            Ok(Event::InitApply(cm)) if cm.metadata.name.as_deref() == Some("late") => {
                relisted = true
            }
            Ok(Event::InitDone) if relisted => break,
            _ => {}
        }
    }
    assert!(saw_gone);
}

#[tokio::test]
async fn watch_from_zero_replays_existing_objects_and_times_out() {
    let (server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &configmap("old"))
        .await
        .expect("create");
    let stream = cms
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .expect("watch");
    let all: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stream.try_collect::<Vec<_>>())
        .await
        .expect("watch ends after its timeout")
        .expect("events");
    assert!(
        matches!(all.first(), Some(WatchEvent::Added(cm)) if cm.metadata.name.as_deref() == Some("old"))
    );
    drop(server);
}

#[tokio::test]
async fn selector_watch_sees_objects_leave_and_enter() {
    let (_server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &configmap("moving"))
        .await
        .expect("create");
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = cms
        .watch(&WatchParams::default().labels("w=yes"), &rv)
        .await
        .expect("watch")
        .boxed();
    let relabel = |v: &str| Patch::Merge(json!({ "metadata": { "labels": { "w": v } } }));
    cms.patch("moving", &PatchParams::default(), &relabel("no"))
        .await
        .expect("leave");
    cms.patch("moving", &PatchParams::default(), &relabel("yes"))
        .await
        .expect("enter");
    assert!(matches!(
        next(&mut stream).await,
        Ok(WatchEvent::Deleted(_))
    ));
    assert!(matches!(next(&mut stream).await, Ok(WatchEvent::Added(_))));
}

#[tokio::test]
async fn shutdown_closes_the_server() {
    let (server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut stream = cms
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    server.shutdown();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "open watches end");
    let fresh = kube::Client::try_from(kube::Config::new(server.url().parse().expect("url")))
        .expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(fresh, "default");
    assert!(
        !matches!(
            cms.list(&ListParams::default()).await,
            Ok(_) | Err(kube::Error::Api(_))
        ),
        "nothing answers"
    );
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events() {
    let (_server, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &configmap("pre"))
        .await
        .expect("create");
    let mut events =
        watcher::watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        match next(&mut events).await.expect("event") {
            Event::InitApply(cm) => initial.push(cm.metadata.name.unwrap_or_default()),
            Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["pre"]);
    cms.create(&PostParams::default(), &configmap("post"))
        .await
        .expect("create");
    assert!(
        matches!(next(&mut events).await, Ok(Event::Apply(cm)) if cm.metadata.name.as_deref() == Some("post"))
    );
}
