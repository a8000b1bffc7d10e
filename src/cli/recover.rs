//! `chaos recover`: undo what runs left behind, from their journals: runs that died (`kill -9`,
//! a second Ctrl-C, a crash) and runs with `--retain`. Newest run first, newest change first,
//! each undo idempotent and recorded in the run's journal as it completes, so running recover
//! twice is safe: the second finds nothing owed.

use clap::Args;

use crate::backends::ErrorKind;
use crate::engine::Backends;
use crate::exit::Exit;
use crate::journal::{self, ClusterLock, Journal, Line, RunJournal};

use super::connect::{ConnectArgs, connector};

#[derive(Args, Debug)]
pub struct RecoverArgs {
    /// Only runs against this cluster.
    #[arg(long, value_parser = super::connect::cluster_arg)]
    pub cluster: Option<String>,
    /// Show what would be undone and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub fn recover(args: RecoverArgs) -> Exit {
    let state = journal::state_dir();
    let (runs, problems) = journal::scan(&state);
    for p in problems {
        eprintln!("warning: skipping an unreadable journal: {p}");
    }
    let mut todo: Vec<RunJournal> = Vec::new();
    for j in runs.into_iter().rev() {
        if args.cluster.as_ref().is_some_and(|c| c != &j.cluster) || j.owed().is_empty() {
            continue;
        }
        if j.alive() {
            println!(
                "• {} on {} is still running (pid {}): left alone",
                j.playbook, j.cluster, j.pid
            );
            continue;
        }
        todo.push(j);
    }
    if todo.is_empty() {
        println!(
            "nothing to recover: no finished run owes an undo (journals in {})",
            state.join("runs").display()
        );
        return Exit::Passed;
    }
    let Some(runtime) = super::runtime() else {
        return Exit::Environment;
    };
    let mut exit = Exit::Passed;
    for j in &todo {
        exit = exit.max(runtime.block_on(recover_run(j, &state, &args)));
    }
    exit
}

async fn recover_run(j: &RunJournal, state: &std::path::Path, args: &RecoverArgs) -> Exit {
    let how = match &j.ended {
        Some(status) => format!("ended {status}"),
        None => format!("died (pid {} is gone)", j.pid),
    };
    println!(
        "▶ {} on cluster {}, started {}, {how}: {} change(s) to undo",
        j.playbook,
        j.cluster,
        j.started_at,
        j.owed().len()
    );
    if args.dry_run {
        for e in j.owed() {
            println!("  would undo ({}): {}", e.step, e.undo.describe());
        }
        return Exit::Passed;
    }
    // The journal's cluster becomes part of the lock's file name: a journal is a file anyone
    // with access to the state folder could have edited.
    if let Err(e) = crate::playbook::names::check_cluster_name(&j.cluster) {
        eprintln!("  ✘ {}: {e}", j.path.display());
        return Exit::Usage;
    }
    let _lock = match ClusterLock::acquire(state, &j.cluster, "chaos recover") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("  ✘ {e}");
            return Exit::Environment;
        }
    };
    let conn = match connector(&j.cluster, &args.connect) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let mut log = match Journal::append_to(&j.path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("  ✘ cannot write to the journal {}: {e}", j.path.display());
            return Exit::Environment;
        }
    };
    let backends = Backends::new(conn);
    let (mut failed, mut unavailable) = (0, 0);
    for e in j.owed() {
        let what = e.undo.describe();
        match e.undo.apply(&backends).await {
            Ok(remark) => {
                let said = remark.map(|n| format!(" ({n})")).unwrap_or_default();
                println!("  ✔ undone ({}): {what}{said}", e.step);
                note(&mut log, Line::Undone { id: e.id });
            }
            Err(err) => {
                eprintln!("  ✘ could not undo ({}): {what}: {err}", e.step);
                note(
                    &mut log,
                    Line::UndoFailed {
                        id: e.id,
                        message: err.message.clone(),
                    },
                );
                failed += 1;
                if err.kind == ErrorKind::Unavailable {
                    unavailable += 1;
                }
            }
        }
    }
    match (failed, unavailable) {
        (0, _) => Exit::Passed,
        (f, u) if f == u => Exit::Environment,
        _ => Exit::RollbackFailed,
    }
}

fn note(log: &mut Journal, line: Line) {
    if let Err(e) = log.write(&line) {
        eprintln!(
            "warning: cannot write the journal {}: {e}",
            log.path().display()
        );
    }
}
