//! How one step runs: its kind decides its outcome (a check, a wait, a fault injected, a
//! group's children, a probe around its steps, `parallel` branches, a `repeat`), bounded by the
//! run's deadline and reported as it starts and ends. Apart from mod.rs, which runs the phases
//! and the undo around these steps.

use super::targets::pods;
use super::*;

impl Runner<'_> {
    pub(super) fn step<'s>(
        &'s mut self,
        phase: Phase,
        s: &'s PlanStep,
        depth: usize,
        undo: &'s mut UndoStack,
    ) -> Pin<Box<dyn Future<Output = StepStatus> + Send + 's>> {
        Box::pin(async move {
            // A pod pick the preflight left to the step is made now, before the step is
            // described: its progress line and result name the pods it takes.
            let (chosen, unpicked) = match self.pick_at_start(phase, s).await {
                Ok(c) => (c, None),
                Err(e) => (None, Some(e)),
            };
            let s = chosen.as_ref().unwrap_or(s);
            let description = steady::describe(phase, describe::step(s));
            self.flush_samples();
            self.reporter.event(&Event::StepStarted {
                phase,
                step: s,
                depth,
                description: &description,
            });
            let t0 = Instant::now();
            let started_at = self.now();
            let mut probe_report = None;
            let outcome = match unpicked {
                Some(e) => Outcome::Error(e),
                None => {
                    self.run_kind(phase, s, depth, undo, &mut probe_report)
                        .await
                }
            };
            // `for:` the fault lasts that long, then this step undoes it (hold.rs).
            let mut held = None;
            let outcome = match (outcome, s.hold) {
                (Outcome::Passed { undo: Some(u), .. }, Some(d)) => {
                    held = Some(u.record.describe());
                    self.hold(phase, u, d, undo).await
                }
                (o, _) => o,
            };
            let duration = t0.elapsed();
            if let Some(n) = &s.name {
                self.memory.durations.insert(n.clone(), duration);
                if let Outcome::Passed {
                    verdict: Some(v), ..
                } = &outcome
                {
                    self.memory.saw(n, &v.seen);
                }
            }
            let backup = match &outcome {
                Outcome::Passed { undo: Some(u), .. } | Outcome::Partial { undo: u, .. } => {
                    u.record.backup_file().map(|f| f.display().to_string())
                }
                _ => None,
            };
            let (status, verdict, message, error_class, registered) = match outcome {
                Outcome::Passed { undo: u, verdict } => {
                    let text = u.as_ref().map(|r| r.record.describe()).or(held);
                    if let Some(u) = u {
                        undo.push(u);
                    }
                    (StepStatus::Passed, verdict, None, None, text)
                }
                Outcome::Failed(v) => {
                    let msg = steady::message(
                        phase,
                        format!("expected {}; observed {}", v.expected, v.observed),
                    );
                    (StepStatus::Failed, Some(v), Some(msg), None, None)
                }
                Outcome::Partial { error, undo: u } => {
                    let class = error_class(&error);
                    let text = u.record.describe();
                    undo.push(u);
                    (
                        StepStatus::Error,
                        None,
                        Some(error.message),
                        Some(class),
                        Some(text),
                    )
                }
                Outcome::Error(e) => {
                    let class = error_class(&e);
                    (StepStatus::Error, None, Some(e.message), Some(class), None)
                }
                Outcome::Interrupted => (
                    StepStatus::Interrupted,
                    None,
                    Some("interrupted".into()),
                    None,
                    held,
                ),
            };
            let result = StepResult {
                started_at: Some(started_at),
                duration,
                verdict,
                message,
                error_class,
                undo: registered,
                backup,
                probe: probe_report,
                pods: pods::taken(s),
                ..result_of(s, phase, description, status)
            };
            self.finished(result, depth);
            status
        })
    }

    /// What the step's kind does (an undo, a probe, a group, `parallel`, `repeat`, or one
    /// action bounded by the run's deadline); a probe's report goes to `probe_report`.
    async fn run_kind(
        &mut self,
        phase: Phase,
        s: &PlanStep,
        depth: usize,
        undo: &mut UndoStack,
        probe_report: &mut Option<ProbeReport>,
    ) -> Outcome {
        match (&s.kind, undo_target(s)) {
            (_, Some(target)) => self.undo_now(target, undo).await,
            (PlanStepKind::Probe { probe, during }, None) => {
                let (outcome, report) = self.probe(phase, s, probe, during, depth, undo).await;
                *probe_report = Some(report);
                outcome
            }
            (PlanStepKind::Group(children), None) => {
                match self.run_children(phase, children, depth, undo).await {
                    StepStatus::Passed => Outcome::Passed {
                        undo: None,
                        verdict: None,
                    },
                    StepStatus::Interrupted => Outcome::Interrupted,
                    _ => Outcome::Failed(Verdict::new(
                        false,
                        "every step of the group to pass",
                        "a step did not pass",
                    )),
                }
            }
            (PlanStepKind::Parallel(children), None) => {
                self.parallel(phase, children, depth, undo).await
            }
            (
                PlanStepKind::Repeat {
                    times,
                    every,
                    steps,
                },
                None,
            ) => {
                self.repeat(phase, s, (*times, *every, steps), depth, undo)
                    .await
            }
            (_, None) => {
                let deadline = self.deadline;
                bounded(phase, deadline, self.outcome(phase, s)).await
            }
        }
    }

    /// The step with its pod pick made, when the preflight left it to the step (bounded by
    /// the run's deadline like the step; not made once the run is interrupted).
    async fn pick_at_start(
        &mut self,
        phase: Phase,
        s: &PlanStep,
    ) -> Result<Option<PlanStep>, BackendError> {
        if phase != Phase::Teardown && self.cancel.is_cancelled() {
            return Ok(None);
        }
        let pick = pods::chosen_at_step(&self.b, s);
        if phase == Phase::Teardown {
            return pick.await;
        }
        match tokio::time::timeout_at(self.deadline, pick).await {
            Ok(chosen) => chosen,
            Err(_) => Err(BackendError::failed("the playbook's run timeout passed")),
        }
    }

    /// Runs the steps of a group or a probe's `during` (at `depth + 1`) until one does not
    /// pass (in teardown: all of them); returns the first status that was not a pass.
    pub(super) async fn run_children(
        &mut self,
        phase: Phase,
        children: &[PlanStep],
        depth: usize,
        undo: &mut UndoStack,
    ) -> StepStatus {
        let mut status = StepStatus::Passed;
        for (i, c) in children.iter().enumerate() {
            let st = self.step(phase, c, depth + 1, undo).await;
            if st != StepStatus::Passed {
                status = st;
                if phase != Phase::Teardown {
                    self.skip_all(
                        phase,
                        &children[i + 1..],
                        depth + 1,
                        "an earlier step did not pass",
                    );
                    break;
                }
            }
        }
        status
    }

    pub(super) async fn outcome(&mut self, phase: Phase, s: &PlanStep) -> Outcome {
        let cancel = (phase != Phase::Teardown).then(|| self.cancel.clone());
        if cancel.as_ref().is_some_and(CancellationToken::is_cancelled) {
            return Outcome::Interrupted;
        }
        match &s.kind {
            // Run by `step` itself.
            PlanStepKind::Group(_)
            | PlanStepKind::Probe { .. }
            | PlanStepKind::Parallel(_)
            | PlanStepKind::Repeat { .. } => Outcome::Passed {
                undo: None,
                verdict: None,
            },
            PlanStepKind::Check(c) => self.check_once(c).await,
            PlanStepKind::Apply {
                documents,
                namespace,
                ..
            } => self.apply(s, documents, namespace.as_deref()).await,
            PlanStepKind::Action(a) => match a.as_ref() {
                Action::Wait(w) => {
                    let mut progress = ToReporter(&mut *self.reporter, &mut self.live);
                    let looks = wait::Looks {
                        memory: &self.memory,
                        cancel: cancel.as_ref(),
                        sampler: &mut self.sampler,
                    };
                    wait::wait(&self.b, s, w, looks, &mut progress).await
                }
                Action::Sleep(d) => {
                    let mut progress = ToReporter(&mut *self.reporter, &mut self.live);
                    let (sampler, c) = (&mut self.sampler, cancel.as_ref());
                    if sample::sleep(&self.b, s, d.0, c, sampler, &mut progress).await {
                        Outcome::Passed {
                            undo: None,
                            verdict: None,
                        }
                    } else {
                        Outcome::Interrupted
                    }
                }
                Action::Assert(c) => match check::check(&self.b, c, &self.memory).await {
                    Ok(v) if v.holds => Outcome::Passed {
                        undo: None,
                        verdict: Some(v),
                    },
                    Ok(v) => Outcome::Failed(v),
                    Err(e) => Outcome::Error(e),
                },
                // Faults are not cut short by an interruption: stopping one halfway could leave
                // a change without its undo. They are short; the interruption is seen next step.
                other => self.inject(s, other).await,
            },
        }
    }
}
