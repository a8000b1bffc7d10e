//! Command-line parsing for the probe.
//!
//! Why hand-rolled rather than clap: the probe is copied into `FROM scratch` images and its whole
//! interface is three switches taken from the lab's `app.py`, so a dependency would buy nothing.
//! Parsing is a pure function of the arguments and of the `PROBE_TIMED_SECS` value, so it is
//! unit-tested here without touching the process environment.

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

/// Environment variable that shortens (or lengthens) the `--timed` wait. A test knob: the lab's
/// behaviour is 60 s, which is what playbooks should rely on.
pub const TIMED_SECS_ENV: &str = "PROBE_TIMED_SECS";

/// The lab's `--timed` wait: 60 s, with a line each second for the first half.
pub const DEFAULT_TIMED_SECS: u64 = 60;

pub const USAGE: &str = "\
Usage: probe [--sigint | --sigterm] [--timed] [--error]
       probe --help | --version

Sleeps forever, printing `Received N` for every catchable signal (1-31 except SIGKILL/SIGSTOP).
Exits on its exit signal: SIGTERM, or SIGINT with --sigint.

  --sigint    exit on SIGINT instead of SIGTERM
  --sigterm   exit on SIGTERM (the default; lets an image's CMD name it explicitly)
  --timed     on the exit signal, wait 60 s before exiting: a line each second for the first
              30 s, then a last line at 60 s (PROBE_TIMED_SECS=N changes 60 to N, for tests)
  --error     exit with code 1 instead of 0
  --help      print this text
  --version   print the probe's version
";

/// What the probe was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Settings),
    Help,
    Version,
}

/// The behaviour switches, as the lab's `app.py` had them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Exit on SIGINT (`--sigint`) rather than SIGTERM.
    pub exit_on_sigint: bool,
    /// `Some(total wait)` with `--timed`, `None` for an immediate exit.
    pub timed: Option<Duration>,
    /// Exit code 1 (`--error`) rather than 0.
    pub error: bool,
}

impl Settings {
    /// The signal number that makes the probe exit.
    pub fn exit_signal(&self) -> libc::c_int {
        if self.exit_on_sigint {
            libc::SIGINT
        } else {
            libc::SIGTERM
        }
    }

    /// The exit code the probe ends with after its exit signal.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.error)
    }

    /// The start-up lines, one per setting, worded exactly as the lab's app printed them.
    pub fn lines(&self) -> [&'static str; 3] {
        [
            if self.exit_on_sigint {
                "SIGINT"
            } else {
                "SIGTERM"
            },
            if self.timed.is_some() {
                "Timed exit"
            } else {
                "Immediate exit"
            },
            if self.error {
                "Non-zero exit code"
            } else {
                "Zero exit code"
            },
        ]
    }
}

/// A command line the probe does not understand; the caller prints it with [`USAGE`], exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    UnknownArgument(String),
    BadTimedSecs(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::UnknownArgument(arg) => write!(f, "unknown argument `{arg}`"),
            UsageError::BadTimedSecs(value) => write!(
                f,
                "{TIMED_SECS_ENV}={value:?} is not a whole number of seconds"
            ),
        }
    }
}

/// Parses the arguments (without the program name) and the raw value of [`TIMED_SECS_ENV`].
/// Later switches win (`--sigint --sigterm` exits on SIGTERM), like most CLIs.
pub fn parse<I>(args: I, timed_secs: Option<OsString>) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = OsString>,
{
    let mut exit_on_sigint = false;
    let mut timed = false;
    let mut error = false;
    for arg in args {
        match arg.to_str() {
            Some("--sigint") => exit_on_sigint = true,
            Some("--sigterm") => exit_on_sigint = false,
            Some("--timed") => timed = true,
            Some("--error") => error = true,
            Some("--help" | "-h") => return Ok(Command::Help),
            Some("--version" | "-V") => return Ok(Command::Version),
            _ => {
                return Err(UsageError::UnknownArgument(
                    arg.to_string_lossy().into_owned(),
                ));
            }
        }
    }
    let timed = if timed {
        Some(Duration::from_secs(timed_total_secs(timed_secs)?))
    } else {
        None
    };
    Ok(Command::Run(Settings {
        exit_on_sigint,
        timed,
        error,
    }))
}

fn timed_total_secs(raw: Option<OsString>) -> Result<u64, UsageError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_TIMED_SECS);
    };
    let text = raw.to_string_lossy();
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(DEFAULT_TIMED_SECS);
    }
    trimmed
        .parse::<u64>()
        .map_err(|_| UsageError::BadTimedSecs(text.into_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: Option<&str>) -> Result<Command, UsageError> {
        parse(args.iter().map(OsString::from), env.map(OsString::from))
    }

    fn settings(args: &[&str]) -> Settings {
        match run(args, None) {
            Ok(Command::Run(s)) => s,
            other => panic!("expected settings for {args:?}, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_lab_app() {
        let s = settings(&[]);
        assert_eq!(s.lines(), ["SIGTERM", "Immediate exit", "Zero exit code"]);
        assert_eq!(s.exit_signal(), libc::SIGTERM);
        assert_eq!(s.exit_code(), 0);
    }

    #[test]
    fn all_switches() {
        let s = settings(&["--sigint", "--timed", "--error"]);
        assert_eq!(s.lines(), ["SIGINT", "Timed exit", "Non-zero exit code"]);
        assert_eq!(s.exit_signal(), libc::SIGINT);
        assert_eq!(s.exit_code(), 1);
        assert_eq!(s.timed, Some(Duration::from_secs(60)));
    }

    #[test]
    fn later_signal_switch_wins() {
        assert!(!settings(&["--sigint", "--sigterm"]).exit_on_sigint);
        assert!(settings(&["--sigterm", "--sigint"]).exit_on_sigint);
    }

    #[test]
    fn timed_secs_knob() {
        let Ok(Command::Run(s)) = run(&["--timed"], Some("2")) else {
            panic!("expected settings");
        };
        assert_eq!(s.timed, Some(Duration::from_secs(2)));
        let Ok(Command::Run(s)) = run(&["--timed"], Some("")) else {
            panic!("expected settings");
        };
        assert_eq!(s.timed, Some(Duration::from_secs(60)));
        assert_eq!(
            run(&["--timed"], Some("soon")),
            Err(UsageError::BadTimedSecs("soon".into()))
        );
        // Without --timed the knob is not even read.
        assert!(run(&[], Some("soon")).is_ok());
    }

    #[test]
    fn help_version_and_unknown() {
        assert_eq!(run(&["--help"], None), Ok(Command::Help));
        assert_eq!(run(&["--version"], None), Ok(Command::Version));
        assert_eq!(
            run(&["--timed", "--bogus"], None),
            Err(UsageError::UnknownArgument("--bogus".into()))
        );
        assert_eq!(
            run(&["app.py"], None),
            Err(UsageError::UnknownArgument("app.py".into()))
        );
    }
}
