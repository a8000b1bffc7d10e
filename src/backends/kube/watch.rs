//! The stream of changes that wakes waits up: watches on pods, nodes, namespaces and events.
//!
//! Why it exists: a wait that polls every few seconds sees a transition late, and a short
//! transition (a pod Terminating for a moment) not at all. With a watch, the wait looks again
//! the moment anything changes. kube-runtime's watcher does the hard part: it resumes a
//! watch the server ended from the last `resourceVersion` (nothing missed), and after a 410
//! `Expired` it lists again. Its errors are retried with backoff and never end the stream; a
//! completed (re-)list yields a change too, so what happened while the watch was down is
//! looked at. Changes that arrive together are merged into one wake-up.
//!
//! The run's timeline watches too ([`scope_changes`]): the objects themselves, as they change,
//! so every transition of what a playbook looks at is recorded with its time.
//!
//! Each call opens its own watches on the watch client (no read timeout) and they close when
//! the wait drops the stream.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::kube::Client;
use ::kube::api::Api;
use ::kube::runtime::WatchStreamExt;
use ::kube::runtime::watcher::{self, Event as WatchEvent};
use futures::stream::{BoxStream, Stream, StreamExt};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};

use super::views;
use crate::backends::{ApiChange, NamespaceView, NodeView, PodKey, PodView, WatchScope};

/// At most this many queued changes are merged per wake-up, so a storm cannot starve the
/// waiting task.
const MERGE_AT_MOST: usize = 1024;

/// `()` for every change of the kind, and after every complete (re-)list.
fn changes_of<K>(api: Api<K>, what: &'static str) -> BoxStream<'static, ()>
where
    K: ::kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(move |e| {
            futures::future::ready(match e {
                Ok(WatchEvent::Apply(_) | WatchEvent::Delete(_) | WatchEvent::InitDone) => Some(()),
                Ok(WatchEvent::Init | WatchEvent::InitApply(_)) => None,
                Err(err) => {
                    tracing::debug!(%err, "watch of {what} failed; retrying");
                    None
                }
            })
        })
        // The watcher never ends by itself; should it, the stream stays open and quiet.
        .chain(futures::stream::pending())
        .boxed()
}

/// Every change to pods, nodes, namespaces and events, merged.
pub(crate) fn cluster_changes(client: &Client) -> BoxStream<'static, ()> {
    let all = futures::stream::select_all([
        changes_of(Api::<Pod>::all(client.clone()), "pods"),
        changes_of(Api::<Node>::all(client.clone()), "nodes"),
        changes_of(Api::<Namespace>::all(client.clone()), "namespaces"),
        changes_of(Api::<Event>::all(client.clone()), "events"),
    ]);
    Box::pin(Merge { inner: all })
}

/// The objects of one kind as they change, for the run's timeline ([`KubeOps::watch`]):
/// `view` turns an object into its change, [`key_of`] names it, `gone` is the change of a key
/// deleted. After a re-list, the keys the list no longer holds are
/// reported gone (their delete happened while the watch was down). An error is reported once
/// per outage as [`ApiChange::Broken`]; the watcher retries with backoff.
///
/// [`KubeOps::watch`]: crate::backends::KubeOps::watch
fn objects_of<K>(
    api: Api<K>,
    what: String,
    view: fn(&K) -> ApiChange,
    gone: fn(String) -> ApiChange,
) -> BoxStream<'static, ApiChange>
where
    K: ::kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    let view = move |o: &K| {
        let change = view(o);
        key_of(&change).map(|key| (key, change))
    };
    #[derive(Default)]
    struct Seen {
        known: BTreeSet<String>,
        listing: Option<BTreeSet<String>>,
        broken: bool,
    }
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .scan(Seen::default(), move |seen, e| {
            let mut out = Vec::new();
            match e {
                Ok(WatchEvent::Init) => seen.listing = Some(BTreeSet::new()),
                Ok(WatchEvent::InitApply(o)) => {
                    if let Some((key, change)) = view(&o) {
                        seen.listing.get_or_insert_with(BTreeSet::new).insert(key);
                        out.push(change);
                    }
                }
                Ok(WatchEvent::InitDone) => {
                    let listed = seen.listing.take().unwrap_or_default();
                    out.extend(seen.known.difference(&listed).cloned().map(gone));
                    seen.known = listed;
                    seen.broken = false;
                    out.push(ApiChange::Listed { what: what.clone() });
                }
                Ok(WatchEvent::Apply(o)) => {
                    if let Some((key, change)) = view(&o) {
                        seen.known.insert(key);
                        out.push(change);
                    }
                }
                Ok(WatchEvent::Delete(o)) => {
                    if let Some((key, _)) = view(&o)
                        && seen.known.remove(&key)
                    {
                        out.push(gone(key));
                    }
                }
                Err(err) => {
                    if !seen.broken {
                        seen.broken = true;
                        out.push(ApiChange::Broken {
                            what: what.clone(),
                            error: err.to_string(),
                        });
                    }
                }
            }
            futures::future::ready(Some(futures::stream::iter(out)))
        })
        .flatten()
        .chain(futures::stream::pending())
        .boxed()
}

