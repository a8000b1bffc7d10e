//! Runs a [`Plan`]: setup, steps, teardown, with every fault's undo unwound LIFO when a step
//! fails, when the run is interrupted, and at the end. Emits typed [`Event`]s as it goes and
//! returns a [`PlaybookReport`]. A failed assertion is an outcome, never an `Err`.
//!
//! Order at the end of a run: the faults of `steps` are undone, then `teardown` runs (it is
//! never skipped, and not cut short by an interruption), then the faults of `teardown` and
//! finally what `setup` did (applied manifests) are undone.

mod backends;
mod check;
pub mod describe;
mod events;
mod faults;
mod hold;
mod inject;
mod journal;
mod memory;
mod options;
mod parallel;
mod probe;
mod probe_pod;
mod repeat;
mod rollback;
mod sample;
mod steady;
mod step;
pub mod targets;
pub mod timeline;
mod wait;

/// The undo records, where journals, `chaos recover` and `--dry-run` find them.
pub mod undo {
    pub use super::faults::{UndoRecord, planned, record_for};
}

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use backends::Backends;
pub use events::*;
pub use journal::{NoJournal, UndoLog};
pub use options::{RunOptions, SAMPLE_EVERY, SAMPLE_MAX, SAMPLE_MIN};
pub use undo::UndoRecord;

use crate::backends::{BackendError, Connector, ErrorKind};
use crate::observe::Verdict;
use crate::playbook::model::Action;
use crate::playbook::{Phase, Plan, PlanStep, PlanStepKind};
use memory::Memory;

/// Runs one playbook to the end and reports what happened (no undo journal).
pub async fn run(
    plan: &Plan,
    connector: Arc<dyn Connector>,
    reporter: &mut dyn Reporter,
    cancel: &CancellationToken,
    opts: &RunOptions,
) -> PlaybookReport {
    run_journaled(plan, connector, reporter, &mut NoJournal, cancel, opts).await
}

/// Runs one playbook, writing every fault and undo ahead to `log`.
pub async fn run_journaled(
    plan: &Plan,
    connector: Arc<dyn Connector>,
    reporter: &mut dyn Reporter,
    log: &mut dyn UndoLog,
    cancel: &CancellationToken,
    opts: &RunOptions,
) -> PlaybookReport {
    let started_at = humantime::format_rfc3339_seconds((opts.clock)()).to_string();
    let start = Instant::now();
    let b = Backends::new(connector);
    let preflight = targets::preflight(plan, &b).await;
    let plan = preflight.as_ref().unwrap_or(plan);
    let recorder: timeline::Shared = Arc::new(std::sync::Mutex::new(timeline::Recorder::new(
        opts.timeline_cap,
    )));
    let mut tee = timeline::Tee {
        reporter,
        recorder: recorder.clone(),
        clock: opts.clock.clone(),
    };
    let mut r = Runner {
        b: Arc::new(b),
        reporter: &mut tee,
        sampler: sample::Sampler::new(opts.sample_every),
        log,
        cancel: cancel.clone(),
        clock: opts.clock.clone(),
        deadline: wait::deadline(start, plan.timeout),
        results: Vec::new(),
        undo_results: Vec::new(),
        memory: Memory::default(),
        live: Vec::new(),
        ids: plan
            .all_steps()
            .into_iter()
            .filter_map(|s| Some((s.name.clone()?, s.id.clone())))
            .collect(),
    };
    r.reporter.event(&Event::PlaybookStarted { plan });
    // The API's transitions of what the plan names, from watches, beside the steps.
    let mut watch = match &preflight {
        Ok(p) => timeline::Watch::start(
            r.b.clone(),
            timeline::scope(p),
            recorder,
            opts.clock.clone(),
        ),
        Err(_) => None,
    };
    if let Some(w) = &mut watch {
        w.ready(timeline::WATCH_READY).await;
    }
    if let Err(e) = &preflight {
        r.preflight_failed(plan, e);
    } else {
        let mut setup_undo = Vec::new();
        let setup_ok = r.phase(Phase::Setup, &plan.setup, &mut setup_undo).await;
        let steady = if setup_ok {
            r.steady(Phase::SteadyBefore, &plan.steady_state).await
        } else {
            r.skip_all(Phase::SteadyBefore, &plan.steady_state, 0, "setup failed");
            false
        };
        let mut fault_undo = Vec::new();
        if steady {
            r.phase(Phase::Steps, &plan.steps, &mut fault_undo).await;
        } else {
            let why = if setup_ok {
                "the steady state did not hold"
            } else {
                "setup failed"
            };
            r.skip_all(Phase::Steps, &plan.steps, 0, why);
        }
        r.unwind(&mut fault_undo, opts.retain).await;
        if steady && cancel.is_cancelled() {
            r.skip_all(Phase::SteadyAfter, &plan.steady_state, 0, "interrupted");
        } else if steady {
            r.steady(Phase::SteadyAfter, &plan.steady_state).await;
        }
        let mut teardown_undo = Vec::new();
        r.phase(Phase::Teardown, &plan.teardown, &mut teardown_undo)
            .await;
        r.unwind(&mut teardown_undo, opts.retain).await;
        r.unwind(&mut setup_undo, opts.retain).await;
    }

    let (mut status, error_class) = overall(&r.results, cancel.is_cancelled());
    if status == RunStatus::Failed && steady::not_steady_before(&r.results) {
        status = RunStatus::NotSteady;
    }
    let mut report = PlaybookReport {
        name: plan.name.clone(),
        file: plan.file.display().to_string(),
        started_at,
        duration: start.elapsed(),
        status,
        error_class,
        vars: plan
            .vars
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect(),
        steps: r.results,
        undo: r.undo_results,
        resolved: plan.resolved.clone().filter(|x| !x.is_empty()),
        timeline: timeline::Timeline::default(),
    };
    if report.rollback_failed() {
        report.status = RunStatus::RollbackFailed;
        report.error_class = None;
    } else if report.status == RunStatus::Passed && report.retained().next().is_some() {
        report.status = RunStatus::Retained;
    }
    if let Some(w) = watch {
        w.stop().await;
    }
    let mut rec = timeline::lock(&tee.recorder);
    rec.push(
        (tee.clock)(),
        timeline::What::RunFinished {
            status: report.status,
        },
    );
    report.timeline = rec.take_timeline();
    drop(rec);
    tee.reporter
        .event(&Event::PlaybookFinished { report: &report });
    report
}

