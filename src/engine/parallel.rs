//! `parallel:` steps that run at the same time. Each child is a branch with a runner of its
//! own (its results, its undo stack) sharing the run's backends, journal and reporter; the
//! branches are futures joined on the run's task. A branch that fails does not stop the others:
//! every branch runs to its end, every result is kept, and every fault each branch injected is
//! owed to the phase's unwind (newest branch first), whatever the others did.

use std::sync::Mutex;

use super::{
    Event, Outcome, Reporter, Runner, StepStatus, UndoLog, UndoRecord, UndoStack, Verdict,
};
use crate::playbook::{Phase, PlanStep};

/// The run's journal, shared by the branches: each write holds the lock only while it writes
/// (never across an await), so the journal's lines stay whole and in the order they happened.
struct SharedLog<'m, 'l>(&'m Mutex<&'l mut dyn UndoLog>);

impl UndoLog for SharedLog<'_, '_> {
    fn intent(&mut self, step: &str, record: &UndoRecord) -> Result<u64, String> {
        lock(self.0).intent(step, record)
    }
    fn applied(&mut self, id: u64, record: &UndoRecord) {
        lock(self.0).applied(id, record)
    }
    fn cancelled(&mut self, id: u64) {
        lock(self.0).cancelled(id)
    }
    fn undone(&mut self, id: u64) {
        lock(self.0).undone(id)
    }
    fn undo_failed(&mut self, id: u64, message: &str) {
        lock(self.0).undo_failed(id, message)
    }
}

/// The run's reporter, shared by the branches: their events arrive as they happen.
struct SharedReporter<'m, 'r>(&'m Mutex<&'r mut dyn Reporter>);

impl Reporter for SharedReporter<'_, '_> {
    fn event(&mut self, event: &Event<'_>) {
        lock(self.0).event(event)
    }
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one branch left: its results, undo results, owed undos, and how its step ended.
struct Branch {
    status: StepStatus,
    results: Vec<super::StepResult>,
    undo_results: Vec<super::UndoResult>,
    owed: UndoStack,
    memory: super::memory::Memory,
}

impl Runner<'_> {
    /// Runs every child at once and waits for all of them.
    pub(super) async fn parallel(
        &mut self,
        phase: Phase,
        children: &[PlanStep],
        depth: usize,
        undo: &mut UndoStack,
    ) -> Outcome {
        let branches = {
            // Reborrowed for this block only (the object lifetime shortened to the borrow's).
            let log: &mut dyn UndoLog = &mut *self.log;
            let log = Mutex::new(log);
            let reporter: &mut dyn Reporter = &mut *self.reporter;
            let reporter = Mutex::new(reporter);
            let mut logs: Vec<SharedLog<'_, '_>> =
                children.iter().map(|_| SharedLog(&log)).collect();
            let mut reporters: Vec<SharedReporter<'_, '_>> =
                children.iter().map(|_| SharedReporter(&reporter)).collect();
            let mut runners: Vec<(Runner<'_>, UndoStack)> = logs
                .iter_mut()
                .zip(reporters.iter_mut())
                .map(|(log, reporter)| {
                    let runner = Runner {
                        b: self.b.clone(),
                        reporter,
                        log,
                        cancel: self.cancel.clone(),
                        clock: self.clock.clone(),
                        deadline: self.deadline,
                        results: Vec::new(),
                        undo_results: Vec::new(),
                        memory: self.memory.clone(),
                        sampler: self.sampler.fresh(),
                        live: Vec::new(),
                        ids: self.ids.clone(),
                    };
                    (runner, Vec::new())
                })
                .collect();
            let statuses = futures::future::join_all(
                runners
                    .iter_mut()
                    .zip(children)
                    .map(|((r, stack), c)| r.step(phase, c, depth + 1, stack)),
            )
            .await;
            runners
                .into_iter()
                .zip(statuses)
                .map(|((r, owed), status)| Branch {
                    status,
                    results: r.results,
                    undo_results: r.undo_results,
                    owed,
                    memory: r.memory,
                })
                .collect::<Vec<_>>()
        };
        let mut failed = Vec::new();
        let mut interrupted = false;
        for (b, c) in branches.into_iter().zip(children) {
            self.results.extend(b.results);
            self.undo_results.extend(b.undo_results);
            undo.extend(b.owed);
            self.memory.durations.extend(b.memory.durations);
            self.memory.seen.extend(b.memory.seen);
            match b.status {
                StepStatus::Passed => {}
                StepStatus::Interrupted => interrupted = true,
                _ => failed.push(c.label().to_string()),
            }
        }
        if interrupted {
            Outcome::Interrupted
        } else if failed.is_empty() {
            Outcome::Passed {
                undo: None,
                verdict: None,
            }
        } else {
            Outcome::Failed(Verdict::new(
                false,
                "every branch to pass",
                format!(
                    "{} of {} branches did not pass: {}",
                    failed.len(),
                    children.len(),
                    failed.join(", ")
                ),
            ))
        }
    }
}
