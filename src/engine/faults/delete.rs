//! Deleting objects through the API: `pod-delete`, `namespace-delete`, `resource-delete`.
//! No undo: what the controllers and the garbage collector do next is the experiment.

use async_trait::async_trait;

use crate::backends::{BackendError, DeleteOptions, PodQuery, Result};
use crate::observe::words::pods_target;
use crate::playbook::model::{self, PodPick, ResourceRef};

use super::super::backends::Backends;
use super::super::targets::pick_pods;
use super::{Fault, UndoRecord};

fn grace(d: Option<crate::playbook::values::Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.0.as_secs()).unwrap_or(i64::MAX))
}

family! {
    PodDelete(model::PodDelete),
    NamespaceDelete(model::NamespaceDelete),
    ResourceDelete(model::ResourceDelete),
}

#[async_trait]
impl Fault for PodDelete<'_> {
    fn describe(&self) -> String {
        let p = self.0;
        let how = if p.force {
            " (force: grace 0)".to_string()
        } else {
            p.grace_period
                .map(|g| format!(" (grace {g})"))
                .unwrap_or_default()
        };
        let pick = match p.pick {
            None | Some(PodPick::All) => String::new(),
            Some(PodPick::One) => " (the only match)".into(),
            Some(PodPick::Random) => " (one at random)".into(),
            Some(PodPick::Count(n)) => format!(" ({n} at random)"),
            Some(PodPick::Percent(n)) => format!(" ({n}% at random)"),
        };
        format!(
            "delete {}{pick}{how}",
            pods_target(&p.namespace, &p.name, &p.selector)
        )
    }
    async fn inject(&self, b: &Backends, _undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let p = self.0;
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
                let mut names: Vec<String> = pods.into_iter().map(|p| p.key.name).collect();
                names.sort();
                let pick = p.pick.unwrap_or_default();
                pick_pods(&names, pick, p.seed).map_err(|e| {
                    BackendError::failed(format!(
                        "pods matching `{}` in {}: {e}",
                        sel.as_deref().unwrap_or_default(),
                        p.namespace
                    ))
                })?
            }
        };
        for name in names {
            let r = ResourceRef::core("Pod", Some(&p.namespace), &name);
            kube.delete(&r, &opts).await?;
        }
        Ok(None)
    }
}

#[async_trait]
impl Fault for NamespaceDelete<'_> {
    fn describe(&self) -> String {
        format!("delete namespace {}", self.0.namespace)
    }
    async fn inject(&self, b: &Backends, _undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let r = ResourceRef::core("Namespace", None, &self.0.namespace);
        delete_one(b, &r, None, self.0.propagation).await
    }
}

#[async_trait]
impl Fault for ResourceDelete<'_> {
    fn describe(&self) -> String {
        format!("delete {}", self.0.resource)
    }
    async fn inject(&self, b: &Backends, _undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let d = self.0;
        delete_one(b, &d.resource, grace(d.grace_period), d.propagation).await
    }
}

/// Deletes one object: what `namespace-delete` and `resource-delete` do (nothing to undo).
async fn delete_one(
    b: &Backends,
    r: &ResourceRef,
    grace_period_seconds: Option<i64>,
    propagation: Option<model::Propagation>,
) -> Result<Option<UndoRecord>> {
    let opts = DeleteOptions {
        grace_period_seconds,
        propagation,
    };
    b.kube().await?.delete(r, &opts).await?;
    Ok(None)
}
