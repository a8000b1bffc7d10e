//! The undo journal, `chaos recover`, the one-run-per-cluster lock and the second interrupt,
//! through the `chaos` binary against the fake cluster. (The fake's state lives in each process,
//! so these tests check what recover *does* from its output and the journal; the same scenario
//! against real node containers is in tests/it/docker_*.rs.)

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use assert_cmd::prelude::*;
use predicates::prelude::*;
use support::wait::{read_until, signal, spawn_until};
use support::{CliCase, FAKE_KIND};

use crate::support;

const CLUSTER: &str = FAKE_KIND;
/// How long a run may take to reach the step a test waits for.
const WITHIN: Duration = Duration::from_secs(30);

/// A playbook named `journaled` and a fake cluster, run through `chaos` (see [`CliCase`]).
struct Case(CliCase);

impl std::ops::Deref for Case {
    type Target = CliCase;
    fn deref(&self) -> &CliCase {
        &self.0
    }
}

impl Case {
    fn new(steps: &str, fake: &str) -> Case {
        Case(CliCase::new("journaled", steps, fake))
    }

    fn journals(&self) -> Vec<PathBuf> {
        let dir = self.path("state/runs");
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Runs the playbook until its wait, then kills it with SIGKILL; the dead run's pid.
    fn killed_in_the_wait(&self) -> u32 {
        let (mut child, _) = spawn_until(self.run(&[]), "wait until", WITHIN);
        let pid = child.id();
        signal(&child, "-KILL");
        child.wait().unwrap();
        pid
    }

    /// The one journal in the state folder.
    fn journal(&self) -> PathBuf {
        let journals = self.journals();
        assert_eq!(journals.len(), 1, "{journals:?}");
        journals[0].clone()
    }

    /// `chaos recover` finds nothing to do, and exits 0.
    fn assert_nothing_to_recover(&self) {
        self.chaos(&["recover"])
            .assert()
            .code(0)
            .stdout(predicate::str::contains("nothing to recover"));
    }
}

/// A second run on the cluster was refused (exit 3) naming the run that holds it, `first`.
fn assert_refused_for(out: &Output, first: &Child) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("another chaos run holds cluster `kind`"),
        "{err}"
    );
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("running journaled"), "{err}");
}

const LONG_WAIT: &str = "steps:\n  - name: break\n    kubelet-stop: {node: kind-worker}\n  - node-pause: {node: kind-worker2}\n  - wait:\n      until: {kubelet: {node: kind-worker, running: true}}\n      timeout: 5m\n";

#[test]
fn after_sigkill_recover_undoes_what_the_journal_owes_and_a_second_recover_is_a_no_op() {
    let case = Case::new(LONG_WAIT, CLUSTER);
    case.killed_in_the_wait();
    let mode = std::fs::metadata(case.journal())
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

    case.assert_nothing_to_recover();
}

