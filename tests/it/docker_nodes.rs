//! The Docker node backend against real Docker and the kind-like test cluster
//! (`scripts/testcluster.sh`): discovery, exec, files and ports, kubelet and container faults
//! with their undo, killing a pod's process, and node reality matched against the pods these
//! tests start. Each test owns the nodes it faults (tests run in parallel on one cluster):
//! worker 1 the kubelet, worker 2 pause, worker 3 stop and kill, worker 4 a stand-in crictl,
//! worker 5 a stop signal (SIGSTOP) and its undo.

use crate::support::testcluster;

use std::time::{Duration, Instant};

use kind_chaos::backends::docker::{DockerNodes, ReadVia};
use kind_chaos::backends::{
    ContainerAction, ErrorKind, KubeletAction, NodeOps, PodKey, PodSignal, RealitySource,
};
use kind_chaos::playbook::values::Signal;
use testcluster::{TestCluster, docker, shared};

const CLUSTER: &str = "kc-nodes";

fn cluster() -> &'static TestCluster {
    shared(CLUSTER, 5)
}

async fn nodes() -> DockerNodes {
    cluster().backend().await
}

fn kill<'a>(pod: &'a PodKey, container: Option<&'a str>, signal: Signal) -> PodSignal<'a> {
    PodSignal {
        pod,
        container,
        signal,
    }
}

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovers_nodes_names_and_roles() {
    let c = cluster();
    let n = nodes().await;
    assert_eq!(n.cluster(), CLUSTER);
    let found = n.nodes().await.unwrap();
    let names: Vec<&str> = found.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        c.nodes.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let roles: Vec<&str> = found.iter().map(|n| n.role.as_str()).collect();
    assert_eq!(
        roles,
        [
            "control-plane",
            "worker",
            "worker",
            "worker",
            "worker",
            "worker"
        ]
    );
    assert_eq!(n.control_plane().await.unwrap(), c.control_plane());
    let via_trait = NodeOps::nodes(&n).await.unwrap();
    assert_eq!(via_trait.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_cluster_lists_the_clusters_found() {
    cluster();
    let err = DockerNodes::connect("kc-no-such-cluster")
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert!(
        err.message.contains("no kind cluster `kc-no-such-cluster`"),
        "{}",
        err.message
    );
    assert!(err.message.contains(CLUSTER), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_node_lists_the_real_ones() {
    let c = cluster();
    let n = nodes().await;
    let err = n
        .exec("kc-nodes-worker9", &argv(&["true"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    for real in &c.nodes {
        assert!(err.message.contains(real.as_str()), "{}", err.message);
    }
    // A container that exists but is not a node of this cluster is refused the same way.
    let other = n.exec("kc-other-container", &argv(&["true"])).await;
    assert_eq!(other.unwrap_err().kind, ErrorKind::NotFound);
    let err = n
        .container("kc-nodes-worker9", ContainerAction::Pause)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    let err = n.reality(Some("kc-nodes-worker9")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_captures_exit_code_stdout_and_stderr() {
    let c = cluster();
    let n = nodes().await;
    let cp = c.control_plane();
    let out = n
        .exec(&cp, &argv(&["sh", "-c", "echo out; echo err >&2; exit 3"]))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    // An argv is passed as is: nothing is interpreted by a shell.
    let hostile = "$(touch /tmp/pwned); `id` ; rm -rf / && echo 'x'";
    let out = n
        .exec(&cp, &argv(&["printf", "%s", hostile]))
        .await
        .unwrap();
    assert_eq!((out.exit_code, out.stdout.as_str()), (0, hostile));
    let pwned = c.docker_exec(&cp, &["test", "-e", "/tmp/pwned"]);
    assert!(!pwned.status.success());
    // A program that does not exist: Docker's exit code, not an error of ours.
    let out = n.exec(&cp, &argv(&["/no/such/program"])).await.unwrap();
    assert!(out.exit_code == 126 || out.exit_code == 127, "{out:?}");
    assert!(n.exec(&cp, &[]).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_streams_stdin() {
    let c = cluster();
    let n = nodes().await;
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let started = Instant::now();
    let out = n
        .exec_with_stdin(&c.control_plane(), &argv(&["wc", "-c"]), &data[..])
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "5000000");
    assert!(started.elapsed() < Duration::from_secs(10));
    // A process that stops reading early: its exit code and stderr tell, no hang.
    let out = n
        .exec_with_stdin(
            &c.control_plane(),
            &argv(&["sh", "-c", "head -c 10 >/dev/null; echo done >&2; exit 4"]),
            &data[..],
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 4);
    assert_eq!(out.stderr, "done\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_files_ips_and_published_ports() {
    let c = cluster();
    let n = nodes().await;
    let cp = c.control_plane();
    let entrypoint = n
        .read_file(&cp, "/usr/local/bin/kind-chaos-entrypoint")
        .await
        .unwrap();
    let want = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testcluster/node/kind-chaos-entrypoint"),
    )
    .unwrap();
    assert_eq!(entrypoint, want);
    // /etc/os-release is a relative symlink in Debian: its content is returned.
    let os = n.read_file(&cp, "/etc/os-release").await.unwrap();
    let via_cat = c.docker_exec_ok(&cp, &["cat", "/etc/os-release"]);
    assert_eq!(String::from_utf8(os).unwrap(), via_cat);
    let missing = n.read_file(&cp, "/etc/no-such-file").await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound);
    assert!(n.read_file(&cp, "/etc").await.is_err());

    let ip = n.container_ip(&cp, "kind").await.unwrap().unwrap();
    let want = docker(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.kind.IPAddress}}",
        &cp,
    ]);
    assert_eq!(ip, want.trim());
    assert_eq!(n.container_ip(&cp, "no-such-network").await.unwrap(), None);

    let (host, port) = n.published_port(&cp, "6443/tcp").await.unwrap().unwrap();
    let want = docker(&["port", &cp, "6443/tcp"]);
    assert_eq!(
        format!("{host}:{port}"),
        want.lines().next().unwrap().trim()
    );
    assert_eq!(host, "127.0.0.1");
    assert_eq!(
        n.published_port(&c.worker(1), "6443/tcp").await.unwrap(),
        None
    );
}

fn kubelet_executable(c: &TestCluster, node: &str) -> bool {
    c.docker_exec(node, &["test", "-x", "/usr/bin/kubelet"])
        .status
        .success()
}

#[tokio::test(flavor = "multi_thread")]
async fn kubelet_stop_stays_dead_until_started() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(1);
    let before = n.reality(Some(&w)).await.unwrap();
    assert!(before[0].kubelet_running);

    let started = Instant::now();
    n.kubelet(&w, KubeletAction::Stop).await.unwrap();
    eprintln!("kubelet stop took {:?}", started.elapsed());
    assert!(!kubelet_executable(c, &w));
    // The restart loop runs every second: three intervals and it is still down.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let r = n.reality(Some(&w)).await.unwrap();
        assert!(
            !r[0].kubelet_running,
            "kubelet came back while not executable"
        );
    }
    // Stopping again is harmless.
    n.kubelet(&w, KubeletAction::Stop).await.unwrap();

    let started = Instant::now();
    n.kubelet(&w, KubeletAction::Start).await.unwrap();
    eprintln!("kubelet start took {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(kubelet_executable(c, &w));
    assert!(n.reality(Some(&w)).await.unwrap()[0].kubelet_running);
    // The undo may run twice.
    n.kubelet(&w, KubeletAction::Start).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_and_unpause_idempotently() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(2);
    n.container(&w, ContainerAction::Pause).await.unwrap();
    let state = |n: &str| docker(&["inspect", "-f", "{{.State.Status}}", n]);
    assert_eq!(state(&w).trim(), "paused");
    let err = n.exec(&w, &argv(&["true"])).await.unwrap_err();
    assert!(err.message.contains("paused"), "{}", err.message);
    let err = n.reality(Some(&w)).await.unwrap_err();
    assert!(err.message.contains("paused"), "{}", err.message);
    // Pausing a paused node is refused: its undo would unpause what someone else paused.
    assert!(n.container(&w, ContainerAction::Pause).await.is_err());

    n.container(&w, ContainerAction::Unpause).await.unwrap();
    assert_eq!(state(&w).trim(), "running");
    n.container(&w, ContainerAction::Unpause).await.unwrap();
    n.container(&w, ContainerAction::Start).await.unwrap();
    assert!(n.reality(Some(&w)).await.unwrap()[0].kubelet_running);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_start_and_kill_the_node_container() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(3);
    let state = |n: &str| docker(&["inspect", "-f", "{{.State.Status}}", n]);
    n.container(
        &w,
        ContainerAction::Stop {
            timeout_secs: Some(2),
        },
    )
    .await
    .unwrap();
    assert_eq!(state(&w).trim(), "exited");
    // A stopped node runs nothing.
    let r = n.reality(Some(&w)).await.unwrap();
    assert!(!r[0].kubelet_running && r[0].shims.is_empty());
    n.container(&w, ContainerAction::Start).await.unwrap();
    n.container(&w, ContainerAction::Start).await.unwrap();
    assert_eq!(state(&w).trim(), "running");

    n.container(&w, ContainerAction::kill(Signal::KILL))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while state(&w).trim() != "exited" {
        assert!(Instant::now() < deadline, "still {}", state(&w));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        n.container(&w, ContainerAction::kill(Signal::KILL))
            .await
            .is_err()
    );
    n.container(&w, ContainerAction::Start).await.unwrap();
    assert_eq!(state(&w).trim(), "running");
}

#[tokio::test(flavor = "multi_thread")]
async fn shims_and_sandboxes_match_the_pods_started() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(1);
    let cp = c.control_plane();
    // Worker 1 runs only this test's pods; the control plane is shared with the kill test.
    let mut want = Vec::new();
    for (node, name) in [(&w, "alpha"), (&w, "beta"), (&w, "gamma"), (&cp, "delta")] {
        let uid = format!("uid-{name}");
        let id = c.pod(node, "t-shims", name, &uid);
        want.push((node.clone(), name, uid, id));
    }
    // A sandbox whose OCI spec has no CRI annotations (only the labels) is mapped too: the
    // scan falls back to `ctr containers info` for it alone.
    let bare = c.bare_sandbox(&w, "t-shims", "epsilon", "uid-epsilon");
    want.push((
        w.clone(),
        "epsilon",
        "uid-epsilon".to_string(),
        bare.clone(),
    ));
    let started = Instant::now();
    let all = n.reality(None).await;
    eprintln!("reality of all nodes took {:?}", started.elapsed());
    // Another test may have worker 2 paused or worker 3 stopped right now; read ours alone.
    drop(all);
    let on_w = n.reality(Some(&w)).await.unwrap();
    let on_w = &on_w[0];
    assert_eq!(on_w.shims.len(), 4, "{on_w:#?}");
    for (node, name, uid, id) in &want {
        let r = n.reality(Some(node)).await.unwrap();
        let sb = r[0]
            .sandboxes
            .iter()
            .find(|s| &s.id == id)
            .unwrap_or_else(|| panic!("no sandbox {id} on {node}: {r:#?}"));
        assert_eq!(sb.pod.to_string(), format!("t-shims/{name}"));
        assert_eq!(&sb.uid, uid);
        assert!(sb.live);
        let shim = r[0].shims.iter().find(|s| &s.sandbox_id == id).unwrap();
        // The pid is the real shim process in the node.
        let cmdline = c.docker_exec_ok(node, &["cat", &format!("/proc/{}/cmdline", shim.pid)]);
        assert!(cmdline.contains("containerd-shim-runc-v2"), "{cmdline:?}");
        assert!(cmdline.contains(id.as_str()));
    }
    // Removing a pod removes its shim and its sandbox.
    let (_, _, _, beta) = &want[1];
    c.unpod(&w, beta);
    c.unpod(&w, &bare);
    let r = n.reality(Some(&w)).await.unwrap();
    assert_eq!(r[0].shims.len(), 2);
    assert!(r[0].sandboxes.iter().all(|s| &s.id != beta && s.id != bare));
}

#[tokio::test(flavor = "multi_thread")]
async fn kills_a_pods_process_with_a_signal() {
    let c = cluster();
    let n = nodes().await;
    let cp = c.control_plane();
    let id = c.pod(&cp, "t-kill", "victim", "uid-victim");
    let pod = PodKey {
        namespace: "t-kill".into(),
        name: "victim".into(),
    };
    let task_status = || {
        let out = c.docker_exec_ok(&cp, &["ctr", "-n", "k8s.io", "tasks", "ls"]);
        out.lines()
            .find(|l| l.starts_with(id.as_str()))
            .map(|l| l.split_whitespace().nth(2).unwrap_or_default().to_string())
    };
    assert_eq!(task_status().as_deref(), Some("RUNNING"));
    // A container name the pod does not have: not found, naming what runs.
    let err = n
        .kill_pod_container(&cp, kill(&pod, Some("nope"), Signal::KILL))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{}", err.message);
    n.kill_pod_container(&cp, kill(&pod, None, Signal::KILL))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while task_status().as_deref() != Some("STOPPED") {
        assert!(Instant::now() < deadline, "task is {:?}", task_status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Now it has no running process: killing again says so.
    let again = n
        .kill_pod_container(&cp, kill(&pod, None, Signal::KILL))
        .await;
    assert_eq!(again.unwrap_err().kind, ErrorKind::NotFound);
    let ghost = PodKey {
        namespace: "t-kill".into(),
        name: "no-such-pod".into(),
    };
    let err = n
        .kill_pod_container(&cp, kill(&ghost, None, Signal::TERM))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.message.contains("no live sandbox"), "{}", err.message);
}

/// Where a node has crictl (kind's do) and is read by exec (Docker Desktop, a remote Docker,
/// not root), pods and containers come from crictl. Worker 4 gets a stand-in crictl that prints
/// what crictl would for one real sandbox and one dead one that containerd does not have; read
/// through containerd's socket (the default here), the node shows what containerd has.
#[tokio::test(flavor = "multi_thread")]
async fn crictl_is_preferred_where_it_exists() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(4);
    let live = c.pod(&w, "t-cri", "real-pod", "uid-real");
    let dead = "d".repeat(64);
    let pods = format!(
        r#"{{"items": [
  {{"id": "{live}", "metadata": {{"name": "real-pod", "uid": "uid-real", "namespace": "t-cri"}}, "state": "SANDBOX_READY"}},
  {{"id": "{dead}", "metadata": {{"name": "dead-pod", "uid": "uid-dead", "namespace": "t-cri"}}, "state": "SANDBOX_NOTREADY"}}
]}}"#
    );
    let ps = format!(
        r#"{{"containers": [
  {{"id": "{}", "podSandboxId": "{live}", "metadata": {{"name": "app"}}, "state": "CONTAINER_RUNNING"}},
  {{"id": "{}", "podSandboxId": "{live}", "metadata": {{"name": "init"}}, "state": "CONTAINER_EXITED"}}
]}}"#,
        "a".repeat(64),
        "b".repeat(64)
    );
    let script = "#!/bin/sh\ncase \"$1\" in\n  pods) cat /etc/fake-crictl/pods.json ;;\n  ps) cat /etc/fake-crictl/ps.json ;;\n  *) exit 1 ;;\nesac\n";
    let put = |path: &'static str, body: String| {
        let n = &n;
        let w = &w;
        async move {
            let out = n
                .exec_with_stdin(
                    w,
                    &argv(&[
                        "sh",
                        "-c",
                        "mkdir -p \"$(dirname \"$1\")\" && cat >\"$1\" && chmod +x \"$1\"",
                        "sh",
                        path,
                    ]),
                    body.as_bytes(),
                )
                .await
                .unwrap();
            assert_eq!(out.exit_code, 0, "{out:?}");
        }
    };
    put("/etc/fake-crictl/pods.json", pods).await;
    put("/etc/fake-crictl/ps.json", ps).await;
    put("/usr/local/bin/crictl", script.to_string()).await;

    let mut exec = n.snapshot_via(Some(&w), ReadVia::Exec).await.unwrap();
    assert_eq!(exec[0].source, Some(RealitySource::Exec));
    let r = [exec.remove(0).reality.unwrap()];
    let by: Vec<(&str, bool, Vec<String>)> = r[0]
        .sandboxes
        .iter()
        .map(|s| (s.pod.name.as_str(), s.live, s.containers.clone()))
        .collect();
    assert_eq!(
        by,
        vec![
            ("dead-pod", false, vec![]),
            ("real-pod", true, vec!["app".to_string()])
        ]
    );
    assert_eq!(r[0].shims.len(), 1);
    assert_eq!(r[0].shims[0].sandbox_id, live);

    let mut auto = n.snapshot_via(Some(&w), ReadVia::Auto).await.unwrap();
    assert_eq!(auto[0].source, Some(RealitySource::ContainerdMetadata));
    let auto = auto.remove(0).reality.unwrap();
    let names: Vec<&str> = auto.sandboxes.iter().map(|s| s.pod.name.as_str()).collect();
    assert_eq!(names, vec!["real-pod"], "containerd has no `dead-pod`");
    assert_eq!(auto.shims, r[0].shims);
}

