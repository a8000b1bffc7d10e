//! The steady-state hypothesis: what must hold before the experiment may break anything, and
//! hold again once its faults are undone. Checked after `setup`: if it does not hold, nothing
//! of `steps` is injected (the run is `not-steady`, exit 1); checked again after the undo of
//! `steps`, before `teardown`: not holding then is a failure, "did not recover". Every item is
//! checked (not only up to the first that fails) so the report shows the whole state.

use super::{Outcome, Runner, StepResult, StepStatus, probe};
use crate::playbook::model::ProbeCheck;
use crate::playbook::{Phase, PlanStep};

impl Runner<'_> {
    /// Checks every item of the steady state in `phase` (`SteadyBefore` or `SteadyAfter`);
    /// returns whether all of them held. An empty steady state holds.
    pub(super) async fn steady(&mut self, phase: Phase, checks: &[PlanStep]) -> bool {
        let mut holds = true;
        for (i, c) in checks.iter().enumerate() {
            let status = self.step(phase, c, 0, &mut Vec::new()).await;
            if status != StepStatus::Passed {
                holds = false;
            }
            if status == StepStatus::Interrupted {
                self.skip_all(phase, &checks[i + 1..], 0, "interrupted");
                break;
            }
        }
        holds
    }

    /// One item of the steady state: one sample of its check.
    pub(super) async fn check_once(&mut self, c: &ProbeCheck) -> Outcome {
        match probe::sample(&self.b, c, &self.memory).await {
            Ok((v, _)) if v.holds => Outcome::Passed {
                undo: None,
                verdict: Some(v),
            },
            Ok((v, _)) => Outcome::Failed(v),
            Err(e) => Outcome::Error(e),
        }
    }
}

/// A step's description, saying when a steady-state check is the one after the undo.
pub(super) fn describe(phase: Phase, description: String) -> String {
    match phase {
        Phase::SteadyAfter => format!(
            "steady state after the undo{}",
            description.trim_start_matches("steady state")
        ),
        _ => description,
    }
}

/// A failed step's message, saying which side of the experiment a steady-state check failed on.
pub(super) fn message(phase: Phase, msg: String) -> String {
    match phase {
        Phase::SteadyBefore => format!("not steady before the faults: {msg}"),
        Phase::SteadyAfter => format!("did not recover: {msg}"),
        _ => msg,
    }
}

/// Whether the run stopped because the steady state did not hold before the faults.
pub(super) fn not_steady_before(results: &[StepResult]) -> bool {
    results
        .iter()
        .any(|r| r.phase == Phase::SteadyBefore && r.status == StepStatus::Failed)
}
