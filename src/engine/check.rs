//! Evaluating a condition once: fetch what it needs from the backends, judge it with `observe`
//! (with what earlier named steps measured and saw, for the conditions that refer to one).

use crate::backends::{NamespaceView, NodeView, PodKey, PodQuery, PodView, Result};
use crate::observe::{self, Verdict};
use crate::playbook::model::*;

use super::backends::Backends;
use super::memory::Memory;

/// What a check read from the API, for the timeline's transitions.
#[derive(Default)]
pub struct Seen {
    pub pods: Option<Vec<PodView>>,
    pub nodes: Option<Vec<NodeView>>,
    pub namespace: Option<(String, Option<NamespaceView>)>,
}

pub async fn check(b: &Backends, c: &Condition, memory: &Memory) -> Result<Verdict> {
    check_seen(b, c, memory, &mut Seen::default()).await
}

/// [`check`], keeping the pods, nodes or namespace it read in `seen`.
pub async fn check_seen(
    b: &Backends,
    c: &Condition,
    memory: &Memory,
    seen: &mut Seen,
) -> Result<Verdict> {
    let earlier = |step: &Option<String>| step.as_ref().and_then(|s| memory.seen.get(s));
    Ok(match c {
        Condition::Pods(p) => {
            let q = PodQuery {
                namespace: Some(p.namespace.clone()),
                name: p.name.clone(),
                selector: p.selector.clone(),
                node: p.node.as_deref().map(str::to_string),
            };
            let pods = b.kube().await?.pods(&q).await?;
            let v = observe::pods(p, &pods, earlier(&p.replaces));
            seen.pods = Some(pods);
            v
        }
        Condition::PodLogs(l) => {
            let pod = PodKey {
                namespace: l.namespace.clone(),
                name: l.pod.clone(),
            };
            let log = b
                .kube()
                .await?
                .pod_logs(&pod, l.container.as_deref(), l.previous)
                .await?;
            observe::pod_logs(l, &log)
        }
        Condition::Node(n) => {
            let nodes = b.kube().await?.nodes().await?;
            let v = observe::node(n, &nodes);
            seen.nodes = Some(nodes);
            v
        }
        Condition::Namespace(n) => {
            let ns = b.kube().await?.namespace(&n.name).await?;
            let v = observe::namespace(n, ns.as_ref());
            seen.namespace = Some((n.name.clone(), ns));
            v
        }
        Condition::Resource(r) => {
            let kube = b.kube().await?;
            let write = match r.writable {
                Some(_) => Some(kube.write_check(&r.resource).await?),
                None => None,
            };
            let obj = if r.writable.is_none() || r.exists.is_some() || r.field.is_some() {
                kube.get(&r.resource).await?
            } else {
                None
            };
            observe::resource(r, obj.as_ref(), write.as_ref())
        }
        Condition::Event(e) => observe::events(e, &b.kube().await?.events(&e.namespace).await?),
        Condition::EtcdKey(e) => {
            let etcd = b.etcd().await?;
            match &e.target {
                EtcdTarget::Key(k) => observe::etcd_key_exists(e, k, etcd.exists(k).await?),
                EtcdTarget::Prefix(p) => observe::etcd_prefix_count(e, p, etcd.count(p).await?),
            }
        }
        Condition::Shims(s) => observe::shims(
            s,
            &b.nodes().await?.reality(Some(s.node.name())).await?,
            earlier(&s.same_as),
        ),
        Condition::Sandbox(s) => {
            observe::sandbox(s, &b.nodes().await?.reality(s.node.as_deref()).await?)
        }
        Condition::Kubelet(k) => {
            observe::kubelet(k, &b.nodes().await?.reality(Some(k.node.name())).await?)
        }
        Condition::Drift(d) => {
            let (api, nodes) = futures::join!(
                async {
                    let q = PodQuery {
                        namespace: d.namespace.clone(),
                        ..Default::default()
                    };
                    b.kube().await?.pods(&q).await
                },
                async { b.nodes().await?.reality(d.node.as_deref()).await }
            );
            let (api, nodes) = (api?, nodes?);
            let v = observe::drift(d, &observe::join(&api, &nodes));
            seen.pods = Some(api);
            v
        }
        Condition::Duration(d) => observe::duration(d, memory.durations.get(&d.step).copied()),
    })
}
