//! The backend traits implemented over the fake's state.

use async_trait::async_trait;

use super::FakeCluster;
use crate::backends::*;
use crate::playbook::model::{NodeTaint, ResourceRef};
use crate::playbook::values::Signal;

fn node_missing(s: &super::State, node: &str) -> BackendError {
    let names: Vec<&str> = s.nodes.keys().map(String::as_str).collect();
    BackendError::not_found(format!(
        "no node `{node}`; the cluster has {}",
        names.join(", ")
    ))
}

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
impl NodeOps for FakeCluster {
    async fn nodes(&self) -> Result<Vec<NodeContainer>> {
        self.gate("node-list").await?;
        let s = self.state();
        Ok(s.nodes
            .iter()
            .map(|(n, f)| NodeContainer {
                name: n.clone(),
                role: f.role.clone(),
                state: f.container.clone(),
            })
            .collect())
    }

    async fn kubelet(&self, node: &str, action: KubeletAction) -> Result<()> {
        let op = match action {
            KubeletAction::Stop => "kubelet-stop",
            KubeletAction::Start => "kubelet-start",
        };
        self.gate(op).await?;
        self.record(format!("{op} {node}"));
        let mut s = self.state();
        let noop = s.knobs.undo_noop && action == KubeletAction::Start;
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if !noop {
            n.kubelet_executable = action == KubeletAction::Start;
            n.kubelet_running = action == KubeletAction::Start;
        }
        Ok(())
    }

    async fn container(&self, node: &str, action: ContainerAction) -> Result<()> {
        let (op, to) = match action {
            ContainerAction::Pause => ("node-pause", "paused"),
            ContainerAction::Unpause => ("node-unpause", "running"),
            ContainerAction::Stop { .. } => ("node-stop", "exited"),
            ContainerAction::Start => ("node-start", "running"),
            ContainerAction::Kill { .. } => ("node-kill", "exited"),
        };
        self.gate(op).await?;
        self.record(format!("{op} {node}"));
        let mut s = self.state();
        let undo = matches!(action, ContainerAction::Unpause | ContainerAction::Start);
        let noop = s.knobs.undo_noop && undo;
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if !noop {
            n.container = to.into();
        }
        Ok(())
    }

    async fn kill_pod_container(
        &self,
        node: &str,
        pod: &PodKey,
        container: Option<&str>,
        signal: Signal,
    ) -> Result<()> {
        self.gate("container-kill").await?;
        self.record(format!(
            "container-kill {node} {pod} {} {signal}",
            container.unwrap_or("-")
        ));
        let s = self.state();
        let n = s.nodes.get(node).ok_or_else(|| node_missing(&s, node))?;
        if !n.sandboxes.iter().any(|sb| &sb.pod == pod && sb.live) {
            return Err(BackendError::not_found(format!(
                "pod {pod} has no live sandbox on {node}"
            )));
        }
        Ok(())
    }

    async fn exec(&self, node: &str, argv: &[String]) -> Result<ExecOutput> {
        self.gate("exec").await?;
        self.record(format!("exec {node} {}", argv.join(" ")));
        let s = self.state();
        if !s.nodes.contains_key(node) {
            return Err(node_missing(&s, node));
        }
        Ok(ExecOutput::default())
    }

