//! `probe`: the signal probe, the test application of kind-chaos's Pod behaviour labs.
//!
//! It exists because the labs are about which signals reach a container's process, and when:
//! it is our Rust version of the lab's `app.py`, built as a static binary so that it can be the
//! only file in a `FROM scratch` image (no registry to pull a Python base image from). It prints
//! its settings, then `Received N` for every catchable signal, and exits on SIGTERM (or SIGINT
//! with `--sigint`), at once or after a 60 s wait (`--timed`), with code 0 or 1 (`--error`).
//! See `cli::USAGE` for the interface and `images/README.md` for the images built around it.

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod run;
mod signals;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit code for a command line the probe does not understand.
const EXIT_USAGE: u8 = 2;
/// Exit code when the probe cannot set up its signal handling (EX_OSERR); never expected.
const EXIT_OS_ERROR: u8 = 71;

/// The real signal source: the blocked signal set and the monotonic clock.
struct RealSignals(signals::Blocked);

impl run::SignalSource for RealSignals {
    fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<libc::c_int>> {
        self.0.wait(timeout)
    }
    fn now(&self) -> Instant {
        Instant::now()
    }
}

fn main() -> ExitCode {
    // First of all, so that a signal sent while the probe starts is queued and reported
    // rather than acted on with its default action.
    let blocked = match signals::block_catchable() {
        Ok(blocked) => blocked,
        Err(err) => {
            eprintln!("probe: cannot block signals: {err}");
            return ExitCode::from(EXIT_OS_ERROR);
        }
    };
    let command = cli::parse(
        std::env::args_os().skip(1),
        std::env::var_os(cli::TIMED_SECS_ENV),
    );
    let settings = match command {
        Ok(cli::Command::Run(settings)) => settings,
        Ok(cli::Command::Help) => {
            let _ = io::stdout().write_all(cli::USAGE.as_bytes());
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Version) => {
            let _ = writeln!(io::stdout(), "probe {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            let _ = write!(io::stderr(), "probe: {err}\n\n{}", cli::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut out = run::Output::new(io::stdout().lock());
    match run::run(
        &settings,
        std::process::id(),
        &mut RealSignals(blocked),
        &mut out,
    ) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("probe: waiting for signals failed: {err}");
            ExitCode::from(EXIT_OS_ERROR)
        }
    }
}
