//! Deleting objects through the API: `pod-delete`, `namespace-delete`, `resource-delete`.
//! No undo: what the controllers and the garbage collector do next is the experiment.

use async_trait::async_trait;

use crate::backends::{DeleteOptions, Result};
use crate::observe::words::pods_target;
use crate::playbook::model::{self, PodPick, ResourceRef};

use super::super::backends::Backends;
use super::super::targets::pods;
use super::{Fault, UndoRecord};

fn grace(d: Option<crate::playbook::values::Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.0.as_secs()).unwrap_or(i64::MAX))
}

/// How a pod pick reads in a step's description: ` (2 at random)`, and the pods when the
/// preflight chose them: ` (2 at random: web-1, web-3)`.
pub fn pick_words(pick: Option<PodPick>, chosen: Option<&[String]>) -> String {
    let how = match pick {
        None | Some(PodPick::All) => "every match".to_string(),
        Some(PodPick::One) => "the only match".into(),
        Some(PodPick::Random) => "one at random".into(),
        Some(PodPick::Count(n)) => format!("{n} at random"),
        Some(PodPick::Percent(n)) => format!("{n}% at random"),
    };
    match (pick, chosen) {
        (_, Some(pods)) => format!(" ({how}: {})", pods.join(", ")),
        (None | Some(PodPick::All), None) => String::new(),
        (_, None) => format!(" ({how})"),
    }
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
        let pick = pick_words(p.pick, p.picked.pods.as_deref());
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
        let names = pods::of_step(
            kube.as_ref(),
            &pods::Pods {
                namespace: &p.namespace,
                name: p.name.as_deref(),
                selector: p.selector.as_deref(),
                pick: p.pick,
                picked: &p.picked,
            },
        )
        .await?;
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
