//! The served API server over a real etcd (`serve --etcd-servers`, as the control plane of
//! `scripts/testcluster.sh up --api` runs it): objects at upstream's keys, resourceVersion =
//! the key's mod_revision, 409 on a stale update, a raw etcd delete seen through GET, LIST
//! and WATCH (and a Deployment's controller replacing the pod), objects kept across a
//! restart. Needs Debian's `etcd` on the host: fails (never skips) without it.

#[path = "support/etcd.rs"]
mod etcd_support;
#[path = "support/serve_etcd.rs"]
mod serve_etcd;

use std::time::Duration;

use etcd_client::GetOptions;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

use etcd_support::TestEtcd;
use serve_etcd::Served;

fn rv(meta: &kube::api::ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("a numeric resourceVersion")
}

/// The raw value and mod_revision at `key`, if any.
async fn raw_get(etcd: &mut etcd_client::Client, key: &str) -> Option<(Value, u64)> {
    let resp = etcd.get(key, None).await.expect("etcd get");
    resp.kvs().first().map(|kv| {
        (
            serde_json::from_slice(kv.value()).expect("a JSON value"),
            kv.mod_revision() as u64,
        )
    })
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": { "name": name, "namespace": "default" },
        "data": { "answer": "42" }
    }))
    .expect("configmap")
}

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 5 s: {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_live_at_upstreams_keys_with_mod_revision_as_resource_version() {
    let etcd = TestEtcd::start("etcd-test-control-plane").await;
    let s = Served::start(&etcd);
    let client = s.client().await;
    let mut raw = etcd.client().await;

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let made = cms
        .create(&PostParams::default(), &cm("c1"))
        .await
        .expect("create");
    let (value, modrev) = raw_get(&mut raw, "/registry/configmaps/default/c1")
        .await
        .expect("the ConfigMap at /registry/configmaps/default/c1");
    assert_eq!(value["data"]["answer"], "42");
    assert_eq!(value["metadata"]["uid"], json!(made.metadata.uid));
    assert!(
        value["metadata"].get("resourceVersion").is_none(),
        "the stored value carries no resourceVersion: {value}"
    );
    assert_eq!(rv(&made.metadata), modrev, "resourceVersion = mod_revision");
    let got = cms.get("c1").await.expect("get");
    assert_eq!(rv(&got.metadata), modrev);

    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "ns1"}})).expect("ns"),
    )
    .await
    .expect("namespace");
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "n1"}})).expect("node"),
        )
        .await
        .expect("node");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "ns1");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "p1"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}
        }))
        .expect("pod"),
    )
    .await
    .expect("pod");
    let leases: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        "kube-node-lease",
        &kube::api::ApiResource {
            group: "coordination.k8s.io".into(),
            version: "v1".into(),
            api_version: "coordination.k8s.io/v1".into(),
            kind: "Lease".into(),
            plural: "leases".into(),
        },
    );
    leases
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "n1", "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": "n1"}
            }))
            .expect("lease"),
        )
        .await
        .expect("lease");
    for key in [
        "/registry/namespaces/default",
        "/registry/namespaces/kube-system",
        "/registry/namespaces/ns1",
        "/registry/minions/n1",
        "/registry/pods/ns1/p1",
        "/registry/leases/kube-node-lease/n1",
    ] {
        assert!(raw_get(&mut raw, key).await.is_some(), "{key} in etcd");
    }

    // A list's resourceVersion is etcd's revision (when nothing else writes meanwhile).
    let mut matched = false;
    for _ in 0..20 {
        let before = raw
            .get(
                "/registry/",
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await
            .expect("count")
            .header()
            .expect("header")
            .revision() as u64;
        let list = cms.list(&ListParams::default()).await.expect("list");
        let list_rv: u64 = list
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("list resourceVersion");
        let after = raw
            .get(
                "/registry/",
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await
            .expect("count")
            .header()
            .expect("header")
            .revision() as u64;
        if before == after {
            assert_eq!(list_rv, after, "list resourceVersion = etcd's revision");
            matched = true;
            break;
        }
    }
    assert!(matched, "etcd kept changing while listing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_update_is_a_conflict() {
    let etcd = TestEtcd::start("etcd-test-control-plane").await;
    let s = Served::start(&etcd);
    let cms: Api<ConfigMap> = Api::namespaced(s.client().await, "default");
    let first = cms
        .create(&PostParams::default(), &cm("c"))
        .await
        .expect("create");

    let mut newer = first.clone();
    newer.data = Some([("answer".to_string(), "43".to_string())].into());
    let stored = cms
        .replace("c", &PostParams::default(), &newer)
        .await
        .expect("an update from the current resourceVersion");
    assert!(rv(&stored.metadata) > rv(&first.metadata));

    let mut stale = first.clone();
    stale.data = Some([("answer".to_string(), "44".to_string())].into());
    match cms.replace("c", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"), "{e:?}")
        }
        other => panic!("a stale update must be 409 Conflict, got {other:?}"),
    }

    // A write made in etcd behind the server's back makes the server's copy stale too.
    let mut raw = etcd.client().await;
    let (mut value, _) = raw_get(&mut raw, "/registry/configmaps/default/c")
        .await
        .expect("stored");
    value["data"]["answer"] = json!("from-etcd");
    let put = raw
        .put("/registry/configmaps/default/c", value.to_string(), None)
        .await
        .expect("raw put");
    let put_rev = put.header().expect("header").revision() as u64;
    eventually("the raw put reaches the API", || async {
        cms.get("c").await.is_ok_and(|c| rv(&c.metadata) == put_rev)
    })
    .await;
    let seen = cms.get("c").await.expect("get");
    assert_eq!(
        seen.data
            .as_ref()
            .and_then(|d| d.get("answer"))
            .map(String::as_str),
        Some("from-etcd")
    );
    match cms.replace("c", &PostParams::default(), &stored).await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 409, "{e:?}"),
        other => panic!("an update from before the raw put must be 409, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raw_etcd_delete_is_seen_by_get_list_and_watch() {
    let etcd = TestEtcd::start("etcd-test-control-plane").await;
    let s = Served::start(&etcd);
    let client = s.client().await;
    let mut raw = etcd.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "victim"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}
        }))
        .expect("pod"),
    )
    .await
    .expect("create");
    let list = pods.list(&ListParams::default()).await.expect("list");
    let from = list.metadata.resource_version.clone().expect("list rv");
    let mut events = pods
        .watch(&WatchParams::default().timeout(20), &from)
        .await
        .expect("watch")
        .boxed();

    let del = raw
        .delete("/registry/pods/default/victim", None)
        .await
        .expect("raw delete");
    assert_eq!(del.deleted(), 1);
    let del_rev = del.header().expect("header").revision() as u64;

    let deleted = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(ev) = events.try_next().await.expect("watch stream") {
            if let WatchEvent::Deleted(p) = ev {
                return p;
            }
        }
        panic!("the watch ended without DELETED");
    })
    .await
    .expect("DELETED within 5 s");
    assert_eq!(deleted.metadata.name.as_deref(), Some("victim"));
    assert_eq!(
        rv(&deleted.metadata),
        del_rev,
        "DELETED at the delete's revision"
    );
    match pods.get("victim").await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 404),
        other => panic!("GET after the raw delete must be 404, got {other:?}"),
    }
    let list = pods.list(&ListParams::default()).await.expect("list");
    assert!(
        list.items
            .iter()
            .all(|p| p.metadata.name.as_deref() != Some("victim"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployments_pod_deleted_in_etcd_is_replaced_under_a_new_name() {
    let etcd = TestEtcd::start("etcd-test-control-plane").await;
    let s = Served::start(&etcd);
    let client = s.client().await;
    let mut raw = etcd.client().await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deps.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}
                }
            }
        }))
        .expect("deployment"),
    )
    .await
    .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let lp = ListParams::default().labels("app=web");
    let mut first = None;
    for _ in 0..100 {
        let l = pods.list(&lp).await.expect("list");
        if let [p] = l.items.as_slice() {
            first = p.metadata.name.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = first.expect("the Deployment's pod within 5 s");
    let key = format!("/registry/pods/default/{first}");
    assert!(raw_get(&mut raw, &key).await.is_some(), "{key} in etcd");
    raw.delete(key.as_str(), None).await.expect("raw delete");
    eventually("a replacement with a new name", || async {
        let l = pods.list(&lp).await.expect("list");
        l.items.len() == 1 && l.items[0].metadata.name.as_deref() != Some(first.as_str())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_survive_a_restart_of_the_server() {
    let etcd = TestEtcd::start("etcd-test-control-plane").await;
    let mut s = Served::start(&etcd);
    let cms: Api<ConfigMap> = Api::namespaced(s.client().await, "default");
    let made = cms
        .create(&PostParams::default(), &cm("kept"))
        .await
        .expect("create");
    s.stop();
    let s = Served::start(&etcd);
    let cms: Api<ConfigMap> = Api::namespaced(s.client().await, "default");
    let got = cms
        .get("kept")
        .await
        .expect("the ConfigMap after a restart");
    assert_eq!(got.metadata.uid, made.metadata.uid);
    assert_eq!(rv(&got.metadata), rv(&made.metadata));
    let list = cms.list(&ListParams::default()).await.expect("list");
    assert!(
        list.items
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some("kept"))
    );
    // The new process has no history: a watch from before its start is 410 Expired, as
    // after a restart of the real API server over a compacted etcd.
    let before = (rv(&made.metadata) - 1).to_string();
    let mut events = cms
        .watch(&WatchParams::default().timeout(5), &before)
        .await
        .expect("watch")
        .boxed();
    match events.try_next().await.expect("watch stream") {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410, "{e:?}"),
        other => panic!("a watch from before the restart must be 410, got {other:?}"),
    }
}
