//! JUnit XML: one suite per playbook, one case per step, plus a case per undo that failed (a
//! fault left in the cluster must turn a CI run red even if every assertion passed).

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::engine::{PlaybookReport, StepStatus, UndoStatus};

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
        for u in r.undo.iter().filter(|u| u.status != UndoStatus::Undone) {
            let mut status = if u.status == UndoStatus::Failed {
                TestCaseStatus::non_success(NonSuccessKind::Error)
            } else {
                TestCaseStatus::skipped()
            };
            status.set_message(match u.status {
                UndoStatus::Failed => {
                    format!("undo failed: {}", u.message.as_deref().unwrap_or(""))
                }
                _ => "left faulted (--retain)".to_string(),
            });
            let mut case = TestCase::new(format!("undo {}: {}", u.step, u.description), status);
            case.set_classname(format!("{}.undo", r.name));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string()
}