fn overall(results: &[StepResult], interrupted: bool) -> (RunStatus, Option<ErrorClass>) {
    if interrupted {
        return (RunStatus::Interrupted, None);
    }
    let errors: Vec<ErrorClass> = results.iter().filter_map(|s| s.error_class).collect();
    if !errors.is_empty() {
        let class = if errors.contains(&ErrorClass::Environment) {
            ErrorClass::Environment
        } else {
            ErrorClass::Step
        };
        return (RunStatus::Error, Some(class));
    }
    if results.iter().any(|s| s.status == StepStatus::Failed) {
        return (RunStatus::Failed, None);
    }
    (RunStatus::Passed, None)
}

/// What one step came to.
pub(crate) enum Outcome {
    Passed {
        undo: Option<Registered>,
        verdict: Option<Verdict>,
    },
    Failed(Verdict),
    Error(BackendError),
    /// The step failed part way and left something that must still be undone.
    Partial {
        error: BackendError,
        undo: Registered,
    },
    Interrupted,
}

/// An undo the run owes: the step that made it necessary, its journal id, and the record.
#[derive(Clone)]
pub(crate) struct Registered {
    pub step: String,
    pub id: u64,
    pub record: UndoRecord,
}

type UndoStack = Vec<Registered>;

struct Runner<'a> {
    /// Shared with the branches of a `parallel`.
    b: Arc<Backends>,
    /// The caller's reporter, with the timeline recorded beside it (`timeline::Tee`).
    reporter: &'a mut dyn Reporter,
    /// When waits last sampled the nodes' reality.
    sampler: sample::Sampler,
    log: &'a mut dyn UndoLog,
    cancel: CancellationToken,
    /// Wall clock, for the reports' timestamps only.
    clock: Arc<dyn Fn() -> SystemTime + Send + Sync>,
    deadline: Instant,
    results: Vec<StepResult>,
    undo_results: Vec<UndoResult>,
    /// What each named step took and saw, for the conditions that refer to one.
    memory: Memory,
    /// Step names to ids, for `undo`.
    ids: HashMap<String, String>,
    /// The probes sampling now (nested `probe:` steps), whose samples are still to be reported.
    live: Vec<probe::Live>,
}

