//! Keeping pods off a node through the API: `node-cordon` (undo: uncordon) and `node-taint`
//! (undo: remove the taint).

use async_trait::async_trait;

use crate::backends::Result;
use crate::observe::words::part;
use crate::playbook::model;

use super::super::backends::Backends;
use super::{Fault, UndoRecord};

family! {
    NodeCordon(model::NodeRef),
    NodeTaint(model::NodeTaint),
}

#[async_trait]
impl Fault for NodeCordon<'_> {
    fn describe(&self) -> String {
        format!("cordon {}", self.0.node)
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::NodeUncordon {
            node: self.0.node.to_string(),
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        b.kube().await?.cordon(&self.0.node, true).await?;
        Ok(undo)
    }
}

pub fn uncordon_text(node: &str) -> String {
    format!("uncordon {node}")
}

pub async fn uncordon(b: &Backends, node: &str) -> Result<Option<String>> {
    b.kube().await?.cordon(node, false).await?;
    Ok(None)
}

#[async_trait]
impl Fault for NodeTaint<'_> {
    fn describe(&self) -> String {
        let t = self.0;
        format!(
            "taint {} {}{}:{:?}",
            t.node,
            t.key,
            part("=", t.value.as_ref()),
            t.effect
        )
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::NodeUntaint {
            taint: self.0.clone(),
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        b.kube().await?.taint(self.0, true).await?;
        Ok(undo)
    }
}

pub fn untaint_text(taint: &model::NodeTaint) -> String {
    format!("remove taint {} from {}", taint.key, taint.node)
}

pub async fn untaint(b: &Backends, taint: &model::NodeTaint) -> Result<Option<String>> {
    b.kube().await?.taint(taint, false).await?;
    Ok(None)
}
