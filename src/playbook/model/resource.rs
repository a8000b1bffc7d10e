//! The bodies of the resource faults (`cpu-hog`), apart from `actions.rs` only to keep that
//! file short: their variants, keys and undo flags are in `actions.rs` with every other
//! action's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::values::Duration;
use super::target::NodeTarget;

/// Keep CPUs of a node busy for a while: busy loops inside the node container, each under
/// `timeout`, so they end by themselves after `duration` even if nothing undoes them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CpuHog {
    pub node: NodeTarget,
    /// How many busy loops, one core's worth each (default 1, at most 64).
    #[serde(default)]
    pub cores: Option<u32>,
    /// How long they run at most, like `2m` (at least 1s).
    pub duration: Duration,
}
