//! The memory hog, the disk fill and `chaos recover --sweep` against real Docker, on the
//! kind-like test cluster `fh-res` (shared with `docker_loss`; one test at a time, since each
//! measures a node and the sweep removes everything of ours in every node): a memory hog
//! shows in the node container's memory cgroup by about its size and the undo gives it back;
//! a disk fill is real blocks that `df` counts, and the undo removes them; each ends by itself
//! after its duration; `kill -9` of `chaos` during both, then `chaos recover`, leaves no tmpfs,
//! file or timer behind; and the sweep finds what no journal owes, by name, and removes it.

use crate::support::testcluster;

use std::time::Duration;

use kind_chaos::backends::{Direction, Fill, Impairment, NodeOps, Partition, Peer, Shaping, Size};
use testcluster::{TestCluster, shared};

use crate::support::killed::KilledRun;
use crate::support::wait::eventually;
use crate::support::{chaos_in, text};

pub const CLUSTER: &str = "fh-res";

/// One test at a time on [`CLUSTER`].
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn cluster() -> &'static TestCluster {
    shared(CLUSTER, 2)
}

const MI: u64 = 1 << 20;

/// The node container's memory use as its cgroup counts it (v1 `memory.usage_in_bytes`, v2
/// `memory.current`), read on the host at the cgroup the node's PID 1 is in (inside, the
/// node's own cgroup is bind-mounted over the root, as kind's entrypoint does).
fn memory_bytes(c: &TestCluster, node: &str) -> u64 {
    let cgroups = c.docker_exec_ok(node, &["cat", "/proc/1/cgroup"]);
    let path_of = |pred: &dyn Fn(&str) -> bool| {
        cgroups.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
            pred(ctrl).then(|| path.to_string())
        })
    };
    let v1 = path_of(&|ctrl| ctrl.split(',').any(|x| x == "memory"))
        .map(|p| format!("/sys/fs/cgroup/memory{p}/memory.usage_in_bytes"));
    let v2 = path_of(&str::is_empty).map(|p| format!("/sys/fs/cgroup{p}/memory.current"));
    let file = [v1, v2]
        .into_iter()
        .flatten()
        .find(|f| std::path::Path::new(f).is_file())
        .unwrap_or_else(|| panic!("no memory cgroup file of {node} on the host: {cgroups}"));
    let out = std::fs::read_to_string(&file).expect("read the cgroup");
    out.trim()
        .parse()
        .unwrap_or_else(|e| panic!("memory cgroup of {node}: {out:?}: {e}"))
}

/// Used bytes of the filesystem holding `path` in the node, as `df` counts them.
fn df_used(c: &TestCluster, node: &str, path: &str) -> u64 {
    let out = c.docker_exec_ok(node, &["df", "-P", "-B1", path]);
    let line = out.lines().nth(1).expect("a df line");
    line.split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("df of {path} in {node}: {out}"))
}

/// Whether `path` exists in the node.
fn exists(c: &TestCluster, node: &str, path: &str) -> bool {
    c.docker_exec(node, &["test", "-e", path]).status.success()
}

/// Processes in the node whose command line carries `marker` (the fill's timer).
fn carrying(c: &TestCluster, node: &str, marker: &str) -> usize {
    let script = "n=0; for f in /proc/[0-9]*/cmdline; do p=${f#/proc/}; p=${p%/cmdline}; \
        [ \"$p\" = \"$$\" ] && continue; grep -q -a -F -e \"$1\" \"$f\" 2>/dev/null && n=$((n + 1)); done; echo $n";
    c.docker_exec_ok(node, &["sh", "-c", script, "sh", marker])
        .trim()
        .parse()
        .expect("a count")
}

