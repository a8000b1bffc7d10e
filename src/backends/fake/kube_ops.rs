//! [`KubeOps`] over the fake's state: applied objects, pods and namespaces with finalizers,
//! cordons and taints, events.

use async_trait::async_trait;

use futures::stream::BoxStream;

use super::{Change, FakeCluster, Scheduled, node_missing};
use crate::backends::*;
use crate::playbook::model::{NodeTaint, ResourceRef};

/// Equality-based selectors (`a=b,c=d`), enough for the fake.
fn selector_matches(sel: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
    sel.split(',')
        .filter(|t| !t.trim().is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => {
                labels.get(k.trim()).map(String::as_str) == Some(v.trim_start_matches('=').trim())
            }
            None => labels.contains_key(term.trim()),
        })
}

fn key_of(r: &ResourceRef) -> String {
    r.to_string()
}

#[async_trait]
impl KubeOps for FakeCluster {
    async fn apply(
        &self,
        documents: &[serde_json::Value],
        namespace: Option<&str>,
    ) -> Result<Vec<ResourceRef>> {
        self.gate("apply").await?;
        let mut out = Vec::new();
        let mut s = self.state();
        for d in documents {
            let r = ResourceRef::of_document(d, namespace);
            self.record(format!("apply {r}"));
            s.objects.insert(key_of(&r), d.clone());
            out.push(r);
        }
        Ok(out)
    }

    async fn delete(&self, target: &ResourceRef, opts: &DeleteOptions) -> Result<()> {
        self.gate("delete").await?;
        self.record(format!(
            "delete {target} grace={:?}",
            opts.grace_period_seconds
        ));
        let observed = self.observations();
        let mut s = self.state();
        let existed = s.objects.remove(&key_of(target)).is_some();
        let before = s.pods.len() + s.namespaces.len();
        if let (Some(n), "Pod", false) = (
            s.knobs.terminating_for,
            target.kind.as_str(),
            opts.grace_period_seconds == Some(0),
        ) {
            let key = PodKey {
                namespace: target.namespace.clone().unwrap_or_default(),
                name: target.name.clone(),
            };
            let Some(p) = s.pods.iter_mut().find(|p| p.key == key) else {
                return Err(BackendError::not_found(format!("{target} not found")));
            };
            p.deletion_timestamp
                .get_or_insert_with(|| "2026-01-01T00:00:00Z".into());
            s.knobs.schedule.push(Scheduled {
                after: observed + n,
                change: Change::PodGone { pod: key },
            });
            return Ok(());
        }
        if target.kind == "Pod" {
            let ns = target.namespace.clone().unwrap_or_default();
            s.pods
                .retain(|p| !(p.key.namespace == ns && p.key.name == target.name));
        }
        if target.kind == "Namespace" {
            s.namespaces.retain(|n| n.name != target.name);
        }
        if !existed && before == s.pods.len() + s.namespaces.len() {
            return Err(BackendError::not_found(format!("{target} not found")));
        }
        Ok(())
    }

    async fn pods(&self, q: &PodQuery) -> Result<Vec<PodView>> {
        self.read("pods", |s| {
            s.pods
                .iter()
                .filter(|p| q.namespace.as_ref().is_none_or(|n| &p.key.namespace == n))
                .filter(|p| q.name.as_ref().is_none_or(|n| &p.key.name == n))
                .filter(|p| q.node.is_none() || p.node == q.node)
                .filter(|p| {
                    q.selector
                        .as_deref()
                        .is_none_or(|sel| selector_matches(sel, &p.labels))
                })
                .cloned()
                .collect()
        })
        .await
    }

    async fn pod_logs(&self, pod: &PodKey, _c: Option<&str>, previous: bool) -> Result<String> {
        let key = if previous {
            format!("{pod}#previous")
        } else {
            pod.to_string()
        };
        self.read("pod-logs", |s| {
            s.logs.get(&key).cloned().unwrap_or_default()
        })
        .await
    }

    async fn nodes(&self) -> Result<Vec<NodeView>> {
        self.read("nodes", super::watch::node_views).await
    }

    async fn namespace(&self, name: &str) -> Result<Option<NamespaceView>> {
        self.read("namespace", |s| {
            s.namespaces.iter().find(|n| n.name == name).cloned()
        })
        .await
    }

    async fn get(&self, target: &ResourceRef) -> Result<Option<serde_json::Value>> {
        self.read("get", |s| s.objects.get(&key_of(target)).cloned())
            .await
    }

