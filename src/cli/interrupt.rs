//! Interrupts during `chaos run`: the first SIGINT, SIGTERM or SIGHUP (a lost terminal) stops
//! the current step and lets the undo run; the second leaves at once, after saying what is
//! still owed and writing the reports with it (what ran so far, and every change not undone
//! as `owed`), so CI and `chaos recover` both know what is left in the cluster.
//!
//! Everything here writes through [`crate::report::out`]: with the output pipe gone, a print
//! must never panic, or the signal task dies and Ctrl-C does nothing.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::timeline::Recorder;
use crate::engine::{
    Event, PlaybookReport, Reporter, RunStatus, StepResult, UndoResult, UndoStatus,
};
use crate::errln;
use crate::exit::Exit;
use crate::journal::RunJournal;
use crate::playbook::Resolved;
use crate::report::files::ReportTargets;

use super::run::write_reports;

/// What the run did so far, kept up to date by [`Recording`], for the reports of a second
/// interrupt.
#[derive(Default)]
pub(super) struct Progress {
    /// Playbooks that finished.
    pub done: Vec<PlaybookReport>,
    /// The playbook running now.
    pub current: Option<Partial>,
}

/// The playbook running now: where its journal is, and its steps and undos so far.
pub(super) struct Partial {
    pub journal: PathBuf,
    pub cluster: String,
    pub name: String,
    pub file: String,
    pub started_at: String,
    pub start: Instant,
    /// The playbook's variables as resolved (name -> value).
    pub vars: std::collections::BTreeMap<String, String>,
    pub steps: Vec<StepResult>,
    pub undo: Vec<UndoResult>,
    /// The seed and targets the preflight resolved, so a report cut short still says them.
    pub resolved: Option<Resolved>,
    /// The timeline so far, from the same events the engine records its own from.
    pub timeline: Recorder,
}

pub(super) type Shared = Arc<Mutex<Progress>>;

/// Ctrl-C and SIGTERM for the commands that run until stopped (`reality --watch`, `etcd
/// watch`): listened for from [`StopSignals::listen`] on, so none between two rounds is missed.
pub(super) struct StopSignals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening; says why not on stderr when it cannot.
    pub fn listen() -> Option<Self> {
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(int), Ok(term)) => Some(StopSignals { int, term }),
            (Err(e), _) | (_, Err(e)) => {
                errln!("error: cannot listen for Ctrl-C: {e}");
                None
            }
        }
    }

    /// Resolves when either signal comes.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

pub(super) fn lock(p: &Shared) -> MutexGuard<'_, Progress> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// A reporter that passes every event on and records results into the shared progress.
pub(super) struct Recording<R> {
    pub inner: R,
    pub progress: Shared,
}

impl<R: Reporter> Reporter for Recording<R> {
    fn event(&mut self, e: &Event<'_>) {
        if let Some(c) = lock(&self.progress).current.as_mut() {
            c.timeline.record(e, std::time::SystemTime::now());
        }
        match e {
            Event::PlaybookStarted { plan } => {
                if let Some(c) = lock(&self.progress).current.as_mut() {
                    c.resolved = plan.resolved.clone().filter(|r| !r.is_empty());
                }
            }
            Event::StepFinished { result, .. } => {
                if let Some(c) = lock(&self.progress).current.as_mut() {
                    c.steps.push((*result).clone());
                }
            }
            Event::UndoFinished { result } => {
                if let Some(c) = lock(&self.progress).current.as_mut() {
                    c.undo.push((*result).clone());
                }
            }
            _ => {}
        }
        self.inner.event(e);
    }
}

/// Watches SIGINT, SIGTERM and SIGHUP. First: cancel (the run stops the current step and
/// undoes). Second: list what is still owed, write the reports, and exit.
pub(super) fn watch(cancel: CancellationToken, progress: Shared, targets: ReportTargets) {
    let signals = [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ]
    .map(signal);
    let mut streams = Vec::new();
    for (s, name) in signals.into_iter().zip(["SIGINT", "SIGTERM", "SIGHUP"]) {
        match s {
            Ok(s) => streams.push(s),
            Err(e) => errln!("warning: cannot watch {name}: {e}"),
        }
    }
    if streams.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let any = futures::future::select_all(streams.iter_mut().map(|s| Box::pin(s.recv())));
            if any.await.0.is_none() {
                return;
            }
            seen += 1;
            if seen == 1 {
                cancel.cancel();
                errln!(
                    "\ninterrupted: stopping the current step and undoing the faults (interrupt again to leave now)"
                );
            } else {
                let exit = leave_now(&progress, &targets);
                std::process::exit(exit.code());
            }
        }
    });
}

/// The second interrupt: what is owed, on stderr and in the reports. Returns the exit code.
fn leave_now(progress: &Shared, targets: &ReportTargets) -> Exit {
    errln!("\ninterrupted twice: leaving now");
    let reports = {
        let p = lock(progress);
        let mut all = p.done.clone();
        if let Some(c) = &p.current {
            let mut r = partial_report(c);
            owe(c, &mut r);
            all.push(r);
        }
        all
    };
    let exit = Exit::of_all(&reports).max(Exit::Interrupted);
    write_reports(targets, &reports, exit)
}

/// The report of the playbook cut short: its steps and undos so far, status interrupted (or
/// rollback-failed when an undo already failed).
fn partial_report(c: &Partial) -> PlaybookReport {
    let mut r = PlaybookReport {
        name: c.name.clone(),
        file: c.file.clone(),
        started_at: c.started_at.clone(),
        duration: c.start.elapsed(),
        status: RunStatus::Interrupted,
        error_class: None,
        vars: c.vars.clone(),
        steps: c.steps.clone(),
        undo: c.undo.clone(),
        resolved: c.resolved.clone(),
        timeline: c.timeline.timeline().clone(),
    };
    if r.rollback_failed() {
        r.status = RunStatus::RollbackFailed;
    }
    r
}

/// Adds what the journal says is still owed to the report as `owed` undo entries, and says so.
fn owe(current: &Partial, report: &mut PlaybookReport) {
    let j = match RunJournal::read(&current.journal) {
        Ok(j) => j,
        Err(e) => {
            errln!("warning: cannot read the undo journal to say what is still owed: {e}");
            return;
        }
    };
    let owed = j.owed();
    if owed.is_empty() {
        return;
    }
    errln!(
        "still to undo ({} change(s)); `chaos recover --cluster {}` finishes it:",
        owed.len(),
        current.cluster
    );
    for e in owed {
        let description = e.undo.describe();
        errln!("  {}: {description}", e.step);
        report.undo.push(UndoResult {
            step: e.step.clone(),
            description,
            at: None,
            status: UndoStatus::Owed,
            message: Some(format!(
                "not undone: the run left at a second interrupt; `chaos recover --cluster {}` undoes it",
                current.cluster
            )),
        });
    }
}
