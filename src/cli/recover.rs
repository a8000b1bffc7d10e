//! `chaos recover`: undo what runs left behind, from their journals: runs that died (`kill -9`,
//! a second Ctrl-C, a crash) and runs with `--retain`. Newest run first, newest change first,
//! each undo idempotent and recorded in the run's journal as it completes, so running recover
//! twice is safe: the second finds nothing owed.
//!
//! Only journals of this user's own are read (see `state_dir::check_own`). A journal line that
//! cannot be read is reported with its file and line number and makes recover exit 5 (what it
//! recorded may still be in the cluster) after everything readable was undone; `--forget RUN`
//! acknowledges it. `--forget RUN/ENTRY` gives up one undo that can no longer be done (its node
//! container was removed, say), recorded in the journal, after a confirmation (or `--yes`).
//! Without connection flags, recover reconnects the way the run did (the flags it was given
//! are in the journal). `--sweep` then removes what no journal owes (see `sweep`).

use std::io::IsTerminal;

use clap::Args;

use crate::backends::ErrorKind;
use crate::backends::etcd::backup;
use crate::engine::Backends;
use crate::exit::Exit;
use crate::journal::{self, ClusterLock, Connection, Journal, Line, RunJournal};
use crate::{err, errln, outln};

use super::connect::{ConnectArgs, connector};

#[derive(Args, Debug)]
pub struct RecoverArgs {
    /// Only runs against this cluster.
    #[arg(long, value_parser = super::connect::cluster_arg)]
    pub cluster: Option<String>,
    /// Show what would be undone and change nothing.
    #[arg(long, conflicts_with = "forget")]
    pub dry_run: bool,
    /// Give up an undo that can no longer be done (RUN/ENTRY, as recover prints it), or a
    /// whole run (RUN) with its unreadable journal lines; recorded in the journal. Asks first.
    #[arg(long, value_name = "RUN[/ENTRY]")]
    pub forget: Option<String>,
    /// Do not ask before --forget (needed when stdin is not a terminal).
    #[arg(long, requires = "forget")]
    pub yes: bool,
    /// Also remove what kind-chaos left in the cluster's nodes that no journal owes (iptables
    /// chains KIND-CHAOS-*, our qdisc, CPU and memory hogs, disk fills), found by name, after
    /// the journals are recovered. Needs --cluster.
    #[arg(long, requires = "cluster", conflicts_with_all = ["forget", "dry_run"])]
    pub sweep: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub fn recover(args: RecoverArgs) -> Exit {
    let state = crate::state_dir::state_dir();
    let scan = match journal::scan(&state) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return Exit::Environment;
        }
    };
    let mut exit = Exit::Passed;
    for p in &scan.refused {
        errln!("✘ not reading a journal: {p}");
        exit = Exit::Environment;
    }
    for p in &scan.unreadable {
        errln!("✘ {p}; what it recorded may still be in the cluster: check, then remove the file");
        exit = Exit::RollbackFailed;
    }
    if let Some(what) = &args.forget {
        return exit.max(forget(&scan.runs, what, args.yes));
    }
    if !args.dry_run {
        for gone in backup::remove_stale_temporaries(&backup::default_dir(), None) {
            outln!(
                "• removed {}: the unfinished copy of a backup whose writer was killed",
                gone.display()
            );
        }
    }
    let mut todo: Vec<RunJournal> = Vec::new();
    for j in scan.runs.into_iter().rev() {
        if args.cluster.as_ref().is_some_and(|c| c != &j.cluster) || !j.needs_attention() {
            continue;
        }
        if j.alive() {
            outln!(
                "• {} on {} is still running (pid {}): left alone",
                j.playbook,
                j.cluster,
                j.pid
            );
            continue;
        }
        todo.push(j);
    }
    if todo.is_empty() && exit == Exit::Passed {
        outln!(
            "nothing to recover: no finished run owes an undo (journals in {})",
            state.join("runs").display()
        );
    }
    let sweep = args.sweep.then_some(args.cluster.as_deref()).flatten();
    if todo.is_empty() && sweep.is_none() {
        return exit;
    }
    let Some(runtime) = super::runtime() else {
        return Exit::Environment;
    };
    for j in &todo {
        exit = exit.max(runtime.block_on(recover_run(j, &args)));
    }
    if let Some(cluster) = sweep {
        exit = exit.max(runtime.block_on(super::sweep::sweep(cluster, &args.connect)));
    }
    exit
}

