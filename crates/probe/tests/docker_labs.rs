//! The Pod behaviour lab's Docker sections, run for real against the local Docker daemon.
//!
//! Why: the images in `images/` exist to show how CMD/ENTRYPOINT, exec/shell form and
//! STOPSIGNAL decide which signal reaches the application. These tests assert the outcomes the
//! lab and the signal-handling talk describe, on the images `scripts/build-images.sh` builds
//! (it is run once, first), so a change to a Dockerfile, the script or the probe that breaks a
//! lab shows up here. Docker is required: without it every test fails, naming the cause.
//! Grace periods are short (`docker stop -t 3`) so the file runs in seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const GRACE_SECS: u64 = 3;
/// A stop that the application answers is far quicker than this; one that waits out the
/// grace period is not.
const FAST_STOP: Duration = Duration::from_secs(2);
const READY_TIMEOUT: Duration = Duration::from_secs(15);

fn image(name: &str) -> String {
    format!("kind-chaos/{name}:{}", env!("CARGO_PKG_VERSION"))
}

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `docker {}`: {e}", args.join(" ")))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs docker, asserting success; returns stdout.
fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "`docker {}` failed ({}): {}",
        args.join(" "),
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Builds the images once per test binary; every test calls this first.
fn images() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let result = BUILT.get_or_init(|| {
        let script = repo_root().join("scripts/build-images.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script);
        // The script builds the static probe with cargo: use the cargo running these tests.
        if let Some(dir) = option_env!("CARGO").and_then(|c| Path::new(c).parent()) {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![dir.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            if let Ok(joined) = std::env::join_paths(dirs) {
                cmd.env("PATH", joined);
            }
        }
        let started = Instant::now();
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}); these tests need Docker.\nstderr:\n{}",
                script.display(),
                out.status,
                text(&out.stderr)
            ));
        }
        eprintln!(
            "built the lab images in {:.1?}:\n{}",
            started.elapsed(),
            text(&out.stdout)
        );
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}

/// A container with a unique name, removed (forcibly) when dropped, also when a test fails.
struct Container {
    name: String,
}

impl Container {
    fn named(label: &str) -> Container {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Container {
            name: format!("kc-probe-lab-{}-{n}-{label}", std::process::id()),
        }
    }

    /// `docker run -d --name NAME [options] IMAGE [args]`, then waits until the probe printed
    /// its `PID` line (it has blocked its signals by then).
    fn start(label: &str, options: &[&str], image_name: &str, args: &[&str]) -> Container {
        images();
        let container = Container::named(label);
        let image = image(image_name);
        let mut run = vec!["run", "-d", "--name", &container.name];
        run.extend_from_slice(options);
        run.push(&image);
        run.extend_from_slice(args);
        docker_ok(&run);
        container.wait_for_line(|l| l.starts_with("PID "));
        container
    }

    /// `docker run --name NAME [options] IMAGE [args]` to completion: (exit code, stdout,
    /// stderr).
    fn run_to_end(
        label: &str,
        options: &[&str],
        image_name: &str,
        args: &[&str],
    ) -> (i32, String, String) {
        images();
        let container = Container::named(label);
        let image = image(image_name);
        let mut run = vec!["run", "--name", &container.name];
        run.extend_from_slice(options);
        run.push(&image);
        run.extend_from_slice(args);
        let out = docker(&run);
        let code = out.status.code().unwrap_or(-1);
        (code, text(&out.stdout), text(&out.stderr))
    }

    fn logs(&self) -> Vec<String> {
        let out = docker(&["logs", &self.name]);
        let mut all = text(&out.stdout);
        all.push_str(&text(&out.stderr));
        all.lines().map(str::to_owned).collect()
    }

    fn wait_for_line(&self, want: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let lines = self.logs();
            if lines.iter().any(|l| want(l)) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "{}: expected line not in the logs after {READY_TIMEOUT:?}: {lines:?}",
                self.name
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, line: &str) -> Vec<String> {
        self.wait_for_line(|l| l == line)
    }

    /// `docker stop -t GRACE_SECS`; returns how long it took.
    fn stop(&self) -> Duration {
        let started = Instant::now();
        docker_ok(&["stop", "-t", &GRACE_SECS.to_string(), &self.name]);
        started.elapsed()
    }

    fn inspect(&self, format: &str) -> String {
        docker_ok(&["inspect", "-f", format, &self.name])
            .trim()
            .to_owned()
    }

    fn exit_code(&self) -> i32 {
        let code = self.inspect("{{.State.ExitCode}}");
        code.parse()
            .unwrap_or_else(|_| panic!("{}: exit code {code:?}", self.name))
    }

