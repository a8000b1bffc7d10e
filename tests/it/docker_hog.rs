//! The CPU hog against real Docker, on the kind-like test cluster `nt-net` (shared with
//! `docker_network`, one test at a time with its tests, whose probes would show in the CPU
//! usage): one busy loop shows in the node container's cgroup CPU usage, the undo stops it, it
//! ends by itself after its duration, and `kill -9` of `chaos` during it, then `chaos
//! recover`, leaves no hog behind.

use crate::support::testcluster;

use std::time::{Duration, Instant};

use kind_chaos::backends::{CpuHog, NodeOps};
use testcluster::{TestCluster, shared};

use crate::docker_network::SERIAL;
use crate::support::killed::KilledRun;
use crate::support::text;
use crate::support::wait::eventually;

const CLUSTER: &str = "nt-net";

fn cluster() -> &'static TestCluster {
    shared(CLUSTER, 2)
}

/// The node container's CPU time so far (its cgroup, read inside it: cgroup v1 `cpuacct`, or
/// v2 `cpu.stat`), in seconds.
fn cpu_seconds(c: &TestCluster, node: &str) -> f64 {
    let script = "cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null \
        || sed -n 's/^usage_usec //p' /sys/fs/cgroup/cpu.stat | sed 's/$/000/'";
    let out = c.docker_exec_ok(node, &["sh", "-c", script]);
    let ns: f64 = out
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("cgroup CPU usage of {node}: {out:?}: {e}"));
    ns / 1e9
}

/// Cores the node used over 3 s.
fn cores_used(c: &TestCluster, node: &str) -> f64 {
    let (t0, u0) = (Instant::now(), cpu_seconds(c, node));
    std::thread::sleep(Duration::from_secs(3));
    (cpu_seconds(c, node) - u0) / t0.elapsed().as_secs_f64()
}

/// How many of the hog's processes run in the node: each loop is two, its `timeout` and the
/// busy `sh` under it (counted too, so a loop that outlived its timeout shows).
fn hog_processes(c: &TestCluster, node: &str, marker: &str) -> usize {
    let script = "n=0; for f in /proc/[0-9]*/cmdline; do p=${f#/proc/}; p=${p%/cmdline}; \
        [ \"$p\" = \"$$\" ] && continue; \
        case \"$(tr '\\0' ' ' <\"$f\" 2>/dev/null)\" in \"timeout \"*\"$1\"*|\"sh -c while :; do :; done $1\"*) n=$((n + 1));; esac; done; echo $n";
    c.docker_exec_ok(node, &["sh", "-c", script, "sh", marker])
        .trim()
        .parse()
        .expect("a count")
}

#[tokio::test]
async fn one_core_of_hog_shows_in_the_cgroup_and_the_undo_stops_it() {
    let c = cluster();
    let _g = SERIAL.lock().await;
    let w1 = c.worker(1);
    let nodes = c.backend().await;
    let idle = cores_used(c, &w1);
    let hog = CpuHog {
        marker: "kind-chaos-hog-test1".into(),
        cores: 1,
        seconds: 120,
    };
    NodeOps::hog(&nodes, &w1, &hog).await.expect("hog");
    let busy = cores_used(c, &w1);
    let running = hog_processes(c, &w1, &hog.marker);
    // A second hog of the same marker is refused while the first runs.
    let again = NodeOps::hog(&nodes, &w1, &hog).await;
    NodeOps::unhog(&nodes, &w1, &hog.marker)
        .await
        .expect("unhog");
    let after = cores_used(c, &w1);
    eprintln!("cores used on {w1}: idle {idle:.2}, hog {busy:.2}, after {after:.2}");
    assert_eq!(running, 2, "one loop under its timeout");
    assert!(again.is_err(), "{again:?}");
    // One busy loop uses at most one core. How much of it it gets depends on what else runs
    // on the machine's cores (alone: ~1.0; on the shared two-core development machine, with
    // compilers beside it, 0.4-0.5 was measured), so the floor only says it clearly shows.
    assert!(
        busy - idle > 0.3 && busy < idle + 1.15,
        "hog of 1 core: idle {idle:.2}, with the hog {busy:.2}"
    );
    assert!(
        after < idle + 0.2,
        "after the undo {after:.2} (idle {idle:.2})"
    );
    assert_eq!(hog_processes(c, &w1, &hog.marker), 0);
    NodeOps::unhog(&nodes, &w1, &hog.marker)
        .await
        .expect("unhog again");
}

#[tokio::test]
async fn a_hog_ends_by_itself_after_its_duration() {
    let c = cluster();
    let _g = SERIAL.lock().await;
    let w2 = c.worker(2);
    let nodes = c.backend().await;
    let hog = CpuHog {
        marker: "kind-chaos-hog-test2".into(),
        cores: 2,
        seconds: 2,
    };
    NodeOps::hog(&nodes, &w2, &hog).await.expect("hog");
    assert_eq!(hog_processes(c, &w2, &hog.marker), 4);
    eventually("the hog ends by itself", Duration::from_secs(10), || {
        (hog_processes(c, &w2, &hog.marker) == 0).then_some(())
    });
    // The undo still clears its PID file, and a new hog of the same marker may start.
    NodeOps::unhog(&nodes, &w2, &hog.marker)
        .await
        .expect("unhog");
    NodeOps::hog(&nodes, &w2, &hog).await.expect("hog again");
    NodeOps::unhog(&nodes, &w2, &hog.marker)
        .await
        .expect("unhog");
}

#[test]
fn after_sigkill_during_a_hog_recover_stops_it() {
    let c = cluster();
    let _g = SERIAL.blocking_lock();
    let w1 = c.worker(1);
    let killed = KilledRun::during_sleep(
        CLUSTER,
        &[format!("cpu-hog: {{node: {w1}, duration: 10m}}")],
    );
    let marker = killed
        .printed
        .split_whitespace()
        .find(|w| w.starts_with("kind-chaos-hog-"))
        .map(str::to_string);
    let out = killed.recover(&["--dry-run"]);
    let marker = marker
        .or_else(|| {
            text(&out)
                .split_whitespace()
                .find(|w| w.starts_with("kind-chaos-hog-"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no hog named in the run or recover's plan: {}", text(&out)));
    assert_eq!(hog_processes(c, &w1, &marker), 2, "the hog outlived chaos");

    let said = killed.recovered();
    assert_eq!(hog_processes(c, &w1, &marker), 0, "{said}");
}
