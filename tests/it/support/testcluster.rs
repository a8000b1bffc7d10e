//! The kind-like test cluster of `scripts/testcluster.sh`, for tests against real Docker.
//!
//! One cluster per test binary, started on first use and removed when the binary exits (an
//! `atexit` hook, so a failing or panicking test still cleans up); a leftover of an earlier
//! run that was killed is removed before the start. Each test file uses its own cluster name,
//! so test binaries never share nodes. Nothing here skips: no Docker, or no script, fails the
//! test with the reason. `KIND_CHAOS_KEEP_TESTCLUSTER=1` keeps the cluster for debugging.
//!
//! Include it with `#[path = "support/testcluster.rs"] mod testcluster;`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

pub struct TestCluster {
    pub name: String,
    /// Node container names as `up` printed them: control plane first.
    pub nodes: Vec<String>,
}

static CLUSTER: OnceLock<TestCluster> = OnceLock::new();

pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/testcluster.sh")
}

fn run(args: &[&str]) -> Output {
    let script = script();
    assert!(
        script.exists(),
        "{} is missing: the Docker tests need it to start their test cluster",
        script.display()
    );
    Command::new(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()))
}

fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "`testcluster.sh {}` failed ({}); Docker must be running for these tests.\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

unsafe extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::os::raw::c_int;
}

extern "C" fn teardown() {
    if std::env::var_os("KIND_CHAOS_KEEP_TESTCLUSTER").is_some() {
        return;
    }
    if let Some(c) = CLUSTER.get() {
        let _ = Command::new(script()).args(["down", &c.name]).output();
    }
}

/// This test binary's cluster: `name` with `workers` workers, started once.
pub fn shared(name: &str, workers: u32) -> &'static TestCluster {
    let c = CLUSTER.get_or_init(|| {
        // A cluster left by a killed earlier run would carry its pods and faults.
        let _ = run(&["down", name]);
        // SAFETY: registers a plain function with no captured state; libc runs it at exit.
        let registered = unsafe { atexit(teardown) };
        assert_eq!(registered, 0, "cannot register the test cluster's cleanup");
        let out = run_ok(&["up", name, "--workers", &workers.to_string()]);
        let nodes: Vec<String> = out.lines().map(str::to_string).collect();
        assert_eq!(
            nodes.len(),
            workers as usize + 1,
            "unexpected node list from up: {out}"
        );
        TestCluster {
            name: name.to_string(),
            nodes,
        }
    });
    assert_eq!(c.name, name, "one test cluster per test binary");
    c
}

impl TestCluster {
    pub fn control_plane(&self) -> String {
        format!("{}-control-plane", self.name)
    }

    /// `NAME-worker`, `NAME-worker2`, ... (1-based).
    pub fn worker(&self, n: u32) -> String {
        if n == 1 {
            format!("{}-worker", self.name)
        } else {
            format!("{}-worker{n}", self.name)
        }
    }

    /// Starts a pod sandbox on `node` with the script; returns its sandbox id.
    pub fn pod(&self, node: &str, namespace: &str, pod: &str, uid: &str) -> String {
        let id = run_ok(&["pod", &self.name, node, namespace, pod, uid])
            .trim()
            .to_string();
        assert_eq!(id.len(), 64, "not a sandbox id: {id:?}");
        id
    }

    pub fn unpod(&self, node: &str, id: &str) {
        run_ok(&["unpod", &self.name, node, id]);
    }

    /// `docker exec NODE ARGV...` through the docker CLI (independent of the code under test).
    pub fn docker_exec(&self, node: &str, argv: &[&str]) -> Output {
        Command::new("docker")
            .arg("exec")
            .arg(node)
            .args(argv)
            .output()
            .unwrap_or_else(|e| panic!("cannot run docker: {e}"))
    }

    pub fn docker_exec_ok(&self, node: &str, argv: &[&str]) -> String {
        let out = self.docker_exec(node, argv);
        assert!(
            out.status.success(),
            "docker exec {node} {argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// `docker ARGS...`, asserting success; returns stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker: {e}"));
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
