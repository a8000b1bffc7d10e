//! The run's timeline: what happened when, by the wall clock, for the reports a facilitator
//! hands out after a game day. Steps and faults, what waits saw, the API's transitions of the
//! objects the playbook looks at, and the nodes' reality sampled while waiting, side by side.
//! Entries are plain data (serialized into the JSON report as `timeline`, read back by `chaos
//! report`); [`Recorder`] turns the engine's events into them and keeps them bounded, and
//! [`Watch`] adds the API's transitions of what the playbook names as a watch sees them.

mod record;
mod watch;

pub use record::{Recorder, Shared, Tee, lock};
pub(crate) use watch::{Watch, scope};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::playbook::Phase;

use super::{RunStatus, StepStatus, UndoStatus};

/// The timeline's format version (its JSON Schema: schema/report-timeline.schema.json).
pub const VERSION: u32 = 1;

/// How long a run waits for the API watch's first list before its first step.
pub const WATCH_READY: std::time::Duration = std::time::Duration::from_secs(2);

/// At most this many entries by default: about a day of samples every 5 s on a small cluster.
pub const DEFAULT_CAP: usize = 10_000;

/// The timeline of one playbook's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timeline {
    /// The format version, 1.
    #[schemars(extend("const" = 1))]
    pub version: u32,
    /// In the order they happened.
    pub entries: Vec<Entry>,
    /// How many entries were left out to keep the timeline bounded (older samples first).
    pub dropped: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            version: VERSION,
            entries: Vec::new(),
            dropped: 0,
        }
    }
}

/// One thing that happened, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    /// Wall clock, RFC 3339 UTC with milliseconds.
    #[schemars(extend("format" = "date-time"))]
    pub at: String,
    #[serde(flatten)]
    pub what: What,
}

/// What happened; `kind` says which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum What {
    /// The playbook started.
    RunStarted {
        playbook: String,
    },
    StepStarted {
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        phase: Phase,
        action: String,
        description: String,
    },
    StepFinished {
        step: String,
        status: StepStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A step left a fault whose undo the run now owes.
    FaultInjected {
        step: String,
        undo: String,
    },
    /// An undo ran (or was retained or left owed).
    Undo {
        step: String,
        description: String,
        status: UndoStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A wait looked and the condition did not hold yet; recorded when what it saw changed.
    WaitObserved {
        step: String,
        /// Seconds since the wait started.
        elapsed: f64,
        observed: String,
    },
    /// The nodes' reality, sampled during a wait.
    Reality {
        step: String,
        nodes: Vec<NodeSample>,
    },
    /// A pod's live sandbox appeared on (`live: true`) or left (`live: false`) a node.
    Sandbox {
        node: String,
        pod: String,
        live: bool,
    },
    /// A pod's agreement between the API and a node changed (ghost, phantom, or cleared).
    Drift {
        node: String,
        pod: String,
        state: DriftState,
        detail: String,
    },
    /// What the API said about a pod the playbook looks at, when it changed.
    Pod {
        pod: String,
        /// False: no longer returned by the query that returned it before (deleted, or moved
        /// out of the query's scope).
        present: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        phase: String,
        ready: bool,
        terminating: bool,
    },
    /// What the API said about a node, when it changed.
    Node {
        node: String,
        /// `True`, `False` or `Unknown`.
        ready: String,
        unschedulable: bool,
        /// `key=value:Effect` of each taint.
        taints: Vec<String>,
    },
    /// A namespace's phase when it changed (`None`: it does not exist).
    Namespace {
        namespace: String,
        phase: Option<String>,
    },
    /// One sample of a probe.
    Probe {
        step: String,
        probe: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ms: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An API watch of the timeline broke (`broken`: transitions may be missing from here) or
    /// listed everything again after it broke (`resumed`).
    Watch {
        /// What it watches: `pods in NS`, `nodes`, `namespaces`.
        what: String,
        state: WatchState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    RunFinished {
        status: RunStatus,
    },
}

impl What {
    /// Samples may be thinned out when the timeline is full; transitions are kept longer.
    pub fn is_sample(&self) -> bool {
        matches!(
            self,
            What::Reality { .. } | What::WaitObserved { .. } | What::Probe { .. }
        )
    }
}

/// One node's reality in a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeSample {
    pub node: String,
    pub kubelet_running: bool,
    /// Live containerd shims.
    pub shims: u32,
    /// Live pod sandboxes.
    pub sandboxes: u32,
    /// Pods whose sandbox runs here although the API deleted them or marked them terminating
    /// (absent when the API could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ghosts: Option<u32>,
    /// Pods the API says run here with no live sandbox (absent when the API could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phantoms: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftState {
    Ghost,
    Phantom,
    /// The API and the node agree again (or the pod is gone from both).
    Cleared,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WatchState {
    Broken,
    Resumed,
}

/// The timeline's JSON Schema, as committed in schema/report-timeline.schema.json.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Timeline);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
