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
//! Each call opens its own watches on the watch client (no read timeout) and they close when
//! the wait drops the stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use ::kube::Client;
use ::kube::api::Api;
use ::kube::runtime::WatchStreamExt;
use ::kube::runtime::watcher::{self, Event as WatchEvent};
use futures::stream::{BoxStream, Stream, StreamExt};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};

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
