//! JUnit XML: one suite per playbook, one case per step, plus a case per undo that failed or
//! was retained (a fault left in the cluster must turn a CI run red even if every assertion
//! passed), and an error case for an interrupted run (its steps alone would only show as
//! skipped). An invalid playbook gets a suite too, with its errors ([`render_invalid`]).
//!
//! CI keeps a history per test case name, so a name is stable across runs and edits of the
//! values: the step's `name`, else its position and kind (`steps[2] kubelet-stop`), never the
//! resolved description (timeouts, targets), which goes to the case's output. Suites carry the
//! run's `timestamp` and the playbook `file`; cases the `file` and `line` CI annotates.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::engine::{PlaybookReport, RunStatus, StepResult, StepStatus, UndoStatus};
use crate::playbook::Invalid;
use crate::report::out::clean;

pub fn render(reports: &[PlaybookReport]) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("chaos");
    for r in reports {
        let mut suite = TestSuite::new(r.name.clone());
        suite.set_time(r.duration);
        suite
            .extra
            .insert("timestamp".into(), r.started_at.clone().into());
        suite.extra.insert("file".into(), r.file.clone().into());
        for s in &r.steps {
            suite.add_test_case(step_case(r, s));
        }
        let failed: Vec<*const _> = r.failed_undo().map(std::ptr::from_ref).collect();
        for u in &r.undo {
            let status = match u.status {
                UndoStatus::Failed if failed.contains(&std::ptr::from_ref(u)) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_type("rollback-failed");
                    s.set_message(format!(
                        "ROLLBACK FAILED, the cluster may be left faulted: {}",
                        u.message.as_deref().unwrap_or("")
                    ));
                    s
                }
                UndoStatus::Owed => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_type("not-undone");
                    s.set_message(u.message.clone().unwrap_or_else(|| "not undone".into()));
                    s
                }
                // A fault left in place is not a pass, and not a test that did not run either.
                UndoStatus::Retained => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_type("retained");
                    s.set_message("left faulted (--retain)");
                    s
                }
                // Undone, or failed and made good by a later retry.
                _ => continue,
            };
            let mut case = TestCase::new(format!("undo {}", u.step), status);
            case.set_classname(format!("{}.undo", r.name));
            case.set_system_out(u.description.clone());
            case.extra.insert("file".into(), r.file.clone().into());
            suite.add_test_case(case);
        }
        if r.status == RunStatus::Interrupted {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_type("interrupted");
            status.set_message("the run was interrupted (exit 130)");
            let mut case = TestCase::new("run interrupted", status);
            case.set_classname(format!("{}.run", r.name));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string()
}

fn step_case(r: &PlaybookReport, s: &StepResult) -> TestCase {
    let mut status = match s.status {
        StepStatus::Passed => TestCaseStatus::success(),
        StepStatus::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
        StepStatus::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
        StepStatus::Skipped | StepStatus::Interrupted => TestCaseStatus::skipped(),
    };
    if let Some(m) = &s.message {
        status.set_message(m.clone());
    }
    if let Some(v) = &s.verdict
        && s.status == StepStatus::Failed
    {
        status.set_description(format!(
            "expected: {}\nobserved: {}",
            v.expected, v.observed
        ));
    }
    let name = match &s.name {
        Some(n) => n.clone(),
        None => format!("{} {}", s.id, s.action),
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(format!("{}.{}", r.name, s.phase.as_str()));
    case.set_time(s.duration);
    case.set_system_out(s.description.clone());
    case.extra.insert("file".into(), r.file.clone().into());
    case.extra.insert("line".into(), s.line.to_string().into());
    case
}

/// The JUnit of a run that stopped before running because playbooks were invalid: a suite per
/// invalid playbook (named by its file), with one error case holding every problem, at the line
/// of the first. CI then shows why nothing ran, where a missing file would only say "no report".
pub fn render_invalid(invalid: &[Invalid]) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("chaos");
    for inv in invalid {
        let Some(first) = inv.diagnostics.first() else {
            continue;
        };
        let file = first.file.display().to_string();
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_type("invalid-playbook");
        let n = inv.count();
        status.set_message(format!(
            "{n} problem{}; not run",
            if n == 1 { "" } else { "s" }
        ));
        let lines: Vec<String> = inv
            .diagnostics
            .iter()
            .map(|d| {
                let line = match &d.help {
                    Some(h) => format!("{}: {} ({h})", d.location(), d.message),
                    None => format!("{}: {}", d.location(), d.message),
                };
                clean(&line).into_owned()
            })
            .collect();
        status.set_description(lines.join("\n"));
        let mut case = TestCase::new("valid playbook", status);
        case.set_classname(format!("{file}.validate"));
        case.extra.insert("file".into(), file.clone().into());
        if let Some(span) = first.span {
            case.extra
                .insert("line".into(), span.start.line.to_string().into());
        }
        let mut suite = TestSuite::new(file.clone());
        suite.extra.insert("file".into(), file.into());
        suite.add_test_case(case);
        report.add_test_suite(suite);
    }
    report.to_string()
}