/// Nothing of the fill `marker` is left in the node: no mount, no file, no PID file, no timer.
fn gone(c: &TestCluster, node: &str, marker: &str) {
    let mounts = c.docker_exec_ok(node, &["cat", "/proc/mounts"]);
    assert!(!mounts.contains(marker), "{node}: {mounts}");
    for path in [
        format!("/run/{marker}"),
        format!("/run/{marker}.pid"),
        format!("/var/lib/containerd/{marker}"),
    ] {
        assert!(!exists(c, node, &path), "{path} is still in {node}");
    }
    assert_eq!(carrying(c, node, marker), 0, "a timer of {marker} runs");
}

#[tokio::test]
async fn a_memory_hog_shows_in_the_node_memory_cgroup_and_the_undo_gives_it_back() {
    let c = cluster();
    let _g = SERIAL.lock().await;
    let w1 = c.worker(1);
    let nodes = c.backend().await;
    let fill = Fill {
        marker: "kind-chaos-mem-test1".into(),
        size: Size::Bytes(256 * MI),
        seconds: 120,
    };
    let before = memory_bytes(c, &w1);
    let held = NodeOps::fill(&nodes, &w1, &fill).await.expect("fill");
    let during = memory_bytes(c, &w1);
    let tmpfs = df_used(c, &w1, "/run/kind-chaos-mem-test1");
    let timers = carrying(c, &w1, &fill.marker);
    // A second fill of the same marker is refused while the first holds.
    let again = NodeOps::fill(&nodes, &w1, &fill).await;
    let freed = NodeOps::unfill(&nodes, &w1, &fill.marker)
        .await
        .expect("unfill");
    let after = memory_bytes(c, &w1);
    eprintln!(
        "memory of {w1}: before {} MiB, with the hog {} MiB, after {} MiB",
        before / MI,
        during / MI,
        after / MI
    );
    assert_eq!(held.bytes, 256 * MI);
    assert!(held.of > 256 * MI, "{held:?}");
    assert_eq!(tmpfs, 256 * MI, "the tmpfs holds the fill");
    assert_eq!(timers, 1, "one timer");
    assert!(again.is_err_and(|e| e.message.contains("exists already")));
    assert_eq!(freed, 256 * MI);
    // The cgroup counts the tmpfs pages: up by about the size (other processes of the node
    // move it by a few MiB), and down again after the undo.
    let grew = during as f64 - before as f64;
    assert!(
        (0.9..=1.1).contains(&(grew / (256 * MI) as f64)),
        "the cgroup grew by {} MiB for a hog of 256 MiB",
        grew / MI as f64
    );
    assert!(
        (after as f64) < before as f64 + 0.1 * (256 * MI) as f64,
        "after the undo {} MiB, before {} MiB",
        after / MI,
        before / MI
    );
    gone(c, &w1, &fill.marker);
    assert_eq!(
        NodeOps::unfill(&nodes, &w1, &fill.marker)
            .await
            .expect("unfill again"),
        0
    );
}

#[tokio::test]
async fn a_memory_hog_of_a_share_takes_that_share_of_the_node_memory() {
    let c = cluster();
    let _g = SERIAL.lock().await;
    let w2 = c.worker(2);
    let nodes = c.backend().await;
    let fill = Fill {
        marker: "kind-chaos-mem-test2".into(),
        size: Size::Percent(1),
        seconds: 60,
    };
    let mem_total: u64 = c
        .docker_exec_ok(
            &w2,
            &[
                "sed",
                "-n",
                "s/^MemTotal: *\\([0-9]*\\) kB$/\\1/p",
                "/proc/meminfo",
            ],
        )
        .trim()
        .parse::<u64>()
        .expect("MemTotal")
        * 1024;
    let held = NodeOps::fill(&nodes, &w2, &fill).await.expect("fill");
    let freed = NodeOps::unfill(&nodes, &w2, &fill.marker)
        .await
        .expect("unfill");
    // The test nodes have no memory limit: the share is of the machine's memory.
    assert_eq!(held.of, mem_total, "{held:?}");
    assert_eq!(held.bytes, mem_total / 100, "{held:?}");
    assert_eq!(freed, held.bytes);
    gone(c, &w2, &fill.marker);
}

