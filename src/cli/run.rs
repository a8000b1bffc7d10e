//! `chaos run`: load every playbook first (any invalid one stops everything with exit 2), then
//! run them one after the other, with Ctrl-C/SIGTERM handling, live progress, the summary
//! table, and the JSON/JUnit reports.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::engine::{self, PlaybookReport, RunOptions, RunStatus};
use crate::exit::Exit;
use crate::journal::{self, ClusterLock, Journal, RunJournal};
use crate::playbook::{self, Plan};
use crate::report;

use super::connect::{ConnectArgs, cluster_name, connector};

#[derive(Args, Debug)]
pub struct RunArgs {
    #[arg(required = true)]
    pub playbooks: Vec<PathBuf>,
    /// The kind cluster (default: the playbook's `cluster`, else `kind`).
    #[arg(long, value_parser = super::connect::cluster_arg)]
    pub cluster: Option<String>,
    /// Print the resolved plan (steps, targets, timeouts, undo) and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Leave the faults in place at the end (prints what was left faulted).
    #[arg(long)]
    pub retain: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub fn run(args: RunArgs) -> Exit {
    let mut plans = Vec::new();
    let mut invalid = false;
    for p in &args.playbooks {
        match playbook::load(p) {
            Ok(plan) => plans.push(plan),
            Err(e) => {
                eprint!("{}", e.render(super::color()));
                invalid = true;
            }
        }
    }
    if invalid {
        eprintln!(
            "✘ not running: fix the playbook errors above (`chaos validate` checks without running)"
        );
        return Exit::Usage;
    }
    if args.dry_run {
        for plan in &plans {
            print!("{}", report::plan::render(plan));
        }
        return Exit::Passed;
    }
    let Some(runtime) = super::runtime() else {
        return Exit::Environment;
    };
    runtime.block_on(run_all(&args, &plans))
}

/// The journal of the playbook running now, for the message of a second interrupt.
type Current = Arc<std::sync::Mutex<Option<PathBuf>>>;

async fn run_all(args: &RunArgs, plans: &[Plan]) -> Exit {
    let cancel = CancellationToken::new();
    let current: Current = Arc::default();
    watch_signals(cancel.clone(), current.clone());
    let state = journal::state_dir();
    let mut reporter =
        report::human::Human::new(Box::new(std::io::stdout()), super::live_terminal());
    let opts = RunOptions {
        retain: args.retain,
        ..RunOptions::default()
    };
    let mut reports: Vec<PlaybookReport> = Vec::new();
    for plan in plans {
        if cancel.is_cancelled() {
            break;
        }
        let cluster = cluster_name(args.cluster.as_deref(), plan.cluster.as_deref());
        let conn = match connector(&cluster, &args.connect) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Usage;
            }
        };
        let holder = format!("{} ({})", plan.name, plan.file.display());
        let lock = match ClusterLock::acquire(&state, &cluster, &holder) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                return finish(args, &reports).max(Exit::Environment);
            }
        };
        if let Some(old) = &lock.took_over {
            eprintln!(
                "note: taking over the lock of cluster `{cluster}` from a run that is gone: {old}"
            );
        }
        let started_at = humantime::format_rfc3339_seconds((opts.clock)()).to_string();
        let mut log = match Journal::create(&state, &cluster, &plan.name, &plan.file, &started_at) {
            Ok(j) => j,
            Err(e) => {
                eprintln!(
                    "error: cannot create the undo journal in {}: {e} (set CHAOS_STATE_DIR to a writable folder)",
                    state.join("runs").display()
                );
                return finish(args, &reports).max(Exit::Environment);
            }
        };
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some(log.path().to_path_buf());
        let report =
            engine::run_journaled(plan, conn, &mut reporter, &mut log, &cancel, &opts).await;
        log.end(report::summary::status_word(&report));
        drop(lock);
        if report.retained().next().is_some() {
            eprintln!("note: `chaos recover --cluster {cluster}` undoes what was retained");
        }
        reports.push(report);
    }
    finish(args, &reports)
}

/// The summary, the reports, and the loud messages about what may be left in the cluster.
fn finish(args: &RunArgs, reports: &[PlaybookReport]) -> Exit {
    let mut exit = Exit::of_all(reports);
    println!("{}", report::summary_table(reports));
    let retained: Vec<_> = reports
        .iter()
        .flat_map(|r| r.retained().map(move |u| (r, u)))
        .collect();
    if !retained.is_empty() {
        eprintln!("⚠ left faulted on purpose (--retain); `chaos recover` undoes them:");
        for (r, u) in retained {
            eprintln!("  {} {}: {}", r.name, u.step, u.description);
        }
    }
    for r in reports.iter().filter(|r| r.rollback_failed()) {
        eprintln!(
            "✘✘ ROLLBACK FAILED in {}: the cluster may be left faulted:",
            r.name
        );
        for u in r
            .undo
            .iter()
            .filter(|u| u.status == engine::UndoStatus::Failed)
        {
            eprintln!(
                "  ✘ {}: {}",
                u.description,
                u.message.as_deref().unwrap_or("")
            );
        }
    }
    if reports.iter().any(|r| r.status == RunStatus::Interrupted) {
        eprintln!("interrupted; the faults were undone");
    }
    if let Some(path) = &args.json {
        let written = report::json::render(reports, exit.code())
            .map_err(|e| e.to_string())
            .and_then(|text| std::fs::write(path, text).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "error: cannot write the JSON report {}: {e}",
                path.display()
            );
            exit = exit.max(Exit::Environment);
        }
    }
    if let Some(path) = &args.junit {
        let written = report::junit::render(reports)
            .map_err(|e| e.to_string())
            .and_then(|text| std::fs::write(path, text).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "error: cannot write the JUnit report {}: {e}",
                path.display()
            );
            exit = exit.max(Exit::Environment);
        }
    }
    exit
}

/// First SIGINT/SIGTERM: stop the current step and undo. Second: say what is still owed and
/// leave now; `chaos recover` finishes from the journal.
fn watch_signals(cancel: CancellationToken, current: Current) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("warning: cannot watch SIGTERM: {e}");
                    return;
                }
            };
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                eprintln!(
                    "\ninterrupted: stopping the current step and undoing the faults (interrupt again to leave now)"
                );
                cancel.cancel();
            } else {
                eprintln!("\ninterrupted twice: leaving now");
                let path = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(j) = path.and_then(|p| RunJournal::read(&p).ok()) {
                    let owed = j.owed();
                    if !owed.is_empty() {
                        eprintln!(
                            "still to undo ({} change(s)); `chaos recover --cluster {}` finishes it:",
                            owed.len(),
                            j.cluster
                        );
                        for e in owed {
                            eprintln!("  {}: {}", e.step, e.undo.describe());
                        }
                    }
                }
                std::process::exit(Exit::Interrupted.code());
            }
        }
    });
}
