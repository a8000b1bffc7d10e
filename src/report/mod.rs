//! Rendering runs: live progress for people ([`human`]), a summary table, the versioned JSON
//! report ([`json`]) and JUnit XML ([`junit`]) for CI, written where the flags say ([`files`]),
//! and the `--dry-run` plan ([`plan`]).
//! Every reporter writes to a writer it is given; whether the terminal is live is an input.

pub mod files;
pub mod human;
pub mod json;
pub mod junit;
pub mod out;
pub mod plan;
pub mod summary;

pub use summary::{summary_table, summary_table_width};

use crate::engine::StepStatus;

/// The symbol shown for a step status.
pub fn mark(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Passed => "✔",
        StepStatus::Failed => "✘",
        StepStatus::Error => "!",
        StepStatus::Skipped => "-",
        StepStatus::Interrupted => "⏹",
    }
}
