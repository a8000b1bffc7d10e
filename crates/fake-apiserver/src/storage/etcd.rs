//! The served mode's storage: a real etcd, as kind's kube-apiserver uses the etcd of its
//! control-plane node. Every write is one etcd transaction whose compare is the object's
//! `mod_revision` (optimistic concurrency, as upstream's
//! staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go GuaranteedUpdate), and ONE watch
//! on `/registry/` follows everything, so a raw `etcdctl del` of a key reaches the store
//! (and the API's watchers) as a deletion.
//!
//! etcd-client is async; the store is locked synchronously. So the client lives on a thread
//! of its own with its own runtime, and the store talks to it through channels: a write
//! waits for etcd's answer (milliseconds on loopback) while the store is locked, which
//! keeps writes in revision order.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, Identity,
    TlsOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use super::keys::ROOT;
use super::{Outside, Snapshot, Storage, StorageError, Write};

/// How long a write waits for etcd, and for its own change to come back on the watch.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server waits for etcd to answer at start (the node starts etcd and the
/// API server together, and etcd needs the certificates the API server writes first).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the etcd is and how to authenticate to it (kube-apiserver's `--etcd-servers`,
/// `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`), all PEM in memory.
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    /// `https://127.0.0.1:2379`, ...
    pub endpoints: Vec<String>,
    /// The etcd CA (verifies etcd's serving certificate).
    pub ca_pem: String,
    /// The API server's client certificate and key.
    pub cert_pem: String,
    pub key_pem: String,
}

enum Request {
    Txn(
        Txn,
        std_mpsc::Sender<Result<etcd_client::TxnResponse, String>>,
    ),
    ListAll(std_mpsc::Sender<Result<Snapshot, String>>),
}

/// One change seen on the watch, with its revision.
struct Seen {
    revision: u64,
    change: Outside,
}

/// The etcd storage (see the module doc).
pub(crate) struct EtcdStorage {
    requests: mpsc::UnboundedSender<Request>,
    seen: std_mpsc::Receiver<Seen>,
    /// Changes already taken from the watch but not yet handed to the store.
    later: VecDeque<Seen>,
    /// Revisions of this server's own writes not yet seen on the watch.
    own: BTreeSet<u64>,
    /// Notified whenever the watch brings something.
    wake: Arc<Notify>,
}

impl EtcdStorage {
    /// Connects (retrying until [`CONNECT_TIMEOUT`]) and starts the client's thread.
    pub(crate) fn connect(cfg: EtcdConfig) -> Result<EtcdStorage, StorageError> {
        let (req_tx, req_rx) = mpsc::unbounded_channel();
        let (seen_tx, seen_rx) = std_mpsc::channel();
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let wake = Arc::new(Notify::new());
        let wake2 = wake.clone();
        std::thread::Builder::new()
            .name("etcd-storage".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot start a runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(worker(cfg, req_rx, seen_tx, wake2, ready_tx));
            })
            .map_err(|e| StorageError::Unavailable(format!("cannot start a thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(EtcdStorage {
                requests: req_tx,
                seen: seen_rx,
                later: VecDeque::new(),
                own: BTreeSet::new(),
                wake,
            }),
            Ok(Err(e)) => Err(StorageError::Unavailable(e)),
            Err(_) => Err(StorageError::Unavailable("the etcd thread ended".into())),
        }
    }

    /// Notified when changes arrive on the watch.
    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    fn ask<T>(
        &self,
        make: impl FnOnce(std_mpsc::Sender<Result<T, String>>) -> Request,
    ) -> Result<T, StorageError> {
        let (tx, rx) = std_mpsc::channel();
        self.requests
            .send(make(tx))
            .map_err(|_| StorageError::Unavailable("the etcd thread ended".into()))?;
        match rx.recv_timeout(ANSWER_TIMEOUT) {
            Ok(r) => r.map_err(StorageError::Unavailable),
            Err(_) => Err(StorageError::Unavailable(format!(
                "etcd did not answer within {}s",
                ANSWER_TIMEOUT.as_secs()
            ))),
        }
    }
}

