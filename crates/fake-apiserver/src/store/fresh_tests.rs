//! The freshness rules of store/fresh.rs through the HTTP API, over a scripted storage
//! whose watch is as late as a test says: changes "put in etcd" behind the server's back
//! reach the cache only when the server catches up (a consistent read, a write), never by
//! themselves, so each rule is seen deterministically (the real etcd's watch is usually a
//! millisecond behind; tests/etcd_fresh.rs covers that).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, GetParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::FakeApiServer;
use crate::storage::{Outside, Snapshot, Storage, StorageError, Write};
use crate::store::State;

/// What the scripted etcd holds beyond the server's cache.
#[derive(Default)]
struct Etcd {
    revision: u64,
    /// Changes made by others that the server's watch has not brought yet.
    unwatched: VecDeque<Outside>,
    /// A change another writer makes just before the server's next write (which then fails
    /// its compare).
    racing: Option<(String, Value)>,
    /// How often the server asked for the current revision.
    asked: usize,
}

impl Etcd {
    fn put(&mut self, key: &str, value: Value) -> u64 {
        self.revision += 1;
        self.unwatched.push_back(Outside::Put {
            key: key.to_string(),
            value,
            revision: self.revision,
        });
        self.revision
    }

    fn take_through(&mut self, revision: u64) -> Vec<Outside> {
        let mut out = Vec::new();
        while let Some(c) = self.unwatched.front() {
            let rev = match c {
                Outside::Put { revision, .. } | Outside::Delete { revision, .. } => *revision,
            };
            if rev > revision {
                break;
            }
            out.extend(self.unwatched.pop_front());
        }
        out
    }
}

struct Scripted(Arc<Mutex<Etcd>>);

impl Scripted {
    fn etcd(&self) -> std::sync::MutexGuard<'_, Etcd> {
        self.0.lock().expect("script lock")
    }
}

impl Storage for Scripted {
    fn commit(&mut self, _write: Write<'_>, _last: u64) -> Result<u64, StorageError> {
        let mut e = self.etcd();
        if let Some((key, value)) = e.racing.take() {
            let found = e.put(&key, value);
            return Err(StorageError::Conflict { found });
        }
        e.revision += 1;
        Ok(e.revision)
    }

    fn list_all(&mut self) -> Result<Snapshot, StorageError> {
        Ok(Snapshot {
            objects: Vec::new(),
            revision: self.etcd().revision,
        })
    }

    fn outside_changes(&mut self, until: Option<u64>) -> Vec<Outside> {
        // The watch brings others' changes only as far as the server's own write.
        match until {
            Some(r) => self.etcd().take_through(r),
            None => Vec::new(),
        }
    }

    fn current_revision(&mut self) -> Result<Option<u64>, StorageError> {
        let mut e = self.etcd();
        e.asked += 1;
        Ok(Some(e.revision))
    }

    fn changes_through(&mut self, revision: u64, _within: Duration) -> (Vec<Outside>, u64) {
        let mut e = self.etcd();
        let out = e.take_through(revision);
        let reached = revision.min(e.revision);
        (out, reached)
    }
}

async fn server() -> (FakeApiServer, Arc<Mutex<Etcd>>, Api<ConfigMap>) {
    let etcd = Arc::new(Mutex::new(Etcd::default()));
    let state = State::load(Box::new(Scripted(etcd.clone())), &[]).expect("load");
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let server = FakeApiServer::start_on(listener, None, None, state, None).expect("start");
    let config = kube::Config::new(server.url().parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    (server, etcd, Api::namespaced(client, "default"))
}

fn key(name: &str) -> String {
    format!("/registry/configmaps/default/{name}")
}

/// A ConfigMap as stored in etcd (no resourceVersion: that is the key's revision).
fn stored(name: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "creationTimestamp": "2026-01-01T00:00:00Z"
        },
        "data": data
    })
}

fn put(etcd: &Mutex<Etcd>, name: &str) -> u64 {
    etcd.lock()
        .expect("script lock")
        .put(&key(name), stored(name, json!({"from": "etcd"})))
}

