//! `for:` on a fault step: the fault stays in place for that long, then the step undoes it
//! itself, without a separate `undo` step.
//!
//! The step blocks while the fault lasts (run what should happen meanwhile beside it, in a
//! `parallel`). That keeps the undo journal's story simple and true: the fault's record is
//! journaled and on the phase's undo stack like any other, so an interruption, the run's
//! timeout or a failed undo leave it owed to the final unwind (and to `chaos recover`), and a
//! successful undo is journaled `undone` before the next step starts. `--retain` does not keep a
//! fault past its `for`: the time is part of the experiment.

use std::time::Duration;

use tokio::time::Instant;

use super::{Outcome, Registered, Runner, UndoStack, UndoStatus};
use crate::backends::BackendError;
use crate::playbook::Phase;

impl Runner<'_> {
    /// Keeps the fault `u` for `hold`, then undoes it. Until it is undone it is on `stack`,
    /// where the unwind finds it if the wait is cut short or the undo fails.
    pub(super) async fn hold(
        &mut self,
        phase: Phase,
        u: Registered,
        hold: Duration,
        stack: &mut UndoStack,
    ) -> Outcome {
        let until = Instant::now() + hold;
        stack.push(u);
        let cut_short = if phase == Phase::Teardown {
            tokio::time::sleep_until(until).await;
            None
        } else {
            let cancel = self.cancel.clone();
            tokio::select! {
                _ = cancel.cancelled() => Some(Outcome::Interrupted),
                _ = tokio::time::sleep_until(until.min(self.deadline)) => (until > self.deadline).then(|| {
                    Outcome::Error(BackendError::failed("the playbook's run timeout passed"))
                }),
            }
        };
        if let Some(outcome) = cut_short {
            return outcome;
        }
        let Some(entry) = stack.pop() else {
            return Outcome::Passed {
                undo: None,
                verdict: None,
            };
        };
        let before = self.undo_results.len();
        let mut one = vec![entry.clone()];
        self.unwind(&mut one, false).await;
        match self.undo_results.get(before) {
            Some(r) if r.status == UndoStatus::Failed => {
                let message = format!(
                    "undo after `for` failed: {}: {}",
                    r.description,
                    r.message.clone().unwrap_or_default()
                );
                // Owed still: the final unwind tries again.
                stack.push(entry);
                Outcome::Error(BackendError::failed(message))
            }
            _ => Outcome::Passed {
                undo: None,
                verdict: None,
            },
        }
    }
}
