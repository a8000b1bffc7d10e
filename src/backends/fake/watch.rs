//! The fake's [`KubeOps::watch`](crate::backends::KubeOps::watch): it has no event log, so it
//! looks at its state every [`POLL`] of tokio's clock and reports what changed since the last
//! look, as a watch would (a first look lists everything). Its looks are not observations:
//! they never advance the scheduled changes, so a test reads the same with or without a watch.
//! A `fail_next` of the operation `watch` breaks it once: `Broken`, then a fresh list.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};

use super::{FakeCluster, State};
use crate::backends::{ApiChange, NamespaceView, NodeView, PodKey, PodView, WatchScope};

/// How often the fake's watch looks at the state.
pub const POLL: Duration = Duration::from_millis(100);

/// The API's view of the fake's nodes.
pub(super) fn node_views(s: &State) -> Vec<NodeView> {
    s.nodes
        .iter()
        .map(|(n, f)| NodeView {
            name: n.clone(),
            ready: f.ready.clone(),
            unschedulable: f.unschedulable,
            taints: f.taints.clone(),
            labels: f.labels.clone(),
        })
        .collect()
}

/// What the watch saw at its last look.
#[derive(Default)]
struct Seen {
    pods: BTreeMap<PodKey, PodView>,
    nodes: BTreeMap<String, NodeView>,
    namespaces: BTreeMap<String, NamespaceView>,
    /// No list yet (or the watch broke): the next look lists everything.
    listing: bool,
    /// The first look is made at once (a watch lists first).
    first: bool,
}

pub(super) fn changes(fake: FakeCluster, scope: WatchScope) -> BoxStream<'static, ApiChange> {
    let seen = Seen {
        listing: true,
        first: true,
        ..Seen::default()
    };
    futures::stream::unfold((fake, scope, seen), |(fake, scope, mut seen)| async move {
        if !seen.first {
            tokio::time::sleep(POLL).await;
        }
        seen.first = false;
        let out = look(&fake, &scope, &mut seen);
        Some((futures::stream::iter(out), (fake, scope, seen)))
    })
    .flatten()
    .boxed()
}

/// One look: the changes since the last one.
fn look(fake: &FakeCluster, scope: &WatchScope, seen: &mut Seen) -> Vec<ApiChange> {
    let mut s = fake.state();
    if let Some(i) = s.knobs.fail_next.iter().position(|f| f.op == "watch") {
        let f = s.knobs.fail_next.remove(i);
        seen.listing = true;
        return vec![ApiChange::Broken {
            what: "fake".into(),
            error: f.message,
        }];
    }
    let pods: BTreeMap<PodKey, PodView> = s
        .pods
        .iter()
        .filter(|p| scope.namespaces.contains(&p.key.namespace))
        .map(|p| (p.key.clone(), p.clone()))
        .collect();
    let nodes: BTreeMap<String, NodeView> = node_views(&s)
        .into_iter()
        .filter(|n| scope.nodes.contains(&n.name))
        .map(|n| (n.name.clone(), n))
        .collect();
    let namespaces: BTreeMap<String, NamespaceView> = s
        .namespaces
        .iter()
        .filter(|n| scope.namespaces.contains(&n.name))
        .map(|n| (n.name.clone(), n.clone()))
        .collect();
    drop(s);
    let mut out = Vec::new();
    diff(
        &mut seen.pods,
        pods,
        seen.listing,
        &mut out,
        ApiChange::Pod,
        ApiChange::PodGone,
    );
    diff(
        &mut seen.nodes,
        nodes,
        seen.listing,
        &mut out,
        ApiChange::Node,
        ApiChange::NodeGone,
    );
    diff(
        &mut seen.namespaces,
        namespaces,
        seen.listing,
        &mut out,
        ApiChange::Namespace,
        ApiChange::NamespaceGone,
    );
    if seen.listing {
        seen.listing = false;
        out.push(ApiChange::Listed {
            what: "fake".into(),
        });
    }
    out
}

/// Reports what is new or changed in `now` (everything when `all`), and what `before` held
/// that `now` does not; `before` becomes `now`.
fn diff<K: Ord + Clone, V: PartialEq + Clone>(
    before: &mut BTreeMap<K, V>,
    now: BTreeMap<K, V>,
    all: bool,
    out: &mut Vec<ApiChange>,
    changed: fn(V) -> ApiChange,
    gone: fn(K) -> ApiChange,
) {
    for (k, v) in &now {
        if all || before.get(k) != Some(v) {
            out.push(changed(v.clone()));
        }
    }
    for k in before.keys() {
        if !now.contains_key(k) {
            out.push(gone(k.clone()));
        }
    }
    *before = now;
}