async fn recover_run(j: &RunJournal, args: &RecoverArgs) -> Exit {
    let how = match &j.ended {
        Some(status) => format!("ended {status}"),
        None => format!("died (pid {} is gone)", j.pid),
    };
    let run = j.id();
    outln!(
        "▶ {} on cluster {}, started {}, {how}: {} change(s) to undo (run {run})",
        j.playbook,
        j.cluster,
        j.started_at,
        j.owed().len()
    );
    let mut exit = Exit::Passed;
    if let Some(line) = j.torn {
        outln!(
            "  • {}:{line} was cut short when the run died; harmless (each line is on disk \
             before the change it announces)",
            j.path.display()
        );
    }
    for u in j.unresolved() {
        errln!(
            "  ✘ {}:{}: cannot read this line: {}; the change it recorded may still be in the \
             cluster",
            j.path.display(),
            u.line,
            u.reason
        );
        exit = Exit::RollbackFailed;
    }
    if exit != Exit::Passed {
        errln!(
            "    check the cluster, then `chaos recover --forget {run}` stops reporting this run"
        );
    }
    if args.dry_run {
        for e in j.owed() {
            outln!(
                "  would undo ({}): {} [{run}/{}]",
                e.step,
                e.undo.describe(),
                e.id
            );
        }
        return exit;
    }
    if j.owed().is_empty() {
        return exit;
    }
    // The journal's cluster becomes part of the lock's file name: a journal is a file anyone
    // with access to the state folder could have edited.
    if let Err(e) = crate::playbook::names::check_cluster_name(&j.cluster) {
        errln!("  ✘ {}: {e}", j.path.display());
        return Exit::Usage;
    }
    let _lock = match ClusterLock::acquire(&j.cluster, "chaos recover") {
        Ok(l) => l,
        Err(e) => {
            errln!("  ✘ {e}");
            return Exit::Environment;
        }
    };
    let conn = match connector(&j.cluster, &with_recorded(&args.connect, &j.connection)) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return Exit::Usage;
        }
    };
    let mut log = match Journal::append_to(&j.path) {
        Ok(l) => l,
        Err(e) => {
            errln!("  ✘ cannot write to the journal {}: {e}", j.path.display());
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
                outln!("  ✔ undone ({}): {what}{said}", e.step);
                note(&mut log, Line::Undone { id: e.id });
            }
            Err(err) => {
                errln!("  ✘ could not undo ({}): {what}: {err}", e.step);
                errln!(
                    "    if it can no longer be done: `chaos recover --forget {run}/{}`",
                    e.id
                );
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
    exit.max(match (failed, unavailable) {
        (0, _) => Exit::Passed,
        (f, u) if f == u => Exit::Environment,
        _ => Exit::RollbackFailed,
    })
}

/// `--forget RUN[/ENTRY]`: records that an undo (or a whole run) is given up on.
fn forget(runs: &[RunJournal], what: &str, yes: bool) -> Exit {
    let (run, entry) = match what.rsplit_once('/') {
        Some((run, entry)) => match entry.parse::<u64>() {
            Ok(id) => (run, Some(id)),
            Err(_) => {
                errln!("error: --forget takes RUN or RUN/ENTRY (a number), not `{what}`");
                return Exit::Usage;
            }
        },
        None => (what, None),
    };
    let Some(j) = runs.iter().find(|j| j.id() == run) else {
        errln!(
            "error: no journal of a run `{run}` (the run ids are the names `chaos recover` prints)"
        );
        return Exit::Usage;
    };
    if j.alive() {
        errln!(
            "error: run {run} is still running (pid {}); nothing forgotten",
            j.pid
        );
        return Exit::Environment;
    }
    let described = match entry {
        Some(id) => match j.entries.iter().find(|e| e.id == id) {
            Some(e) if e.owed() => {
                format!("the undo of {run}/{id} ({}): {}", e.step, e.undo.describe())
            }
            Some(e) => {
                errln!(
                    "error: {run}/{id} owes nothing ({:?}); nothing forgotten",
                    e.state
                );
                return Exit::Usage;
            }
            None => {
                errln!("error: run {run} has no entry {id}; nothing forgotten");
                return Exit::Usage;
            }
        },
        None => format!(
            "run {run}: {} undo(s) still owed and {} unreadable journal line(s)",
            j.owed().len(),
            j.unresolved().len()
        ),
    };
    if !yes {
        if !std::io::stdin().is_terminal() {
            errln!(
                "error: refusing to forget {described} without a confirmation: stdin is not a \
                 terminal; add --yes"
            );
            return Exit::Usage;
        }
        err!(
            "Forget {described}?\nNothing will undo it afterwards: check the cluster yourself. [y/N] "
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            errln!("nothing forgotten");
            return Exit::Usage;
        }
    }
    let line = Line::Forgotten {
        id: entry,
        at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        uid: crate::state_dir::current_uid(),
    };
    match Journal::append_to(&j.path).and_then(|mut log| log.write(&line)) {
        Ok(()) => {
            outln!(
                "forgotten: {described} (recorded in {}); chaos recover no longer undoes it",
                j.path.display()
            );
            Exit::Passed
        }
        Err(e) => {
            errln!(
                "error: cannot write to the journal {}: {e}",
                j.path.display()
            );
            Exit::Environment
        }
    }
}

fn note(log: &mut Journal, line: Line) {
    if let Err(e) = log.write(&line) {
        errln!(
            "warning: cannot write the journal {}: {e}",
            log.path().display()
        );
    }
}

/// The connection flags a run was given, for its journal: paths made absolute (recover may run
/// from another folder), never the content of a credential.
pub fn connection_of(args: &ConnectArgs) -> Connection {
    let abs = |p: &Option<std::path::PathBuf>| {
        p.as_deref()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
    };
    Connection {
        etcd_endpoints: args.etcd_endpoints.clone(),
        etcd_cacert: abs(&args.etcd_cacert),
        etcd_cert: abs(&args.etcd_cert),
        etcd_key: abs(&args.etcd_key),
        kubeconfig: abs(&args.kubeconfig),
        context: args.context.clone(),
        allow_context: args.allow_context.clone(),
    }
}

/// The flags recover was given, completed with those the run was given: the etcd flags as a
/// whole when recover got none of them, the Kubernetes ones likewise.
fn with_recorded(given: &ConnectArgs, run: &Connection) -> ConnectArgs {
    let mut args = given.clone();
    let no_etcd = given.etcd_endpoints.is_empty()
        && given.etcd_cacert.is_none()
        && given.etcd_cert.is_none()
        && given.etcd_key.is_none();
    if no_etcd {
        args.etcd_endpoints = run.etcd_endpoints.clone();
        args.etcd_cacert = run.etcd_cacert.clone();
        args.etcd_cert = run.etcd_cert.clone();
        args.etcd_key = run.etcd_key.clone();
    }
    let no_kube =
        given.kubeconfig.is_none() && given.context.is_none() && given.allow_context.is_none();
    if no_kube {
        args.kubeconfig = run.kubeconfig.clone();
        args.context = run.context.clone();
        args.allow_context = run.allow_context.clone();
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn recover_reconnects_with_the_flags_of_the_run_unless_given_its_own() {
        let run = ConnectArgs {
            etcd_endpoints: vec!["https://127.0.0.1:1".into()],
            etcd_cacert: Some("rel/ca.crt".into()),
            etcd_cert: Some("/abs/c.crt".into()),
            etcd_key: Some("/abs/c.key".into()),
            ..ConnectArgs::default()
        };
        let recorded = connection_of(&run);
        assert!(
            recorded
                .etcd_cacert
                .as_deref()
                .is_some_and(Path::is_absolute)
        );
        let merged = with_recorded(&ConnectArgs::default(), &recorded);
        assert_eq!(merged.etcd_endpoints, run.etcd_endpoints);
        assert_eq!(merged.etcd_key, run.etcd_key);
        let own = ConnectArgs {
            etcd_endpoints: vec!["https://other:2379".into()],
            ..ConnectArgs::default()
        };
        let merged = with_recorded(&own, &recorded);
        assert_eq!(merged.etcd_endpoints, own.etcd_endpoints);
        assert_eq!(merged.etcd_cacert, None, "never half of each");
    }
}