fn api_code<T: std::fmt::Debug>(r: kube::Result<T>) -> u16 {
    match r {
        Err(kube::Error::Api(e)) => e.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_get_without_resource_version_reads_what_etcd_holds_and_rv_0_reads_the_cache() {
    let (_s, etcd, cms) = server().await;
    let rev = put(&etcd, "late");
    let asked = etcd.lock().expect("lock").asked;

    assert_eq!(
        api_code(cms.get_with("late", &GetParams::any()).await),
        404,
        "resourceVersion=0 is served from the cache as it is"
    );
    assert_eq!(
        etcd.lock().expect("lock").asked,
        asked,
        "a read at resourceVersion=0 does not ask etcd"
    );

    let got = cms
        .get("late")
        .await
        .expect("a GET without resourceVersion finds it");
    assert_eq!(got.metadata.resource_version, Some(rev.to_string()));
    assert_eq!(etcd.lock().expect("lock").asked, asked + 1);
    let got = cms
        .get_with("late", &GetParams::at(&rev.to_string()))
        .await
        .expect("resourceVersion=N once the cache has reached N");
    assert_eq!(got.metadata.uid.as_deref(), Some("uid-late"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_without_resource_version_is_consistent_and_rv_0_is_the_cache() {
    let (_s, etcd, cms) = server().await;
    let rev = put(&etcd, "listed");
    let names = |l: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        l.items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect()
    };
    let cached = cms
        .list(&ListParams::default().match_any())
        .await
        .expect("list rv=0");
    assert!(names(cached).is_empty(), "rv=0: the cache as it is");
    let list = cms.list(&ListParams::default()).await.expect("list");
    assert_eq!(list.metadata.resource_version, Some(rev.to_string()));
    assert_eq!(names(list), ["listed"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_or_patch_of_a_key_put_in_etcd_behind_the_server_finds_it() {
    let (_s, etcd, cms) = server().await;
    put(&etcd, "restored");
    cms.delete("restored", &DeleteParams::default())
        .await
        .expect("DELETE reads etcd, not the cache: no 404");
    assert!(cms.get_opt("restored").await.expect("get").is_none());

    put(&etcd, "patched");
    let patched = cms
        .patch(
            "patched",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"mine": "1"}})),
        )
        .await
        .expect("PATCH reads etcd, not the cache: no 404");
    let data = patched.data.expect("data");
    assert_eq!(
        (data.get("from"), data.get("mine")),
        (Some(&"etcd".to_string()), Some(&"1".to_string()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_refused_for_a_racing_change_is_made_again_from_a_fresh_read() {
    let (_s, etcd, cms) = server().await;
    let made = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "raced"}})).expect("cm"),
        )
        .await
        .expect("create");
    let mut raced = stored("raced", json!({"other": "writer"}));
    raced["metadata"]["uid"] = json!(made.metadata.uid);
    etcd.lock().expect("lock").racing = Some((key("raced"), raced));

    let patched = cms
        .patch(
            "raced",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"mine": "1"}})),
        )
        .await
        .expect("no 409: the update is made again on the current object");
    let data = patched.data.expect("data");
    assert_eq!(data.get("other").map(String::as_str), Some("writer"));
    assert_eq!(data.get("mine").map(String::as_str), Some("1"));

    // A client's own stale precondition is still a conflict.
    let mut stale = made.clone();
    stale.data = Some([("stale".to_string(), "1".to_string())].into());
    assert_eq!(
        api_code(cms.replace("raced", &PostParams::default(), &stale).await),
        409
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resource_version_the_storage_has_not_reached_is_too_large() {
    let (s, etcd, _) = server().await;
    let future = etcd.lock().expect("lock").revision + 10;
    // Plain HTTP: kube's client would retry a 504 for minutes.
    let (status, body) = raw_get(
        &s,
        &format!("/api/v1/namespaces/default/configmaps/anything?resourceVersion={future}"),
    )
    .await;
    assert_eq!(status, 504, "{body}");
    let status: Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!(status["reason"], "Timeout", "{status}");
    let message = status["message"].as_str().unwrap_or("");
    assert!(message.contains("Too large resource version"), "{message}");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "ResourceVersionTooLarge"
    );
}

/// One GET over a fresh connection: the status code and the body.
async fn raw_get(s: &FakeApiServer, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(s.addr())
        .await
        .expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).await.expect("write");
    let mut resp = String::new();
    conn.read_to_string(&mut resp).await.expect("read");
    let code = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revision_without_a_change_moves_a_consistent_list_on() {
    let (_s, etcd, cms) = server().await;
    // A write outside /registry/: etcd's revision moves, no change reaches the cache.
    let rev = {
        let mut e = etcd.lock().expect("lock");
        e.revision += 1;
        e.revision
    };
    let list = cms.list(&ListParams::default()).await.expect("list");
    assert_eq!(list.metadata.resource_version, Some(rev.to_string()));
}
