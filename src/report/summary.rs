//! The table printed after all playbooks ran.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::engine::{PlaybookReport, RunStatus, StepStatus, UndoStatus};
use crate::playbook::values::format_duration;

use super::out::clean;

/// A playbook's outcome in a word or three. Only a run whose every fault was undone is
/// `passed`; one whose faults were left in place (`--retain`) is not.
pub fn status_word(r: &PlaybookReport) -> &'static str {
    match r.status {
        RunStatus::Passed => "passed",
        RunStatus::Retained => "faults RETAINED",
        RunStatus::Failed => "FAILED",
        RunStatus::Error => "ERROR",
        RunStatus::Interrupted => "interrupted",
        RunStatus::NotSteady => "NOT STEADY (nothing injected)",
        RunStatus::RollbackFailed => "ROLLBACK FAILED",
    }
}

/// The table, as wide as the terminal it is printed on allows (see [`summary_table_width`]).
pub fn summary_table(reports: &[PlaybookReport]) -> String {
    summary_table_width(reports, None)
}

/// The table wrapped to `width` columns; with `None`, to the terminal's width when stdout is
/// one, else as wide as its content.
pub fn summary_table_width(reports: &[PlaybookReport], width: Option<u16>) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = width {
        t.set_width(w);
    }
    t.set_header(vec!["playbook", "result", "steps", "faults undone", "time"]);
    for r in reports {
        let count = |s: StepStatus| r.steps.iter().filter(|x| x.status == s).count();
        let steps = format!(
            "{} passed, {} failed, {} errors, {} skipped",
            count(StepStatus::Passed),
            count(StepStatus::Failed),
            count(StepStatus::Error),
            count(StepStatus::Skipped) + count(StepStatus::Interrupted)
        );
        let undone = r
            .undo
            .iter()
            .filter(|u| u.status == UndoStatus::Undone)
            .count();
        let failed = r.failed_undo().count();
        let retained = r.retained().count();
        let owed = r
            .undo
            .iter()
            .filter(|u| u.status == UndoStatus::Owed)
            .count();
        let mut undo = format!("{undone}/{}", r.undo.len());
        for (n, what) in [
            (failed, "FAILED"),
            (retained, "retained"),
            (owed, "NOT UNDONE"),
        ] {
            if n > 0 {
                undo += &format!(" ({n} {what})");
            }
        }
        t.add_row(vec![
            clean(&r.name).into_owned(),
            status_word(r).into(),
            steps,
            undo,
            format_duration(r.duration),
        ]);
    }
    t.to_string()
}