/// The pods of the scope's namespaces, those namespaces, and the scope's nodes, as they change.
pub(crate) fn scope_changes(client: &Client, scope: &WatchScope) -> BoxStream<'static, ApiChange> {
    let mut streams = Vec::new();
    for ns in &scope.namespaces {
        streams.push(objects_of(
            Api::<Pod>::namespaced(client.clone(), ns),
            format!("pods in {ns}"),
            |p| ApiChange::Pod(views::pod_view(p)),
            |key| {
                let (namespace, name) = key.split_once('/').unwrap_or_default();
                ApiChange::PodGone(PodKey {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                })
            },
        ));
    }
    streams.extend(named(
        client,
        &scope.namespaces,
        namespace_change,
        ApiChange::NamespaceGone,
    ));
    streams.extend(named(
        client,
        &scope.nodes,
        node_change,
        ApiChange::NodeGone,
    ));
    if streams.is_empty() {
        return futures::stream::pending().boxed();
    }
    futures::stream::select_all(streams).boxed()
}

/// The key of the object a change is about, as its watch names it: `namespace/name` for a
/// pod, the name of a node or namespace; `None` for `Broken` and `Listed`.
fn key_of(c: &ApiChange) -> Option<String> {
    match c {
        ApiChange::Pod(PodView { key, .. }) | ApiChange::PodGone(key) => Some(key.to_string()),
        ApiChange::Node(NodeView { name, .. })
        | ApiChange::Namespace(NamespaceView { name, .. })
        | ApiChange::NodeGone(name)
        | ApiChange::NamespaceGone(name) => Some(name.clone()),
        ApiChange::Broken { .. } | ApiChange::Listed { .. } => None,
    }
}

/// The changes of the cluster-wide objects of kind `K` (nodes, namespaces) named in `wanted`,
/// and every `Broken`/`Listed` of their watch; no watch at all when `wanted` is empty.
fn named<K>(
    client: &Client,
    wanted: &BTreeSet<String>,
    view: fn(&K) -> ApiChange,
    gone: fn(String) -> ApiChange,
) -> Option<BoxStream<'static, ApiChange>>
where
    K: ::kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    if wanted.is_empty() {
        return None;
    }
    let what = K::plural(&K::DynamicType::default()).into_owned();
    let wanted = Arc::new(wanted.clone());
    let all = objects_of(Api::<K>::all(client.clone()), what, view, gone);
    let kept = all
        .filter(move |c| futures::future::ready(key_of(c).is_none_or(|key| wanted.contains(&key))));
    Some(kept.boxed())
}

fn namespace_change(n: &Namespace) -> ApiChange {
    ApiChange::Namespace(views::namespace_view(n))
}

fn node_change(n: &Node) -> ApiChange {
    ApiChange::Node(views::node_view(n))
}

/// Yields one `()` for all the `()`s ready at once.
struct Merge<S> {
    inner: S,
}

impl<S: Stream<Item = ()> + Unpin> Stream for Merge<S> {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let mut got = false;
        for _ in 0..MERGE_AT_MOST {
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(())) => got = true,
                Poll::Ready(None) => {
                    return if got {
                        Poll::Ready(Some(()))
                    } else {
                        Poll::Ready(None)
                    };
                }
                Poll::Pending => break,
            }
        }
        if got {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_changes_are_merged_into_one() {
        let mut m = Merge {
            inner: futures::stream::iter(vec![(), (), ()]).chain(futures::stream::pending()),
        };
        assert_eq!(m.next().await, Some(()));
        let next = tokio::time::timeout(std::time::Duration::from_millis(20), m.next()).await;
        assert!(next.is_err(), "the three changes were one wake-up");
    }
}
