//! The served mode's storage: a real etcd, as kind's kube-apiserver uses the etcd of its
//! control-plane node. Every write is one etcd transaction whose compare is the object's
//! `mod_revision` (optimistic concurrency, as upstream's
//! staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go GuaranteedUpdate), and ONE watch
//! on `/registry/` follows everything, so a raw `etcdctl del` of a key reaches the store
//! (and the API's watchers) as a deletion.
//!
//! How far that watch has brought the store is known: every change up to the revision of
//! the last event, or up to the revision of etcd's last progress notification (asked for
//! while the store waits to catch up with etcd's current revision, as upstream's
//! staging/src/k8s.io/apiserver/pkg/storage/cacher/progress/watch_progress.go does every
//! 100 ms while a read waits for the watch cache to be fresh).
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
/// How often a store waiting to catch up asks etcd where the watch stands (upstream's
/// `progressRequestPeriod`, staging/src/k8s.io/apiserver/pkg/storage/cacher/progress/watch_progress.go).
const PROGRESS_PERIOD: Duration = Duration::from_millis(100);
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
    /// etcd's current revision (a linearizable range request's header).
    Revision(std_mpsc::Sender<Result<u64, String>>),
    /// Ask the watch for a progress notification.
    Progress,
}

/// What the watch brought: a change with its revision, or (`change: None`) a progress
/// notification saying every change up to `revision` has been sent.
struct Seen {
    revision: u64,
    change: Option<Outside>,
}

/// The etcd storage (see the module doc).
pub(crate) struct EtcdStorage {
    requests: mpsc::UnboundedSender<Request>,
    seen: std_mpsc::Receiver<Seen>,
    /// Changes already taken from the watch but not yet handed to the store.
    later: VecDeque<Seen>,
    /// Revisions of this server's own writes not yet seen on the watch.
    own: BTreeSet<u64>,
    /// Every change up to this revision has been handed to the store.
    watched: u64,
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
                watched: 0,
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

    /// Hands `s` to the store (into `out`) unless it is this server's own write, already
    /// in the store, or a progress notification; either way the watch has reached its revision.
    fn take(&mut self, s: Seen, out: &mut Vec<Outside>) {
        self.watched = self.watched.max(s.revision);
        if let Some(change) = s.change
            && !self.own.remove(&s.revision)
        {
            out.push(change);
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
        let snap = self.ask(Request::ListAll)?;
        // The watch starts right after the snapshot.
        self.watched = self.watched.max(snap.revision);
        Ok(snap)
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
            self.take(s, &mut out);
        }
        if let Some(r) = until
            && self.own.contains(&r)
        {
            eprintln!("etcd storage: revision {r} not seen on the watch in time");
        }
        out
    }

    fn current_revision(&mut self) -> Result<Option<u64>, StorageError> {
        self.ask(Request::Revision).map(Some)
    }

    fn changes_through(&mut self, revision: u64, within: Duration) -> (Vec<Outside>, u64) {
        let start = Instant::now();
        let deadline = start + within;
        // As upstream, progress is asked for only once the events have had a period to
        // arrive: most waits end with the event that made the revision.
        let mut ask_at = start + PROGRESS_PERIOD;
        let mut out = Vec::new();
        loop {
            while let Some(s) = self.later.pop_front().or_else(|| self.seen.try_recv().ok()) {
                self.take(s, &mut out);
            }
            let now = Instant::now();
            if self.watched >= revision || now >= deadline {
                break;
            }
            if now >= ask_at {
                if self.requests.send(Request::Progress).is_err() {
                    break;
                }
                ask_at = now + PROGRESS_PERIOD;
            }
            match self.seen.recv_timeout(ask_at.min(deadline) - now) {
                Ok(s) => self.take(s, &mut out),
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        (out, self.watched)
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
    let (progress_tx, progress_rx) = mpsc::unbounded_channel();
    let mut progress_rx = Some(progress_rx);
    while let Some(req) = requests.recv().await {
        match req {
            Request::Txn(txn, reply) => {
                let _ = reply.send(client.txn(txn).await.map_err(|e| e.to_string()));
            }
            Request::ListAll(reply) => {
                let snap = list_all(&mut client).await;
                if let Ok(s) = &snap
                    && let Some(progress) = progress_rx.take()
                {
                    tokio::spawn(follow(
                        client.clone(),
                        s.revision as i64 + 1,
                        seen.clone(),
                        wake.clone(),
                        progress,
                    ));
                }
                let _ = reply.send(snap);
            }
            Request::Revision(reply) => {
                let _ = reply.send(current_revision(&mut client).await);
            }
            Request::Progress => {
                let _ = progress_tx.send(());
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

/// etcd's revision now: the header of a linearizable range request (etcd's default) for at
/// most one key under `/registry/`, as upstream's GetCurrentResourceVersionFromStorage
/// lists with limit 1.
async fn current_revision(client: &mut Client) -> Result<u64, String> {
    let opts = GetOptions::new()
        .with_prefix()
        .with_limit(1)
        .with_keys_only();
    let resp = client
        .get(ROOT, Some(opts))
        .await
        .map_err(|e| e.to_string())?;
    resp.header()
        .map(|h| h.revision().max(0) as u64)
        .ok_or_else(|| "etcd answered without a header".to_string())
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

/// The one watch on `/registry/`, re-established from the next revision when it breaks;
/// `progress` asks it for a progress notification.
async fn follow(
    mut client: Client,
    from: i64,
    seen: std_mpsc::Sender<Seen>,
    wake: Arc<Notify>,
    mut progress: mpsc::UnboundedReceiver<()>,
) {
    let mut next = from;
    loop {
        let opts = WatchOptions::new().with_prefix().with_start_revision(next);
        match client.watch(ROOT, Some(opts)).await {
            Ok(stream) => {
                let (mut ask, mut stream) = stream.split();
                loop {
                    let resp = tokio::select! {
                        r = stream.message() => match r {
                            Ok(Some(resp)) => resp,
                            _ => break,
                        },
                        Some(()) = progress.recv() => {
                            while progress.try_recv().is_ok() {}
                            let _ = ask.request_progress().await;
                            continue;
                        }
                    };
                    if resp.canceled() {
                        eprintln!(
                            "etcd storage: watch canceled from revision {next}: {}",
                            resp.cancel_reason()
                        );
                        break;
                    }
                    let mut got = resp.events().iter().filter_map(to_seen).collect::<Vec<_>>();
                    // A response with no events that does not create the watch is a
                    // progress notification: every change up to its header's revision
                    // has been sent (etcd's api/v3rpc/watch.go, WatchRequest_ProgressRequest).
                    if resp.events().is_empty()
                        && !resp.created()
                        && let Some(h) = resp.header()
                    {
                        let revision = h.revision().max(0) as u64;
                        got.push(Seen {
                            revision,
                            change: None,
                        });
                    }
                    for s in got {
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
    Some(Seen {
        revision,
        change: Some(change),
    })
}
