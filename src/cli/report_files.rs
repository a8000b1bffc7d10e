//! Where `chaos run` writes its JSON and JUnit reports: a file, or stdout for `-` (the human
//! output then goes to stderr, so the report stays parseable). Used at the end of a run and on
//! a second interrupt, so both write the same reports the same way.

use std::path::{Path, PathBuf};

use crate::engine::PlaybookReport;
use crate::errln;
use crate::exit::Exit;
use crate::report::{self, out};

/// Where a report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
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

/// The `--json` and `--junit` targets of a run.
#[derive(Debug, Clone, Default)]
pub(super) struct ReportTargets {
    pub json: Option<Target>,
    pub junit: Option<Target>,
}

impl ReportTargets {
    /// The targets of the flags; `Err` when both ask for stdout (one stream, two documents).
    pub fn new(json: Option<&Path>, junit: Option<&Path>) -> Result<ReportTargets, String> {
        let t = ReportTargets {
            json: json.map(Target::of),
            junit: junit.map(Target::of),
        };
        if t.json == Some(Target::Stdout) && t.junit == Some(Target::Stdout) {
            return Err("--json - and --junit - cannot both write to stdout".into());
        }
        Ok(t)
    }

    /// Whether a report takes stdout (the human output must then move to stderr).
    pub fn uses_stdout(&self) -> bool {
        self.json == Some(Target::Stdout) || self.junit == Some(Target::Stdout)
    }
}

/// Writes the reports; a report that cannot be written is said on stderr and makes the run
/// exit at least 3. Returns the run's exit code.
pub(super) fn write(targets: &ReportTargets, reports: &[PlaybookReport], exit: Exit) -> Exit {
    let mut exit = exit;
    if let Some(t) = &targets.json {
        let text = report::json::render(reports, exit.code()).map_err(|e| e.to_string());
        exit = exit.max(deliver(t, "JSON", text));
    }
    if let Some(t) = &targets.junit {
        let text = report::junit::render(reports).map_err(|e| e.to_string());
        exit = exit.max(deliver(t, "JUnit", text));
    }
    exit
}

fn deliver(target: &Target, what: &str, text: Result<String, String>) -> Exit {
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
        Ok(()) => Exit::Passed,
        Err(e) => {
            errln!(
                "error: cannot write the {what} report {}: {e}",
                target.name()
            );
            Exit::Environment
        }
    }
}
