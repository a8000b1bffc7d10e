//! The pods bound to this node: a watch on `spec.nodeName=NODE` feeds one worker per pod
//! (by uid). A pod that leaves the watch (deleted for good, by a force delete or a raw
//! etcd delete) tells its worker `None`, which kills at once. After every (re)list the
//! runtime is reconciled: sandboxes and containers of pods the API no longer has are
//! stopped and removed, as upstream's housekeeping does for orphaned pods (the
//! kubelet-failure lab's ghosts go when the kubelet returns).

pub mod ended;
pub mod events;
pub mod hooks;
pub mod init;
pub mod launch;
pub mod observe;
pub mod phase;
pub mod status;
pub mod stop;
pub mod worker;

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::watch;

use crate::cri::{CriError, Runtime};
use observe::{KIND, POD_UID};
pub use worker::Ctx;

/// Watches the node's pods and runs a worker per pod, until the watch stream ends.
pub async fn run(ctx: Ctx, node: &str) {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    let mut stream = watcher::watcher(api, cfg).default_backoff().boxed();
    let mut workers: HashMap<String, watch::Sender<Option<Pod>>> = HashMap::new();
    let mut listing: Option<HashSet<String>> = None;
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!("watching pods: {e}");
                continue;
            }
        };
        match ev {
            Event::Init => listing = Some(HashSet::new()),
            Event::InitApply(pod) | Event::Apply(pod) => {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                if let Some(l) = listing.as_mut() {
                    l.insert(uid.clone());
                }
                deliver(&ctx, &mut workers, uid, pod);
            }
            Event::Delete(pod) => {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                if let Some(tx) = workers.remove(&uid) {
                    let _ = tx.send(None);
                }
            }
            Event::InitDone => {
                let present = listing.take().unwrap_or_default();
                workers.retain(|uid, tx| {
                    let keep = present.contains(uid);
                    if !keep {
                        let _ = tx.send(None);
                    }
                    keep
                });
                if let Err(e) = remove_orphans(&ctx.runtime, &present).await {
                    tracing::warn!("reconciling the runtime with the API: {e}");
                }
            }
        }
    }
}

/// Hands the pod to its worker, starting one if there is none (or it has finished).
fn deliver(
    ctx: &Ctx,
    workers: &mut HashMap<String, watch::Sender<Option<Pod>>>,
    uid: String,
    pod: Pod,
) {
    if let Some(tx) = workers.get(&uid)
        && tx.send(Some(pod.clone())).is_ok()
    {
        return;
    }
    let (tx, rx) = watch::channel(Some(pod));
    tokio::spawn(worker::run(ctx.clone(), uid.clone(), rx));
    workers.insert(uid, tx);
}

/// Removes every sandbox and container whose pod uid is not in `present`.
pub async fn remove_orphans(rt: &Runtime, present: &HashSet<String>) -> Result<(), CriError> {
    let mut all = rt.list(&[(KIND, "container")]).await?;
    all.extend(rt.list(&[(KIND, "sandbox")]).await?);
    for c in all {
        let uid = c.labels.get(POD_UID).cloned().unwrap_or_default();
        if !present.contains(&uid) {
            tracing::info!(
                "removing {} of pod uid {uid}, which the API no longer has",
                c.id
            );
            rt.remove(&c.id).await?;
        }
    }
    Ok(())
}
