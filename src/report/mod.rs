//! Rendering runs: live progress for people ([`human`]), a summary table, the versioned JSON
//! report ([`json`]) and JUnit XML ([`junit`]) for CI, written where the flags say ([`files`]),
//! and the `--dry-run` plan ([`plan`]); colour and symbols follow the user's conventions
//! ([`style`]). Every reporter writes to a writer it is given; whether the terminal is live is an input.

pub mod files;
pub mod human;
pub mod json;
pub mod junit;
pub mod out;
pub mod plan;
pub mod style;
pub mod summary;

pub use summary::{summary_table, summary_table_width};
