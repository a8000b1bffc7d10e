//! The resolved plan: what `chaos run` executes and `--dry-run` prints. Steps have stable ids,
//! manifest paths are absolute and their documents loaded, defaults are filled in.

use std::time::Duration;

use serde::Serialize;

use super::model::Action;

/// Defaults a playbook may override.
pub mod defaults {
    use std::time::Duration;
    pub const RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
    pub const WAIT_TIMEOUT: Duration = Duration::from_secs(120);
    pub const WAIT_INTERVAL: Duration = Duration::from_secs(1);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Setup,
    Steps,
    Teardown,
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Steps => "steps",
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
    pub setup: Vec<PlanStep>,
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

    /// The steps inside a group, a `parallel` or a `repeat` (one iteration's); none otherwise.
    pub fn children(&self) -> &[PlanStep] {
        match &self.kind {
            PlanStepKind::Group(c) | PlanStepKind::Parallel(c) => c,
            PlanStepKind::Repeat { steps, .. } => steps,
            PlanStepKind::Action(_) | PlanStepKind::Apply { .. } => &[],
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