#[test]
fn retained_faults_are_recovered_later() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    case.run(&["--retain"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("chaos recover --cluster kind"));
    case.chaos(&["recover", "--cluster", "other"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("nothing to recover"));
    case.chaos(&["recover", "--cluster", "kind"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ended faults RETAINED"))
        .stdout(predicate::str::contains(
            "✔ undone (steps[0]): unpause node container kind-worker",
        ));
    case.assert_nothing_to_recover();
}

#[test]
fn a_clean_run_leaves_nothing_to_recover() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    case.run(&[]).assert().code(0);
    case.assert_nothing_to_recover();
}

#[test]
fn a_failed_recovery_says_so_and_exits_5_and_can_be_retried() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    case.run(&["--retain"]).assert().code(5);
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
    let (mut first, _) = spawn_until(case.run(&[]), "wait until", WITHIN);
    assert_refused_for(&case.run(&[]).output().unwrap(), &first);
    // A recover while the first still runs leaves it alone.
    case.chaos(&["recover"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("still running"));
    signal(&first, "-TERM");
    assert_eq!(first.wait().unwrap().code(), Some(130));
    case.assert_nothing_to_recover();
}

#[test]
fn a_second_interrupt_during_the_undo_says_what_is_still_owed() {
    let hanging = r#"{"nodes": {"kind-control-plane": {}, "kind-worker": {}, "kind-worker2": {}}, "knobs": {"hang": ["node-unpause"]}}"#;
    let case = Case::new(LONG_WAIT, hanging);
    let (mut child, _) = spawn_until(case.run(&[]), "wait until", WITHIN);
    signal(&child, "-TERM");
    // The undo runs newest first and hangs on the pause's undo; interrupt again while it does.
    read_until(&mut child, "undoing 2 change(s)", WITHIN);
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

/// The run's id, as `chaos recover --forget` takes it: the journal's name without `.jsonl`.
fn run_id(journal: &std::path::Path) -> String {
    journal.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn a_damaged_journal_line_is_reported_every_readable_entry_is_undone_and_recover_exits_5() {
    let case = Case::new(LONG_WAIT, CLUSTER);
    case.killed_in_the_wait();
    let journal = case.journal();
    // Line 2 (the first intent) stays; a line of garbage goes between it and the rest.
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "{text}");
    lines.insert(3, "{\"event\":\"intent\",\"id\":7,\"step\":\"st");
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();

    let out = case.chaos(&["recover"]).output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(5), "{o}{e}");
    assert!(
        e.contains(&format!("{}:4: cannot read this line", journal.display())),
        "{e}"
    );
    assert!(
        o.contains("✔ undone (steps[1]): unpause node container kind-worker2"),
        "{o}"
    );
    assert!(
        o.contains("✔ undone (steps[0]): make the kubelet executable again on kind-worker"),
        "{o}"
    );

    // A journal whose first line is gone is unreadable as a whole: said, and exit 5.
    let headless = case.path("state/runs/headless.jsonl");
    std::fs::write(&headless, "{\"event\":\"sta\n").unwrap();
    std::fs::set_permissions(&headless, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = case.chaos(&["recover"]).output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{e}");
    assert!(
        e.contains(&format!(
            "{}:1: not an undo journal: the first line cannot be read",
            headless.display()
        )),
        "{e}"
    );
    std::fs::remove_file(&headless).unwrap();

    // Still unresolved: the next recover has nothing to undo but says so again.
    let out = case.chaos(&["recover"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":4: cannot read this line"));

    // Acknowledged for the whole run: then nothing is left.
    case.chaos(&["recover", "--forget", &run_id(&journal), "--yes"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 unreadable journal line(s)"));
    case.assert_nothing_to_recover();
}

#[test]
fn a_torn_last_line_is_harmless_and_recover_appends_on_a_new_line() {
    let case = Case::new(LONG_WAIT, CLUSTER);
    case.killed_in_the_wait();
    let journal = case.journal();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"event\":\"applied\",\"id\":2,\"undo\":{\"und").unwrap();
    drop(f);
    let torn_at = std::fs::read_to_string(&journal).unwrap().lines().count();

    case.chaos(&["recover"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "{}:{torn_at} was cut short when the run died; harmless",
            journal.display()
        )))
        .stdout(predicate::str::contains("✔ undone (steps[1])"));
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.contains(&format!(
            "{{\"und\n{{\"event\":\"torn\",\"line\":{torn_at}}}\n{{\"event\":\"undone\""
        )),
        "{text}"
    );
    case.assert_nothing_to_recover();
}

#[test]
fn an_undo_that_can_no_longer_be_done_is_forgotten_on_request_and_only_then() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    case.run(&["--retain"]).assert().code(5);
    // The node container was removed since: every recover fails on it.
    std::fs::write(
        case.path("fake.json"),
        r#"{"nodes": {"kind-control-plane": {"role": "control-plane"}}}"#,
    )
    .unwrap();
    let out = case.chaos(&["recover"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    let run = run_id(&case.journal());
    assert!(
        err.contains(&format!("`chaos recover --forget {run}/1`")),
        "{err}"
    );

    // Without a terminal to ask on, only with --yes.
    case.chaos(&["recover", "--forget", &format!("{run}/1")])
        .stdin(Stdio::null())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "stdin is not a terminal; add --yes",
        ));
    // On a terminal it asks; anything but yes forgets nothing.
    let on_tty = |answer: &str| {
        let cmd = case.chaos(&["recover", "--forget", &format!("{run}/1")]);
        let line: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy()))
            .collect();
        let mut script = Command::new("script");
        script.args(["-qec", &line.join(" "), "/dev/null"]);
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => script.env(k, v),
                None => script.env_remove(k),
            };
        }
        let mut child = script
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("script(1) from util-linux, for a terminal");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), answer.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = on_tty("n\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("Nothing will undo it afterwards"), "{text}");
    assert!(text.contains("nothing forgotten"), "{text}");
    case.chaos(&["recover"]).assert().code(5);
    case.chaos(&["recover", "--forget", &format!("{run}/9"), "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has no entry 9"));
    let out = on_tty("y\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "forgotten: the undo of {run}/1 (steps[0]): unpause node container kind-worker"
        )),
        "{text}"
    );
    let text = std::fs::read_to_string(case.journal()).unwrap();
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("{\"event\":\"forgotten\",\"id\":1,"),
        "{text}"
    );
    case.assert_nothing_to_recover();
}

