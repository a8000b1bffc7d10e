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

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
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
                if let PlanStepKind::Group(children) = &s.kind {
                    walk(children, out);
                }
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
    pub kind: PlanStepKind,
}

impl PlanStep {
    /// The name if it has one, else the id.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
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
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::values::format_duration(*d))
}
