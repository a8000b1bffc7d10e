//! The JSON report: a versioned document for CI (see docs/report.md). Fields are only ever
//! added within a schema version; a removal or change of meaning bumps it. Read back by `chaos
//! report` to render the hand-out reports again.

use serde::{Deserialize, Serialize};

use crate::engine::PlaybookReport;

pub const SCHEMA: &str = "kind-chaos.dev/report/v1";

#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub schema: &'static str,
    pub tool_version: &'static str,
    /// The exit code the run ended with.
    pub exit_code: i32,
    pub playbooks: &'a [PlaybookReport],
}

/// A JSON report read back from its text.
#[derive(Debug, Clone, Deserialize)]
pub struct SavedReport {
    pub schema: String,
    pub tool_version: String,
    pub exit_code: i32,
    pub playbooks: Vec<PlaybookReport>,
}

pub fn render(reports: &[PlaybookReport], exit_code: i32) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&JsonReport {
        schema: SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION"),
        exit_code,
        playbooks: reports,
    })
}

/// Reads a JSON report; refuses another schema than [`SCHEMA`] (its fields may mean other
/// things).
pub fn read(text: &str) -> Result<SavedReport, String> {
    let r: SavedReport = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if r.schema != SCHEMA {
        return Err(format!(
            "schema `{}` is not `{SCHEMA}`, the one this chaos reads",
            r.schema
        ));
    }
    Ok(r)
}
