//! `chaos run`: load every playbook first (any invalid one stops everything with exit 2), then
//! run them one after the other, with Ctrl-C/SIGTERM handling, live progress, the summary
//! table, and the JSON/JUnit reports.

use std::path::PathBuf;

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::engine::{self, PlaybookReport, RunOptions, RunStatus};
use crate::exit::Exit;
use crate::journal::{ClusterLock, Journal};
use crate::playbook::{self, Plan};
use crate::report::files::ReportTargets;
use crate::report::{self, out};
use crate::{errln, out, outln};

use super::connect::{ConnectArgs, cluster_name, connector};
use super::interrupt::{self, Partial, Recording};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Playbook files, run in the order given; every one is checked before any runs.
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,
    /// The kind cluster (default: the playbook's `cluster`, else `kind`).
    #[arg(long, value_parser = super::connect::cluster_arg)]
    pub cluster: Option<String>,
    /// Set a playbook variable (`vars:`), repeatable; wins over `CHAOS_VAR_NAME` and the
    /// default.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = playbook::vars::parse_set)]
    pub set: Vec<(String, String)>,
    /// Print the resolved plan (steps, targets, timeouts, undo) and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the JSON report here (`-`: stdout; the progress then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here (`-`: stdout; the progress then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the HTML report to hand out here: one self-contained file with the timeline chart
    /// (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the report as Markdown here, for a ticket or a postmortem (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// How often waits sample the nodes' reality for the timeline (at least 1s; `0s`: never).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = sample_every)]
    pub sample_every: std::time::Duration,
    /// Leave the faults in place at the end (prints what was left faulted).
    #[arg(long)]
    pub retain: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub fn run(args: RunArgs) -> Exit {
    let targets = match ReportTargets::new(args.json.as_deref(), args.junit.as_deref())
        .and_then(|t| t.with_documents(args.html.as_deref(), args.markdown.as_deref()))
    {
        Ok(t) => t,
        Err(e) => {
            errln!("error: {e}");
            return Exit::Usage;
        }
    };
    if targets.uses_stdout() {
        out::human_to_stderr();
    }
    let mut plans = Vec::new();
    let mut invalid = Vec::new();
    let inputs = playbook::vars::Inputs::with_process_env(args.set.clone(), args.cluster.clone());
    for p in &args.playbooks {
        match playbook::load_with(p, &inputs) {
            Ok(plan) => plans.push(plan),
            Err(e) => {
                super::validate::show(&e);
                invalid.push(e);
            }
        }
    }
    if !invalid.is_empty() {
        errln!(
            "✘ not running: fix the playbook errors above (`chaos validate` checks without running)"
        );
        if !args.dry_run {
            report::files::write_invalid(&targets, &invalid);
        }
        return Exit::Usage;
    }
    if args.dry_run {
        return super::block_on(dry_run(&args, &plans));
    }
    super::block_on(run_all(&args, &plans, &targets))
}

/// `--dry-run`: the plan of every playbook, its targets resolved by the preflight when the
/// cluster can be reached (which only reads: lists the node containers, connects to the API
/// and etcd if the playbook needs them). A cluster that cannot be reached is said on stderr and
/// the plan shows the targets as written; a target the cluster lacks fails the dry run (exit 4).
async fn dry_run(args: &RunArgs, plans: &[Plan]) -> Exit {
    let mut exit = Exit::Passed;
    for plan in plans {
        let cluster = cluster_name(args.cluster.as_deref(), plan.cluster.as_deref());
        let checked = match connector(&cluster, &args.connect) {
            Ok(conn) => engine::targets::preflight(plan, &engine::Backends::new(conn)).await,
            Err(e) => Err(crate::backends::BackendError::unavailable(e.to_string())),
        };
        match checked {
            Ok(mut resolved) => {
                // The cluster the targets were resolved against (`--cluster` moves a playbook).
                resolved.cluster = Some(cluster.clone());
                out!("{}", report::plan::render(&resolved));
                outln!(
                    "  preflight: done against cluster `{cluster}` (targets resolved, backends reached)"
                );
            }
            Err(e) if e.kind == crate::backends::ErrorKind::Unavailable => {
                out!("{}", report::plan::render(plan));
                errln!(
                    "note: no preflight for {}: cluster `{cluster}` cannot be reached ({e}); the targets are shown as written",
                    plan.name
                );
            }
            Err(e) => {
                out!("{}", report::plan::render(plan));
                errln!(
                    "✘ preflight of {} against cluster `{cluster}`: {e}",
                    plan.name
                );
                exit = exit.max(Exit::StepFailed);
            }
        }
    }
    exit
}