#[tokio::test]
async fn a_disk_fill_is_real_blocks_df_counts_and_the_undo_removes_them() {
    let c = cluster();
    let _g = SERIAL.lock().await;
    let w1 = c.worker(1);
    let nodes = c.backend().await;
    let marker = "kind-chaos-disk-test3";
    let path = format!("/var/lib/containerd/{marker}");
    let fill = Fill {
        marker: marker.into(),
        size: Size::Bytes(256 * MI),
        seconds: 120,
    };
    let before = df_used(c, &w1, "/var/lib/containerd");
    let held = NodeOps::fill(&nodes, &w1, &fill).await.expect("fill");
    let during = df_used(c, &w1, "/var/lib/containerd");
    let blocks = c.docker_exec_ok(&w1, &["stat", "-c", "%b %B %s", &path]);
    let freed = NodeOps::unfill(&nodes, &w1, marker).await.expect("unfill");
    eprintln!(
        "df used under /var/lib/containerd of {w1}: before {} MiB, with the fill {} MiB",
        before / MI,
        during / MI
    );
    assert_eq!(held.bytes, 256 * MI);
    assert_eq!(freed, 256 * MI);
    // Not a sparse file: its allocated blocks cover its size.
    let n: Vec<u64> = blocks
        .split_whitespace()
        .map(|x| x.parse().expect("a number"))
        .collect();
    assert!(n[0] * n[1] >= 256 * MI && n[2] == 256 * MI, "{blocks}");
    // The filesystem is the host's disk, which the machine's other work also writes to: the
    // bound is loose above, tight below.
    let grew = during as f64 - before as f64;
    assert!(
        (0.95..=1.5).contains(&(grew / (256 * MI) as f64)),
        "df used grew by {} MiB for a fill of 256 MiB",
        grew / MI as f64
    );
    gone(c, &w1, marker);
    // More than the filesystem has free is refused before anything is written.
    let huge = Fill {
        marker: marker.into(),
        size: Size::Percent(100),
        seconds: 60,
    };
    let refused = NodeOps::fill(&nodes, &w1, &huge).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.message.contains("cannot take")),
        "{refused:?}"
    );
    gone(c, &w1, marker);
}

#[tokio::test]
async fn fills_end_by_themselves_after_their_duration() {
    let c = cluster();
    let _g = SERIAL.lock().await;
    let w2 = c.worker(2);
    let nodes = c.backend().await;
    for marker in ["kind-chaos-mem-test4", "kind-chaos-disk-test4"] {
        let fill = Fill {
            marker: marker.into(),
            size: Size::Bytes(16 * MI),
            seconds: 2,
        };
        NodeOps::fill(&nodes, &w2, &fill).await.expect("fill");
        assert_eq!(carrying(c, &w2, marker), 1);
        eventually(
            "the fill is freed by its timer",
            Duration::from_secs(10),
            || (carrying(c, &w2, marker) == 0).then_some(()),
        );
        gone(c, &w2, marker);
        // The undo then finds nothing, and a new fill of the same marker may start.
        assert_eq!(
            NodeOps::unfill(&nodes, &w2, marker).await.expect("unfill"),
            0
        );
    }
}

#[test]
fn after_sigkill_during_a_memory_hog_and_a_disk_fill_recover_frees_both() {
    let c = cluster();
    let _g = SERIAL.blocking_lock();
    let w1 = c.worker(1);
    let killed = KilledRun::during_sleep(
        CLUSTER,
        &[
            format!("memory-hog: {{node: {w1}, size: 64Mi, duration: 10m}}"),
            format!("disk-fill: {{node: {w1}, size: 64Mi, duration: 10m}}"),
        ],
    );
    let plan = killed.recover(&["--dry-run"]);
    let markers: Vec<String> = text(&plan)
        .split(|ch: char| ch.is_whitespace() || ch == '/')
        .filter(|w| w.starts_with("kind-chaos-mem-") || w.starts_with("kind-chaos-disk-"))
        .map(str::to_string)
        .collect();
    assert_eq!(markers.len(), 2, "{}", text(&plan));
    for m in &markers {
        assert_eq!(carrying(c, &w1, m), 1, "the fill {m} outlived chaos");
    }
    let disk = markers
        .iter()
        .find(|m| m.starts_with("kind-chaos-disk-"))
        .expect("the disk fill's marker");
    assert!(exists(c, &w1, &format!("/var/lib/containerd/{disk}")));

    let said = killed.recovered();
    assert!(said.contains("freed 64Mi"), "{said}");
    for m in &markers {
        gone(c, &w1, m);
    }
}

