//! The probe's life: report every signal, exit on the exit signal (after the `--timed` wait).
//!
//! Why its own module: this is the behaviour the labs assert on through `docker logs` and
//! `kubectl logs`, so it is kept apart from argument parsing and signal plumbing, writes only
//! through [`Output`], and takes signals from any [`SignalSource`] so its timing logic is
//! unit-tested with a scripted source instead of real signals and real seconds.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::cli::Settings;

/// Where signals come from: the real blocked set in production, a script in unit tests.
pub trait SignalSource {
    /// Next signal, or `Ok(None)` if `timeout` passed first (or the wait was interrupted).
    fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<libc::c_int>>;
    /// The current time, so tests can move it.
    fn now(&self) -> Instant;
}

/// Line-flushed output. Every line is flushed at once, because the probe is read live through
/// `docker logs` / `kubectl logs` from a pipe, where nothing would otherwise be line-buffered for
/// a C program and where a lost last line would hide what happened. Once a write fails (the
/// reader went away), output stops for good: otherwise each failed write would raise a SIGPIPE
/// that the probe would report, failing again, for ever.
pub struct Output<W: Write> {
    inner: W,
    broken: bool,
}

impl<W: Write> Output<W> {
    pub fn new(inner: W) -> Self {
        Output {
            inner,
            broken: false,
        }
    }

    pub fn line(&mut self, text: &str) {
        if self.broken {
            return;
        }
        let result = writeln!(self.inner, "{text}").and_then(|()| self.inner.flush());
        if result.is_err() {
            self.broken = true;
        }
    }

    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Prints the start-up lines, then serves signals until the exit signal (and the timed wait)
/// is over. Returns the exit code.
pub fn run<W: Write>(
    settings: &Settings,
    pid: u32,
    signals: &mut impl SignalSource,
    out: &mut Output<W>,
) -> io::Result<u8> {
    for line in settings.lines() {
        out.line(line);
    }
    // Not in the lab's app, but it is what the talk's trap.sh printed: it shows at a glance
    // whether the probe is PID 1 (exec form) or a shell's child (shell form).
    out.line(&format!("PID {pid}"));

    let exit_signal = settings.exit_signal();
    loop {
        if let Some(signal) = signals.next(None)? {
            out.line(&format!("Received {signal}"));
            if signal == exit_signal {
                break;
            }
        }
    }
    if let Some(total) = settings.timed {
        timed_wait(total, signals, out)?;
    }
    let code = settings.exit_code();
    out.line(&format!("Exiting with code {code}"));
    Ok(code)
}

/// The `--timed` wait: `Elapsed Ns` each second for the first half of `total`, then once more at
/// `total`. Signals arriving meanwhile (the exit signal again included) are only reported.
fn timed_wait<W: Write>(
    total: Duration,
    signals: &mut impl SignalSource,
    out: &mut Output<W>,
) -> io::Result<()> {
    let start = signals.now();
    let half_secs = total.as_secs() / 2;
    let mut marks: Vec<u64> = (1..=half_secs).collect();
    marks.push(total.as_secs());
    for mark in marks {
        let deadline = start + Duration::from_secs(mark);
        loop {
            let now = signals.now();
            if now >= deadline {
                break;
            }
            if let Some(signal) = signals.next(Some(deadline - now))? {
                out.line(&format!("Received {signal}"));
            }
        }
        out.line(&format!("Elapsed {mark}s"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted source: each step either delivers a signal at once or lets time pass until
    /// the caller's timeout (a timeout of `None` with no signal left is a test bug).
    struct Script {
        now: Instant,
        steps: VecDeque<Option<libc::c_int>>,
        waits: Vec<Option<Duration>>,
    }

    impl Script {
        fn new(steps: &[Option<libc::c_int>]) -> Self {
            Script {
                now: Instant::now(),
                steps: steps.iter().copied().collect(),
                waits: Vec::new(),
            }
        }
    }

    impl SignalSource for Script {
        fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<libc::c_int>> {
            self.waits.push(timeout);
            match self.steps.pop_front() {
                Some(Some(signal)) => Ok(Some(signal)),
                Some(None) | None => {
                    let t = timeout.ok_or_else(|| io::Error::other("script ran dry"))?;
                    self.now += t;
                    Ok(None)
                }
            }
        }
        fn now(&self) -> Instant {
            self.now
        }
    }

    fn settings(sigint: bool, timed: Option<u64>, error: bool) -> Settings {
        Settings {
            exit_on_sigint: sigint,
            timed: timed.map(Duration::from_secs),
            error,
        }
    }

    fn lines(settings: &Settings, script: &mut Script) -> (u8, Vec<String>) {
        let mut out = Output::new(Vec::new());
        let code = run(settings, 7, script, &mut out).unwrap();
        let text = String::from_utf8(out.into_inner()).unwrap();
        (code, text.lines().map(str::to_owned).collect())
    }

    #[test]
    fn immediate_exit_reports_other_signals_first() {
        let mut script = Script::new(&[Some(10), Some(2), Some(15)]);
        let (code, out) = lines(&settings(false, None, false), &mut script);
        assert_eq!(code, 0);
        assert_eq!(
            out,
            [
                "SIGTERM",
                "Immediate exit",
                "Zero exit code",
                "PID 7",
                "Received 10",
                "Received 2",
                "Received 15",
                "Exiting with code 0",
            ]
        );
    }

    #[test]
    fn sigint_mode_ignores_sigterm_and_error_gives_one() {
        let mut script = Script::new(&[Some(15), Some(2)]);
        let (code, out) = lines(&settings(true, None, true), &mut script);
        assert_eq!(code, 1);
        assert_eq!(
            &out[..3],
            ["SIGINT", "Immediate exit", "Non-zero exit code"]
        );
        assert_eq!(
            &out[4..],
            ["Received 15", "Received 2", "Exiting with code 1"]
        );
    }

    #[test]
    fn timed_wait_ticks_each_second_for_half_then_once_at_the_end() {
        // SIGTERM, then one second passes, a SIGUSR1 and a second SIGTERM arrive, the rest
        // passes quietly.
        let mut script = Script::new(&[Some(15), None, Some(10), Some(15)]);
        let (code, out) = lines(&settings(false, Some(6), false), &mut script);
        assert_eq!(code, 0);
        assert_eq!(
            &out[4..],
            [
                "Received 15",
                "Elapsed 1s",
                "Received 10",
                "Received 15",
                "Elapsed 2s",
                "Elapsed 3s",
                "Elapsed 6s",
                "Exiting with code 0",
            ]
        );
        // The last wait is the whole second half at once, not second by second.
        assert_eq!(script.waits.last(), Some(&Some(Duration::from_secs(3))));
    }

    #[test]
    fn lab_timing_is_thirty_ticks_then_sixty() {
        let mut script = Script::new(&[Some(15)]);
        let (_, out) = lines(&settings(false, Some(60), false), &mut script);
        let elapsed: Vec<&str> = out
            .iter()
            .filter(|l| l.starts_with("Elapsed"))
            .map(String::as_str)
            .collect();
        assert_eq!(elapsed.len(), 31);
        assert_eq!(elapsed[29], "Elapsed 30s");
        assert_eq!(elapsed[30], "Elapsed 60s");
    }

    #[test]
    fn broken_output_stops_writing() {
        struct Failing(usize);
        impl Write for Failing {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                self.0 += 1;
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = Output::new(Failing(0));
        out.line("a");
        out.line("b");
        assert_eq!(out.into_inner().0, 1);
    }
}
