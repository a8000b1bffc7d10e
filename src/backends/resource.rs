//! What the resource faults ask of a node, in this project's own words: a CPU hog, named by a
//! marker that the processes carry in their command line and their PID file is named after.

use serde::{Deserialize, Serialize};

/// The prefix of every hog's marker.
pub const HOG_PREFIX: &str = "kind-chaos-hog-";

/// Busy loops in a node, each ending by itself after `seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuHog {
    /// Starts with [`HOG_PREFIX`], then letters and digits only.
    pub marker: String,
    pub cores: u32,
    pub seconds: u64,
}
