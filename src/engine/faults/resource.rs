//! The resource faults inside a node container: `cpu-hog`, `memory-hog` and `disk-fill`, and
//! their undos (stop the hog; free the fill).
//!
//! Each ends by itself after its duration; the undo ends it earlier (at the end of the run, on
//! failure, on Ctrl-C, or from `chaos recover` after a crash). Its marker is named from the
//! fault itself, so the undo journaled before it knows what to stop or free. A fill's undo
//! carries what the node reported it held once it was written (the hog's own report), so the
//! reports and the journal say how much was taken.

use async_trait::async_trait;

use crate::backends::{self, DISK_PREFIX, Fill, HOG_PREFIX, MEMORY_PREFIX, Result, Size};
use crate::playbook::model::{self, format_bytes, show_bytes};
use crate::playbook::values::{Duration, format_duration};

use super::super::backends::Backends;
use super::{Fault, UndoRecord};

family! {
    CpuHog(model::CpuHog),
    MemoryHog(model::MemoryHog),
    DiskFill(model::DiskFill),
}

/// `prefix` and eight hex digits of an FNV-1a hash of `text`, what the fault says.
fn marker(prefix: &str, text: &str) -> String {
    let hash = text.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{prefix}{hash:08x}")
}

impl CpuHog<'_> {
    fn cores(&self) -> u32 {
        self.0.cores.unwrap_or(1)
    }

    /// `kind-chaos-hog-` and eight hex digits of an FNV-1a hash of what the fault says.
    fn marker(&self) -> String {
        let text = format!("{}|{}|{:?}", self.0.node, self.cores(), self.0.duration.0);
        marker(HOG_PREFIX, &text)
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

/// What `memory-hog` and `disk-fill` share: a fill of some size in a node for a while. Each
/// of the two says only how it is named and described ([`Takes`]); describing, the undo and
/// injecting are written once, for both.
struct Taking<'a> {
    prefix: &'static str,
    node: &'a str,
    size: Size,
    duration: Duration,
    /// What a share (`30%`) is of, in words.
    share_of: &'static str,
    /// The description, from the amount in words, the node and the duration.
    says: fn(&str, &str, &str) -> String,
}

/// A fault that takes memory or disk in a node ([`Taking`]).
trait Takes {
    fn taking(&self) -> Taking<'_>;
}

impl Taking<'_> {
    fn marker(&self) -> String {
        let text = format!("{}|{}|{:?}", self.node, self.size, self.duration.0);
        marker(self.prefix, &text)
    }

    fn undo(&self) -> UndoRecord {
        UndoRecord::FillFree {
            node: self.node.to_string(),
            marker: self.marker(),
            held: None,
        }
    }
}

#[async_trait]
impl<T: Takes + Send + Sync> Fault for T {
    fn describe(&self) -> String {
        let t = self.taking();
        let what = match t.size {
            Size::Bytes(b) => format_bytes(b),
            Size::Percent(p) => format!("{p}% of {}", t.share_of),
        };
        (t.says)(&what, t.node, &format_duration(t.duration.0))
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(self.taking().undo())
    }
    /// Takes it; the undo owed then says what the node reported it holds.
    async fn inject(&self, b: &Backends, _undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let t = self.taking();
        let fill = Fill {
            marker: t.marker(),
            size: t.size,
            seconds: t.duration.0.as_secs().max(1),
        };
        let held = b.nodes().await?.fill(t.node, &fill).await?;
        Ok(Some(UndoRecord::FillFree {
            node: t.node.to_string(),
            marker: fill.marker,
            held: Some(held.bytes),
        }))
    }
    /// A failed fill frees what it wrote, but a `chaos` that lost the node's answer cannot
    /// know it did.
    fn owed_if_failed(&self, _undo: &UndoRecord) -> bool {
        true
    }
}

impl Takes for MemoryHog<'_> {
    fn taking(&self) -> Taking<'_> {
        Taking {
            prefix: MEMORY_PREFIX,
            node: &self.0.node,
            size: self.0.size,
            duration: self.0.duration,
            share_of: "the memory",
            says: |what, node, time| format!("hold {what} of node {node} in a tmpfs for {time}"),
        }
    }
}

impl Takes for DiskFill<'_> {
    fn taking(&self) -> Taking<'_> {
        Taking {
            prefix: DISK_PREFIX,
            node: &self.0.node,
            size: self.0.size,
            duration: self.0.duration,
            share_of: "the filesystem",
            says: |what, node, time| {
                format!("fill {what} under /var/lib/containerd of node {node} for {time}")
            },
        }
    }
}

pub fn free_text(node: &str, marker: &str, held: Option<u64>) -> String {
    let what = if marker.starts_with(MEMORY_PREFIX) {
        format!("unmount the memory hog's tmpfs /run/{marker}")
    } else {
        format!("remove the disk fill /var/lib/containerd/{marker}")
    };
    match held {
        Some(bytes) => format!("{what} ({} held) in node {node}", show_bytes(bytes)),
        None => format!("{what} in node {node}"),
    }
}

pub async fn free(b: &Backends, node: &str, marker: &str) -> Result<Option<String>> {
    let bytes = b.nodes().await?.unfill(node, marker).await?;
    Ok(Some(if bytes == 0 {
        "nothing was left to free".to_string()
    } else {
        format!("freed {}", show_bytes(bytes))
    }))
}