    fn running(&self) -> bool {
        self.inspect("{{.State.Running}}") == "true"
    }

    fn has(&self, line: &str) -> bool {
        self.logs().iter().any(|l| l == line)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

fn assert_fast(took: Duration, what: &str) {
    assert!(
        took < FAST_STOP,
        "{what}: stop took {took:?}, expected < {FAST_STOP:?}"
    );
}

fn assert_waited_grace(took: Duration, what: &str) {
    let grace = Duration::from_secs(GRACE_SECS);
    assert!(
        took >= grace - Duration::from_millis(500) && took < grace + Duration::from_secs(5),
        "{what}: stop took {took:?}, expected about the {grace:?} grace period"
    );
}

#[test]
fn exec_form_gets_sigterm_from_docker_stop_and_exits_at_once() {
    let c = Container::start("exec", &[], "entrypoint-exec", &[]);
    assert_eq!(
        c.logs(),
        ["SIGTERM", "Immediate exit", "Zero exit code", "PID 1"],
        "the probe is PID 1 in exec form"
    );
    let took = c.stop();
    assert_fast(took, "exec form");
    let logs = c.logs();
    assert!(logs.contains(&"Received 15".to_owned()), "{logs:?}");
    assert_eq!(c.exit_code(), 0);
}

#[test]
fn error_flag_makes_the_exit_code_one() {
    let c = Container::start("error", &[], "entrypoint-exec", &["--error"]);
    assert!(c.has("Non-zero exit code"));
    assert_fast(c.stop(), "--error");
    assert!(c.has("Exiting with code 1"), "{:?}", c.logs());
    assert_eq!(c.exit_code(), 1);
}

#[test]
fn other_signals_are_reported_without_exiting() {
    let c = Container::start("usr1", &[], "entrypoint-exec", &[]);
    docker_ok(&["kill", "--signal=SIGUSR1", &c.name]);
    c.wait_for("Received 10");
    // The lab's Ctrl+C in `docker run`: reported, the container keeps running.
    docker_ok(&["kill", "--signal=SIGINT", &c.name]);
    c.wait_for("Received 2");
    thread::sleep(Duration::from_millis(300));
    assert!(c.running(), "{:?}", c.logs());
    assert_fast(c.stop(), "after SIGUSR1");
    assert_eq!(c.exit_code(), 0);
}

#[test]
fn cmd_is_replaced_whole_by_docker_run_arguments() {
    let c = Container::start("cmd", &[], "cmd", &[]);
    assert_eq!(
        &c.logs()[..3],
        ["SIGTERM", "Immediate exit", "Zero exit code"]
    );
    assert_fast(c.stop(), "cmd image");
    assert!(c.has("Received 15"));

    let (code, stdout, _) = Container::run_to_end("cmd-echo", &[], "cmd", &["echo", "test"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "test\n"),
        "the probe did not run"
    );

    // `--timed` replaces the CMD too, and is no program: docker run's "command not found".
    let (code, stdout, stderr) = Container::run_to_end("cmd-timed", &[], "cmd", &["--timed"]);
    assert_eq!(code, 127, "stdout: {stdout}\nstderr: {stderr}");
    assert!(!stdout.contains("Timed exit"));
}

#[test]
fn entrypoint_cmd_arguments_replace_cmd_not_entrypoint() {
    let c = Container::start("ecmd", &[], "entrypoint-cmd", &[]);
    assert_eq!(
        &c.logs()[..3],
        ["SIGTERM", "Immediate exit", "Zero exit code"]
    );
    assert_eq!(
        c.inspect("{{.Path}} {{json .Args}}"),
        r#"/probe ["--sigterm"]"#
    );
    drop(c);

    let c = Container::start("ecmd-timed", &[], "entrypoint-cmd", &["--timed"]);
    assert!(c.has("Timed exit"), "{:?}", c.logs());
    // Replaced, not appended: the image's `--sigterm` is gone.
    assert_eq!(
        c.inspect("{{.Path}} {{json .Args}}"),
        r#"/probe ["--timed"]"#
    );
    drop(c);

    // The lab's `docker run entrypoint-cmd --version`.
    let (code, stdout, _) =
        Container::run_to_end("ecmd-version", &[], "entrypoint-cmd", &["--version"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, format!("probe {}\n", env!("CARGO_PKG_VERSION")));

    // --entrypoint replaces ENTRYPOINT, and drops the image's CMD with it.
    let (code, stdout, _) = Container::run_to_end(
        "ecmd-entrypoint",
        &["--entrypoint", "/bin/echo"],
        "entrypoint-cmd",
        &["test"],
    );
    assert_eq!((code, stdout.as_str()), (0, "test\n"));
    let (code, stdout, _) = Container::run_to_end(
        "ecmd-entrypoint-nocmd",
        &["--entrypoint", "/bin/echo"],
        "entrypoint-cmd",
        &[],
    );
    assert_eq!(
        (code, stdout.as_str()),
        (0, "\n"),
        "CMD `--sigterm` was not dropped"
    );
}

#[test]
fn shell_form_keeps_signals_from_the_probe() {
    // `--timed` is ignored in shell form: 'Immediate exit'.
    let c = Container::start("shell", &[], "entrypoint-shell", &["--timed"]);
    let logs = c.logs();
    assert_eq!(&logs[..3], ["SIGTERM", "Immediate exit", "Zero exit code"]);
    assert_ne!(logs[3], "PID 1", "the shell, not the probe, must be PID 1");
    let ps = docker_ok(&["exec", &c.name, "ps", "-o", "pid,args"]);
    assert!(
        ps.lines()
            .any(|l| l.trim_start().starts_with("1 /bin/sh -c /probe")),
        "{ps}"
    );

    let took = c.stop();
    assert_waited_grace(took, "shell form");
    let logs = c.logs();
    assert!(
        !logs.iter().any(|l| l.starts_with("Received")),
        "the probe must get no signal: {logs:?}"
    );
    assert_eq!(c.exit_code(), 137, "SIGKILL after the grace period");
}

#[test]
fn busybox_shell_form_execs_the_probe_as_pid_1() {
    // The lab's alpine-based small-entrypoint-shell: arguments are still ignored, but busybox's
    // ash execs the single command of `sh -c`, so the probe is PID 1 and gets SIGTERM.
    let c = Container::start("bbshell", &[], "small-entrypoint-shell", &["--timed"]);
    assert_eq!(
        c.logs(),
        ["SIGTERM", "Immediate exit", "Zero exit code", "PID 1"]
    );
    assert_fast(c.stop(), "busybox shell form");
    assert!(c.has("Received 15"), "{:?}", c.logs());
    assert_eq!(c.exit_code(), 0);
}

#[test]
fn stopsignal_sends_sigint_which_the_probe_only_reports() {
    let c = Container::start("stopsignal", &[], "stopsignal", &[]);
    let took = c.stop();
    let logs = c.logs();
    assert!(logs.contains(&"Received 2".to_owned()), "{logs:?}");
    assert!(!logs.contains(&"Received 15".to_owned()), "{logs:?}");
    assert_waited_grace(took, "stopsignal");
    assert_eq!(c.exit_code(), 137);
}

#[test]
fn a_direct_signal_bypasses_stopsignal() {
    // The lab's bonus, without root: signal the process itself rather than `docker stop` it.
    let c = Container::start("stopsignal-kill", &[], "stopsignal", &[]);
    docker_ok(&["kill", "--signal=SIGTERM", &c.name]);
    c.wait_for("Exiting with code 0");
    assert_eq!(docker_ok(&["wait", &c.name]).trim(), "0");
}

#[test]
fn stopsignal_with_a_sigint_probe_stops_cleanly() {
    let c = Container::start("stopsignal-sigint", &[], "stopsignal-sigint", &[]);
    assert!(c.has("SIGINT"));
    assert_fast(c.stop(), "stopsignal-sigint");
    assert!(c.has("Received 2"), "{:?}", c.logs());
    assert_eq!(c.exit_code(), 0);
}

#[test]
fn timed_exit_longer_than_the_grace_period_is_killed() {
    let c = Container::start("timed-killed", &[], "entrypoint-exec", &["--timed"]);
    let took = c.stop();
    assert_waited_grace(took, "--timed with the lab's 60 s");
    let logs = c.logs();
    assert!(logs.contains(&"Received 15".to_owned()), "{logs:?}");
    assert!(logs.contains(&"Elapsed 1s".to_owned()), "{logs:?}");
    assert!(!logs.iter().any(|l| l.starts_with("Exiting")), "{logs:?}");
    assert_eq!(c.exit_code(), 137);
}

#[test]
fn timed_exit_within_the_grace_period_is_clean() {
    let c = Container::start(
        "timed-clean",
        &["-e", "PROBE_TIMED_SECS=1"],
        "entrypoint-exec",
        &["--timed", "--error"],
    );
    let took = c.stop();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(GRACE_SECS),
        "stop took {took:?}"
    );
    let logs = c.logs();
    assert_eq!(
        &logs[4..],
        ["Received 15", "Elapsed 1s", "Exiting with code 1"],
        "{logs:?}"
    );
    assert_eq!(c.exit_code(), 1);
}
