//! What the resource faults ask of a node, in this project's own words: a CPU hog, named by a
//! marker that the processes carry in their command line and their PID file is named after;
//! a fill (memory held in a tmpfs, or a file on the disk) named by a marker the same way, so
//! that its undo and `chaos recover --sweep` find it from the name alone.

use serde::{Deserialize, Serialize};

pub use crate::playbook::model::Size;

/// The prefix of every hog's marker.
pub const HOG_PREFIX: &str = "kind-chaos-hog-";
/// The prefix of every memory fill's marker.
pub const MEMORY_PREFIX: &str = "kind-chaos-mem-";
/// The prefix of every disk fill's marker.
pub const DISK_PREFIX: &str = "kind-chaos-disk-";

/// Busy loops in a node, each ending by itself after `seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuHog {
    /// Starts with [`HOG_PREFIX`], then letters and digits only.
    pub marker: String,
    pub cores: u32,
    pub seconds: u64,
}

/// Memory or disk taken in a node, freed by itself after `seconds`. What is taken follows
/// from the marker's prefix: [`MEMORY_PREFIX`] a tmpfs mounted at `/run/<marker>`,
/// [`DISK_PREFIX`] the file `/var/lib/containerd/<marker>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Starts with [`MEMORY_PREFIX`] or [`DISK_PREFIX`], then letters and digits only.
    pub marker: String,
    /// Bytes, or per cent of the node's memory (memory) or of the filesystem's size (disk).
    pub size: Size,
    pub seconds: u64,
}

/// What a fill holds, as the node reported it once it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub bytes: u64,
    /// What the percentage was taken of (the node's memory or the filesystem's size), bytes.
    pub of: u64,
}
