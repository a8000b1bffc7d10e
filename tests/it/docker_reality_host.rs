//! Node reality read without exec (containerd's metadata database and its socket through the
//! host's `/proc`, and the host's `/proc` alone) against the exec path, on real Docker with the kind-like test cluster
//! (`scripts/testcluster.sh`). These tests need root on the Docker host (that is what reading
//! without exec needs); they fail, not skip, without it. Each test owns its nodes: worker 1
//! pods and the kubelet, worker 2 a task without CRI annotations, worker 3 pause, worker 4 a
//! stand-in crictl, worker 5 changes between reads that keep containerd's listing, worker 6
//! containerd writing its database while it is read.

use crate::support::testcluster;
use crate::support::wait::eventually;

use std::time::{Duration, Instant};

use kind_chaos::backends::docker::{DockerNodes, NodeSnapshot, ReadVia};
use kind_chaos::backends::{ContainerAction, KubeletAction, NodeOps, NodeReality, RealitySource};
use testcluster::{TestCluster, shared};

const CLUSTER: &str = "pf-hostreal";

fn cluster() -> &'static TestCluster {
    shared(CLUSTER, 6)
}

async fn nodes() -> DockerNodes {
    cluster().backend().await
}

async fn one(n: &DockerNodes, node: &str, via: ReadVia) -> NodeSnapshot {
    let mut s = n.snapshot_via(Some(node), via).await.unwrap();
    assert_eq!(s.len(), 1);
    s.remove(0)
}

/// The node read from containerd's metadata database, through its socket and by exec: the
/// same reality, each saying how it was read. Auto picks the database.
async fn socket_and_exec(n: &DockerNodes, node: &str) -> NodeReality {
    let metadata = one(n, node, ReadVia::Metadata).await;
    let socket = one(n, node, ReadVia::Socket).await;
    let exec = one(n, node, ReadVia::Exec).await;
    assert_eq!(metadata.source, Some(RealitySource::ContainerdMetadata));
    assert_eq!(socket.source, Some(RealitySource::ContainerdSocket));
    assert_eq!(exec.source, Some(RealitySource::Exec));
    let socket = socket.reality.unwrap();
    assert_eq!(
        socket,
        exec.reality.unwrap(),
        "socket path vs exec path on {node}"
    );
    assert_eq!(
        metadata.reality.unwrap(),
        socket,
        "metadata path vs socket path on {node}"
    );
    assert_eq!(
        one(n, node, ReadVia::Auto).await.source,
        Some(RealitySource::ContainerdMetadata)
    );
    socket
}

/// The node read all three ways (its tasks all have the CRI's annotations): the same reality.
async fn both(n: &DockerNodes, node: &str) -> NodeReality {
    let socket = socket_and_exec(n, node).await;
    let host = one(n, node, ReadVia::Host).await;
    assert_eq!(host.source, Some(RealitySource::HostProc));
    assert_eq!(
        host.reality.unwrap(),
        socket,
        "host path vs socket path on {node}"
    );
    socket
}

/// Waits until containerd lists task `id` on `node` as stopped.
fn task_stopped(c: &TestCluster, node: &str, id: &str) {
    eventually(
        &format!("task {id} stopped on {node}"),
        Duration::from_secs(5),
        || {
            let ls = c.docker_exec_ok(node, &["ctr", "-n", "k8s.io", "tasks", "ls"]);
            ls.lines()
                .any(|l| l.starts_with(id) && l.contains("STOPPED"))
                .then_some(())
        },
    );
}

