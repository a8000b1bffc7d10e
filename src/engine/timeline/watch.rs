//! API transitions from watches: while a run goes on, the pods of the namespaces the playbook
//! names, those namespaces and the nodes it names are watched through the API backend
//! ([`KubeOps::watch`]), and each transition is recorded with the wall-clock time it arrived,
//! whether or not a wait reads the object. A pod deleted by a fault shows `Terminating`, then
//! gone, with no step looking at it.
//!
//! The watch starts once the API is connected (by the preflight when the playbook needs it,
//! else by the first step that uses it; it never connects by itself, so a playbook that does
//! not touch the API never needs it) and stops when the run ends, however it ends (dropped
//! with the run on a second Ctrl-C). It is bounded like the rest of the timeline: the
//! recorder keeps only transitions, within its cap. A watch that breaks is re-established by
//! the backend and recorded as a gap (`watch` entries); should its stream end, it is opened
//! again after a pause. It never fails the run.
//!
//! [`KubeOps::watch`]: crate::backends::KubeOps::watch

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::super::backends::Backends;
use super::record::{Clock, Shared, lock};
use super::{Recorder, WatchState, What};
use crate::backends::{ApiChange, WatchScope};
use crate::playbook::Plan;

/// How long the watch waits before it looks again for an API connection, or opens a watch
/// whose stream ended.
const RETRY: Duration = Duration::from_secs(1);

/// What the plan names: the namespaces (any `namespace:` of a step, a condition or a
/// manifest; `namespace: {name}` of a namespace condition) and nodes (any `node:` a step or a
/// condition names, as the preflight resolved it).
pub(crate) fn scope(plan: &Plan) -> WatchScope {
    let mut scope = WatchScope::default();
    let steady = plan.steady_state.iter();
    for s in plan.all_steps().into_iter().chain(steady) {
        if let Ok(v) = serde_json::to_value(&s.kind) {
            collect(&v, &mut scope);
        }
    }
    scope
}

fn collect(v: &serde_json::Value, scope: &mut WatchScope) {
    let name = |v: &serde_json::Value| -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(m) => m.get("name")?.as_str().map(str::to_string),
            _ => None,
        }
    };
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match k.as_str() {
                    "namespace" => scope.namespaces.extend(name(v)),
                    "node" => scope.nodes.extend(name(v)),
                    _ => {}
                }
                collect(v, scope);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect(i, scope)),
        _ => {}
    }
}

/// The watch task of a run: stopped by [`Watch::stop`], or when dropped.
pub(crate) struct Watch {
    stop: CancellationToken,
    _guard: DropGuard,
    task: JoinHandle<()>,
    /// True once the first list arrived (or there is no API to list from yet).
    listed: tokio::sync::watch::Receiver<bool>,
}

impl Watch {
    /// Starts watching `scope` into `recorder`; `None` when there is nothing to watch.
    pub fn start(
        b: Arc<Backends>,
        scope: WatchScope,
        recorder: Shared,
        clock: Clock,
    ) -> Option<Watch> {
        if scope.is_empty() {
            return None;
        }
        let stop = CancellationToken::new();
        let (tx, listed) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run(b, scope, recorder, clock, stop.clone(), tx));
        Some(Watch {
            _guard: stop.clone().drop_guard(),
            stop,
            task,
            listed,
        })
    }

    /// Waits (at most `limit`) for the first list, so the state before the first step is in
    /// the timeline: a fault at once would otherwise race the watch's start.
    pub async fn ready(&mut self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.listed.wait_for(|l| *l)).await;
    }

    /// Stops watching; what arrived before is recorded.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn run(
    b: Arc<Backends>,
    scope: WatchScope,
    rec: Shared,
    clock: Clock,
    stop: CancellationToken,
    listed: tokio::sync::watch::Sender<bool>,
) {
    let kube = loop {
        if let Some(k) = b.kube_if_connected() {
            break k;
        }
        // Nothing to list before a step connects the API.
        listed.send_replace(true);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    };
    loop {
        let mut changes = kube.watch(&scope);
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                c = changes.next() => match c {
                    Some(c) => {
                        watched(&mut lock(&rec), clock(), &c);
                        if matches!(c, ApiChange::Listed { .. }) {
                            listed.send_replace(true);
                        }
                    }
                    None => break,
                },
            }
        }
        let broken = ApiChange::Broken {
            what: "api".into(),
            error: "the watch ended; opening it again".into(),
        };
        watched(&mut lock(&rec), clock(), &broken);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// Records what a watch saw: transitions only (the recorder drops what did not change), a
/// broken watch once until it lists again.
pub(super) fn watched(r: &mut Recorder, at: std::time::SystemTime, c: &ApiChange) {
    match c {
        ApiChange::Pod(p) => r.pod_seen(at, p),
        ApiChange::PodGone(key) => r.pod_gone(at, key),
        ApiChange::Node(n) => r.node_seen(at, n),
        // The timeline has no form for a node that left the API; its last state stays.
        ApiChange::NodeGone(_) => {}
        ApiChange::Namespace(v) => r.namespace_seen(at, &v.name, Some(v.phase.clone())),
        ApiChange::NamespaceGone(name) => r.namespace_seen(at, name, None),
        ApiChange::Broken { what, error } => {
            if r.broken.insert(what.clone()) {
                r.push(
                    at,
                    What::Watch {
                        what: what.clone(),
                        state: WatchState::Broken,
                        message: Some(error.clone()),
                    },
                );
            }
        }
        ApiChange::Listed { what } => {
            if r.broken.remove(what) {
                r.push(
                    at,
                    What::Watch {
                        what: what.clone(),
                        state: WatchState::Resumed,
                        message: None,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
