//! Exit codes, documented in the README. CI acts on them, so they are constants chosen in one
//! place by one exhaustive match.

use crate::engine::{ErrorClass, PlaybookReport, RunStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every playbook passed and every fault was undone.
    Passed,
    /// An assertion or wait did not hold.
    AssertionFailed,
    /// Bad usage or an invalid playbook.
    Usage,
    /// The environment is not ready: no Docker, no cluster, API or etcd unreachable.
    Environment,
    /// A fault or step could not be carried out.
    StepFailed,
    /// Interrupted by SIGINT/SIGTERM (after the undo ran).
    Interrupted,
    /// An undo failed: the cluster may be left faulted.
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

    /// How loud an outcome is; the loudest outcome of a run decides the exit code.
    const fn severity(self) -> u8 {
        match self {
            Exit::Passed => 0,
            Exit::AssertionFailed => 1,
            Exit::StepFailed => 2,
            Exit::Usage => 3,
            Exit::Environment => 4,
            Exit::Interrupted => 5,
            Exit::RollbackFailed => 6,
        }
    }

    pub fn max(self, other: Exit) -> Exit {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// The exit of one playbook's run.
    pub fn of(report: &PlaybookReport) -> Exit {
        if report.rollback_failed() {
            return Exit::RollbackFailed;
        }
        match (report.status, report.error_class) {
            (RunStatus::Passed, _) => Exit::Passed,
            (RunStatus::Failed, _) => Exit::AssertionFailed,
            (RunStatus::Error, Some(ErrorClass::Environment)) => Exit::Environment,
            (RunStatus::Error, Some(ErrorClass::Step) | None) => Exit::StepFailed,
            (RunStatus::Interrupted, _) => Exit::Interrupted,
            (RunStatus::RollbackFailed, _) => Exit::RollbackFailed,
        }
    }

    /// The exit of a whole run of several playbooks.
    pub fn of_all(reports: &[PlaybookReport]) -> Exit {
        reports.iter().map(Exit::of).fold(Exit::Passed, Exit::max)
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