    async fn reality(&self, node: Option<&str>) -> Result<Vec<NodeReality>> {
        self.gate("reality").await?;
        self.observed();
        let s = self.state();
        if let Some(n) = node
            && !s.nodes.contains_key(n)
        {
            return Err(node_missing(&s, n));
        }
        Ok(s.nodes
            .iter()
            .filter(|(n, _)| node.is_none_or(|want| want == n.as_str()))
            .map(|(n, f)| NodeReality {
                node: n.clone(),
                kubelet_running: f.kubelet_running,
                shims: f
                    .sandboxes
                    .iter()
                    .filter(|sb| sb.live)
                    .enumerate()
                    .map(|(i, sb)| Shim {
                        pid: 1000 + i as u32,
                        sandbox_id: sb.id.clone(),
                    })
                    .collect(),
                sandboxes: f.sandboxes.clone(),
            })
            .collect())
    }
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
        let mut s = self.state();
        let existed = s.objects.remove(&key_of(target)).is_some();
        let before = s.pods.len() + s.namespaces.len();
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
        self.gate("pods").await?;
        self.observed();
        let s = self.state();
        Ok(s.pods
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
            .collect())
    }

    async fn pod_logs(&self, pod: &PodKey, _c: Option<&str>, previous: bool) -> Result<String> {
        self.gate("pod-logs").await?;
        self.observed();
        let key = if previous {
            format!("{pod}#previous")
        } else {
            pod.to_string()
        };
        Ok(self.state().logs.get(&key).cloned().unwrap_or_default())
    }

    async fn nodes(&self) -> Result<Vec<NodeView>> {
        self.gate("nodes").await?;
        self.observed();
        let s = self.state();
        Ok(s.nodes
            .iter()
            .map(|(n, f)| NodeView {
                name: n.clone(),
                ready: f.ready.clone(),
                unschedulable: f.unschedulable,
                taints: f.taints.clone(),
                labels: f.labels.clone(),
            })
            .collect())
    }

    async fn namespace(&self, name: &str) -> Result<Option<NamespaceView>> {
        self.gate("namespace").await?;
        self.observed();
        Ok(self
            .state()
            .namespaces
            .iter()
            .find(|n| n.name == name)
            .cloned())
    }

    async fn get(&self, target: &ResourceRef) -> Result<Option<serde_json::Value>> {
        self.gate("get").await?;
        self.observed();
        Ok(self.state().objects.get(&key_of(target)).cloned())
    }

    async fn events(&self, namespace: &str) -> Result<Vec<EventView>> {
        self.gate("events").await?;
        self.observed();
        Ok(self
            .state()
            .events
            .iter()
            .filter(|e| e.namespace == namespace)
            .map(|e| EventView {
                reason: e.reason.clone(),
                object: e.object.clone(),
                message: e.message.clone(),
            })
            .collect())
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
        let n = s.nodes.get_mut(&taint.node).ok_or(missing)?;
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

#[async_trait]
impl EtcdOps for FakeCluster {
    async fn read(&self, sel: &EtcdSelector) -> Result<EtcdBackup> {
        self.gate("etcd-read").await?;
        let s = self.state();
        let entries = s
            .etcd
            .iter()
            .filter(|(k, _)| match sel {
                EtcdSelector::Key(x) => *k == x,
                EtcdSelector::Prefix(p) => k.starts_with(p.as_str()),
            })
            .map(|(k, v)| EtcdEntry {
                key: k.clone().into_bytes(),
                value: v.clone().into_bytes(),
            })
            .collect();
        Ok(EtcdBackup {
            revision: 1,
            entries,
        })
    }

    async fn delete(&self, sel: &EtcdSelector, _: Option<&std::path::Path>) -> Result<EtcdBackup> {
        self.gate("etcd-delete").await?;
        self.record(format!("etcd-delete {sel}"));
        let mut s = self.state();
        let keys: Vec<String> = s
            .etcd
            .keys()
            .filter(|k| match sel {
                EtcdSelector::Key(x) => *k == x,
                EtcdSelector::Prefix(p) => k.starts_with(p.as_str()),
            })
            .cloned()
            .collect();
        let mut entries = Vec::new();
        for k in keys {
            if let Some(v) = s.etcd.remove(&k) {
                entries.push(EtcdEntry {
                    key: k.into_bytes(),
                    value: v.into_bytes(),
                });
            }
        }
        Ok(EtcdBackup {
            revision: 1,
            entries,
        })
    }

    async fn restore(&self, backup: &EtcdBackup, force: bool) -> Result<RestoreReport> {
        self.gate("etcd-restore").await?;
        self.record(format!("etcd-restore {} keys", backup.entries.len()));
        let mut s = self.state();
        let mut report = RestoreReport::default();
        if s.knobs.undo_noop {
            return Ok(report);
        }
        for e in &backup.entries {
            let k = String::from_utf8_lossy(&e.key).to_string();
            if s.etcd.contains_key(&k) && !force {
                report.skipped.push(k);
            } else {
                s.etcd
                    .insert(k.clone(), String::from_utf8_lossy(&e.value).to_string());
                report.restored.push(k);
            }
        }
        Ok(report)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        self.gate("etcd-get").await?;
        self.observed();
        Ok(self.state().etcd.contains_key(key))
    }

    async fn count(&self, prefix: &str) -> Result<u64> {
        self.gate("etcd-count").await?;
        self.observed();
        Ok(self
            .state()
            .etcd
            .keys()
            .filter(|k| k.starts_with(prefix))
            .count() as u64)
    }
}
