//! Reads and writes through the served API server see what etcd holds at once (issue 14):
//! a key put straight into etcd, as `etcdctl put` puts it, is found by a GET and a DELETE
//! sent right after the put (the server's cache follows etcd a little later; upstream reads
//! etcd for both), and a consistent LIST reaches a revision made outside `/registry/`,
//! which no watch event brings (etcd's progress notification does). The rules one by one,
//! deterministically, are in src/store/fresh_tests.rs. Needs Debian's `etcd` on the host:
//! fails (never skips) without it.

#[path = "support/etcd.rs"]
mod etcd_support;
#[path = "support/serve_etcd.rs"]
mod serve_etcd;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::json;

use etcd_support::TestEtcd;
use serve_etcd::Served;

/// Rounds of put-then-read: each round is a chance for a cache read to lose the race.
const ROUNDS: usize = 20;

#[tokio::test(flavor = "multi_thread")]
async fn a_key_put_in_etcd_is_found_by_an_immediate_get_and_delete() {
    let etcd = TestEtcd::start("etcd-test-control-plane").await;
    let s = Served::start(&etcd);
    let cms: Api<ConfigMap> = Api::namespaced(s.client().await, "default");
    let mut raw = etcd.client().await;
    cms.list(&ListParams::default())
        .await
        .expect("the API answers");

    for i in 0..ROUNDS {
        let name = format!("restored-{i}");
        let value = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": name, "namespace": "default", "uid": format!("uid-{i}"),
                "creationTimestamp": "2026-01-01T00:00:00Z"
            },
            "data": {"round": i.to_string()}
        });
        let put = raw
            .put(
                format!("/registry/configmaps/default/{name}"),
                value.to_string(),
                None,
            )
            .await
            .expect("raw put");
        let put_rev = put.header().expect("header").revision().to_string();
        let got = cms
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("round {i}: GET right after the put: {e}"));
        assert_eq!(got.metadata.resource_version, Some(put_rev), "round {i}");
        cms.delete(&name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("round {i}: DELETE right after the put: {e}"));

        // The same with the DELETE first, as the lab's undo sends it.
        let again = format!("again-{i}");
        let mut value = value;
        value["metadata"]["name"] = json!(again);
        raw.put(
            format!("/registry/configmaps/default/{again}"),
            value.to_string(),
            None,
        )
        .await
        .expect("raw put");
        cms.delete(&again, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("round {i}: DELETE right after the put: {e}"));
        assert!(
            cms.get_opt(&again).await.expect("get").is_none(),
            "round {i}: deleted"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consistent_list_reaches_a_revision_made_outside_the_registry() {
    let etcd = TestEtcd::start("etcd-test-control-plane").await;
    let s = Served::start(&etcd);
    let cms: Api<ConfigMap> = Api::namespaced(s.client().await, "default");
    let mut raw = etcd.client().await;
    cms.list(&ListParams::default())
        .await
        .expect("the API answers");

    let put = raw
        .put("/not-the-registry/x", "x", None)
        .await
        .expect("raw put");
    let rev = put.header().expect("header").revision() as u64;
    let t0 = Instant::now();
    let list = cms.list(&ListParams::default()).await.expect("list");
    let list_rv: u64 = list
        .metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("list resourceVersion");
    assert!(
        list_rv >= rev,
        "a consistent list is at etcd's revision {rev} or later, got {list_rv}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "reached through a progress notification, not a timeout: {:?}",
        t0.elapsed()
    );
}
