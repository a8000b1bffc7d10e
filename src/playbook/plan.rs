//! The resolved plan: what `chaos run` executes and `--dry-run` prints. Steps have stable ids,
//! manifest paths are absolute and their documents loaded, defaults are filled in.

use std::time::Duration;

use serde::Serialize;

use super::model::{Action, ProbeCheck, ProbeExpect};

/// Defaults a playbook may override.
pub mod defaults {
    use std::time::Duration;
    pub const RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
    pub const WAIT_TIMEOUT: Duration = Duration::from_secs(120);
    pub const WAIT_INTERVAL: Duration = Duration::from_secs(1);
    pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
    pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Setup,
    /// The steady state, checked before the first fault of `steps`.
    #[serde(rename = "steady-before")]
    SteadyBefore,
    Steps,
    /// The steady state, checked again after the faults of `steps` are undone.
    #[serde(rename = "steady-after")]
    SteadyAfter,
    Teardown,
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::SteadyBefore => "steady-before",
            Phase::Steps => "steps",
            Phase::SteadyAfter => "steady-after",
            Phase::Teardown => "teardown",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub name: String,
    pub description: Option<String>,
    pub file: std::path::PathBuf,
    pub cluster: Option<String>,
    /// The variables as resolved for this run (`playbook/vars.rs`), in the order declared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<super::vars::Var>,
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// The playbook's `seed:` for random picks, if it wrote one.
    pub seed: Option<u64>,
    /// What the preflight resolved against the cluster (the engine's `targets` module fills
    /// it in; `None` before a preflight, or for a dry run that reached no cluster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
    pub setup: Vec<PlanStep>,
    /// The steady state: one `Check` step per item (`steady-state[0]`...).
    pub steady_state: Vec<PlanStep>,
    pub steps: Vec<PlanStep>,
    pub teardown: Vec<PlanStep>,
}

impl Plan {
    pub fn phases(&self) -> [(Phase, &[PlanStep]); 3] {
        [
            (Phase::Setup, &self.setup),
            (Phase::Steps, &self.steps),
            (Phase::Teardown, &self.teardown),
        ]
    }

    /// Every step, groups included, depth first.
    pub fn all_steps(&self) -> Vec<&PlanStep> {
        fn walk<'a>(steps: &'a [PlanStep], out: &mut Vec<&'a PlanStep>) {
            for s in steps {
                out.push(s);
                walk(s.children(), out);
            }
        }
        let mut out = Vec::new();
        for (_, steps) in self.phases() {
            walk(steps, &mut out);
        }
        out
    }
}

/// The targets of a playbook as the preflight resolved them against one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Resolved {
    /// The seed random picks were made with: the playbook's, else one drawn for this run
    /// (write it as `seed:` to replay the same picks). None when nothing is random.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Every node target that did not name its node, in the playbook's order.
    pub targets: Vec<ResolvedTarget>,
    /// Every pod `pick:` of a selector, in the playbook's order, with the pods chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<ResolvedPods>,
}

impl Resolved {
    /// Nothing to show: no seed, no target that did not name its node, no pod pick.
    pub fn is_empty(&self) -> bool {
        self.seed.is_none() && self.targets.is_empty() && self.pods.is_empty()
    }
}

/// One pod pick and the pods it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ResolvedPods {
    /// The step's id (`steps[2]`), and its name if it has one.
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The pick as written: `pick: 2 of app=web in default`.
    pub target: String,
    /// The pods the preflight chose; none when the step chooses as it starts (its pods may be
    /// created or replaced by an earlier step, or it runs more than once in a `repeat`): then
    /// each run's result names the pods it took (`StepResult::pods`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods: Option<Vec<String>>,
}

/// One node target and the node it came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ResolvedTarget {
    /// The step's id (`steps[2]`), and its name if it has one.
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The target as written: `{role: worker, index: 2}`.
    pub target: String,
    /// The node it resolved to.
    pub node: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanStep {
    /// Where the step is: `steps[2]`, `steps[1].group[0]`.
    pub id: String,
    pub name: Option<String>,
    /// The line of the playbook the step starts on (JUnit's `line`, for CI annotations).
    #[serde(skip)]
    pub line: usize,
    /// `for:` how long the fault lasts before the step undoes it.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "ser_opt_duration")]
    pub hold: Option<Duration>,
    pub kind: PlanStepKind,
}

impl PlanStep {
    /// The name if it has one, else the id.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// The steps nested in this one: a group's, a `parallel`'s, a `repeat`'s (one
    /// iteration's), or those a probe runs during; none otherwise.
    pub fn children(&self) -> &[PlanStep] {
        match &self.kind {
            PlanStepKind::Group(c) | PlanStepKind::Parallel(c) => c,
            PlanStepKind::Repeat { steps, .. } => steps,
            PlanStepKind::Probe { during, .. } => during,
            PlanStepKind::Action(_) | PlanStepKind::Apply { .. } | PlanStepKind::Check(_) => &[],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanStepKind {
    Action(Box<Action>),
    /// Manifests to apply: the absolute file and its parsed documents.
    Apply {
        file: std::path::PathBuf,
        namespace: Option<String>,
        documents: Vec<serde_json::Value>,
    },
    Group(Vec<PlanStep>),
    /// Steps run at the same time, one branch each.
    Parallel(Vec<PlanStep>),
    /// The steps of one iteration, run `times` times, starting `every` apart.
    Repeat {
        times: u32,
        #[serde(serialize_with = "ser_opt_duration")]
        every: Option<Duration>,
        steps: Vec<PlanStep>,
    },
    /// One sample of a check: an item of `steady-state`.
    Check(Box<ProbeCheck>),
    /// A check sampled in the background while `during` runs.
    Probe {
        probe: Box<ProbePlan>,
        during: Vec<PlanStep>,
    },
}

/// A `probe:` step with its defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct ProbePlan {
    pub check: ProbeCheck,
    #[serde(serialize_with = "ser_duration")]
    pub interval: Duration,
    pub expect: ProbeExpect,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::values::format_duration(*d))
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}