async fn run_all(args: &RunArgs, plans: &[Plan], targets: &ReportTargets) -> Exit {
    let cancel = CancellationToken::new();
    let progress = interrupt::Shared::default();
    interrupt::watch(cancel.clone(), progress.clone(), targets.clone());
    let state = crate::state_dir::state_dir();
    // A spinner only where the progress lines go to the same terminal: piped through `tee`, a
    // spinner on stderr would be left between lines it cannot clear.
    let to_stdout = out::human_stream() == out::Stream::Stdout;
    let lines_on_terminal = if to_stdout {
        std::io::IsTerminal::is_terminal(&std::io::stdout())
    } else {
        true
    };
    let live = super::live_terminal() && lines_on_terminal;
    let human = report::human::Human::new(out::human_writer(), live)
        .with_style(report::style::Style::of_stream(to_stdout));
    let mut reporter = Recording {
        inner: human,
        progress: progress.clone(),
    };
    let opts = RunOptions {
        retain: args.retain,
        sample_every: (!args.sample_every.is_zero()).then_some(args.sample_every),
        ..RunOptions::default()
    };
    let done = |p: &interrupt::Shared| interrupt::lock(p).done.clone();
    for plan in plans {
        if cancel.is_cancelled() {
            break;
        }
        let cluster = cluster_name(args.cluster.as_deref(), plan.cluster.as_deref());
        let conn = match connector(&cluster, &args.connect) {
            Ok(c) => c,
            Err(e) => {
                errln!("error: {e}");
                return Exit::Usage;
            }
        };
        let holder = format!("{} ({})", plan.name, plan.file.display());
        let lock = match ClusterLock::acquire(&cluster, &holder) {
            Ok(l) => l,
            Err(e) => {
                errln!("error: {e}");
                return finish(targets, &done(&progress)).max(Exit::Environment);
            }
        };
        if let Some(old) = &lock.took_over {
            errln!(
                "note: taking over the lock of cluster `{cluster}` from a run that is gone: {old}"
            );
        }
        let started_at = humantime::format_rfc3339_seconds((opts.clock)()).to_string();
        let mut log = match Journal::create(
            &state,
            &cluster,
            &plan.name,
            &plan.file,
            &started_at,
            &super::recover::connection_of(&args.connect),
        ) {
            Ok(j) => j,
            Err(e) => {
                errln!(
                    "error: cannot create the undo journal in {}: {e} (set CHAOS_STATE_DIR to a writable folder)",
                    state.join("runs").display()
                );
                return finish(targets, &done(&progress)).max(Exit::Environment);
            }
        };
        interrupt::lock(&progress).current = Some(Partial {
            journal: log.path().to_path_buf(),
            cluster: cluster.clone(),
            name: plan.name.clone(),
            file: plan.file.display().to_string(),
            started_at,
            start: tokio::time::Instant::now(),
            vars: plan
                .vars
                .iter()
                .map(|v| (v.name.clone(), v.value.clone()))
                .collect(),
            steps: Vec::new(),
            undo: Vec::new(),
            resolved: None,
            timeline: engine::timeline::Recorder::new(opts.timeline_cap),
        });
        let report =
            engine::run_journaled(plan, conn, &mut reporter, &mut log, &cancel, &opts).await;
        log.end(report::summary::status_word(&report));
        drop(lock);
        if report.retained().next().is_some() {
            errln!("note: `chaos recover --cluster {cluster}` undoes what was retained");
        }
        let mut p = interrupt::lock(&progress);
        p.current = None;
        p.done.push(report);
    }
    finish(targets, &done(&progress))
}

