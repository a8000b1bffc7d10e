//! The kind-like test clusters of `scripts/testcluster.sh`, for tests against real Docker.
//!
//! Each cluster is started once per test binary, on first use, and every cluster this binary
//! started is removed when it exits (an `atexit` hook, so a failing or panicking test still
//! cleans up); a leftover of an earlier run that was killed is removed before the start. Each
//! test module uses its own cluster name, so modules never share nodes.
//!
//! Starting and removing clusters take one lock ([`lifecycle`]), held across processes too (a
//! file lock): `down` removes the Docker network `kind` when no container uses it, and `up`
//! creates it when it is missing, so a `down` between another cluster's network check and its
//! first container, or two `up`s creating the network at once (Docker then holds two networks
//! named `kind`), break the other cluster.
//!
//! Nothing here skips: no Docker, or no script, fails the test with the reason.
//! `KIND_CHAOS_KEEP_TESTCLUSTER=1` keeps the clusters for debugging.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};

use kind_chaos::backends::docker::DockerNodes;

pub struct TestCluster {
    pub name: String,
    /// Node container names as `up` printed them: control plane first.
    pub nodes: Vec<String>,
}

pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/testcluster.sh")
}

/// A binary of this build next to `chaos` (`serve`, `kubelet`: `cargo test --workspace` builds
/// them), so the script does not build them again with other features. Run alone after
/// changing them, build them first (`cargo build -p fake-apiserver -p kubelet --bins`).
fn built(name: &str) -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_BIN_EXE_chaos")).with_file_name(name);
    bin.is_file().then_some(bin)
}

/// `testcluster.sh ARGS`, with the control plane and kubelet binaries of this build for
/// `up --api`.
pub fn run(args: &[&str]) -> Output {
    let script = script();
    assert!(
        script.exists(),
        "{} is missing: the Docker tests need it to start their test cluster",
        script.display()
    );
    let mut cmd = Command::new(&script);
    for (var, bin) in [
        ("KIND_CHAOS_APISERVER_BIN", "serve"),
        ("KIND_CHAOS_KUBELET_BIN", "kubelet"),
        ("KIND_CHAOS_CRICTL_BIN", "crictl"),
    ] {
        if let Some(path) = built(bin)
            && std::env::var_os(var).is_none()
        {
            cmd.env(var, path);
        }
    }
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()))
}

/// `testcluster.sh ARGS`, failing the test when it fails; returns its stdout.
pub fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "`testcluster.sh {}` failed ({}); Docker (and kubectl for --api) must be there for these tests.\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Held while clusters (or containers on the network `kind`) are made or removed: a lock in
/// this process (the tests' threads) and a file lock for other processes.
pub struct Lifecycle {
    _file: File,
    _guard: MutexGuard<'static, ()>,
}

pub fn lifecycle() -> Lifecycle {
    static IN_PROCESS: Mutex<()> = Mutex::new(());
    let guard = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let path = std::env::temp_dir().join("kind-chaos-testcluster-lifecycle.lock");
    let file = File::create(&path)
        .unwrap_or_else(|e| panic!("cannot open the lock {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    Lifecycle {
        _file: file,
        _guard: guard,
    }
}

/// `testcluster.sh up NAME ARGS...` under the lifecycle lock; returns its stdout.
pub fn up(name: &str, args: &[&str]) -> String {
    let mut all = vec!["up", name];
    all.extend_from_slice(args);
    let _lock = lifecycle();
    run_ok(&all)
}

/// `testcluster.sh down NAME` under the lifecycle lock; a failure is ignored (cleanup).
pub fn down(name: &str) {
    let _lock = lifecycle();
    let _ = run(&["down", name]);
}

/// The clusters this binary started, removed at exit.
static STARTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::os::raw::c_int;
}

extern "C" fn teardown() {
    if std::env::var_os("KIND_CHAOS_KEEP_TESTCLUSTER").is_some() {
        return;
    }
    let started = std::mem::take(&mut *STARTED.lock().unwrap_or_else(|e| e.into_inner()));
    for name in started {
        down(&name);
    }
}

/// Starts cluster `name` for the rest of this binary (`up NAME ARGS...`, after removing a
/// leftover of a killed earlier run) and removes it at exit; returns what `up` printed.
pub fn start(name: &str, args: &[&str]) -> String {
    // A cluster left by a killed earlier run would carry its pods and faults.
    down(name);
    {
        let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
        if started.is_empty() {
            // SAFETY: registers a plain function with no captured state; libc runs it at exit.
            let registered = unsafe { atexit(teardown) };
            assert_eq!(registered, 0, "cannot register the test clusters' cleanup");
        }
        started.push(name.to_string());
    }
    up(name, args)
}

/// The cluster `name` with `workers` workers, started once for this binary.
pub fn shared(name: &str, workers: u32) -> &'static TestCluster {
    static CLUSTERS: Mutex<BTreeMap<String, &'static OnceLock<TestCluster>>> =
        Mutex::new(BTreeMap::new());
    let cell: &'static OnceLock<TestCluster> = CLUSTERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_string())
        .or_insert_with(|| Box::leak(Box::new(OnceLock::new())));
    let c = cell.get_or_init(|| {
        let out = start(name, &["--workers", &workers.to_string()]);
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
    assert_eq!(
        c.nodes.len(),
        workers as usize + 1,
        "cluster {name} is shared by tests that want other worker counts"
    );
    c
}

impl TestCluster {
    /// The Docker node backend (the code under test) connected to this cluster.
    pub async fn backend(&self) -> DockerNodes {
        match DockerNodes::connect(&self.name).await {
            Ok(n) => n,
            Err(e) => panic!("connect to {}: {e}", self.name),
        }
    }

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

    /// Starts a sandbox on `node` with the CRI's labels but, unlike [`Self::pod`], no CRI
    /// annotations in its OCI spec (only `ctr run`); returns its id (this process's, so one a
    /// binary per node).
    pub fn bare_sandbox(&self, node: &str, namespace: &str, pod: &str, uid: &str) -> String {
        let id = format!("e{:063x}", std::process::id());
        let labels = format!(
            "--label io.kubernetes.pod.name={pod} --label io.kubernetes.pod.namespace={namespace} \
             --label io.kubernetes.pod.uid={uid} --label io.cri-containerd.kind=sandbox"
        );
        let script = format!(
            "exec ctr -n k8s.io run -d --snapshotter \"$(cat /run/kind-chaos/snapshotter)\" \
             {labels} docker.io/library/kind-chaos-pause:test \"$1\" /bin/sleep infinity"
        );
        self.docker_exec_ok(node, &["sh", "-c", &script, "sh", &id]);
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