fn json_bytes(value: &Value) -> Vec<u8> {
    let mut v = value.clone();
    // The stored object carries no resourceVersion: it is the key's mod_revision
    // (staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go, Create: "resourceVersion
    // should not be set on objects to be created"; the versioner fills it on reads).
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

impl Storage for EtcdStorage {
    fn commit(&mut self, write: Write<'_>, _last: u64) -> Result<u64, StorageError> {
        let (key, txn) = match write {
            // etcd3/store.go Create: the key must not exist (create_revision 0).
            Write::Create { key, value } => (
                key,
                Txn::new()
                    .when([Compare::create_revision(key, CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(key, json_bytes(value), None)]),
            ),
            // etcd3/store.go GuaranteedUpdate: compare the mod_revision the update read.
            Write::Update { key, expect, value } => (
                key,
                Txn::new()
                    .when([Compare::mod_revision(key, CompareOp::Equal, expect as i64)])
                    .and_then([TxnOp::put(key, json_bytes(value), None)]),
            ),
            // etcd3/store.go Delete (conditionalDelete): the same compare.
            Write::Delete { key, expect } => (
                key,
                Txn::new()
                    .when([Compare::mod_revision(key, CompareOp::Equal, expect as i64)])
                    .and_then([TxnOp::delete(key, None)]),
            ),
        };
        let txn = txn.or_else([TxnOp::get(key, None)]);
        let resp = self.ask(|tx| Request::Txn(txn, tx))?;
        if !resp.succeeded() {
            let found = resp
                .op_responses()
                .into_iter()
                .find_map(|r| match r {
                    TxnOpResponse::Get(g) => {
                        Some(g.kvs().first().map_or(0, |kv| kv.mod_revision()))
                    }
                    _ => None,
                })
                .unwrap_or(0);
            return Err(StorageError::Conflict {
                found: found.max(0) as u64,
            });
        }
        let revision = resp.header().map_or(0, |h| h.revision()).max(0) as u64;
        self.own.insert(revision);
        Ok(revision)
    }

    fn list_all(&mut self) -> Result<Snapshot, StorageError> {
        self.ask(Request::ListAll)
    }

    fn outside_changes(&mut self, until: Option<u64>) -> Vec<Outside> {
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut out = Vec::new();
        loop {
            let next = match self.later.pop_front() {
                Some(s) => Some(s),
                None => match until {
                    Some(r) if !self.own.contains(&r) => None,
                    Some(_) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        self.seen.recv_timeout(left).ok()
                    }
                    None => self.seen.try_recv().ok(),
                },
            };
            let Some(s) = next else { break };
            if let Some(r) = until
                && s.revision > r
            {
                self.later.push_front(s);
                break;
            }
            if self.own.remove(&s.revision) {
                // This server's own write, already in the store.
                continue;
            }
            out.push(s.change);
        }
        if let Some(r) = until
            && self.own.contains(&r)
        {
            eprintln!("etcd storage: revision {r} not seen on the watch in time");
        }
        out
    }
}

/// The client's thread: connects, answers requests, follows `/registry/`.
async fn worker(
    cfg: EtcdConfig,
    mut requests: mpsc::UnboundedReceiver<Request>,
    seen: std_mpsc::Sender<Seen>,
    wake: Arc<Notify>,
    ready: std_mpsc::Sender<Result<(), String>>,
) {
    let mut client = match connect(&cfg).await {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut following = false;
    while let Some(req) = requests.recv().await {
        match req {
            Request::Txn(txn, reply) => {
                let _ = reply.send(client.txn(txn).await.map_err(|e| e.to_string()));
            }
            Request::ListAll(reply) => {
                let snap = list_all(&mut client).await;
                if let (Ok(s), false) = (&snap, following) {
                    following = true;
                    tokio::spawn(follow(
                        client.clone(),
                        s.revision as i64 + 1,
                        seen.clone(),
                        wake.clone(),
                    ));
                }
                let _ = reply.send(snap);
            }
        }
    }
}

async fn connect(cfg: &EtcdConfig) -> Result<Client, String> {
    let tls = TlsOptions::new()
        .ca_certificate(Certificate::from_pem(cfg.ca_pem.as_bytes()))
        .identity(Identity::from_pem(
            cfg.cert_pem.as_bytes(),
            cfg.key_pem.as_bytes(),
        ));
    let opts = ConnectOptions::new()
        .with_tls(tls)
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(ANSWER_TIMEOUT);
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let attempt = async {
            let mut c = Client::connect(&cfg.endpoints, Some(opts.clone())).await?;
            c.get(
                ROOT,
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await?;
            Ok::<Client, etcd_client::Error>(c)
        };
        match attempt.await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "etcd at {} did not answer within {}s: {e}",
                    cfg.endpoints.join(","),
                    CONNECT_TIMEOUT.as_secs()
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

async fn list_all(client: &mut Client) -> Result<Snapshot, String> {
    let resp = client
        .get(ROOT, Some(GetOptions::new().with_prefix()))
        .await
        .map_err(|e| e.to_string())?;
    let revision = resp.header().map_or(0, |h| h.revision()).max(0) as u64;
    let mut objects = Vec::new();
    for kv in resp.kvs() {
        let Ok(key) = kv.key_str() else { continue };
        match serde_json::from_slice::<Value>(kv.value()) {
            Ok(v) => objects.push((key.to_string(), v, kv.mod_revision().max(0) as u64)),
            Err(e) => eprintln!("etcd storage: {key} is not JSON ({e}); not served"),
        }
    }
    Ok(Snapshot { objects, revision })
}

/// The one watch on `/registry/`, re-established from the next revision when it breaks.
async fn follow(mut client: Client, from: i64, seen: std_mpsc::Sender<Seen>, wake: Arc<Notify>) {
    let mut next = from;
    loop {
        let opts = WatchOptions::new().with_prefix().with_start_revision(next);
        match client.watch(ROOT, Some(opts)).await {
            Ok(mut stream) => {
                while let Ok(Some(resp)) = stream.message().await {
                    if resp.canceled() {
                        eprintln!(
                            "etcd storage: watch canceled from revision {next}: {}",
                            resp.cancel_reason()
                        );
                        break;
                    }
                    for ev in resp.events() {
                        let Some(s) = to_seen(ev) else { continue };
                        next = next.max(s.revision as i64 + 1);
                        if seen.send(s).is_err() {
                            return;
                        }
                    }
                    wake.notify_one();
                }
            }
            Err(e) => eprintln!("etcd storage: cannot watch {ROOT}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A watch event as a change of the store (`None`: not a key or a value it can read).
fn to_seen(ev: &etcd_client::Event) -> Option<Seen> {
    let kv = ev.kv()?;
    let key = kv.key_str().ok()?.to_string();
    let revision = kv.mod_revision().max(0) as u64;
    let change = match ev.event_type() {
        EventType::Delete => Outside::Delete { key, revision },
        EventType::Put => match serde_json::from_slice(kv.value()) {
            Ok(value) => Outside::Put {
                key,
                value,
                revision,
            },
            Err(e) => {
                eprintln!("etcd storage: {key} is not JSON ({e}); not served");
                return None;
            }
        },
    };
    Some(Seen { revision, change })
}
