//! Watch streams: newline-delimited JSON `{"type": ..., "object": ...}` events, replayed
//! from the store's history and then followed live, with bookmarks, timeouts and the 410
//! `Expired` ERROR event when the requested resourceVersion is older than the history.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::Shared;
use crate::error::ApiError;
use crate::resources::ResourceDef;
use crate::select::{FieldSelector, LabelSelector};
use crate::store::{Change, ChangeType};
use crate::util;

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(1);

/// A parsed watch request.
pub(crate) struct WatchParams {
    /// `None`: start from now, with synthetic ADDED events for what exists.
    pub rv: Option<u64>,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub bookmarks: bool,
    pub send_initial: bool,
    pub timeout: Option<Duration>,
}

/// A response body fed by the watch task.
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

struct Watch {
    res: Arc<ResourceDef>,
    p: WatchParams,
}

impl Watch {
    fn matches(&self, obj: &Value) -> bool {
        if let Some(ns) = &self.p.namespace
            && self.res.namespaced
            && util::namespace_of(obj) != ns
        {
            return false;
        }
        self.p.labels.matches(util::labels(obj)) && self.p.fields.matches(obj)
    }

    /// The event this watch sees for a change, if any.
    fn event(&self, c: &Change) -> Option<Bytes> {
        if c.res.qualified() != self.res.qualified() {
            return None;
        }
        let now = self.matches(&c.object);
        let before = c.prev.as_ref().is_some_and(|p| self.matches(p));
        let kind = match (c.kind, before, now) {
            (ChangeType::Added, _, true) => ChangeType::Added,
            (ChangeType::Modified, true, true) => ChangeType::Modified,
            (ChangeType::Modified, false, true) => ChangeType::Added,
            (ChangeType::Modified, true, false) => ChangeType::Deleted,
            (ChangeType::Deleted, b, n) if b || n => ChangeType::Deleted,
            _ => return None,
        };
        Some(line(kind.as_str(), &c.object))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({ "resourceVersion": rv.to_string() });
        if initial_end {
            meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        line(
            "BOOKMARK",
            &json!({ "kind": self.res.kind, "apiVersion": self.res.api_version(), "metadata": meta }),
        )
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({ "type": kind, "object": object }).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn expired(rv: u64, oldest: u64) -> Bytes {
    line(
        "ERROR",
        &ApiError::gone(format!("too old resource version: {rv} ({oldest})")).to_status(),
    )
}

/// Starts a watch; the returned body streams its events.
pub(crate) fn start(shared: Arc<Shared>, res: Arc<ResourceDef>, p: WatchParams) -> ChannelBody {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(run(shared, Watch { res, p }, tx));
    ChannelBody { rx }
}

async fn send_all(tx: &mpsc::Sender<Bytes>, lines: Vec<Bytes>) -> bool {
    for l in lines {
        if tx.send(l).await.is_err() {
            return false;
        }
    }
    true
}

async fn run(shared: Arc<Shared>, w: Watch, tx: mpsc::Sender<Bytes>) {
    let mut rv_rx = shared.rv_tx.subscribe();
    let mut broken = shared.break_tx.subscribe();
    let mut down = shared.shutdown_tx.subscribe();
    if *down.borrow_and_update() {
        return;
    }
    let deadline = w.p.timeout.map(|t| Instant::now() + t);
    rv_rx.borrow_and_update();
    let start = {
        let st = shared.lock();
        let mut lines = Vec::new();
        let last = match w.p.rv {
            Some(rv) if rv < st.compacted_rv => Err(expired(rv, st.compacted_rv)),
            Some(rv) if !w.p.send_initial => Ok(rv),
            _ => {
                let ns = if w.res.namespaced {
                    w.p.namespace.as_deref()
                } else {
                    None
                };
                for obj in st.list(&w.res, ns).into_iter().filter(|o| w.matches(o)) {
                    lines.push(line("ADDED", obj));
                }
                if w.p.send_initial && w.p.bookmarks {
                    lines.push(w.bookmark(st.rv, true));
                }
                Ok(st.rv)
            }
        };
        last.map(|last| (last, lines))
    };
    let (mut last, initial) = match start {
        Ok(started) => started,
        Err(expired) => {
            let _ = tx.send(expired).await;
            return;
        }
    };
    if !send_all(&tx, initial).await {
        return;
    }
    let mut next_bookmark = Instant::now() + BOOKMARK_EVERY;
    loop {
        rv_rx.borrow_and_update();
        let batch = {
            let st = shared.lock();
            match st.changes_since(last) {
                Some(changes) => {
                    let lines: Vec<Bytes> = changes.iter().filter_map(|c| w.event(c)).collect();
                    last = last.max(st.rv);
                    Ok(lines)
                }
                None => Err(expired(last, st.compacted_rv)),
            }
        };
        match batch {
            Ok(lines) => {
                if !send_all(&tx, lines).await {
                    return;
                }
            }
            Err(err) => {
                let _ = tx.send(err).await;
                return;
            }
        }
        tokio::select! {
            changed = rv_rx.changed() => if changed.is_err() { return },
            _ = broken.changed() => return,
            _ = down.changed() => return,
            _ = tx.closed() => return,
            _ = sleep_until(deadline.unwrap_or(next_bookmark)), if deadline.is_some() => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    if w.p.bookmarks {
                        let _ = tx.send(w.bookmark(last, false)).await;
                    }
                    return;
                }
            }
            _ = sleep_until(next_bookmark), if w.p.bookmarks => {
                next_bookmark = Instant::now() + BOOKMARK_EVERY;
                if tx.send(w.bookmark(last, false)).await.is_err() {
                    return;
                }
            }
        }
    }
}
