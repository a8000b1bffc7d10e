//! Hostile input through the `chaos` binary: every case is a clear exit 2 (never a panic, a
//! hang or a file written where a name points), and reading any input stays within a time
//! and peak-memory bound (measured with `/usr/bin/time -f %M`, which must be installed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kind_chaos::engine::undo::UndoRecord;
use kind_chaos::journal::Line;
use support::{chaos_bin, chaos_in};

use crate::support;

const HEADER: &str = "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: x\n";

/// Runs `chaos ARGS`, returning (exit code, stderr).
fn chaos(args: &[&str]) -> (i32, String) {
    let out = chaos_bin().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn cluster_names_from_flags_and_playbooks_follow_kinds_rule() {
    let rule = "a kind cluster name is 1 to 50";
    for bad in ["", "a/b", "../../../../tmp/x", ".."] {
        for cmd in [
            vec!["run", "--dry-run", "playbooks/args-vs-command.yaml"],
            vec!["reality"],
            vec!["load-image", "img:1"],
            vec!["recover", "--dry-run"],
            vec!["etcd", "ls", "/registry/pods/"],
        ] {
            let mut args = cmd.clone();
            args.extend(["--cluster", bad]);
            let (code, err) = chaos(&args);
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(err.contains(rule), "{args:?}: {err}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, err) = chaos(&["validate", "tests/fixtures/invalid/cluster-path.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cluster-path.yaml:4:10"), "{err}");
    assert!(err.contains(rule), "{err}");
    let out = chaos_in(&state)
        .args(["run", "tests/fixtures/invalid/cluster-path.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!state.exists(), "run touched the state folder");
}

#[test]
fn a_journal_naming_a_cluster_that_is_a_path_is_not_used_as_one() {
    let dir = tempfile::tempdir().unwrap();
    // `<state>/locks/../../x.lock` is `<dir>/outer/x.lock`: inside the temporary folder.
    let state = dir.path().join("outer/state");
    let runs = state.join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    // A finished run that still owes an undo, against a "cluster" that climbs out of the
    // state folder (the lock would be `<state>/locks/../../x.lock`).
    let lines = [
        Line::Start {
            version: 1,
            pid: 999_999_999,
            pid_start: 0,
            cluster: "../../x".into(),
            playbook: "p".into(),
            file: "p.yaml".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            connection: Default::default(),
        },
        Line::Intent {
            id: 1,
            step: "s".into(),
            undo: UndoRecord::KubeletStart {
                node: "kind-worker".into(),
            },
        },
    ];
    let text: String = lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap() + "\n")
        .collect();
    std::fs::write(runs.join("j.jsonl"), text).unwrap();
    let locks = dir.path().join("locks");
    let out = chaos_bin()
        .env("CHAOS_STATE_DIR", &state)
        .env("CHAOS_LOCK_DIR", &locks)
        .args(["recover"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid cluster name `../../x`"), "{err}");
    assert!(!dir.path().join("outer/x.lock").exists(), "{err}");
    assert!(!state.join("locks").exists(), "{err}");
    assert!(!dir.path().join("x.lock").exists(), "{err}");
    let made: Vec<_> = std::fs::read_dir(&locks)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(made.is_empty(), "no lock for a refused name: {made:?}");
}

#[test]
fn etcd_del_refuses_every_key_and_all_of_the_registry_unless_forced() {
    for key in ["", "/", "/registry/", "/registry", "/reg"] {
        let (code, err) = chaos(&["etcd", "del", key, "--prefix", "--cluster", "no-such-x"]);
        assert_eq!(code, 2, "{key:?}: {err}");
        assert!(err.contains("refusing to delete every key under"), "{err}");
        assert!(err.contains("--force"), "{err}");
    }
    // With --force the guard steps aside (and the missing cluster is what stops it).
    let (code, err) = chaos(&[
        "etcd",
        "del",
        "/registry/",
        "--prefix",
        "--force",
        "--cluster",
        "no-such-hostile-cluster",
    ]);
    assert_ne!(code, 2, "{err}");
    assert!(!err.contains("refusing to delete"), "{err}");
    // A narrow prefix and a single key named `/` are not refused by the guard.
    let (_, err) = chaos(&["etcd", "del", "/", "--cluster", "no-such-hostile-cluster"]);
    assert!(!err.contains("refusing to delete"), "{err}");
}

#[test]
fn a_huge_timeout_is_refused_by_validate_and_run_instead_of_panicking() {
    for cmd in ["validate", "run"] {
        let (code, err) = chaos(&[cmd, "tests/fixtures/invalid/durations-too-long.yaml"]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("longer than the maximum of 168h (7 days)"),
            "{err}"
        );
    }
}

#[test]
fn files_that_are_not_playbooks_are_never_printed() {
    let out = chaos_bin()
        .env("CHAOS_HOSTILE_SECRET", "s3cr3t-do-not-print")
        .args([
            "validate",
            "/proc/self/environ",
            "tests/fixtures/invalid/apply-secrets.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("s3cr3t"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
    assert!(err.contains("/proc/self/environ"), "{err}");
}

/// Runs `chaos validate FILE` under `/usr/bin/time -f %M`: (exit code, stderr, wall time,
/// peak RSS in KiB).
fn measured(file: &Path) -> (i32, String, Duration, u64) {
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "peak-rss-kib %M"])
        .arg(env!("CARGO_BIN_EXE_chaos"))
        .arg("validate")
        .arg(file)
        .env("CI", "true")
        .output()
        .expect("/usr/bin/time must be installed");
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let rss = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak-rss-kib "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in: {err}"));
    (out.status.code().unwrap_or(-1), err, took, rss)
}

/// The generous bounds the README states for reading any input.
const MAX_TIME: Duration = Duration::from_secs(5);
const MAX_RSS_KIB: u64 = 200 * 1024;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn every_hostile_input_is_refused_in_bounded_time_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("fifo.yaml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let just_under = (1 << 20) - 1024;
    let mut unknown_steps = format!("{HEADER}steps:\n");
    for i in 0..20_000 {
        unknown_steps += &format!("  - kubelet-stpo{i}: {{node: kind-worker}}\n");
    }
    let mut keys = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many}\ndata:\n");
    let mut i = 0;
    while keys.len() < just_under - 64 {
        keys += &format!("  k{i}: v\n");
        i += 1;
    }
    write(d, "keys.yaml", &keys);
    let groups = format!(
        "{HEADER}steps:\n  - {}{{sleep: 1s}}{}\n",
        "{group: [".repeat(2_500),
        "]}".repeat(2_500)
    );
    let one_non_ascii = format!(
        "{HEADER}description: \"é{}\"\nsteps: []\n",
        "x".repeat(just_under - 200)
    );
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        (
            "alias bomb",
            PathBuf::from("tests/fixtures/invalid/alias-bomb.yaml"),
            "alias expansion limit",
        ),
        (
            "30,000 nested lists",
            write(d, "deep.yaml", &"[".repeat(30_000)),
            "nesting depth limit",
        ),
        (
            "2,500 nested groups",
            write(d, "groups.yaml", &groups),
            "nesting depth limit",
        ),
        (
            "a 1 MiB file with one non-ASCII character",
            write(d, "nonascii.yaml", &one_non_ascii),
            "the playbook has no steps",
        ),
        (
            "20,000 unknown steps",
            write(d, "unknown.yaml", &unknown_steps),
            "unknown",
        ),
        (
            "a manifest of 1 MiB of keys",
            write(
                d,
                "keys-pb.yaml",
                &format!("{HEADER}setup:\n  - apply: keys.yaml\nsteps:\n  - sleep: 1s\n"),
            ),
            "✔",
        ),
        (
            "a 2 MiB file",
            write(d, "big.yaml", &"#".repeat(2 << 20)),
            "file size limit of 1 MiB",
        ),
        ("/dev/zero", PathBuf::from("/dev/zero"), "a device"),
        ("a FIFO", fifo, "a FIFO"),
    ];
    let _quiet = support::quiet();
    for (what, file, needle) in cases {
        let (code, err, took, rss) = measured(&file);
        eprintln!("{what}: exit {code}, {took:?}, peak {} MiB", rss / 1024);
        if needle == "✔" {
            assert_eq!(code, 0, "{what}: {err}");
        } else {
            assert_eq!(code, 2, "{what}: {err}");
            assert!(err.contains(needle), "{what}: {err}");
        }
        assert!(took < MAX_TIME, "{what} took {took:?}");
        assert!(rss < MAX_RSS_KIB, "{what} peaked at {rss} KiB");
    }
}
