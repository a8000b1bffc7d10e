//! What `chaos` prints and where, when nobody reads it: every command with its stdout (or both
//! streams) going to a pipe whose reader is gone ends its output quietly, finishes its work and
//! exits with its own code, never 101; Ctrl-C, SIGTERM and SIGHUP still undo with the pipes
//! gone; a second interrupt writes the reports with what is owed; `--json -` / `--junit -`;
//! a failed rollback or a retained fault is never shown as a pass; no raw control byte from a
//! playbook reaches the terminal.

use crate::support;

use std::io::PipeWriter;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::wait::signal;
use support::{CliCase, FAKE_KIND, assert_no_controls, chaos_bin};

/// The writing end of a pipe whose reading end is already closed: every write fails (EPIPE).
fn closed() -> PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

/// Runs with stdout closed and stderr captured; asserts there was no panic.
fn stdout_closed(mut cmd: Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(closed())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    no_panic(&out);
    out
}

/// Runs with both stdout and stderr closed.
fn all_closed(mut cmd: Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(closed())
        .stderr(closed())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(101), "panicked: {:?}", out.status);
    out
}

fn no_panic(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn case(steps: &str) -> CliCase {
    CliCase::new("out", steps, FAKE_KIND)
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

const PAUSE: &str = "steps:\n  - node-pause: {node: kind-worker}\n  - assert: {kubelet: {node: kind-worker, running: true}}\n";

#[test]
fn validate_schema_completions_and_dry_run_end_quietly_on_a_closed_stdout() {
    let mut cmd = chaos_bin();
    cmd.args(["validate", "playbooks/node-faults.yaml"]);
    assert_eq!(stdout_closed(cmd).status.code(), Some(0));

    let mut cmd = chaos_bin();
    cmd.args(["validate", "tests/fixtures/invalid/syntax-error.yaml"]);
    assert_eq!(all_closed(cmd).status.code(), Some(2));

    let mut cmd = chaos_bin();
    cmd.arg("schema");
    assert_eq!(stdout_closed(cmd).status.code(), Some(0));

    for shell in ["bash", "zsh", "fish"] {
        let mut cmd = chaos_bin();
        cmd.args(["completions", shell]);
        assert_eq!(stdout_closed(cmd).status.code(), Some(0), "{shell}");
    }

    let mut cmd = chaos_bin();
    cmd.args(["run", "--dry-run", "tests/fixtures/valid/every-action.yaml"]);
    assert_eq!(stdout_closed(cmd).status.code(), Some(0));
}

#[test]
fn a_run_with_a_closed_stdout_still_undoes_and_writes_its_reports() {
    let c = case(PAUSE);
    let (j, x) = (c.path("r.json"), c.path("r.xml"));
    let out = stdout_closed(c.run(&[
        "--json",
        j.to_str().unwrap(),
        "--junit",
        x.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = json(&j);
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["playbooks"][0]["status"], "passed");
    assert_eq!(report["playbooks"][0]["undo"][0]["status"], "undone");
    assert!(std::fs::read_to_string(&x).unwrap().contains("<testsuite"));

    // The same with both streams gone, and a failing run keeps its own exit code.
    let c = case(
        "steps:\n  - node-pause: {node: kind-worker}\n  - assert: {kubelet: {node: kind-worker, running: false}}\n",
    );
    let j = c.path("r.json");
    let out = all_closed(c.run(&["--json", j.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&j)["playbooks"][0]["undo"][0]["status"], "undone");
}

#[test]
fn recover_with_a_closed_stdout_still_undoes() {
    let c = case("steps:\n  - node-pause: {node: kind-worker}\n");
    let out = c.run(&["--retain"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let out = stdout_closed(c.chaos(&["recover"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = c.chaos(&["recover", "--dry-run"]).output().unwrap();
    assert!(
        text(&out.stdout).contains("nothing to recover"),
        "recover did not undo: {}",
        text(&out.stdout)
    );
    // Nothing left: recover with both streams gone says nothing, exits 0.
    assert_eq!(all_closed(c.chaos(&["recover"])).status.code(), Some(0));
}

#[test]
fn reality_with_no_output_at_all_exits_with_its_code() {
    let mut cmd = chaos_bin();
    cmd.args(["reality", "--cluster", "kc-output-no-such-cluster"]);
    assert_eq!(all_closed(cmd).status.code(), Some(3));
}

/// Polls the run's journal until it holds `n` applied changes.
fn await_applied(state: &Path, n: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let applied: usize = std::fs::read_dir(state.join("runs"))
            .map(|d| {
                d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .map(|t| t.matches(r#""event":"applied""#).count())
                    .sum()
            })
            .unwrap_or(0);
        if applied >= n {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {n} change(s) were applied");
        }
        assert!(Instant::now() < deadline, "never saw {n} applied change(s)");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the child to exit (at most 20 s; then kills it and fails).
fn exit_code(mut child: Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not exit within 20 s of the interrupt");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const LONG_WAIT: &str = "steps:\n  - node-pause: {node: kind-worker}\n  - kubelet-stop: {node: kind-worker2}\n  - wait:\n      until: {kubelet: {node: kind-worker2, running: true}}\n      timeout: 5m\n";

/// Starts a run with its output gone, interrupts it during its wait with `sig`, and checks
/// that it undid both faults and exited 130.
fn interrupted_with_the_pipes_gone(sig: &str) {
    let c = case(LONG_WAIT);
    let j = c.path("r.json");
    let mut child = c
        .run(&["--json", j.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(closed())
        .stderr(closed())
        .spawn()
        .unwrap();
    await_applied(&c.path("state"), 2, &mut child);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, sig);
    assert_eq!(exit_code(child), Some(130), "{sig}");
    let report = json(&j);
    assert_eq!(report["exit_code"], 130, "{sig}");
    let undo: Vec<&str> = report["playbooks"][0]["undo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(undo, ["undone", "undone"], "{sig}: {report}");
}

#[test]
fn ctrl_c_with_the_output_pipe_gone_still_undoes_and_exits_130() {
    interrupted_with_the_pipes_gone("-INT");
}

#[test]
fn sighup_is_an_interrupt_like_sigterm() {
    interrupted_with_the_pipes_gone("-HUP");
}

#[test]
fn a_second_interrupt_writes_the_reports_with_what_is_still_owed() {
    let hanging = r#"{"nodes": {"kind-control-plane": {}, "kind-worker": {}, "kind-worker2": {}}, "knobs": {"hang": ["node-unpause"]}}"#;
    let c = CliCase::new("out", LONG_WAIT, hanging);
    let (j, x) = (c.path("r.json"), c.path("r.xml"));
    let mut child = c
        .run(&[
            "--json",
            j.to_str().unwrap(),
            "--junit",
            x.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    await_applied(&c.path("state"), 2, &mut child);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-INT");
    // The kubelet's undo is quick; the unpause hangs. Interrupt again while it does.
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let report = json(&j);
    assert_eq!(report["exit_code"], 130);
    let pb = &report["playbooks"][0];
    assert_eq!(pb["status"], "interrupted");
    let undo = pb["undo"].as_array().unwrap();
    assert!(
        undo.iter().any(|u| u["status"] == "undone"
            && u["description"]
                .as_str()
                .unwrap()
                .contains("kubelet executable again on kind-worker2")),
        "{report}"
    );
    let owed: Vec<&serde_json::Value> = undo.iter().filter(|u| u["status"] == "owed").collect();
    assert_eq!(owed.len(), 1, "{report}");
    assert_eq!(owed[0]["description"], "unpause node container kind-worker");
    assert_eq!(owed[0]["step"], "steps[0]");
    assert!(
        pb["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["action"] == "wait" && s["status"] == "interrupted"),
        "{report}"
    );
    let xml = std::fs::read_to_string(&x).unwrap();
    assert!(xml.contains("type=\"not-undone\""), "{xml}");
}

#[test]
fn json_dash_is_stdout_and_the_progress_moves_to_stderr() {
    let c = case(PAUSE);
    let out = c.run(&["--json", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not only JSON ({e}): {}", text(&out.stdout)));
    assert_eq!(report["playbooks"][0]["status"], "passed");
    let err = text(&out.stderr);
    assert!(
        err.contains("✔ undone: unpause node container kind-worker"),
        "{err}"
    );
    assert!(err.contains("│ out "), "the summary table: {err}");
    assert!(!Path::new("-").exists() && !c.path("-").exists());

    let out = c.run(&["--junit", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let xml = text(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");

    let out = c.run(&["--json", "-", "--junit", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot both write to stdout"));
}

#[test]
fn a_failed_rollback_is_not_shown_as_passed_anywhere_and_is_said_last() {
    let fake = r#"{"nodes": {"kind-worker": {}}, "knobs": {"fail_next": [{"op": "node-unpause", "message": "No such container"}]}}"#;
    let c = CliCase::new("out", "steps:\n  - node-pause: {node: kind-worker}\n", fake);
    let (j, x) = (c.path("r.json"), c.path("r.xml"));
    let out = c
        .run(&[
            "--json",
            j.to_str().unwrap(),
            "--junit",
            x.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    assert!(!stdout.contains("passed in"), "{stdout}");
    assert!(stdout.contains("✘✘ ROLLBACK FAILED in"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.contains("│ out "))
        .unwrap_or_else(|| panic!("no summary row: {stdout}"));
    assert!(row.contains("ROLLBACK FAILED"), "{row}");
    // Last on both streams (they are two pipes here).
    for (name, s) in [("stdout", &stdout), ("stderr", &stderr)] {
        let tail: Vec<&str> = s.lines().rev().take(4).collect();
        assert!(
            tail.iter()
                .any(|l| l.contains("✘✘ ROLLBACK FAILED in out: the cluster may be left faulted")),
            "{name} does not end with it:\n{s}"
        );
        assert!(s.contains("✘ unpause node container kind-worker: No such container"));
    }
    let report = json(&j);
    assert_eq!(report["exit_code"], 5);
    assert_eq!(report["playbooks"][0]["status"], "rollback-failed");
    let xml = std::fs::read_to_string(&x).unwrap();
    assert!(xml.contains("<error message=\"ROLLBACK FAILED"), "{xml}");
    assert!(xml.contains("errors=\"1\""), "{xml}");
}

#[test]
fn retained_faults_are_not_shown_as_a_plain_pass() {
    let c = case("steps:\n  - node-pause: {node: kind-worker}\n");
    let x = c.path("r.xml");
    let out = c
        .run(&["--retain", "--junit", x.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    assert!(stdout.contains("⚠ faults RETAINED in"), "{stdout}");
    assert!(!stdout.contains("✔ passed"), "{stdout}");
    assert!(!stdout.contains("passed in"), "{stdout}");
    let xml = std::fs::read_to_string(&x).unwrap();
    assert!(
        xml.contains("<failure message=\"left faulted (--retain)\" type=\"retained\""),
        "{xml}"
    );
}

/// The bytes of a playbook that carry terminal escapes: a step description quoting a node name
/// with ESC sequences (clear screen, set the window title) and a C1 CSI.
const HOSTILE: &str = "steps:\n  - assert: {kubelet: {node: \"kind-worker\\e[2J\\e]0;pwned\\a\\u009b31m\", running: true}}\n";

#[test]
fn control_bytes_from_a_playbook_never_reach_the_terminal() {
    let c = case(HOSTILE);
    let j = c.path("r.json");
    let out = c.run(&["--json", j.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    assert_no_controls("run stdout", &out.stdout);
    assert_no_controls("run stderr", &out.stderr);
    assert!(
        text(&out.stdout).contains("kind-worker\\x1b[2J\\x1b]0;pwned\\x07\\u{9b}31m"),
        "{}",
        text(&out.stdout)
    );
    // The JSON report keeps the real characters, JSON-escaped.
    let raw = std::fs::read_to_string(&j).unwrap();
    assert!(raw.contains("kind-worker\\u001b[2J"), "{raw}");

    let out = chaos_bin()
        .args(["run", "--dry-run"])
        .arg(c.path("p.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_no_controls("dry-run", &out.stdout);
    assert!(
        text(&out.stdout).contains("\\x1b[2J"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn control_bytes_in_a_broken_playbook_are_escaped_in_its_code_frame() {
    let dir = tempfile::tempdir().unwrap();
    let p: PathBuf = dir.path().join("evil.yaml");
    // A raw ESC (and a title-setting OSC) in the file itself, and an unknown action next to it.
    std::fs::write(
        &p,
        "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: evil\nsteps:\n  - kubelet-stpo: {node: \"a\x1b]0;pwned\x07b\"}\n",
    )
    .unwrap();
    for args in [&["validate"][..], &["run"][..]] {
        let out = chaos_bin().args(args).arg(&p).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_no_controls("the code frame", &out.stderr);
        let err = text(&out.stderr);
        assert!(err.contains("a\\x1b]0;pwned\\x07b"), "{err}");
        assert!(err.contains("did you mean `kubelet-stop`?"), "{err}");
        assert!(err.contains("evil.yaml:5:5"), "{err}");
    }
}

#[test]
fn an_undo_step_that_failed_but_was_retried_successfully_is_not_a_failed_rollback() {
    let fake = r#"{"nodes": {"kind-worker": {}}, "knobs": {"fail_next": [{"op": "node-unpause", "message": "No such container"}]}}"#;
    let c = CliCase::new(
        "out",
        "steps:\n  - {name: p, node-pause: {node: kind-worker}}\n  - undo: p\n",
        fake,
    );
    let j = c.path("r.json");
    let out = c.run(&["--json", j.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // The `undo:` step failed (exit 4); the final unwind retried and undid it: not exit 5.
    assert_eq!(out.status.code(), Some(4), "{stdout}{stderr}");
    assert!(!stderr.contains("ROLLBACK FAILED"), "{stderr}");
    let report = json(&j);
    assert_eq!(report["playbooks"][0]["status"], "error");
    let undo: Vec<&str> = report["playbooks"][0]["undo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(undo, ["failed", "undone"]);
}

#[test]
fn a_bad_argument_with_control_bytes_is_escaped_when_quoted_back() {
    // On a terminal clap would print the argument's bytes raw inside its styled message.
    let out = chaos_bin().arg("frob\x1b]0;pwned\x07").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_no_controls("the usage error", &out.stderr);
    assert!(
        text(&out.stderr).contains("unrecognized subcommand 'frob"),
        "{}",
        text(&out.stderr)
    );
}