/// `--sample-every`: a duration, `0s` (never) or between 1s and 1h.
fn sample_every(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if !d.is_zero() && !(engine::SAMPLE_MIN..=engine::SAMPLE_MAX).contains(&d) {
        return Err("between 1s and 1h, or 0s for never".into());
    }
    Ok(d)
}

/// The summary, the reports, and the loud messages about what may be left in the cluster. A
/// failed rollback is said last, after the report files, on stderr and on stdout, so it is the
/// last thing a person or a CI log shows.
fn finish(targets: &ReportTargets, reports: &[PlaybookReport]) -> Exit {
    let exit = Exit::of_all(reports);
    // `COLUMNS` (set by shells, or by hand for a log viewer) wins over the terminal's width.
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    outln!("{}", report::summary_table_width(reports, width));
    let retained: Vec<_> = reports
        .iter()
        .flat_map(|r| r.retained().map(move |u| (r, u)))
        .collect();
    if !retained.is_empty() {
        errln!("⚠ left faulted on purpose (--retain); `chaos recover` undoes them:");
        for (r, u) in retained {
            errln!("  {} {}: {}", r.name, u.step, u.description);
        }
    }
    if reports.iter().any(|r| r.status == RunStatus::Interrupted) {
        errln!("interrupted; the faults were undone");
    }
    let exit = write_reports(targets, reports, exit);
    rollback_failed_banner(reports);
    exit
}

/// Writes the report files (`report::files`); one that cannot be written makes the run exit at
/// least 3. Returns the run's exit code.
pub(super) fn write_reports(
    targets: &ReportTargets,
    reports: &[PlaybookReport],
    exit: Exit,
) -> Exit {
    if report::files::write(targets, reports, exit.code()) {
        exit
    } else {
        exit.max(Exit::Environment)
    }
}

/// `ROLLBACK FAILED`, with every undo that failed: on stderr, and on stdout too when that is
/// another file (a log, a pipe), so neither stream can hide it.
fn rollback_failed_banner(reports: &[PlaybookReport]) {
    let failed: Vec<&PlaybookReport> = reports.iter().filter(|r| r.rollback_failed()).collect();
    if failed.is_empty() {
        return;
    }
    let mut text = String::new();
    let rule = "═".repeat(72);
    text += &format!("{rule}\n");
    for r in failed {
        text += &format!(
            "✘✘ ROLLBACK FAILED in {}: the cluster may be left faulted:\n",
            r.name
        );
        for u in r.failed_undo() {
            text += &format!(
                "  ✘ {}: {}\n",
                u.description,
                u.message.as_deref().unwrap_or("")
            );
        }
    }
    text += "`chaos recover` retries every undo that is still owed.\n";
    text += &rule;
    errln!("{text}");
    if out::human_stream() == out::Stream::Stdout && !out::stdout_is_stderr() {
        outln!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_every_is_bounded_or_off() {
        assert_eq!(sample_every("5s"), Ok(std::time::Duration::from_secs(5)));
        assert_eq!(sample_every("0s"), Ok(std::time::Duration::ZERO));
        assert!(sample_every("500ms").is_err());
        assert!(sample_every("2h").is_err());
        assert!(sample_every("soon").is_err());
    }

    #[test]
    fn an_unwritten_report_makes_the_run_exit_at_least_3() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("no-such-folder/r.json");
        let t = ReportTargets::new(Some(&bad), None).unwrap();
        assert_eq!(
            write_reports(&t, &[], Exit::AssertionFailed),
            Exit::Environment
        );
        assert_eq!(
            write_reports(&t, &[], Exit::RollbackFailed),
            Exit::RollbackFailed
        );
        let good = ReportTargets::new(Some(&dir.path().join("r.json")), None).unwrap();
        assert_eq!(
            write_reports(&good, &[], Exit::AssertionFailed),
            Exit::AssertionFailed
        );
    }
}
