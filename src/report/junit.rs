//! JUnit XML: one suite per playbook, one case per step, plus a case per undo that failed (a
//! fault left in the cluster must turn a CI run red even if every assertion passed), per fault
//! retained (skipped: not a pass), and an error case for an interrupted run (its steps alone
//! would only show as skipped).

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::engine::{PlaybookReport, RunStatus, StepStatus, UndoStatus};

pub fn render(reports: &[PlaybookReport]) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("chaos");
    for r in reports {
        let mut suite = TestSuite::new(r.name.clone());
        suite.set_time(r.duration);
        for s in &r.steps {
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
            let mut case = TestCase::new(
                format!("{} {}: {}", s.phase.as_str(), s.label(), s.description),
                status,
            );
            case.set_classname(format!("{}.{}", r.name, s.phase.as_str()));
            case.set_time(s.duration);
            suite.add_test_case(case);
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
                UndoStatus::Retained => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message("left faulted (--retain)");
                    s
                }
                // Undone, or failed and made good by a later retry.
                _ => continue,
            };
            let mut case = TestCase::new(format!("undo {}: {}", u.step, u.description), status);
            case.set_classname(format!("{}.undo", r.name));
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
