//! `repeat:` the same steps `times` times, an iteration starting `every` after the start of the
//! one before (straight after when it ran longer). Each iteration runs copies of the steps whose
//! ids and names carry the iteration (`steps[1].repeat#2[0]`, `kill#2`), so every result in a
//! report stays unique; a name used by a later `undo` or `duration` means the latest iteration.
//! A pod `pick` in a copy gets a seed of its own (the step's, mixed with the copy's id), so each
//! iteration picks anew as it starts, and a replay with the same `seed:` picks the same.

use std::time::Duration;

use tokio::time::Instant;

use super::{Outcome, Runner, StepStatus, UndoStack, Verdict};
use crate::playbook::{Phase, PlanStep};

impl Runner<'_> {
    pub(super) async fn repeat(
        &mut self,
        phase: Phase,
        s: &PlanStep,
        (times, every, steps): (u32, Option<Duration>, &[PlanStep]),
        depth: usize,
        undo: &mut UndoStack,
    ) -> Outcome {
        let start = Instant::now();
        let cancel = (phase != Phase::Teardown).then(|| self.cancel.clone());
        for k in 1..=times {
            if let Some(every) = every.filter(|_| k > 1) {
                let at = start + every * (k - 1);
                match &cancel {
                    Some(c) => tokio::select! {
                        _ = c.cancelled() => return Outcome::Interrupted,
                        _ = tokio::time::sleep_until(at) => {}
                    },
                    None => tokio::time::sleep_until(at).await,
                }
            }
            let iteration: Vec<PlanStep> = steps
                .iter()
                .map(|c| iteration_of(c, &format!("{}.repeat", s.id), k))
                .collect();
            for (i, (template, c)) in steps.iter().zip(&iteration).enumerate() {
                self.alias_ids(template, c);
                let status = self.step(phase, c, depth + 1, undo).await;
                self.alias_durations(template, c);
                if status == StepStatus::Interrupted {
                    self.skip_all(phase, &iteration[i + 1..], depth + 1, "interrupted");
                    return Outcome::Interrupted;
                }
                if status != StepStatus::Passed && phase != Phase::Teardown {
                    self.skip_all(
                        phase,
                        &iteration[i + 1..],
                        depth + 1,
                        "an earlier step did not pass",
                    );
                    return Outcome::Failed(Verdict::new(
                        false,
                        format!("{times} iterations to pass"),
                        format!("iteration {k} did not pass"),
                    ));
                }
            }
        }
        Outcome::Passed {
            undo: None,
            verdict: None,
        }
    }

    /// A name refers to its step's latest iteration (for `undo`).
    fn alias_ids(&mut self, template: &PlanStep, copy: &PlanStep) {
        if let Some(n) = &template.name {
            self.ids.insert(n.clone(), copy.id.clone());
        }
        for (t, c) in template.children().iter().zip(copy.children()) {
            self.alias_ids(t, c);
        }
    }

    /// ... and for `duration` assertions.
    fn alias_durations(&mut self, template: &PlanStep, copy: &PlanStep) {
        if let (Some(n), Some(c)) = (&template.name, &copy.name)
            && let Some(d) = self.memory.durations.get(c).copied()
        {
            self.memory.durations.insert(n.clone(), d);
        }
        for (t, c) in template.children().iter().zip(copy.children()) {
            self.alias_durations(t, c);
        }
    }
}

/// The copy of `s` (a step of a repeat whose children's ids start with `prefix[`) that
/// iteration `k` runs: ids under `prefix#k[`, names with `#k`.
pub(super) fn iteration_of(s: &PlanStep, prefix: &str, k: u32) -> PlanStep {
    let mut copy = s.clone();
    rename(
        &mut copy,
        &format!("{prefix}["),
        &format!("{prefix}#{k}["),
        k,
    );
    copy
}

fn rename(s: &mut PlanStep, from: &str, to: &str, k: u32) {
    if let Some(rest) = s.id.strip_prefix(from) {
        s.id = format!("{to}{rest}");
    }
    if let Some(n) = &mut s.name {
        *n = format!("{n}#{k}");
    }
    use crate::playbook::PlanStepKind::*;
    match &mut s.kind {
        Group(c) | Parallel(c) => c.iter_mut().for_each(|c| rename(c, from, to, k)),
        Repeat { steps, .. } | Probe { during: steps, .. } => {
            steps.iter_mut().for_each(|c| rename(c, from, to, k))
        }
        Action(a) => super::targets::pods::reseed(a, &s.id),
        Apply { .. } | Check(_) => {}
    }
}
