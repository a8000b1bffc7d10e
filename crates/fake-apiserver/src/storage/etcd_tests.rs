//! The etcd storage against a real etcd (Debian's `etcd` on the host; fails, never skips,
//! without it): every write an etcd transaction whose compare refuses a stale revision, the
//! server's own writes not mistaken for others' on the watch, a raw delete reported.

use std::time::Duration;

use serde_json::json;

use super::etcd::{EtcdConfig, EtcdStorage};
use super::{Outside, Storage, StorageError, Write};

#[path = "../../tests/support/etcd.rs"]
mod etcd_support;

const KEY: &str = "/registry/configmaps/default/x";

/// Runs `f` on the storage off the async runtime (the storage blocks on etcd).
async fn with<T: Send + 'static>(
    st: EtcdStorage,
    f: impl FnOnce(&mut EtcdStorage) -> T + Send + 'static,
) -> (EtcdStorage, T) {
    tokio::task::spawn_blocking(move || {
        let mut st = st;
        let out = f(&mut st);
        (st, out)
    })
    .await
    .expect("blocking task")
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_are_transactions_that_refuse_a_stale_revision() {
    let etcd = etcd_support::TestEtcd::start("unit").await;
    let pki = etcd.pki();
    let read = |f: &str| std::fs::read_to_string(pki.join(f)).expect("PKI file");
    let cfg = EtcdConfig {
        endpoints: vec![etcd.endpoint.clone()],
        ca_pem: read("etcd/ca.crt"),
        cert_pem: read("apiserver-etcd-client.crt"),
        key_pem: read("apiserver-etcd-client.key"),
    };
    let st = tokio::task::spawn_blocking(move || EtcdStorage::connect(cfg))
        .await
        .expect("task")
        .expect("connects with the API server's etcd client certificate");
    let (st, r1) = with(st, |st| {
        st.list_all().expect("list");
        let v = json!({"metadata": {"name": "x", "resourceVersion": "7"}, "data": {"a": "1"}});
        let r1 = st
            .commit(
                Write::Create {
                    key: KEY,
                    value: &v,
                },
                0,
            )
            .expect("create");
        assert!(
            st.outside_changes(Some(r1)).is_empty(),
            "the server's own write is not someone else's"
        );
        match st.commit(
            Write::Create {
                key: KEY,
                value: &v,
            },
            r1,
        ) {
            Err(StorageError::Conflict { found }) => assert_eq!(found, r1),
            other => panic!("a second create must conflict, got {other:?}"),
        }
        r1
    })
    .await;

    let mut raw = etcd.client().await;
    let got = raw.get(KEY, None).await.expect("get");
    let kv = got.kvs().first().expect("stored");
    assert_eq!(
        kv.mod_revision() as u64,
        r1,
        "the create's revision is the key's"
    );
    let stored: serde_json::Value = serde_json::from_slice(kv.value()).expect("JSON");
    assert_eq!(stored["data"]["a"], "1");
    assert!(
        stored["metadata"].get("resourceVersion").is_none(),
        "{stored}"
    );

    let (st, r2) = with(st, move |st| {
        let v = json!({"metadata": {"name": "x"}, "data": {"a": "2"}});
        let r2 = st
            .commit(
                Write::Update {
                    key: KEY,
                    expect: r1,
                    value: &v,
                },
                r1,
            )
            .expect("update from the current revision");
        assert!(r2 > r1);
        st.outside_changes(Some(r2));
        let stale = st.commit(
            Write::Update {
                key: KEY,
                expect: r1,
                value: &v,
            },
            r2,
        );
        assert!(
            matches!(stale, Err(StorageError::Conflict { found }) if found == r2),
            "a stale update must conflict: {stale:?}"
        );
        let stale = st.commit(
            Write::Delete {
                key: KEY,
                expect: r1,
            },
            r2,
        );
        assert!(
            matches!(stale, Err(StorageError::Conflict { .. })),
            "a stale delete must conflict: {stale:?}"
        );
        r2
    })
    .await;

    let del = raw.delete(KEY, None).await.expect("raw delete");
    let del_rev = del.header().expect("header").revision() as u64;
    assert!(del_rev > r2);
    let (_, seen) = with(st, move |st| {
        for _ in 0..100 {
            let changes = st.outside_changes(None);
            if !changes.is_empty() {
                return changes;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Vec::new()
    })
    .await;
    match seen.as_slice() {
        [Outside::Delete { key, revision }] => {
            assert_eq!((key.as_str(), *revision), (KEY, del_rev));
        }
        other => panic!("the raw delete, alone, must be reported: {other:?}"),
    }
}
