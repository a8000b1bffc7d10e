//! Shared helpers for the integration tests, one place each: plans from inline YAML, a reporter
//! that records events, an in-memory writer for reporters, the `chaos` command with a private
//! state directory; `fake_run` (the engine against the in-memory fake cluster), `killed` (a
//! `chaos run` killed with SIGKILL, then `chaos recover`), `etcd` (a real etcd), `kube` (the
//! fake API server), `testcluster` (the kind-like clusters of `scripts/testcluster.sh`),
//! `local_api` (those with a control plane), `python` (the checkers from PyPI:
//! check-jsonschema, junitparser), `wait` (polling real processes and containers).

pub mod etcd;
pub mod fake_run;
pub mod killed;
pub mod kube;
pub mod local_api;
pub mod python;
pub mod testcluster;
pub mod wait;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use kind_chaos::engine::{Event, Reporter};
use kind_chaos::playbook::{self, Plan, Sources};

/// A plan from playbook text; panics with the rendered diagnostics if it is invalid.
pub fn plan(yaml: &str) -> Plan {
    match playbook::load_str(Path::new("test.yaml"), yaml, Sources::default()) {
        Ok(p) => p,
        Err(e) => panic!("invalid test playbook:\n{}", e.render(false)),
    }
}

/// Records events as short lines.
#[derive(Default)]
pub struct Recorder {
    pub lines: Vec<String>,
}

impl Reporter for Recorder {
    fn event(&mut self, e: &Event<'_>) {
        let line = match e {
            Event::PlaybookStarted { plan } => format!("start {}", plan.name),
            Event::StepStarted { step, .. } => format!("step {}", step.label()),
            Event::WaitProgress { .. }
            | Event::ApiObserved { .. }
            | Event::RealitySampled { .. } => return,
            Event::ProbeSample { probe, sample, .. } => {
                format!("sample {probe} {}", if sample.ok { "ok" } else { "failed" })
            }
            Event::StepFinished { result, .. } => format!("{:?} {}", result.status, result.label()),
            Event::UndoStarted { pending } => format!("undo {pending}"),
            Event::UndoFinished { result } => {
                format!("undo {:?} {}", result.status, result.description)
            }
            Event::PlaybookFinished { report } => format!("finish {:?}", report.status),
        };
        self.lines.push(line);
    }
}

/// A `Write` whose bytes can be read back after the reporter is done with it.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub const HEADER: &str = "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: t\n";

/// A playbook and a fake cluster in a temporary folder, run through the `chaos` binary with a
/// private state directory (journals, locks), so tests can run in parallel.
pub struct CliCase {
    pub dir: tempfile::TempDir,
}

impl CliCase {
    pub fn new(name: &str, steps: &str, fake: &str) -> CliCase {
        let dir = tempfile::tempdir().unwrap();
        let pb = format!(
            "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: {name}\ncluster: kind\n{steps}"
        );
        std::fs::write(dir.path().join("p.yaml"), pb).unwrap();
        std::fs::write(dir.path().join("fake.json"), fake).unwrap();
        CliCase { dir }
    }

    pub fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    /// `chaos ARGS... --fake-cluster fake.json`.
    pub fn chaos(&self, args: &[&str]) -> Command {
        let mut c = chaos_in(&self.path("state"));
        c.args(args);
        c.arg("--fake-cluster").arg(self.path("fake.json"));
        c
    }

    /// `chaos run p.yaml EXTRA... --fake-cluster fake.json`.
    pub fn run(&self, extra: &[&str]) -> Command {
        let p = self.path("p.yaml");
        let mut args = vec!["run", p.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.chaos(&args)
    }
}

/// The `chaos` binary, as CI runs it (plain output, no backtraces).
pub fn chaos_bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chaos"));
    c.env("CI", "true").env_remove("RUST_BACKTRACE");
    c
}

/// [`chaos_bin`] with its journals in `state` and its run locks in `state/locks`, so runs of
/// parallel tests never see each other's journals or locks.
pub fn chaos_in(state: &Path) -> Command {
    let mut c = chaos_bin();
    c.env("CHAOS_STATE_DIR", state)
        .env("CHAOS_LOCK_DIR", state.join("locks"));
    c
}

/// An output's exit code, stdout and stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// For tests that bound wall time: while held, no test cluster is made or removed (the
/// heaviest work of this binary, and of other test processes that take the same lock), as
/// those ran in other binaries, one after the other, before the tests shared one.
pub fn quiet() -> testcluster::Lifecycle {
    testcluster::lifecycle()
}

/// A port on 127.0.0.1 that nothing listened on a moment ago (for a server to start on, or
/// for a client to be refused).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Fails the test when `bytes` (as text) hold control characters other than newline and
/// tab: escapes from hostile input must never reach a terminal raw.
pub fn assert_no_controls(what: &str, bytes: &[u8]) {
    let s = String::from_utf8_lossy(bytes);
    let bad: Vec<char> = s
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect();
    assert!(
        bad.is_empty(),
        "{what} has raw control characters {bad:?}:\n{s}"
    );
}

/// A fake kind cluster `kind` with three nodes, as JSON for `--fake-cluster`.
pub const FAKE_KIND: &str = r#"{"nodes": {"kind-control-plane": {"role": "control-plane"}, "kind-worker": {}, "kind-worker2": {}}}"#;
