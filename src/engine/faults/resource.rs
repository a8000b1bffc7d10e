//! The resource faults inside a node container: `cpu-hog`, and its undo (stop the hog).
//!
//! The hog ends by itself after its duration; the undo stops it earlier (at the end of the
//! run, on failure, on Ctrl-C, or from `chaos recover` after a crash). Its marker is named from
//! the fault itself, so the undo journaled before it knows what to stop.

use async_trait::async_trait;

use crate::backends::{self, HOG_PREFIX, Result};
use crate::playbook::model;
use crate::playbook::values::format_duration;

use super::super::backends::Backends;
use super::{Fault, UndoRecord};

family! {
    CpuHog(model::CpuHog),
}

impl CpuHog<'_> {
    fn cores(&self) -> u32 {
        self.0.cores.unwrap_or(1)
    }

    /// `kind-chaos-hog-` and eight hex digits of an FNV-1a hash of what the fault says.
    fn marker(&self) -> String {
        let text = format!("{}|{}|{:?}", self.0.node, self.cores(), self.0.duration.0);
        let hash = text.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        format!("{HOG_PREFIX}{hash:08x}")
    }
}

#[async_trait]
impl Fault for CpuHog<'_> {
    fn describe(&self) -> String {
        format!(
            "keep {} core(s) of node {} busy for {}",
            self.cores(),
            self.0.node,
            format_duration(self.0.duration.0)
        )
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::HogStop {
            node: self.0.node.to_string(),
            marker: self.marker(),
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let hog = backends::CpuHog {
            marker: self.marker(),
            cores: self.cores(),
            seconds: self.0.duration.0.as_secs().max(1),
        };
        b.nodes().await?.hog(&self.0.node, &hog).await?;
        Ok(undo)
    }
    /// Some loops may have started before a later one failed.
    fn owed_if_failed(&self, _undo: &UndoRecord) -> bool {
        true
    }
}

pub fn stop_text(node: &str, marker: &str) -> String {
    format!("stop the CPU hog {marker} in node {node}")
}

pub async fn stop(b: &Backends, node: &str, marker: &str) -> Result<Option<String>> {
    b.nodes().await?.unhog(node, marker).await?;
    Ok(None)
}
