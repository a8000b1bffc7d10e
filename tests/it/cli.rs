//! The `chaos` binary end to end: every exit code, the report files, `--dry-run`, `--retain`,
//! and clean errors (no panic, no backtrace) on bad input. Runs use the hidden
//! `--fake-cluster` hook, which loads the in-memory fake cluster from a JSON file.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use assert_cmd::prelude::*;
use predicates::prelude::*;
use support::wait::{signal, spawn_until};
use support::{CliCase, FAKE_KIND, chaos_bin, chaos_in};

use crate::support;

fn chaos() -> Command {
    chaos_bin()
}

const CLUSTER: &str = FAKE_KIND;

struct Case(CliCase);

impl Case {
    fn new(steps: &str, fake: &str) -> Case {
        Case(CliCase::new("cli", steps, fake))
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.path(f)
    }
    fn run(&self, extra: &[&str]) -> Command {
        self.0.run(extra)
    }
}

#[test]
fn exit_0_when_everything_passes_and_faults_are_undone() {
    let case = Case::new(
        "steps:\n  - node-pause: {node: kind-worker}\n  - assert: {kubelet: {node: kind-worker, running: true}}\n",
        CLUSTER,
    );
    case.run(&[])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "✔ undone: unpause node container kind-worker",
        ))
        .stdout(predicate::str::contains("passed"));
}

#[test]
fn exit_1_when_an_assertion_fails() {
    let case = Case::new(
        "steps:\n  - assert: {kubelet: {node: kind-worker, running: false}}\n",
        CLUSTER,
    );
    case.run(&[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "expected: kubelet not running on kind-worker",
        ))
        .stdout(predicate::str::contains(
            "observed: kubelet running on kind-worker",
        ));
}

#[test]
fn exit_2_on_an_invalid_playbook_and_nothing_runs() {
    let case = Case::new("steps:\n  - kubelet-stpo: {node: kind-worker}\n", CLUSTER);
    case.run(&[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("p.yaml:6:5"))
        .stderr(predicate::str::contains("did you mean `kubelet-stop`?"))
        .stdout(predicate::str::is_empty());
}

#[test]
fn exit_2_on_usage_errors() {
    chaos()
        .args(["run"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage"));
    chaos().args(["frobnicate"]).assert().code(2);
}

#[test]
fn validate_gives_one_clear_message_for_broken_files_without_panicking() {
    for (file, needle) in [
        ("tests/fixtures/invalid/syntax-error.yaml", "invalid YAML"),
        (
            "tests/fixtures/invalid/unknown-top-level-key.yaml",
            "unknown field `stpes`",
        ),
        ("tests/fixtures/invalid/empty.yaml", "the playbook is empty"),
    ] {
        let out = chaos().args(["validate", file]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches('×').count(), 1, "{file}: {err}");
        assert!(err.contains(needle), "{file}: {err}");
        assert!(
            err.contains(&format!("{file}:")),
            "{file} has no location: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
}

#[test]
fn validate_accepts_every_shipped_playbook() {
    let mut cmd = chaos();
    cmd.arg("validate");
    for e in std::fs::read_dir("playbooks").unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            cmd.arg(p);
        }
    }
    cmd.assert()
        .code(0)
        .stdout(predicate::str::contains("valid"));
}

#[test]
fn exit_3_when_the_environment_is_not_ready() {
    // No fake: this build has no real backend to connect.
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    chaos_in(&case.path("state"))
        .arg("run")
        .arg(case.path("p.yaml"))
        .assert()
        .code(3)
        .stdout(predicate::str::contains(
            "cannot connect to the node containers of kind cluster `kind`",
        ));
    let unreachable = r#"{"nodes": {"kind-worker": {}}, "knobs": {"unavailable": ["nodes"]}}"#;
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", unreachable);
    case.run(&[]).assert().code(3);
}

#[test]
fn exit_4_when_a_fault_cannot_be_carried_out_and_earlier_faults_are_rolled_back() {
    // The node goes away between the preflight and its fault.
    let fake = r#"{"nodes": {"kind-worker": {}, "kind-worker2": {}}, "knobs": {"fail_next": [{"op": "kubelet-stop", "kind": "not-found", "message": "no node `kind-worker2` any more"}]}}"#;
    let case = Case::new(
        "steps:\n  - node-pause: {node: kind-worker}\n  - kubelet-stop: {node: kind-worker2}\n",
        fake,
    );
    case.run(&[])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("no node `kind-worker2` any more"))
        .stdout(predicate::str::contains(
            "✔ undone: unpause node container kind-worker",
        ));
}

#[test]
fn exit_5_when_an_undo_fails_and_it_is_said_loudly() {
    let fake = r#"{"nodes": {"kind-worker": {}}, "knobs": {"fail_next": [{"op": "node-unpause", "message": "No such container"}]}}"#;
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", fake);
    case.run(&[])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("ROLLBACK FAILED"))
        .stderr(predicate::str::contains(
            "unpause node container kind-worker: No such container",
        ));
}

#[test]
fn exit_130_on_sigterm_after_undoing() {
    let case = Case::new(
        "steps:\n  - node-pause: {node: kind-worker}\n  - wait:\n      until: {kubelet: {node: kind-worker, running: false}}\n      timeout: 5m\n",
        CLUSTER,
    );
    let json = case.path("report.json");
    // Wait until the run is inside the wait (its line is printed), then interrupt it.
    let (child, seen) = spawn_until(
        case.run(&["--json", json.to_str().unwrap()]),
        "wait until",
        Duration::from_secs(20),
    );
    signal(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    let stdout = format!("{seen}{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(
        stdout.contains("✔ undone: unpause node container kind-worker"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["exit_code"], 130);
    assert_eq!(report["playbooks"][0]["status"], "interrupted");
}

#[test]
fn json_and_junit_reports_are_written() {
    let case = Case::new(
        "steps:\n  - assert: {kubelet: {node: kind-worker, running: false}}\n",
        CLUSTER,
    );
    let (json, junit) = (case.path("r.json"), case.path("r.xml"));
    case.run(&[
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ])
    .assert()
    .code(1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schema"], "kind-chaos.dev/report/v1");
    assert_eq!(report["playbooks"][0]["steps"][0]["status"], "failed");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"cli\""), "{xml}");
    assert!(
        xml.contains("<failure message=\"expected kubelet not running on kind-worker"),
        "{xml}"
    );
}

#[test]
fn retain_prints_what_was_left_faulted() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    // The cluster is left faulted on purpose: exit 5, never 0.
    case.run(&["--retain"])
        .assert()
        .code(5)
        .stdout(predicate::str::contains(
            "⚠ left in place (--retain): unpause node container kind-worker",
        ))
        .stderr(predicate::str::contains(
            "left faulted on purpose (--retain)",
        ));
}

#[test]
fn dry_run_prints_the_plan_of_every_playbook_and_touches_nothing() {
    let mut cmd = chaos();
    cmd.args(["run", "--dry-run"]);
    let mut n = 0;
    for e in std::fs::read_dir("playbooks").unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            cmd.arg(&p);
            n += 1;
        }
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("\nsteps:\n").count(), n, "{text}");
    // The lab playbooks name nodes by role: as written when no cluster `k8splayground` is up,
    // its node when one is (another test module may run one).
    assert!(
        text.contains("undo: make the kubelet executable again on {role: worker, index: 1}")
            || text.contains("undo: make the kubelet executable again on k8splayground-worker"),
        "{text}"
    );
}

