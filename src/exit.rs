//! Exit codes, documented in the README. CI acts on them, so they are constants chosen in one
//! place by one exhaustive match.

use crate::engine::{ErrorClass, PlaybookReport, RunStatus};

/// The outcome of a command. The variants are declared from the quietest to the loudest, and
/// that declared order is the only ordering there is (derived `Ord`): the loudest outcome of a
/// run decides its exit code, so combining two outcomes is `Ord::max`. It is not the order of
/// the codes (an interrupt, 130, is quieter than a failed rollback, 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every playbook passed and every fault was undone.
    Passed,
    /// An assertion or wait did not hold.
    AssertionFailed,
    /// A fault or step could not be carried out.
    StepFailed,
    /// Bad usage or an invalid playbook.
    Usage,
    /// The environment is not ready: no Docker, no cluster, API or etcd unreachable.
    Environment,
    /// Interrupted by SIGINT/SIGTERM (after the undo ran).
    Interrupted,
    /// The cluster is left faulted: an undo failed, or `--retain` kept the faults.
    RollbackFailed,
}

impl Exit {
    pub const fn code(self) -> i32 {
        match self {
            Exit::Passed => 0,
            Exit::AssertionFailed => 1,
            Exit::Usage => 2,
            Exit::Environment => 3,
            Exit::StepFailed => 4,
            Exit::RollbackFailed => 5,
            Exit::Interrupted => 130,
        }
    }

    /// The exit of one playbook's run.
    pub fn of(report: &PlaybookReport) -> Exit {
        if report.rollback_failed() {
            return Exit::RollbackFailed;
        }
        match (report.status, report.error_class) {
            (RunStatus::Passed, _) => Exit::Passed,
            (RunStatus::Failed | RunStatus::NotSteady, _) => Exit::AssertionFailed,
            (RunStatus::Error, Some(ErrorClass::Environment)) => Exit::Environment,
            (RunStatus::Error, Some(ErrorClass::Step) | None) => Exit::StepFailed,
            (RunStatus::Interrupted, _) => Exit::Interrupted,
            (RunStatus::RollbackFailed | RunStatus::Retained, _) => Exit::RollbackFailed,
        }
    }

    /// The exit of a whole run of several playbooks.
    pub fn of_all(reports: &[PlaybookReport]) -> Exit {
        reports.iter().map(Exit::of).max().unwrap_or(Exit::Passed)
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn codes_are_the_documented_ones() {
        let all = [
            (Exit::Passed, 0),
            (Exit::AssertionFailed, 1),
            (Exit::Usage, 2),
            (Exit::Environment, 3),
            (Exit::StepFailed, 4),
            (Exit::RollbackFailed, 5),
            (Exit::Interrupted, 130),
        ];
        for (e, c) in all {
            assert_eq!(e.code(), c, "{e:?}");
        }
    }

    #[test]
    fn outcomes_are_ordered_from_quietest_to_loudest() {
        let mut all = [
            Exit::RollbackFailed,
            Exit::Interrupted,
            Exit::Environment,
            Exit::Usage,
            Exit::StepFailed,
            Exit::AssertionFailed,
            Exit::Passed,
        ];
        all.sort();
        assert_eq!(
            all,
            [
                Exit::Passed,
                Exit::AssertionFailed,
                Exit::StepFailed,
                Exit::Usage,
                Exit::Environment,
                Exit::Interrupted,
                Exit::RollbackFailed,
            ]
        );
    }

    #[test]
    fn the_loudest_outcome_wins() {
        assert_eq!(
            Exit::AssertionFailed.max(Exit::RollbackFailed),
            Exit::RollbackFailed
        );
        assert_eq!(Exit::Interrupted.max(Exit::Environment), Exit::Interrupted);
        assert_eq!(
            Exit::StepFailed.max(Exit::AssertionFailed),
            Exit::StepFailed
        );
        assert_eq!(Exit::Passed.max(Exit::Passed), Exit::Passed);
    }
}
