//! Rendering runs: live progress for people ([`human`]), a summary table, the versioned JSON
//! report ([`json`]) and JUnit XML ([`junit`]) for CI, written where the flags say ([`files`]),
//! and the `--dry-run` plan ([`plan`]); colour and symbols follow the user's conventions
//! ([`style`]). Every reporter writes to a writer it is given; whether the terminal is live is an input.
//! The hand-out reports of a game day ([`html`], [`markdown`]) draw the run's timeline
//! ([`lanes`], [`svg`]) and are rendered from the JSON report read back, by `chaos run` and
//! `chaos report` alike.

pub mod files;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod lanes;
pub mod markdown;
pub mod out;
pub mod plan;
pub mod style;
pub mod summary;
pub mod svg;

pub use summary::{summary_table, summary_table_width};