#[test]
fn two_state_folders_share_one_lock_per_cluster() {
    // Two users (or sudo and a user) have their own state folders; the lock is shared.
    let locks = tempfile::tempdir().unwrap();
    let first_case = Case::new(LONG_WAIT, CLUSTER);
    let second_case = Case::new(LONG_WAIT, CLUSTER);
    let with_locks = |mut c: Command| {
        c.env("CHAOS_LOCK_DIR", locks.path());
        c
    };
    let (mut first, _) = spawn_until(with_locks(first_case.run(&[])), "wait until", WITHIN);
    assert_refused_for(&with_locks(second_case.run(&[])).output().unwrap(), &first);
    assert!(second_case.journals().is_empty(), "nothing ran");
    signal(&first, "-TERM");
    assert_eq!(first.wait().unwrap().code(), Some(130));
}

#[test]
fn a_clean_run_releases_its_lock_without_a_crash_note_for_the_next() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    case.run(&[]).assert().code(0);
    case.run(&[])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("taking over").not());
    // A run that really died is reported.
    let case = Case::new(LONG_WAIT, CLUSTER);
    let pid = case.killed_in_the_wait();
    case.chaos(&["recover"]).assert().code(0);
    std::fs::write(
        case.path("p.yaml"),
        "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: again\ncluster: kind\nsteps:\n  - node-pause: {node: kind-worker}\n",
    )
    .unwrap();
    // recover took and released the lock cleanly: no note either.
    case.run(&[])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("taking over").not());
    let lock = case.path("state/locks/kind.lock");
    std::fs::write(
        &lock,
        format!("pid {pid} (start 1) uid 0 running journaled"),
    )
    .unwrap();
    case.run(&[])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(format!(
            "taking over the lock of cluster `kind` from a run that is gone: pid {pid}"
        )));
}

#[test]
fn two_playbooks_of_the_same_name_in_one_run_each_get_a_journal() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    let p = case.path("p.yaml");
    let p = p.to_str().unwrap();
    case.chaos(&["run", p, p]).assert().code(0);
    assert_eq!(case.journals().len(), 2, "{:?}", case.journals());
}

