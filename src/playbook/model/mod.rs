//! The playbook as written: serde types with `deny_unknown_fields` everywhere, so a typo can
//! never silently drop a fault. The JSON Schema (`chaos schema`) is generated from these same
//! types, so editor validation and `chaos validate` agree.

mod actions;
mod conditions;
mod control;
mod etcd;
mod network;
mod nodes_of;
mod pods;
mod probe;
mod probe_exec;
mod resource;
mod step;
mod target;
mod variants;
mod written;

pub use actions::*;
pub use conditions::*;
pub use control::*;
pub use etcd::*;
pub use network::*;
pub use pods::*;
pub use probe::*;
pub use probe_exec::*;
pub use resource::*;
pub use step::Step;
pub use target::*;
pub use variants::action_keys;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::de::Recover;
use super::values::Duration;

pub const API_VERSION: &str = "chaos/v1alpha1";
pub const KIND: &str = "Playbook";

/// A chaos playbook: set up workloads, inject faults, wait, assert, and undo everything.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "kind-chaos playbook", transform = crate::playbook::schema::document_rules)]
pub struct Playbook {
    /// Always `chaos/v1alpha1`.
    pub api_version: String,
    /// Always `Playbook`.
    pub kind: String,
    /// A short name, used in reports.
    pub name: String,
    /// What the experiment demonstrates and what it asserts.
    #[serde(default)]
    pub description: Option<String>,
    /// The kind cluster it runs against (overridden by `--cluster`).
    #[serde(default)]
    pub cluster: Option<String>,
    /// The longest the whole run may take (default 30m); undo still runs after it.
    #[serde(default)]
    pub timeout: Option<Recover<Duration>>,
    /// What must hold before the first fault of `steps` (else nothing is injected) and again
    /// after their undo (else the system did not recover): checks of `http`, `exec` or
    /// `condition`, each sampled once.
    #[serde(default, rename = "steady-state")]
    pub steady_state: Vec<Recover<ProbeCheck>>,
    /// The seed of random picks (`pick: random`); a run without one draws a seed and reports
    /// it, so writing that seed here replays the same picks.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Variables with their defaults, used in strings as `${vars.NAME}`.
    #[serde(default)]
    pub vars: Option<crate::playbook::vars::Declared>,
    /// Steps that prepare the experiment (e.g. `apply`); their undo runs last.
    #[serde(default)]
    pub setup: Vec<Recover<Step>>,
    /// The experiment: faults, waits and assertions, in order.
    #[serde(default)]
    pub steps: Vec<Recover<Step>>,
    /// Steps that always run at the end, after the faults are undone.
    #[serde(default)]
    pub teardown: Vec<Recover<Step>>,
}

/// The top-level keys of a playbook (checked against the schema by a test), so that an unknown
/// key is reported without stopping the rest of the file from being checked.
pub const PLAYBOOK_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "name",
    "description",
    "cluster",
    "timeout",
    "steady-state",
    "seed",
    "vars",
    "setup",
    "steps",
    "teardown",
];

/// Fields common to every wait.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Wait {
    /// The condition to wait for.
    pub until: Condition,
    /// How long to wait before failing (default 2m).
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// How often to look again when the backend cannot watch (default 1s).
    #[serde(default)]
    pub interval: Option<Duration>,
}