#[tokio::test]
async fn the_sweep_removes_what_no_journal_owes_and_says_what() {
    let c = cluster();
    let _g = SERIAL.lock().await;
    let (w1, w2, cp) = (c.worker(1), c.worker(2), c.control_plane());
    let nodes = c.backend().await;
    // Left by runs whose journals are gone: made through the backend, journaling nothing.
    let cut = Partition {
        chain: "KIND-CHAOS-SWEEPME1".into(),
        peers: vec![Peer {
            node: cp.clone(),
            ports: vec![],
        }],
        direction: Direction::Both,
    };
    NodeOps::partition(&nodes, &w1, &cut)
        .await
        .expect("partition");
    let limit = Shaping {
        impairment: Impairment::Bandwidth { rate_kbit: 1000 },
        peers: vec![],
    };
    NodeOps::shape(&nodes, &w2, &limit).await.expect("shape");
    let hog = kind_chaos::backends::CpuHog {
        marker: "kind-chaos-hog-sweepme".into(),
        cores: 1,
        seconds: 600,
    };
    NodeOps::hog(&nodes, &w2, &hog).await.expect("hog");
    for marker in ["kind-chaos-mem-sweepme", "kind-chaos-disk-sweepme"] {
        let fill = Fill {
            marker: marker.into(),
            size: Size::Bytes(8 * MI),
            seconds: 600,
        };
        NodeOps::fill(&nodes, &w1, &fill).await.expect("fill");
    }

    let state = tempfile::tempdir().expect("state dir");
    // Without --cluster it is refused: the sweep touches one named cluster only.
    let refused = chaos_in(state.path())
        .args(["recover", "--sweep"])
        .output()
        .expect("run chaos");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let out = chaos_in(state.path())
        .args(["recover", "--cluster", CLUSTER, "--sweep"])
        .output()
        .expect("run chaos");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    for line in [
        format!("{w1}: removed iptables chain KIND-CHAOS-SWEEPME1"),
        format!("{w2}: removed qdisc c4a0:"),
        format!("{w2}: removed CPU hog kind-chaos-hog-sweepme"),
        format!("{w1}: removed fill kind-chaos-mem-sweepme (8388608 bytes)"),
        format!("{w1}: removed fill kind-chaos-disk-sweepme (8388608 bytes)"),
        format!("{cp}: nothing of kind-chaos's"),
    ] {
        assert!(said.contains(&line), "no `{line}` in {said}");
    }
    let rules = c.docker_exec_ok(&w1, &["iptables", "-w", "-S"]);
    assert!(!rules.contains("KIND-CHAOS-"), "{rules}");
    let q = c.docker_exec_ok(&w2, &["tc", "qdisc", "show", "dev", "eth0", "root"]);
    assert!(!q.contains("c4a0:"), "{q}");
    assert_eq!(carrying(c, &w2, &hog.marker), 0, "the hog runs");
    gone(c, &w1, "kind-chaos-mem-sweepme");
    gone(c, &w1, "kind-chaos-disk-sweepme");

    let again = chaos_in(state.path())
        .args(["recover", "--cluster", CLUSTER, "--sweep"])
        .output()
        .expect("run chaos");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(!text(&again).contains("removed"), "{}", text(&again));
}
