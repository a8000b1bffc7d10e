//! Carrying out fault actions through the backends; each returns the undo it needs.

use crate::backends::*;
use crate::playbook::model::*;
use crate::playbook::values::Signal;

use super::backends::Backends;
use super::undo::UndoRecord;

fn grace(d: Option<crate::playbook::values::Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.0.as_secs()).unwrap_or(i64::MAX))
}

/// Injects one fault. `Ok(Some(undo))` when it changed something that must be changed back.
pub async fn inject(b: &Backends, action: &Action) -> Result<Option<UndoRecord>> {
    Ok(match action {
        Action::KubeletStop(n) => {
            b.nodes()
                .await?
                .kubelet(&n.node, KubeletAction::Stop)
                .await?;
            Some(UndoRecord::KubeletStart {
                node: n.node.clone(),
            })
        }
        Action::NodePause(n) => {
            b.nodes()
                .await?
                .container(&n.node, ContainerAction::Pause)
                .await?;
            Some(UndoRecord::NodeUnpause {
                node: n.node.clone(),
            })
        }
        Action::NodeStop(n) => {
            let timeout_secs = n.timeout.map(|t| t.0.as_secs());
            b.nodes()
                .await?
                .container(&n.node, ContainerAction::Stop { timeout_secs })
                .await?;
            Some(UndoRecord::NodeStart {
                node: n.node.clone(),
            })
        }
        Action::NodeKill(n) => {
            let signal = n.signal.unwrap_or(Signal::KILL);
            b.nodes()
                .await?
                .container(&n.node, ContainerAction::kill(signal))
                .await?;
            Some(super::undo::node_kill_undo(&n.node, Some(signal)))
        }
        Action::ContainerKill(c) => {
            let pod = PodKey {
                namespace: c.namespace.clone(),
                name: c.pod.clone(),
            };
            let node = node_of(b, &pod).await?;
            let signal = c.signal.unwrap_or(Signal::TERM);
            b.nodes()
                .await?
                .kill_pod_container(&node, &pod, c.container.as_deref(), signal)
                .await?;
            None
        }
        Action::PodDelete(p) => {
            let kube = b.kube().await?;
            let opts = if p.force {
                DeleteOptions::force()
            } else {
                DeleteOptions {
                    grace_period_seconds: grace(p.grace_period),
                    propagation: None,
                }
            };
            let names = match (&p.name, &p.selector) {
                (Some(n), _) => vec![n.clone()],
                (None, sel) => {
                    let q = PodQuery {
                        namespace: Some(p.namespace.clone()),
                        selector: sel.clone(),
                        ..Default::default()
                    };
                    let pods = kube.pods(&q).await?;
                    if pods.is_empty() {
                        return Err(BackendError::not_found(format!(
                            "no pods match `{}` in {}",
                            sel.as_deref().unwrap_or_default(),
                            p.namespace
                        )));
                    }
                    pods.into_iter().map(|p| p.key.name).collect()
                }
            };
            for name in names {
                let r = ResourceRef {
                    api_version: "v1".into(),
                    kind: "Pod".into(),
                    namespace: Some(p.namespace.clone()),
                    name,
                };
                kube.delete(&r, &opts).await?;
            }
            None
        }
        Action::NamespaceDelete(n) => {
            let r = ResourceRef {
                api_version: "v1".into(),
                kind: "Namespace".into(),
                namespace: None,
                name: n.namespace.clone(),
            };
            let opts = DeleteOptions {
                grace_period_seconds: None,
                propagation: n.propagation,
            };
            b.kube().await?.delete(&r, &opts).await?;
            None
        }
        Action::ResourceDelete(d) => {
            let opts = DeleteOptions {
                grace_period_seconds: grace(d.grace_period),
                propagation: d.propagation,
            };
            b.kube().await?.delete(&d.resource, &opts).await?;
            None
        }
        Action::FinalizerAdd(f) => {
            let added = b
                .kube()
                .await?
                .finalizer(&f.resource, &f.finalizer, FinalizerOp::Add)
                .await?;
            // Only undo what we added: a finalizer that was already there is not ours to remove.
            added.then(|| UndoRecord::FinalizerRemove {
                resource: f.resource.clone(),
                finalizer: f.finalizer.clone(),
            })
        }
        Action::FinalizerRemove(f) => {
            let kube = b.kube().await?;
            match &f.finalizer {
                Some(name) => {
                    kube.finalizer(&f.resource, name, FinalizerOp::Remove)
                        .await?;
                }
                None => {
                    kube.clear_finalizers(&f.resource).await?;
                }
            }
            None
        }
        Action::NamespaceFinalize(n) => {
            b.kube().await?.finalize_namespace(&n.namespace).await?;
            None
        }
        Action::NodeCordon(n) => {
            b.kube().await?.cordon(&n.node, true).await?;
            Some(UndoRecord::NodeUncordon {
                node: n.node.clone(),
            })
        }
        Action::NodeTaint(t) => {
            b.kube().await?.taint(t, true).await?;
            Some(UndoRecord::NodeUntaint { taint: t.clone() })
        }
        Action::EtcdDelete(e) => {
            let selector = match (&e.key, &e.prefix) {
                (Some(k), _) => EtcdSelector::Key(k.clone()),
                (None, Some(p)) => EtcdSelector::Prefix(p.clone()),
                (None, None) => {
                    return Err(BackendError::failed("etcd-delete needs a key or a prefix"));
                }
            };
            return etcd_delete(b, &selector, None).await;
        }
        Action::Exec(x) => {
            let out = b.nodes().await?.exec(&x.node, &x.command).await?;
            if out.exit_code != 0 {
                return Err(BackendError::failed(format!(
                    "`{}` exited with {} in {}: {}",
                    x.command.join(" "),
                    out.exit_code,
                    x.node,
                    out.stderr.trim()
                )));
            }
            x.undo.clone().map(|command| UndoRecord::Exec {
                node: x.node.clone(),
                command,
            })
        }
        Action::Apply(_)
        | Action::Undo(_)
        | Action::Wait(_)
        | Action::Sleep(_)
        | Action::Assert(_)
        | Action::Group(_) => None,
    })
}