/// The state letter of PID 1 in `node` (`T`: stopped by a signal), read from outside.
fn pid1_state(c: &TestCluster, node: &str) -> char {
    let out = c.docker_exec(node, &["cat", "/proc/1/stat"]);
    assert!(out.status.success(), "cat /proc/1/stat in {node}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let after = &text[text.rfind(')').expect("a stat line") + 1..];
    after.trim_start().chars().next().expect("a state letter")
}

/// The node backend only, for applying undo records as the engine does.
struct NodesOnly(std::sync::Arc<DockerNodes>);

#[async_trait::async_trait]
impl kind_chaos::backends::Connector for NodesOnly {
    async fn nodes(&self) -> kind_chaos::backends::Result<std::sync::Arc<dyn NodeOps>> {
        Ok(self.0.clone())
    }
    async fn kube(
        &self,
    ) -> kind_chaos::backends::Result<std::sync::Arc<dyn kind_chaos::backends::KubeOps>> {
        Err(kind_chaos::backends::BackendError::unavailable(
            "no API in this test",
        ))
    }
    async fn etcd(
        &self,
    ) -> kind_chaos::backends::Result<std::sync::Arc<dyn kind_chaos::backends::EtcdOps>> {
        Err(kind_chaos::backends::BackendError::unavailable(
            "no etcd in this test",
        ))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_signal_is_undone_with_sigcont_and_the_undo_checks_pid_1() {
    use kind_chaos::engine::{Backends, UndoRecord, undo::record_for};
    use kind_chaos::playbook::model::{Action, NodeKill};
    let c = cluster();
    let w = c.worker(5);
    let n = std::sync::Arc::new(nodes().await);
    let state = |n: &str| docker(&["inspect", "-f", "{{.State.Status}}", n]);
    let stop = Signal::parse("SIGSTOP").unwrap();
    let action = Action::NodeKill(NodeKill {
        node: w.clone().into(),
        signal: Some(stop),
    });
    let record = record_for(&action).expect("node-kill registers an undo");
    assert_eq!(record, UndoRecord::NodeContinue { node: w.clone() });
    // SIGTSTP, SIGTTIN, SIGTTOU (by number: the last two have no name in playbooks).
    for other in ["SIGTSTP", "21", "22"] {
        let a = Action::NodeKill(NodeKill {
            node: w.clone().into(),
            signal: Some(Signal::parse(other).unwrap()),
        });
        assert_eq!(
            record_for(&a),
            Some(UndoRecord::NodeContinue { node: w.clone() })
        );
    }
    let kill = Action::NodeKill(NodeKill {
        node: w.clone().into(),
        signal: None,
    });
    assert_eq!(
        record_for(&kill),
        Some(UndoRecord::NodeStart { node: w.clone() })
    );

    n.container(&w, ContainerAction::kill(stop)).await.unwrap();
    // Docker still says running; PID 1 is frozen.
    assert_eq!(state(&w).trim(), "running");
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid1_state(c, &w) != 'T' {
        assert!(Instant::now() < deadline, "PID 1 of {w} never stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let b = Backends::new(std::sync::Arc::new(NodesOnly(n.clone())));
    record.apply(&b).await.expect("the undo resumes PID 1");
    assert_ne!(pid1_state(c, &w), 'T', "PID 1 still stopped after the undo");
    assert_eq!(state(&w).trim(), "running");
    // A record written by an older version (NodeStart for every node-kill) resumes it too.
    n.container(&w, ContainerAction::kill(stop)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid1_state(c, &w) != 'T' {
        assert!(Instant::now() < deadline, "PID 1 of {w} never stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    UndoRecord::NodeStart { node: w.clone() }
        .apply(&b)
        .await
        .expect("start resumes a stopped PID 1");
    assert_ne!(pid1_state(c, &w), 'T');
    // Undoing again is harmless.
    record.apply(&b).await.unwrap();
    assert!(n.reality(Some(&w)).await.unwrap()[0].kubelet_running);
}