impl Runner<'_> {
    /// The wall clock now, as reports write it.
    fn now(&self) -> String {
        humantime::format_rfc3339_millis((self.clock)()).to_string()
    }

    /// Runs a phase; returns whether every step passed. `setup` and `steps` stop at the first
    /// step that does not pass; `teardown` carries on, to clean up as much as it can.
    async fn phase(&mut self, phase: Phase, steps: &[PlanStep], undo: &mut UndoStack) -> bool {
        let mut ok = true;
        for (i, s) in steps.iter().enumerate() {
            let status = self.step(phase, s, 0, undo).await;
            if status != StepStatus::Passed {
                ok = false;
                if phase != Phase::Teardown {
                    let why = if status == StepStatus::Interrupted {
                        "interrupted"
                    } else {
                        "an earlier step did not pass"
                    };
                    self.skip_all(phase, &steps[i + 1..], 0, why);
                    break;
                }
            }
        }
        ok
    }

    /// The preflight refused the run: its error as the one result that ran, every step
    /// skipped (teardown too: nothing was injected, and its targets are not resolved).
    fn preflight_failed(&mut self, plan: &Plan, e: &BackendError) {
        let result = StepResult {
            id: "preflight".into(),
            name: None,
            line: 0,
            started_at: Some(self.now()),
            phase: Phase::Setup,
            action: "preflight".into(),
            description: "resolve the targets and reach the backends".into(),
            status: StepStatus::Error,
            duration: Duration::ZERO,
            verdict: None,
            message: Some(format!("preflight: {}", e.message)),
            error_class: Some(error_class(e)),
            undo: None,
            backup: None,
            probe: None,
            pods: None,
        };
        self.finished(result, 0);
        for (phase, steps) in plan.phases() {
            self.skip_all(phase, steps, 0, "the preflight failed");
        }
    }

    fn skip_all(&mut self, phase: Phase, steps: &[PlanStep], depth: usize, why: &str) {
        for s in steps {
            let result = StepResult {
                message: Some(format!("skipped: {why}")),
                ..result_of(
                    s,
                    phase,
                    steady::describe(phase, describe::step(s)),
                    StepStatus::Skipped,
                )
            };
            self.finished(result, depth);
            self.skip_all(phase, s.children(), depth + 1, why);
        }
    }

    /// Reports a step's result and keeps it for the report.
    fn finished(&mut self, result: StepResult, depth: usize) {
        self.flush_samples();
        self.reporter.event(&Event::StepFinished {
            result: &result,
            depth,
        });
        self.results.push(result);
    }
}

/// Bounds a step by the run's deadline (teardown is not bounded: it must clean up).
async fn bounded(phase: Phase, deadline: Instant, fut: impl Future<Output = Outcome>) -> Outcome {
    if phase == Phase::Teardown {
        return fut.await;
    }
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(o) => o,
        Err(_) => Outcome::Error(BackendError::failed("the playbook's run timeout passed")),
    }
}

/// Sends wait progress to the run's reporter, after the samples the running probes took.
struct ToReporter<'a>(&'a mut dyn Reporter, &'a mut [probe::Live]);

impl wait::Progress for ToReporter<'_> {
    fn tick(&mut self, step: &PlanStep, elapsed: Duration, timeout: Duration, observed: &str) {
        probe::flush(self.0, self.1);
        self.0.event(&Event::WaitProgress {
            step,
            elapsed,
            timeout,
            observed,
        });
    }

    fn event(&mut self, e: &Event<'_>) {
        self.0.event(e);
    }
}

fn error_class(e: &BackendError) -> ErrorClass {
    if e.kind == ErrorKind::Unavailable {
        ErrorClass::Environment
    } else {
        ErrorClass::Step
    }
}

fn undo_target(s: &PlanStep) -> Option<&str> {
    match &s.kind {
        PlanStepKind::Action(a) => match a.as_ref() {
            Action::Undo(target) => Some(target),
            _ => None,
        },
        _ => None,
    }
}

/// A result of step `s` with what every result says about its step (id, name, action key);
/// the caller adds what happened.
fn result_of(s: &PlanStep, phase: Phase, description: String, status: StepStatus) -> StepResult {
    StepResult {
        id: s.id.clone(),
        name: s.name.clone(),
        line: s.line,
        started_at: None,
        phase,
        action: action_key(s).to_string(),
        description,
        status,
        duration: Duration::ZERO,
        verdict: None,
        message: None,
        error_class: None,
        undo: None,
        backup: None,
        probe: None,
        pods: None,
    }
}

/// The action key of a step (`kubelet-stop`, `wait`, `group`, `apply`...).
pub(crate) fn action_key(s: &PlanStep) -> &'static str {
    match &s.kind {
        PlanStepKind::Group(_) => "group",
        PlanStepKind::Parallel(_) => "parallel",
        PlanStepKind::Repeat { .. } => "repeat",
        PlanStepKind::Apply { .. } => "apply",
        PlanStepKind::Check(_) => "steady-state",
        PlanStepKind::Probe { .. } => "probe",
        PlanStepKind::Action(a) => a.key(),
    }
}
