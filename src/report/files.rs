//! Writing `chaos run`'s JSON and JUnit reports to where `--json` and `--junit` say: a file, or
//! stdout for `-` (the human output then goes to stderr, so the report stays parseable), and
//! the hand-out HTML and Markdown reports (`--html`, `--markdown`), rendered from the JSON
//! report read back so that `chaos report` on the saved JSON gives the same files. Used
//! at the end of a run and on a second interrupt, so both write the same reports the same way.
//! The CLI only maps "could not write one" to its exit code.

use std::path::{Path, PathBuf};

use crate::engine::PlaybookReport;
use crate::errln;
use crate::report::{self, out};

/// Where a report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File(PathBuf),
}

impl Target {
    fn of(path: &Path) -> Target {
        if path == Path::new("-") {
            Target::Stdout
        } else {
            Target::File(path.to_path_buf())
        }
    }

    fn name(&self) -> String {
        match self {
            Target::Stdout => "to stdout".into(),
            Target::File(p) => p.display().to_string(),
        }
    }
}

/// The `--json`, `--junit`, `--html` and `--markdown` targets of a run.
#[derive(Debug, Clone, Default)]
pub struct ReportTargets {
    pub json: Option<Target>,
    pub junit: Option<Target>,
    pub html: Option<Target>,
    pub markdown: Option<Target>,
}

impl ReportTargets {
    /// The targets of the flags; `Err` when both ask for stdout (one stream, two documents).
    pub fn new(json: Option<&Path>, junit: Option<&Path>) -> Result<ReportTargets, String> {
        let t = ReportTargets {
            json: json.map(Target::of),
            junit: junit.map(Target::of),
            ..ReportTargets::default()
        };
        if t.json == Some(Target::Stdout) && t.junit == Some(Target::Stdout) {
            return Err("--json - and --junit - cannot both write to stdout".into());
        }
        Ok(t)
    }

    /// Adds the `--html` and `--markdown` targets; `Err` when two reports ask for stdout.
    pub fn with_documents(
        self,
        html: Option<&Path>,
        markdown: Option<&Path>,
    ) -> Result<ReportTargets, String> {
        let t = ReportTargets {
            html: html.map(Target::of),
            markdown: markdown.map(Target::of),
            ..self
        };
        let on_stdout = [&t.json, &t.junit, &t.html, &t.markdown]
            .iter()
            .filter(|x| **x == &Some(Target::Stdout))
            .count();
        if on_stdout > 1 {
            return Err("only one report can be written to stdout (`-`)".into());
        }
        Ok(t)
    }

    /// Whether a report takes stdout (the human output must then move to stderr).
    pub fn uses_stdout(&self) -> bool {
        [&self.json, &self.junit, &self.html, &self.markdown]
            .iter()
            .any(|x| **x == Some(Target::Stdout))
    }
}

/// Writes the reports (the JSON one records `exit_code`, the run's code before writing); a
/// report that cannot be written is said on stderr. Whether every report was written.
pub fn write(targets: &ReportTargets, reports: &[PlaybookReport], exit_code: i32) -> bool {
    let mut written = true;
    if let Some(t) = &targets.json {
        let text = report::json::render(reports, exit_code).map_err(|e| e.to_string());
        written &= deliver(t, "JSON", text);
    }
    if let Some(t) = &targets.junit {
        let text = report::junit::render(reports).map_err(|e| e.to_string());
        written &= deliver(t, "JUnit", text);
    }
    if targets.html.is_some() || targets.markdown.is_some() {
        let saved = report::json::render(reports, exit_code)
            .map_err(|e| e.to_string())
            .and_then(|text| report::json::read(&text));
        written &= write_documents(targets, &saved);
    }
    written
}

/// Writes the HTML and Markdown reports of a JSON report read back (`chaos run` and `chaos
/// report` both come here). Whether every one was written.
pub fn write_documents(
    targets: &ReportTargets,
    saved: &Result<report::json::SavedReport, String>,
) -> bool {
    type Render = fn(&report::json::SavedReport) -> String;
    let documents: [(_, _, Render); 2] = [
        (&targets.html, "HTML", report::html::render),
        (&targets.markdown, "Markdown", report::markdown::render),
    ];
    let mut written = true;
    for (target, name, render) in documents {
        if let Some(t) = target {
            written &= deliver(t, name, saved.as_ref().map(render).map_err(Clone::clone));
        }
    }
    written
}

/// Writes the JUnit report of a run that did not start because playbooks were invalid (CI
/// shows the errors where it looks for results). Whether it was written.
pub fn write_invalid(targets: &ReportTargets, invalid: &[crate::playbook::Invalid]) -> bool {
    match &targets.junit {
        Some(t) => {
            let text = report::junit::render_invalid(invalid).map_err(|e| e.to_string());
            deliver(t, "JUnit", text)
        }
        None => true,
    }
}

fn deliver(target: &Target, what: &str, text: Result<String, String>) -> bool {
    let written = text.and_then(|mut text| match target {
        Target::Stdout => {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            // A closed stdout ends output quietly, like every other output.
            out::Stream::Stdout.write_bytes(text.as_bytes());
            Ok(())
        }
        Target::File(p) => std::fs::write(p, text).map_err(|e| e.to_string()),
    });
    match written {
        Ok(()) => true,
        Err(e) => {
            errln!(
                "error: cannot write the {what} report {}: {e}",
                target.name()
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_reports_on_stdout_is_refused() {
        let dash = Path::new("-");
        assert!(ReportTargets::new(Some(dash), Some(dash)).is_err());
        let t = ReportTargets::new(Some(dash), None).unwrap();
        assert!(t.uses_stdout());
        assert!(!ReportTargets::new(None, None).unwrap().uses_stdout());
    }

    #[test]
    fn only_one_report_takes_stdout() {
        let dash = Path::new("-");
        let html = ReportTargets::new(Some(dash), None)
            .unwrap()
            .with_documents(Some(dash), None);
        assert!(html.is_err());
        let t = ReportTargets::new(None, None)
            .unwrap()
            .with_documents(None, Some(dash))
            .unwrap();
        assert!(t.uses_stdout());
    }

    #[test]
    fn reports_are_written_where_the_flags_say_with_the_runs_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let (json, junit) = (dir.path().join("r.json"), dir.path().join("r.xml"));
        let t = ReportTargets::new(Some(&json), Some(&junit)).unwrap();
        assert!(write(&t, &[], 5));
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(doc["exit_code"], 5);
        assert!(
            std::fs::read_to_string(&junit)
                .unwrap()
                .contains("<testsuites")
        );
    }

    #[test]
    fn a_report_that_cannot_be_written_is_said_as_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("no-such-folder/r.json");
        let junit = dir.path().join("r.xml");
        let t = ReportTargets::new(Some(&json), Some(&junit)).unwrap();
        assert!(!write(&t, &[], 0));
        assert!(junit.exists(), "the other report is still written");
    }
}