/// An application container in a sandbox, as the CRI would make it: its OCI spec carries the
/// CRI's annotations naming it and its sandbox.
fn app_container(c: &TestCluster, node: &str, sandbox: &str, id: &str, name: &str) {
    c.docker_exec_ok(
        node,
        &[
            "sh",
            "-c",
            "exec ctr -n k8s.io run -d --snapshotter \"$(cat /run/kind-chaos/snapshotter)\" \
             --label io.cri-containerd.kind=container \
             --annotation io.kubernetes.cri.container-type=container \
             --annotation io.kubernetes.cri.container-name=\"$3\" \
             --annotation io.kubernetes.cri.sandbox-id=\"$2\" \
             docker.io/library/kind-chaos-pause:test \"$1\" /bin/sleep infinity",
            "sh",
            id,
            sandbox,
            name,
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn both_paths_agree_on_pods_stopped_tasks_and_the_kubelet() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(1);
    let cp = c.control_plane();
    let alpha = c.pod(&w, "t-host", "alpha", "uid-alpha");
    let beta = c.pod(&w, "t-host", "beta", "uid-beta");
    c.pod(&cp, "t-host", "delta", "uid-delta");
    app_container(c, &w, &alpha, &format!("a{:063x}", 1), "app");
    let stopped = format!("a{:063x}", 2);
    app_container(c, &w, &alpha, &stopped, "sidecar");
    // A task whose process is gone but not deleted: its bundle stays, its container is not
    // running.
    c.docker_exec_ok(
        &w,
        &[
            "ctr", "-n", "k8s.io", "tasks", "kill", "-s", "KILL", &stopped,
        ],
    );
    task_stopped(c, &w, &stopped);

    let r = both(&n, &w).await;
    assert!(r.kubelet_running);
    let pods: Vec<(&str, bool, Vec<String>)> = r
        .sandboxes
        .iter()
        .map(|s| (s.pod.name.as_str(), s.live, s.containers.clone()))
        .collect();
    assert_eq!(
        pods,
        vec![
            ("alpha", true, vec!["app".to_string()]),
            ("beta", true, vec![])
        ]
    );
    // Each sandbox has its shim (the containers join their sandbox's).
    for id in [&alpha, &beta] {
        assert!(r.shims.iter().any(|s| &s.sandbox_id == id), "{r:#?}");
    }
    let on_cp = both(&n, &cp).await;
    assert!(on_cp.sandboxes.iter().any(|s| s.pod.name == "delta"));

    // A stopped kubelet reads the same both ways.
    n.kubelet(&w, KubeletAction::Stop).await.unwrap();
    let r = both(&n, &w).await;
    assert!(!r.kubelet_running);
    // A process entered with `docker exec` is no descendant of the node's PID 1, but it is in
    // the node (the exec path sees it): the host's read of the node's cgroup sees it too.
    testcluster::docker(&[
        "exec",
        "-d",
        &w,
        "bash",
        "-c",
        "exec -a /usr/bin/kubelet sleep 300",
    ]);
    let entered = "pgrep -f '^/usr/bin/kubelet 300' || true";
    eventually("the exec'd process starts", Duration::from_secs(5), || {
        (!c.docker_exec_ok(&w, &["sh", "-c", entered])
            .trim()
            .is_empty())
        .then_some(())
    });
    assert!(both(&n, &w).await.kubelet_running);
    c.docker_exec_ok(&w, &["pkill", "-f", "^/usr/bin/kubelet 300"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while both(&n, &w).await.kubelet_running {
        assert!(Instant::now() < deadline, "the exec'd process did not end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    n.kubelet(&w, KubeletAction::Start).await.unwrap();
    assert!(both(&n, &w).await.kubelet_running);

    // Removing a pod removes it from both.
    c.unpod(&w, &beta);
    let r = both(&n, &w).await;
    assert!(r.sandboxes.iter().all(|s| s.id != beta));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_without_cri_annotations_is_read_from_containerds_metadata() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(2);
    c.pod(&w, "t-bare", "annotated", "uid-annotated");
    both(&n, &w).await;
    // A sandbox with the CRI's labels but no annotations in its OCI spec.
    let bare = c.bare_sandbox(&w, "t-bare", "epsilon", "uid-epsilon");
    // The host's /proc alone cannot name its pod.
    let host = one(&n, &w, ReadVia::Host).await;
    let err = host.reality.unwrap_err();
    assert!(
        err.message.contains("no CRI annotations"),
        "{}",
        err.message
    );
    // containerd's metadata and its socket can, and agree with the exec path (its `ctr` per
    // task).
    let r = socket_and_exec(&n, &w).await;
    let eps = r.sandboxes.iter().find(|s| s.id == bare).unwrap();
    assert_eq!(
        (
            eps.pod.name.as_str(),
            eps.pod.namespace.as_str(),
            eps.uid.as_str(),
            eps.live
        ),
        ("epsilon", "t-bare", "uid-epsilon", true)
    );
    assert!(r.sandboxes.iter().any(|s| s.pod.name == "annotated"));
    // The other nodes are read from containerd's database too.
    let all = n.snapshot_via(None, ReadVia::Auto).await.unwrap();
    assert!(
        all.iter()
            .filter(|s| s.node.name != c.worker(4))
            .all(|s| s.source == Some(RealitySource::ContainerdMetadata)),
        "{all:#?}"
    );
    c.unpod(&w, &bare);
    let r = socket_and_exec(&n, &w).await;
    assert!(r.sandboxes.iter().all(|s| s.id != bare));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_node_is_reported_paused_without_hanging() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(3);
    c.pod(&w, "t-pause", "frozen", "uid-frozen");
    both(&n, &w).await;
    n.container(&w, ContainerAction::Pause).await.unwrap();
    let started = Instant::now();
    let host = one(&n, &w, ReadVia::Host).await;
    let socket = one(&n, &w, ReadVia::Socket).await;
    let metadata = one(&n, &w, ReadVia::Metadata).await;
    let exec = one(&n, &w, ReadVia::Exec).await;
    let (h, e) = (host.reality.unwrap_err(), exec.reality.unwrap_err());
    assert_eq!(h.message, e.message);
    assert_eq!(socket.reality.unwrap_err().message, e.message);
    assert_eq!(metadata.reality.unwrap_err().message, e.message);
    assert!(h.message.contains("paused"), "{}", h.message);
    // Past Docker's state, the host read itself sees the frozen cgroup.
    let direct = n.read_from_host(&w).await.unwrap_err();
    assert_eq!(direct.message, e.message);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    n.container(&w, ContainerAction::Unpause).await.unwrap();
    assert!(both(&n, &w).await.kubelet_running);
}

/// A node with `crictl` (kind's nodes have it): the host's `/proc` alone cannot give the CRI's
/// view and refuses; containerd's metadata gives it, so Auto reads it without exec. Where the
/// database cannot be read, Auto asks containerd through its socket.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_with_crictl_is_read_from_containerds_metadata_else_its_socket() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(4);
    c.pod(&w, "t-crictl", "real", "uid-real");
    c.docker_exec_ok(
        &w,
        &[
            "sh",
            "-c",
            "printf '#!/bin/sh\\nexit 1\\n' >/usr/local/bin/crictl && chmod +x /usr/local/bin/crictl",
        ],
    );
    let err = one(&n, &w, ReadVia::Host).await.reality.unwrap_err();
    assert!(err.message.contains("crictl"), "{}", err.message);
    let auto = one(&n, &w, ReadVia::Auto).await;
    assert_eq!(auto.source, Some(RealitySource::ContainerdMetadata));
    // This crictl fails, so the exec path reads the bundles: the same pod either way.
    let exec = one(&n, &w, ReadVia::Exec).await;
    assert_eq!(exec.source, Some(RealitySource::Exec));
    let auto = auto.reality.unwrap();
    assert!(auto.sandboxes.iter().any(|s| s.pod.name == "real"));
    assert_eq!(auto, exec.reality.unwrap());
    c.docker_exec_ok(&w, &["rm", "/usr/local/bin/crictl"]);
    assert_eq!(both(&n, &w).await, auto);

    // The database moved away (containerd keeps it open and goes on writing to it): no
    // metadata read, the socket instead, the same reality.
    let db = "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db";
    c.docker_exec_ok(&w, &["mv", db, &format!("{db}.moved")]);
    let err = one(&n, &w, ReadVia::Metadata).await.reality.unwrap_err();
    let fallback = one(&n, &w, ReadVia::Auto).await;
    c.docker_exec_ok(&w, &["mv", &format!("{db}.moved"), db]);
    assert!(err.message.contains("meta.db"), "{}", err.message);
    assert_eq!(fallback.source, Some(RealitySource::ContainerdSocket));
    assert_eq!(fallback.reality.unwrap(), auto);
    assert_eq!(both(&n, &w).await, auto);
}

/// Repeated reads keep containerd's listing while nothing changed (a timeline samples every
/// second); every change the exec path sees is seen through the socket too: a new pod, one
/// with only the CRI's labels, a task killed, a pod removed. Each change is read once at once
/// (containerd's files just written) and once after they settled (the kept listing's
/// fingerprint must show the change).
#[tokio::test(flavor = "multi_thread")]
async fn kept_listings_follow_every_change_the_exec_path_sees() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(5);
    let settle = Duration::from_millis(1500);
    let twice = async |n: &DockerNodes| {
        let now = socket_and_exec(n, &w).await;
        tokio::time::sleep(settle).await;
        let settled = socket_and_exec(n, &w).await;
        assert_eq!(now, settled);
        // Read again with nothing changed: the kept listing.
        assert_eq!(socket_and_exec(n, &w).await, settled);
        settled
    };
    let one_pod = c.pod(&w, "t-kept", "one", "uid-one");
    let r = twice(&n).await;
    assert!(
        r.sandboxes.iter().any(|s| s.id == one_pod && s.live),
        "{r:#?}"
    );

    let labels_only = c.bare_sandbox(&w, "t-kept", "two", "uid-two");
    let r = twice(&n).await;
    assert!(r.sandboxes.iter().any(|s| s.id == labels_only), "{r:#?}");

    let app = format!("k{:063x}", 5);
    app_container(c, &w, &one_pod, &app, "app");
    let r = twice(&n).await;
    let with_app = |r: &NodeReality| {
        r.sandboxes
            .iter()
            .find(|s| s.id == one_pod)
            .map(|s| s.containers.clone())
    };
    assert_eq!(with_app(&r), Some(vec!["app".to_string()]), "{r:#?}");

    c.docker_exec_ok(
        &w,
        &["ctr", "-n", "k8s.io", "tasks", "kill", "-s", "KILL", &app],
    );
    task_stopped(c, &w, &app);
    let r = twice(&n).await;
    assert_eq!(with_app(&r), Some(vec![]), "{r:#?}");

    c.unpod(&w, &labels_only);
    let r = twice(&n).await;
    assert!(r.sandboxes.iter().all(|s| s.id != labels_only), "{r:#?}");
}

/// Each node's PID 1 is found from its cgroup without asking Docker, and it is the PID Docker
/// gives.
#[tokio::test(flavor = "multi_thread")]
async fn the_node_pid_from_the_cgroup_is_dockers() {
    let c = cluster();
    let n = nodes().await;
    for node in [c.control_plane(), c.worker(1), c.worker(5)] {
        let docker: u32 = testcluster::docker(&["inspect", "-f", "{{.State.Pid}}", &node])
            .trim()
            .parse()
            .unwrap();
        assert_eq!(n.host_pid_from_cgroup(&node).await, Some(docker), "{node}");
    }
}

/// containerd's database is read without its lock while containerd writes to it: a container
/// record created and removed in a loop (no task, so no part of the node's reality) while the
/// node is read from the database again and again. Every read must succeed and give the same
/// reality (a read that crossed a commit is read again, see `reality/bolt.rs`).
#[tokio::test(flavor = "multi_thread")]
async fn the_database_reads_whole_while_containerd_writes_it() {
    let c = cluster();
    let n = nodes().await;
    let w = c.worker(6);
    c.pod(&w, "t-churn", "steady", "uid-steady");
    let before = both(&n, &w).await;
    c.docker_exec_ok(
        &w,
        &[
            "sh",
            "-c",
            "rm -f /tmp/churn-stop /tmp/churn-count; \
             (i=0; while [ ! -e /tmp/churn-stop ]; do i=$((i+1)); \
               ctr -n k8s.io containers create --snapshotter \"$(cat /run/kind-chaos/snapshotter)\" \
                 --label io.cri-containerd.kind=sandbox --label io.kubernetes.pod.name=churn \
                 --label io.kubernetes.pod.namespace=t-churn --label io.kubernetes.pod.uid=uid-churn \
                 docker.io/library/kind-chaos-pause:test churn-$i >/dev/null 2>&1; \
               ctr -n k8s.io containers rm churn-$i >/dev/null 2>&1; echo $i >>/tmp/churn-count; \
             done; touch /tmp/churn-done) >/dev/null 2>&1 &",
        ],
    );
    let count = || {
        c.docker_exec_ok(
            &w,
            &["sh", "-c", "wc -l </tmp/churn-count 2>/dev/null || echo 0"],
        )
        .trim()
        .parse::<u32>()
        .unwrap()
    };
    eventually("the churn loop runs", Duration::from_secs(10), || {
        (count() > 0).then_some(())
    });
    // At least 20 reads while containerd commits at least 5 times (a slow machine reads longer).
    let started = count();
    let (mut reads, mut churned) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while (reads < 20 || churned < 5) && Instant::now() < deadline {
        let r = one(&n, &w, ReadVia::Metadata).await;
        assert_eq!(r.reality.unwrap(), before, "read {reads} during the churn");
        reads += 1;
        if reads % 10 == 0 {
            churned = count() - started;
        }
    }
    c.docker_exec_ok(&w, &["touch", "/tmp/churn-stop"]);
    eventually("the churn loop ends", Duration::from_secs(10), || {
        c.docker_exec(&w, &["test", "-e", "/tmp/churn-done"])
            .status
            .success()
            .then_some(())
    });
    assert!(
        churned >= 3,
        "containerd wrote only {churned} times in {reads} reads"
    );
    assert!(reads >= 20, "{reads} reads");
    assert_eq!(both(&n, &w).await, before);
}