#[test]
fn dry_run_of_every_action_is_pinned() {
    let out = chaos()
        .args(["run", "--dry-run", "tests/fixtures/valid/every-action.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn schema_and_completions_print() {
    chaos()
        .arg("schema")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "\"title\": \"kind-chaos playbook\"",
        ));
    chaos()
        .args(["completions", "bash"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("chaos"));
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = chaos().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(head.status.success(), "the tests run in a git checkout");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(
        text.starts_with(&format!("chaos {} ({head}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}

#[test]
fn flags_are_spelt_the_same_on_every_command() {
    use clap::Parser;
    use kind_chaos::cli::Cli;
    let parses = |args: &[&str]| match Cli::try_parse_from(args.iter().copied()) {
        Ok(_) => {}
        Err(e) => panic!("{args:?}: {e}"),
    };
    // -o/--output wherever there is a choice of output.
    parses(&["chaos", "reality", "-o", "json"]);
    parses(&["chaos", "reality", "--output", "json"]);
    parses(&["chaos", "etcd", "get", "/registry/x", "-o", "json"]);
    parses(&["chaos", "etcd", "decode", "value.bin", "--output", "json"]);
    parses(&[
        "chaos",
        "reality",
        "-o",
        "wide",
        "--watch",
        "--interval",
        "1s",
    ]);
    parses(&["chaos", "reality", "--node", "worker", "-w"]);
    // etcdctl's -w and --rev on every etcd read.
    parses(&[
        "chaos",
        "etcd",
        "get",
        "/registry/x",
        "-w",
        "json",
        "--rev",
        "3",
    ]);
    parses(&[
        "chaos",
        "etcd",
        "ls",
        "/",
        "--write-out",
        "json",
        "--rev",
        "3",
    ]);
    parses(&[
        "chaos", "etcd", "watch", "/", "-w", "json", "--rev", "3", "--count", "1",
    ]);
    parses(&[
        "chaos",
        "etcd",
        "watch",
        "/",
        "--etcd-endpoints",
        "https://h:2379",
    ]);
    // A --interval without --watch, or a -w json with --raw, is a usage error.
    assert!(Cli::try_parse_from(["chaos", "reality", "--interval", "1s"]).is_err());
    assert!(Cli::try_parse_from(["chaos", "etcd", "get", "k", "--raw", "-w", "json"]).is_err());
    // `run`'s etcd flags work on `chaos etcd` too, beside etcdctl's names.
    let tls = ["--etcd-cacert", "ca", "--etcd-cert", "c", "--etcd-key", "k"];
    let mut run = vec![
        "chaos",
        "run",
        "p.yaml",
        "--etcd-endpoints",
        "https://h:2379",
    ];
    run.extend(tls);
    parses(&run);
    let mut etcd = vec![
        "chaos",
        "etcd",
        "ls",
        "/",
        "--etcd-endpoints",
        "https://h:2379",
    ];
    etcd.extend(tls);
    parses(&etcd);
    parses(&["chaos", "etcd", "ls", "/", "--endpoints", "https://h:2379"]);
    // run's positional argument is described in --help.
    let help = Cli::try_parse_from(["chaos", "run", "--help"])
        .unwrap_err()
        .to_string();
    assert!(help.contains("<PLAYBOOK>..."), "{help}");
    assert!(
        help.contains("every one is checked before any runs"),
        "{help}"
    );
}
