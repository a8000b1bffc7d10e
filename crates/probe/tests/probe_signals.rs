//! The probe binary against real signals: spawned as a child, signalled with `kill(2)`, its
//! line-flushed stdout read as it comes. This is the contract the image labs and the playbooks
//! build on (the exact lines, the exit codes, which signals end it), checked without Docker.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

const PROBE: &str = env!("CARGO_BIN_EXE_probe");
const TIMEOUT: Duration = Duration::from_secs(10);

/// A running probe; killed on drop so a failing test leaves nothing behind.
struct Probe {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Probe {
    /// Starts the probe and waits until it printed its start-up lines, which it does only after
    /// blocking its signals: from then on, signals are safe to send.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Probe {
        let mut cmd = Command::new(PROBE);
        cmd.args(args)
            .env_remove("PROBE_TIMED_SECS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("spawn probe");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut probe = Probe {
            child,
            lines,
            seen: Vec::new(),
        };
        for _ in 0..3 {
            probe.next_line();
        }
        probe.expect_line_starting("PID ");
        probe
    }

    fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t")
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) with the pid of our own, not yet reaped, child.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid());
    }

    /// Next output line, failing the test after [`TIMEOUT`].
    fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(TIMEOUT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("no output line within {TIMEOUT:?}; so far: {:?}", self.seen)
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("probe closed its output; so far: {:?}", self.seen)
            }
        }
    }

    fn expect_line(&mut self, want: &str) {
        let line = self.next_line();
        assert_eq!(line, want, "output so far: {:?}", self.seen);
    }

    fn expect_line_starting(&mut self, prefix: &str) -> String {
        let line = self.next_line();
        assert!(
            line.starts_with(prefix),
            "expected a line starting with {prefix:?}, got {line:?}; so far: {:?}",
            self.seen
        );
        line
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "probe still running after {TIMEOUT:?}; output: {:?}",
                self.seen
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn assert_running(&mut self) {
        assert!(
            self.child.try_wait().expect("try_wait").is_none(),
            "probe exited; output: {:?}",
            self.seen
        );
    }

    /// Remaining output after exit.
    fn rest(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            rest.push(line);
        }
        rest
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_to_end(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(PROBE);
    cmd.args(args).env_remove("PROBE_TIMED_SECS");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("run probe");
    (
        out.status.code().expect("exit code, not a signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prints_default_settings_then_its_pid() {
    let mut probe = Probe::start(&[], &[]);
    assert_eq!(
        probe.seen,
        [
            "SIGTERM".to_string(),
            "Immediate exit".into(),
            "Zero exit code".into(),
            format!("PID {}", probe.child.id()),
        ]
    );
    probe.signal(libc::SIGTERM);
    assert_eq!(probe.wait_exit().code(), Some(0));
}

#[test]
fn prints_all_switched_settings() {
    let probe = Probe::start(&["--sigint", "--timed", "--error"], &[]);
    assert_eq!(
        &probe.seen[..3],
        ["SIGINT", "Timed exit", "Non-zero exit code"]
    );
}

#[test]
fn sigterm_exits_at_once_with_zero() {
    let mut probe = Probe::start(&[], &[]);
    let sent = Instant::now();
    probe.signal(libc::SIGTERM);
    probe.expect_line("Received 15");
    probe.expect_line("Exiting with code 0");
    assert_eq!(probe.wait_exit().code(), Some(0));
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
}

#[test]
fn error_flag_exits_with_one() {
    let mut probe = Probe::start(&["--error"], &[]);
    probe.signal(libc::SIGTERM);
    probe.expect_line("Received 15");
    probe.expect_line("Exiting with code 1");
    assert_eq!(probe.wait_exit().code(), Some(1));
}

#[test]
fn every_other_catchable_signal_is_only_reported() {
    let mut probe = Probe::start(&[], &[]);
    let others = (1..=31).filter(|s| ![libc::SIGKILL, libc::SIGSTOP, libc::SIGTERM].contains(s));
    for signal in others {
        probe.signal(signal);
        probe.expect_line(&format!("Received {signal}"));
        probe.assert_running();
    }
    probe.signal(libc::SIGTERM);
    probe.expect_line("Received 15");
    assert_eq!(probe.wait_exit().code(), Some(0));
}

#[test]
fn sigint_mode_reports_sigterm_and_exits_on_sigint() {
    let mut probe = Probe::start(&["--sigint"], &[]);
    probe.signal(libc::SIGTERM);
    probe.expect_line("Received 15");
    thread::sleep(Duration::from_millis(200));
    probe.assert_running();
    probe.signal(libc::SIGINT);
    probe.expect_line("Received 2");
    assert_eq!(probe.wait_exit().code(), Some(0));
}

#[test]
fn default_mode_reports_sigint_without_exiting() {
    // The lab's Ctrl+C: `Received 2`, and the app keeps running.
    let mut probe = Probe::start(&[], &[]);
    probe.signal(libc::SIGINT);
    probe.expect_line("Received 2");
    thread::sleep(Duration::from_millis(200));
    probe.assert_running();
}

#[test]
fn timed_exit_waits_reports_signals_meanwhile_and_ticks() {
    let mut probe = Probe::start(&["--timed", "--error"], &[("PROBE_TIMED_SECS", "2")]);
    let sent = Instant::now();
    probe.signal(libc::SIGTERM);
    probe.expect_line("Received 15");
    probe.signal(libc::SIGUSR1);
    probe.expect_line("Received 10");
    // A second exit signal during the wait is reported, and neither restarts nor shortens it.
    probe.signal(libc::SIGTERM);
    probe.expect_line("Received 15");
    probe.expect_line("Elapsed 1s");
    probe.assert_running();
    probe.expect_line("Elapsed 2s");
    probe.expect_line("Exiting with code 1");
    assert_eq!(probe.wait_exit().code(), Some(1));
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "timed exit took {took:?}"
    );
}

#[test]
fn timed_exit_defaults_to_the_labs_minute() {
    let mut probe = Probe::start(&["--timed"], &[]);
    probe.signal(libc::SIGTERM);
    probe.expect_line("Received 15");
    probe.expect_line("Elapsed 1s");
    probe.expect_line("Elapsed 2s");
    probe.assert_running();
    // Drop kills it: the full minute is covered by the unit tests of the schedule.
}

#[test]
fn sigkill_still_kills() {
    let mut probe = Probe::start(&[], &[]);
    probe.signal(libc::SIGKILL);
    let status = probe.wait_exit();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert!(probe.rest().is_empty());
}

#[test]
fn unknown_flag_prints_usage_to_stderr_and_exits_two() {
    let (code, stdout, stderr) = run_to_end(&["--bogus"], &[]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert!(stderr.contains("unknown argument `--bogus`"), "{stderr}");
    assert!(stderr.contains("Usage: probe"), "{stderr}");
}

#[test]
fn bad_timed_secs_is_a_usage_error() {
    let (code, _, stderr) = run_to_end(&["--timed"], &[("PROBE_TIMED_SECS", "soon")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("PROBE_TIMED_SECS"), "{stderr}");
}

#[test]
fn help_and_version() {
    let (code, stdout, _) = run_to_end(&["--help"], &[]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("Usage: probe"), "{stdout}");
    let (code, stdout, _) = run_to_end(&["--version"], &[]);
    assert_eq!(code, 0);
    assert_eq!(stdout, format!("probe {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn output_is_flushed_line_by_line_into_a_pipe() {
    // Nothing is read until the probe must have written its start-up lines; if they were
    // buffered until exit, this read would block until the timeout.
    let mut child = Command::new(PROBE)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn probe");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 256];
        let n = stdout.read(&mut buf).unwrap_or(0);
        let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
    });
    let first = rx.recv_timeout(TIMEOUT);
    let _ = child.kill();
    let _ = child.wait();
    let first = first.expect("output arrived while the probe was still running");
    assert!(first.starts_with("SIGTERM\n"), "{first:?}");
}
