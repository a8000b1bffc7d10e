//! Taking faults back: the LIFO unwind at the end of a phase, and the `undo:` action that takes
//! back one step's faults mid-run. Every undo is written to the undo journal as it completes,
//! so `chaos recover` never repeats or misses one.

use std::time::Duration;

use super::{Event, Outcome, Registered, Runner, UndoResult, UndoStack, UndoStatus};
use crate::backends::BackendError;

/// How long one undo may take before it counts as failed.
const UNDO_TIMEOUT: Duration = Duration::from_secs(120);

impl Runner<'_> {
    /// The `undo` action: takes back, newest first, what the named step (or the steps of the
    /// named group) injected. A failed undo goes back on the stack so the final unwind retries.
    pub(super) async fn undo_now(&mut self, target: &str, stack: &mut UndoStack) -> Outcome {
        let Some(id) = self.ids.get(target).cloned() else {
            return Outcome::Error(BackendError::failed(format!("no step named `{target}`")));
        };
        let mine = |step: &str| step == id || step.starts_with(&format!("{id}."));
        let mut taken: UndoStack = Vec::new();
        let mut kept: UndoStack = Vec::new();
        for entry in stack.drain(..) {
            if mine(&entry.step) {
                taken.push(entry)
            } else {
                kept.push(entry)
            }
        }
        *stack = kept;
        if taken.is_empty() {
            return Outcome::Passed {
                undo: None,
                verdict: None,
            };
        }
        let before = self.undo_results.len();
        let mut failed = taken.clone();
        self.unwind(&mut taken, false).await;
        let results = &self.undo_results[before..];
        failed.reverse();
        let mut errors = Vec::new();
        for (entry, r) in failed.into_iter().zip(results.iter()) {
            if r.status == UndoStatus::Failed {
                errors.push(format!(
                    "{}: {}",
                    r.description,
                    r.message.clone().unwrap_or_default()
                ));
                stack.push(entry);
            }
        }
        if errors.is_empty() {
            Outcome::Passed {
                undo: None,
                verdict: None,
            }
        } else {
            Outcome::Error(BackendError::failed(format!(
                "undo failed: {}",
                errors.join("; ")
            )))
        }
    }

    /// Undoes a stack newest first; `retain` records the entries as left in place instead.
    pub(super) async fn unwind(&mut self, stack: &mut UndoStack, retain: bool) {
        if stack.is_empty() {
            return;
        }
        self.reporter.event(&Event::UndoStarted {
            pending: stack.len(),
        });
        while let Some(Registered { step, id, record }) = stack.pop() {
            let description = record.describe();
            let (status, message) = if retain {
                (UndoStatus::Retained, None)
            } else {
                let (status, message) =
                    match tokio::time::timeout(UNDO_TIMEOUT, record.apply(&self.b)).await {
                        Ok(Ok(note)) => (UndoStatus::Undone, note),
                        Ok(Err(e)) => (UndoStatus::Failed, Some(e.message)),
                        Err(_) => (UndoStatus::Failed, Some("timed out".into())),
                    };
                match (status, &message) {
                    (UndoStatus::Failed, Some(m)) => self.log.undo_failed(id, m),
                    _ => self.log.undone(id),
                }
                (status, message)
            };
            let result = UndoResult {
                step,
                description,
                at: Some(self.now()),
                status,
                message,
            };
            self.reporter
                .event(&Event::UndoFinished { result: &result });
            self.undo_results.push(result);
        }
    }
}