/// Deletes what an `etcd-delete` names. The backup goes to `file` when given (the one the
/// journal named ahead), else where the backend chooses; the undo then names that file. A
/// backend that keeps no backup file returns the values, and the undo holds them.
pub async fn etcd_delete(
    b: &Backends,
    selector: &EtcdSelector,
    file: Option<&std::path::Path>,
) -> Result<Option<UndoRecord>> {
    let etcd = b.etcd().await?;
    let file = file
        .map(std::path::Path::to_path_buf)
        .or_else(|| etcd.backup_path(selector));
    let backup = etcd.delete(selector, file.as_deref()).await?;
    if backup.entries.is_empty() {
        return Ok(None);
    }
    let deleted = Some(backup.entries.len());
    Ok(Some(match file {
        Some(file) => UndoRecord::EtcdRestore {
            selector: selector.clone(),
            file: Some(file),
            deleted,
            backup: EtcdBackup::default(),
        },
        None => UndoRecord::EtcdRestore {
            selector: selector.clone(),
            file: None,
            deleted,
            backup,
        },
    }))
}

/// The node a pod runs on: from the API when it answers, else from the nodes' sandboxes.
async fn node_of(b: &Backends, pod: &PodKey) -> Result<String> {
    if let Ok(kube) = b.kube().await {
        let q = PodQuery {
            namespace: Some(pod.namespace.clone()),
            name: Some(pod.name.clone()),
            ..Default::default()
        };
        if let Ok(pods) = kube.pods(&q).await
            && let Some(node) = pods.into_iter().find_map(|p| p.node)
        {
            return Ok(node);
        }
    }
    let reality = b.nodes().await?.reality(None).await?;
    reality
        .iter()
        .find(|n| n.sandboxes.iter().any(|s| s.live && &s.pod == pod))
        .map(|n| n.node.clone())
        .ok_or_else(|| BackendError::not_found(format!("pod {pod} runs on no node")))
}
