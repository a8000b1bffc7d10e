//! The bodies of the actions that run other steps (beyond `group`, a plain list): `repeat`.
//! `parallel` is a plain list too; how both run is in `engine/parallel.rs` and
//! `engine/repeat.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::de::Recover;
use super::super::values::Duration;
use super::step::Step;

/// The most iterations a `repeat` may run.
pub const MAX_REPEAT: u32 = 1000;

/// `repeat`: the steps of one iteration, how many iterations, and how far apart they start.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Repeat {
    /// How many iterations (1 to 1000).
    #[schemars(range(min = 1, max = 1000))]
    pub times: u32,
    /// From the start of one iteration to the start of the next (default: straight after).
    #[serde(default)]
    pub every: Option<Duration>,
    /// The steps of one iteration; their ids and names get `#N` (the iteration) in reports.
    pub steps: Vec<Recover<Step>>,
}
