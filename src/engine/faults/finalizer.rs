//! Finalizers: `finalizer-add` (undo: remove exactly that finalizer, see [`undo`]),
//! `finalizer-remove` and `namespace-finalize` (no undo: they are how stuck objects are freed).

mod undo;

use async_trait::async_trait;

use crate::backends::{FinalizerOp, Result};
use crate::playbook::model::{self, ResourceRef};

use super::super::backends::Backends;
use super::{Fault, UndoRecord};

family! {
    FinalizerAdd(model::FinalizerAdd),
    FinalizerRemove(model::FinalizerRemove),
    NamespaceFinalize(model::NamespaceRef),
}

#[async_trait]
impl Fault for FinalizerAdd<'_> {
    fn describe(&self) -> String {
        format!("add finalizer {} to {}", self.0.finalizer, self.0.resource)
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::FinalizerRemove {
            resource: self.0.resource.clone(),
            finalizer: self.0.finalizer.clone(),
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let added = b
            .kube()
            .await?
            .finalizer(&self.0.resource, &self.0.finalizer, FinalizerOp::Add)
            .await?;
        // Only undo what we added: a finalizer that was already there is not ours to remove.
        Ok(undo.filter(|_| added))
    }
}

pub fn remove_text(resource: &ResourceRef, finalizer: &str) -> String {
    format!("remove finalizer {finalizer} from {resource}")
}

/// The undo of `finalizer-add`.
pub async fn remove(
    b: &Backends,
    resource: &ResourceRef,
    finalizer: &str,
) -> Result<Option<String>> {
    undo::remove(b.kube().await?.as_ref(), resource, finalizer).await
}

#[async_trait]
impl Fault for FinalizerRemove<'_> {
    fn describe(&self) -> String {
        match &self.0.finalizer {
            Some(x) => format!("remove finalizer {x} from {}", self.0.resource),
            None => format!("remove every finalizer from {}", self.0.resource),
        }
    }
    async fn inject(&self, b: &Backends, _undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let kube = b.kube().await?;
        match &self.0.finalizer {
            Some(name) => {
                kube.finalizer(&self.0.resource, name, FinalizerOp::Remove)
                    .await?;
            }
            None => {
                kube.clear_finalizers(&self.0.resource).await?;
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Fault for NamespaceFinalize<'_> {
    fn describe(&self) -> String {
        format!(
            "clear spec.finalizers of namespace {} via /finalize",
            self.0.namespace
        )
    }
    async fn inject(&self, b: &Backends, _undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        b.kube()
            .await?
            .finalize_namespace(&self.0.namespace)
            .await?;
        Ok(None)
    }
}
