//! What a run produces: typed events for live reporters, and the final report model that the
//! JSON and JUnit reporters render. Reporters fan out from these; the engine never formats.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backends::{NamespaceView, NodeReality, NodeView, PodView};
use crate::observe::probe::{ProbeSample, ProbeStats};
use crate::observe::{Verdict, secs};
use crate::playbook::{Phase, Plan, PlanStep, Resolved};

use super::timeline::Timeline;

/// Live progress of a run.
pub enum Event<'a> {
    PlaybookStarted {
        plan: &'a Plan,
    },
    StepStarted {
        phase: Phase,
        step: &'a PlanStep,
        depth: usize,
        description: &'a str,
    },
    /// A wait looked again and the condition does not hold yet.
    WaitProgress {
        step: &'a PlanStep,
        elapsed: Duration,
        timeout: Duration,
        observed: &'a str,
    },
    StepFinished {
        result: &'a StepResult,
        depth: usize,
    },
    /// A probe took a sample (`probe` is the probe step's label). Samples are taken in the
    /// background and reported in order at the next step boundary or look of a wait, so
    /// `sample.at` (not the moment of the event) is when it was taken.
    ProbeSample {
        step: &'a PlanStep,
        probe: &'a str,
        sample: &'a ProbeSample,
    },
    UndoStarted {
        pending: usize,
    },
    UndoFinished {
        result: &'a UndoResult,
    },
    PlaybookFinished {
        report: &'a PlaybookReport,
    },
    /// A wait read these from the API (the timeline records what changed).
    ApiObserved {
        step: &'a PlanStep,
        seen: ApiSeen<'a>,
    },
    /// The nodes' reality, sampled during a wait, with the API's pods when they could be read
    /// (for ghosts and phantoms).
    RealitySampled {
        step: &'a PlanStep,
        nodes: &'a [NodeReality],
        pods: Option<&'a [PodView]>,
    },
}

/// What a wait read from the API.
pub enum ApiSeen<'a> {
    Pods(&'a [PodView]),
    Nodes(&'a [NodeView]),
    Namespace {
        name: &'a str,
        view: Option<&'a NamespaceView>,
    },
}

/// Receives the events of a run as they happen.
pub trait Reporter: Send {
    fn event(&mut self, event: &Event<'_>);
}

/// A reporter that ignores everything.
pub struct Silent;

impl Reporter for Silent {
    fn event(&mut self, _: &Event<'_>) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Passed,
    /// An assertion or wait did not hold: the experiment's outcome, not a tool error.
    Failed,
    /// The step could not be carried out.
    Error,
    /// Not run because an earlier step failed or the run was interrupted.
    Skipped,
    Interrupted,
}

/// Why a step errored: decides between exit 3 and exit 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// No Docker, no cluster, API or etcd unreachable.
    Environment,
    /// The fault or step itself failed.
    Step,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    pub id: String,
    pub name: Option<String>,
    /// The line of the playbook the step starts on.
    #[serde(skip)]
    pub line: usize,
    /// When the step started, by the wall clock (RFC 3339, milliseconds); none if it never ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    pub phase: Phase,
    /// The action key (`kubelet-stop`, `wait`...).
    pub action: String,
    pub description: String,
    pub status: StepStatus,
    #[serde(serialize_with = "secs::ser", deserialize_with = "secs::de")]
    pub duration: Duration,
    /// For waits and assertions: what was expected and what was seen last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    /// The undo this step registered, if it injected a fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
    /// Where the values an `etcd-delete` removed were backed up (`chaos etcd restore FILE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// For `probe` steps: every sample and what they add up to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeReport>,
    /// For a step with a pod `pick`: the pods this run of it took (the preflight's choice, or
    /// the step's own as it started; in a `repeat`, each run's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<Vec<String>>,
}

/// What a probe saw while its `during` steps ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeReport {
    /// What was sampled, in words.
    pub check: String,
    /// The time between the starts of two samples, in seconds.
    #[serde(serialize_with = "secs::ser", deserialize_with = "secs::de")]
    pub interval: Duration,
    #[serde(flatten)]
    pub stats: ProbeStats,
    /// Every sample, in the order taken.
    pub samples: Vec<ProbeSample>,
}

impl StepResult {
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UndoStatus {
    Undone,
    Failed,
    /// Left in place on purpose (`--retain`).
    Retained,
    /// Not undone: the run left at a second interrupt; `chaos recover` owes it.
    Owed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UndoResult {
    /// The step whose fault this undoes.
    pub step: String,
    pub description: String,
    /// When the undo finished, by the wall clock (RFC 3339, milliseconds); none if never tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub status: UndoStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Passed,
    Failed,
    Error,
    Interrupted,
    /// The steady state did not hold before the first fault: nothing of `steps` was injected.
    NotSteady,
    /// The steps passed but `--retain` left their faults in place: the cluster is faulted on
    /// purpose, which is never reported as a pass.
    Retained,
    /// An undo failed and was not made good later: the cluster may be left faulted. Louder
    /// than any other outcome; whatever the steps did, this run did not pass.
    RollbackFailed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlaybookReport {
    pub name: String,
    pub file: String,
    pub started_at: String,
    #[serde(serialize_with = "secs::ser", deserialize_with = "secs::de")]
    pub duration: Duration,
    pub status: RunStatus,
    /// Set when `status` is `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    /// The playbook's variables as resolved for this run (name -> value).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub vars: std::collections::BTreeMap<String, String>,
    pub steps: Vec<StepResult>,
    pub undo: Vec<UndoResult>,
    /// The seed of random picks and the nodes the targets resolved to (absent when the
    /// playbook named every node and picked nothing at random).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
    /// What happened when (`timeline` in the JSON report; docs/report.md).
    #[serde(default)]
    pub timeline: Timeline,
}

impl PlaybookReport {
    /// Some undo failed and no later retry of it succeeded: the cluster may be left faulted.
    pub fn rollback_failed(&self) -> bool {
        self.failed_undo().next().is_some()
    }

    /// The undo entries that failed and stayed failed (an `undo:` step's failure is retried by
    /// the final unwind; a retry that worked makes it good).
    pub fn failed_undo(&self) -> impl Iterator<Item = &UndoResult> {
        self.undo.iter().enumerate().filter_map(|(i, u)| {
            let made_good = self.undo[i + 1..].iter().any(|later| {
                later.status == UndoStatus::Undone
                    && later.step == u.step
                    && later.description == u.description
            });
            (u.status == UndoStatus::Failed && !made_good).then_some(u)
        })
    }

    pub fn retained(&self) -> impl Iterator<Item = &UndoResult> {
        self.undo
            .iter()
            .filter(|u| u.status == UndoStatus::Retained)
    }
}
