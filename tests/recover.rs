//! The undo journal, `chaos recover`, the one-run-per-cluster lock and the second interrupt,
//! through the `chaos` binary against the fake cluster. (The fake's state lives in each process,
//! so these tests check what recover *does* from its output and the journal; the same scenario
//! against real node containers is in tests/docker_*.rs.)

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::prelude::*;
use predicates::prelude::*;
use support::{CliCase, FAKE_KIND};

mod support;

const CLUSTER: &str = FAKE_KIND;

struct Case(CliCase);

impl Case {
    fn new(steps: &str, fake: &str) -> Case {
        Case(CliCase::new("journaled", steps, fake))
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.path(f)
    }
    fn chaos(&self, args: &[&str]) -> Command {
        self.0.chaos(args)
    }
    fn run(&self, extra: &[&str]) -> Command {
        self.0.run(extra)
    }
    fn journals(&self) -> Vec<PathBuf> {
        let dir = self.path("state/runs");
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// Starts a run and returns once its output shows `needle` (it is then inside that step).
fn spawn_until(mut cmd: Command, needle: &str) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = read_until(&mut child, needle);
    (child, seen)
}

/// Reads the child's output until it shows `needle`.
fn read_until(child: &mut Child, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    let out = child.stdout.as_mut().unwrap();
    let mut buf = [0u8; 512];
    while !seen.contains(needle) && Instant::now() < deadline {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains(needle), "never saw `{needle}`: {seen}");
    seen
}

fn signal(child: &Child, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

const LONG_WAIT: &str = "steps:\n  - name: break\n    kubelet-stop: {node: kind-worker}\n  - node-pause: {node: kind-worker2}\n  - wait:\n      until: {kubelet: {node: kind-worker, running: true}}\n      timeout: 5m\n";

#[test]
fn after_sigkill_recover_undoes_what_the_journal_owes_and_a_second_recover_is_a_no_op() {
    let case = Case::new(LONG_WAIT, CLUSTER);
    let (mut child, _) = spawn_until(case.run(&[]), "wait until");
    signal(&child, "-KILL");
    child.wait().unwrap();

    let journals = case.journals();
    assert_eq!(journals.len(), 1);
    let mode = std::fs::metadata(&journals[0])
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the journal must be private");
    let dir_mode = std::fs::metadata(case.path("state/runs"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);

    case.chaos(&["recover", "--dry-run"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("died (pid"))
        .stdout(predicate::str::contains(
            "would undo (steps[1]): unpause node container kind-worker2",
        ));

    let out = case.chaos(&["recover"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Newest change first.
    let unpause = text
        .find("✔ undone (steps[1]): unpause node container kind-worker2")
        .expect(&text);
    let kubelet = text
        .find("✔ undone (steps[0]): make the kubelet executable again on kind-worker")
        .expect(&text);
    assert!(unpause < kubelet, "{text}");

    case.chaos(&["recover"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("nothing to recover"));
}

#[test]
fn retained_faults_are_recovered_later() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    case.run(&["--retain"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("chaos recover --cluster kind"));
    case.chaos(&["recover", "--cluster", "other"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("nothing to recover"));
    case.chaos(&["recover", "--cluster", "kind"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ended passed"))
        .stdout(predicate::str::contains(
            "✔ undone (steps[0]): unpause node container kind-worker",
        ));
    case.chaos(&["recover"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("nothing to recover"));
}

#[test]
fn a_clean_run_leaves_nothing_to_recover() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    case.run(&[]).assert().code(0);
    case.chaos(&["recover"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("nothing to recover"));
}

#[test]
fn a_failed_recovery_says_so_and_exits_5_and_can_be_retried() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    case.run(&["--retain"]).assert().code(0);
    let failing = r#"{"nodes": {"kind-worker": {}}, "knobs": {"fail_next": [{"op": "node-unpause", "message": "daemon busy"}]}}"#;
    std::fs::write(case.path("fake.json"), failing).unwrap();
    case.chaos(&["recover"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains(
            "could not undo (steps[0]): unpause node container kind-worker: daemon busy",
        ));
    std::fs::write(case.path("fake.json"), CLUSTER).unwrap();
    case.chaos(&["recover"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("✔ undone"));
}

#[test]
fn a_second_concurrent_run_on_the_same_cluster_is_refused_and_names_the_first() {
    let case = Case::new(LONG_WAIT, CLUSTER);
    let (mut first, _) = spawn_until(case.run(&[]), "wait until");
    let out = case.run(&[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("another chaos run holds cluster `kind`"),
        "{err}"
    );
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("running journaled"), "{err}");
    // A recover while the first still runs leaves it alone.
    case.chaos(&["recover"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("still running"));
    signal(&first, "-TERM");
    assert_eq!(first.wait().unwrap().code(), Some(130));
    case.chaos(&["recover"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("nothing to recover"));
}

#[test]
fn a_second_interrupt_during_the_undo_says_what_is_still_owed() {
    let hanging = r#"{"nodes": {"kind-control-plane": {}, "kind-worker": {}, "kind-worker2": {}}, "knobs": {"hang": ["node-unpause"]}}"#;
    let case = Case::new(LONG_WAIT, hanging);
    let (mut child, _) = spawn_until(case.run(&[]), "wait until");
    signal(&child, "-TERM");
    // The undo runs newest first and hangs on the pause's undo; interrupt again while it does.
    read_until(&mut child, "undoing 2 change(s)");
    signal(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("still to undo (2 change(s)); `chaos recover --cluster kind` finishes it:"),
        "{err}"
    );
    assert!(
        err.contains("steps[1]: unpause node container kind-worker2"),
        "{err}"
    );
}
