//! `chaos report REPORT.json --html FILE --markdown FILE`: the hand-out reports rendered again
//! from a saved JSON report, later or on another machine, with no cluster. The same code as
//! `chaos run --html` renders them, from the same JSON, so the files are the same.

use std::path::PathBuf;

use clap::Args;

use crate::errln;
use crate::exit::Exit;
use crate::report::files::{self, ReportTargets};
use crate::report::json;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A JSON report written by `chaos run --json FILE`.
    #[arg(value_name = "REPORT.json")]
    pub report: PathBuf,
    /// Write the HTML report here (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the Markdown report here (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

pub fn report(args: &ReportArgs) -> Exit {
    if args.html.is_none() && args.markdown.is_none() {
        errln!("error: say what to write: --html FILE and/or --markdown FILE");
        return Exit::Usage;
    }
    let targets = match ReportTargets::default()
        .with_documents(args.html.as_deref(), args.markdown.as_deref())
    {
        Ok(t) => t,
        Err(e) => {
            errln!("error: {e}");
            return Exit::Usage;
        }
    };
    let text = match std::fs::read_to_string(&args.report) {
        Ok(t) => t,
        Err(e) => {
            errln!("error: cannot read {}: {e}", args.report.display());
            return Exit::Usage;
        }
    };
    let saved = match json::read(&text) {
        Ok(r) => r,
        Err(e) => {
            errln!(
                "error: {} is not a JSON report of chaos run: {e}",
                args.report.display()
            );
            return Exit::Usage;
        }
    };
    if files::write_documents(&targets, &Ok(saved)) {
        Exit::Passed
    } else {
        Exit::Environment
    }
}