#[test]
fn a_journal_planted_where_others_can_write_is_refused_and_nothing_runs() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    let runs = case.path("state/runs");
    std::fs::create_dir_all(&runs).unwrap();
    std::fs::set_permissions(case.path("state"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&runs, std::fs::Permissions::from_mode(0o777)).unwrap();
    let planted = "{\"event\":\"start\",\"version\":2,\"pid\":999999,\"pid_start\":1,\"cluster\":\"kind\",\"playbook\":\"evil\",\"file\":\"x\",\"started_at\":\"x\"}\n{\"event\":\"intent\",\"id\":1,\"step\":\"s\",\"undo\":{\"undo\":\"exec\",\"node\":\"kind-worker\",\"command\":[\"touch\",\"/pwned\"]}}\n";
    std::fs::write(runs.join("planted.jsonl"), planted).unwrap();
    let out = case.chaos(&["recover"]).output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(3), "{o}{e}");
    assert!(e.contains("not reading journals from"), "{e}");
    assert!(e.contains("can be written by everyone (mode 777)"), "{e}");
    assert!(!o.contains("touch") && !e.contains("undone"), "{o}{e}");

    // In a private folder, a journal file others may write is refused the same way.
    std::fs::set_permissions(&runs, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(
        runs.join("planted.jsonl"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    case.chaos(&["recover"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not reading a journal"))
        .stderr(predicate::str::contains(
            "planted.jsonl can be written by everyone",
        ))
        .stdout(predicate::str::contains("touch").not());
}

#[test]
fn backup_temporaries_of_killed_writers_are_removed_by_recover() {
    let case = Case::new("steps:\n  - node-pause: {node: kind-worker}\n", CLUSTER);
    let backups = case.path("state/backups");
    std::fs::create_dir_all(&backups).unwrap();
    let dead = backups.join("etcd-x.json.tmp-999999-1");
    let dead_v1 = backups.join("etcd-y.json.tmp-999999");
    std::fs::write(&dead, "{\"format\": \"kind-chaos/etcd-b").unwrap();
    std::fs::write(&dead_v1, "{").unwrap();
    // A writer that is alive (this test process) keeps its file.
    let me = std::process::id();
    let start = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
    let start: u64 = start[start.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let live = backups.join(format!("etcd-z.json.tmp-{me}-{start}"));
    std::fs::write(&live, "{").unwrap();
    let complete = backups.join("etcd-done.json");
    std::fs::write(&complete, "{}").unwrap();
    case.chaos(&["recover"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "removed {}",
            dead.display()
        )));
    assert!(!dead.exists() && !dead_v1.exists());
    assert!(live.exists() && complete.exists());
}

/// `recover --sweep` against the in-memory fake: what the nodes hold of kind-chaos's with no
/// journal owing it is removed and named, node by node, and the exit code is 0.
#[test]
fn the_sweep_names_what_it_removed_from_each_node() {
    let fake = r#"{"nodes": {
        "kind-control-plane": {"role": "control-plane"},
        "kind-worker": {"chains": ["KIND-CHAOS-0BADF00D"], "hogs": ["kind-chaos-hog-1"],
                        "fills": {"kind-chaos-disk-2": 4096}}}}"#;
    let case = CliCase::new("sweep", "steps:\n  - sleep: 1s\n", fake);
    let out = case
        .chaos(&["recover", "--cluster", "kind", "--sweep"])
        .output()
        .expect("run chaos");
    let said = support::text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    for line in [
        "nothing to recover",
        "sweeping cluster kind for what kind-chaos left: 2 node(s)",
        "kind-control-plane: nothing of kind-chaos's",
        "kind-worker: removed iptables chain KIND-CHAOS-0BADF00D",
        "kind-worker: removed CPU hog kind-chaos-hog-1",
        "kind-worker: removed fill kind-chaos-disk-2 (4096 bytes)",
    ] {
        assert!(said.contains(line), "no `{line}` in {said}");
    }
    // Only with a cluster named, and never with --dry-run (it cannot say what it would find).
    for args in [
        &["recover", "--sweep"][..],
        &["recover", "--cluster", "kind", "--sweep", "--dry-run"][..],
    ] {
        let out = case.chaos(args).output().expect("run chaos");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            support::text(&out)
        );
    }
}
