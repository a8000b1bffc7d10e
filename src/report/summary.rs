//! The table printed after all playbooks ran.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::engine::{PlaybookReport, RunStatus, StepStatus, UndoStatus};
use crate::playbook::values::format_duration;

pub fn status_word(r: &PlaybookReport) -> &'static str {
    match r.status {
        RunStatus::Passed => "passed",
        RunStatus::Failed => "FAILED",
        RunStatus::Error => "ERROR",
        RunStatus::Interrupted => "interrupted",
    }
}

pub fn summary_table(reports: &[PlaybookReport]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
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
        let failed = r
            .undo
            .iter()
            .filter(|u| u.status == UndoStatus::Failed)
            .count();
        let retained = r
            .undo
            .iter()
            .filter(|u| u.status == UndoStatus::Retained)
            .count();
        let mut undo = format!("{undone}/{}", r.undo.len());
        if failed > 0 {
            undo += &format!(" ({failed} FAILED)");
        }
        if retained > 0 {
            undo += &format!(" ({retained} retained)");
        }
        t.add_row(vec![
            r.name.clone(),
            status_word(r).into(),
            steps,
            undo,
            format_duration(r.duration),
        ]);
    }
    t.to_string()
}
