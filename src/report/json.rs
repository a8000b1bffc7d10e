//! The JSON report: a versioned document for CI (see docs/report.md). Fields are only ever
//! added within a schema version; a removal or change of meaning bumps it.

use serde::Serialize;

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

pub fn render(reports: &[PlaybookReport], exit_code: i32) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&JsonReport {
        schema: SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION"),
        exit_code,
        playbooks: reports,
    })
}