    /// Refused with 404 when the object is not stored or its namespace is not (`default` and
    /// `kube-system` always are), as NamespaceLifecycle admission refuses it.
    async fn write_check(&self, target: &ResourceRef) -> Result<WriteCheck> {
        self.read("write-check", |s| {
            let (code, message) = if let Some(r) = s.write_refusals.get(&key_of(target)) {
                (r.code, r.message.clone())
            } else if !s.objects.contains_key(&key_of(target)) {
                (404, format!("{target} not found"))
            } else {
                match target.namespace.as_deref() {
                    Some(ns)
                        if !["default", "kube-system"].contains(&ns)
                            && !s.namespaces.iter().any(|n| n.name == ns) =>
                    {
                        (404, format!("namespaces \"{ns}\" not found"))
                    }
                    _ => return WriteCheck::Accepted,
                }
            };
            WriteCheck::Refused { code, message }
        })
        .await
    }

    async fn events(&self, namespace: &str) -> Result<Vec<EventView>> {
        self.read("events", |s| {
            s.events
                .iter()
                .filter(|e| e.namespace == namespace)
                .map(|e| EventView {
                    reason: e.reason.clone(),
                    object: e.object.clone(),
                    message: e.message.clone(),
                })
                .collect()
        })
        .await
    }

    async fn finalizer(&self, target: &ResourceRef, fin: &str, op: FinalizerOp) -> Result<bool> {
        let name = match op {
            FinalizerOp::Add => "finalizer-add",
            FinalizerOp::Remove => "finalizer-remove",
        };
        self.gate(name).await?;
        self.record(format!("{name} {target} {fin}"));
        let mut s = self.state();
        if s.knobs.undo_noop && op == FinalizerOp::Remove {
            return Ok(false);
        }
        let obj = s
            .objects
            .get_mut(&key_of(target))
            .ok_or_else(|| BackendError::not_found(format!("{target} not found")))?;
        let mut list: Vec<String> =
            serde_json::from_value(obj["metadata"]["finalizers"].clone()).unwrap_or_default();
        let had = list.iter().any(|f| f == fin);
        match op {
            FinalizerOp::Add if !had => list.push(fin.to_string()),
            FinalizerOp::Remove if had => list.retain(|f| f != fin),
            _ => return Ok(false),
        }
        obj["metadata"]["finalizers"] = serde_json::json!(list);
        Ok(true)
    }

    async fn clear_finalizers(&self, target: &ResourceRef) -> Result<Vec<String>> {
        self.gate("finalizer-clear").await?;
        self.record(format!("finalizer-clear {target}"));
        let mut s = self.state();
        let obj = s
            .objects
            .get_mut(&key_of(target))
            .ok_or_else(|| BackendError::not_found(format!("{target} not found")))?;
        let list: Vec<String> =
            serde_json::from_value(obj["metadata"]["finalizers"].take()).unwrap_or_default();
        Ok(list)
    }

    async fn finalize_namespace(&self, name: &str) -> Result<()> {
        self.gate("namespace-finalize").await?;
        self.record(format!("namespace-finalize {name}"));
        let mut s = self.state();
        let ns = s
            .namespaces
            .iter_mut()
            .find(|n| n.name == name)
            .ok_or_else(|| BackendError::not_found(format!("namespace {name} not found")))?;
        ns.finalizers.clear();
        Ok(())
    }

    fn watch(&self, scope: &WatchScope) -> BoxStream<'static, ApiChange> {
        super::watch::changes(self.clone(), scope.clone())
    }

    async fn cordon(&self, node: &str, cordoned: bool) -> Result<()> {
        self.gate(if cordoned { "cordon" } else { "uncordon" })
            .await?;
        self.record(format!(
            "{} {node}",
            if cordoned { "cordon" } else { "uncordon" }
        ));
        let mut s = self.state();
        let missing = node_missing(&s, node);
        s.nodes.get_mut(node).ok_or(missing)?.unschedulable = cordoned;
        Ok(())
    }

    async fn taint(&self, taint: &NodeTaint, present: bool) -> Result<()> {
        self.gate(if present { "taint" } else { "untaint" }).await?;
        self.record(format!(
            "{} {} {}",
            if present { "taint" } else { "untaint" },
            taint.node,
            taint.key
        ));
        let mut s = self.state();
        let missing = node_missing(&s, &taint.node);
        let n = s.nodes.get_mut(taint.node.name()).ok_or(missing)?;
        n.taints
            .retain(|t| !(t.key == taint.key && t.effect == taint.effect));
        if present {
            n.taints.push(Taint {
                key: taint.key.clone(),
                value: taint.value.clone(),
                effect: taint.effect,
            });
        }
        Ok(())
    }
}
