//! The network faults against real Docker, on the kind-like test cluster `nt-net`: TCP between
//! node containers (busybox `nc` listeners, bash `/dev/tcp` connects) measured before, during
//! and after each fault, both ways; what this machine's kernel does with netem; and `kill -9`
//! of `chaos` in the middle of the faults, then `chaos recover`, leaving no rule or qdisc.

use crate::support::testcluster;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kind_chaos::backends::{Direction, Impairment, NodeOps, Partition, Peer, Shaping};
use testcluster::{TestCluster, docker, shared};

use crate::support::killed::KilledRun;
use crate::support::{chaos_in, text};

const CLUSTER: &str = "nt-net";
/// Every node listens here (a connect is accepted, then closed).
const PORT: u16 = 7070;
/// The control plane also listens on etcd's client port (no etcd runs without `--api`).
const ETCD_PORT: u16 = 2379;

/// One fault at a time on this cluster: each test measures every pair of nodes, and
/// `docker_hog` measures a node's CPU, which these probes would add to.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The cluster, with busybox copied into each node and its listeners started (once).
fn cluster() -> &'static TestCluster {
    static READY: OnceLock<()> = OnceLock::new();
    let c = shared(CLUSTER, 2);
    READY.get_or_init(|| {
        let busybox = ["/usr/bin/busybox", "/bin/busybox"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
            .expect(
                "a static busybox on the host (Debian's busybox-static), to listen in the nodes",
            );
        for node in &c.nodes {
            docker(&["cp", busybox, &format!("{node}:/usr/local/bin/busybox")]);
            let mut ports = vec![PORT];
            if *node == c.control_plane() {
                ports.push(ETCD_PORT);
            }
            for p in ports {
                docker(&[
                    "exec",
                    "-d",
                    node,
                    "/usr/local/bin/busybox",
                    "nc",
                    "-ll",
                    "-p",
                    &p.to_string(),
                    "-e",
                    "/bin/true",
                ]);
            }
        }
        let (w1, cp) = (c.worker(1), c.control_plane());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !connects(c, &w1, &cp, PORT) {
            assert!(Instant::now() < deadline, "the listeners did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    c
}

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

fn address(node: &str) -> String {
    docker(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.kind.IPAddress}}",
        node,
    ])
    .trim()
    .to_string()
}

/// Whether a TCP connect from `from` to `to`'s port succeeds within 2 s.
fn connects(c: &TestCluster, from: &str, to: &str, port: u16) -> bool {
    let target = format!("exec 3<>/dev/tcp/{}/{port}", address(to));
    c.docker_exec(from, &["timeout", "2", "bash", "-c", &target])
        .status
        .success()
}

/// Every ordered pair of nodes and whether it connects on [`PORT`].
fn reachability(c: &TestCluster) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for from in &c.nodes {
        for to in &c.nodes {
            if from != to {
                out.push((from.clone(), to.clone(), connects(c, from, to, PORT)));
            }
        }
    }
    out
}

fn iptables_rules(c: &TestCluster, node: &str) -> String {
    c.docker_exec_ok(node, &["iptables", "-w", "-S"])
}

fn root_qdisc(c: &TestCluster, node: &str) -> String {
    c.docker_exec_ok(node, &["tc", "qdisc", "show", "dev", "eth0", "root"])
}

fn nothing_of_ours(c: &TestCluster) {
    for node in &c.nodes {
        let rules = iptables_rules(c, node);
        assert!(!rules.contains("KIND-CHAOS-"), "{node}: {rules}");
        let q = root_qdisc(c, node);
        assert!(!q.contains("c4a0:"), "{node}: {q}");
    }
}

#[tokio::test]
async fn a_partition_stops_tcp_in_its_direction_only_and_the_heal_restores_it() {
    let c = cluster();
    let _g = serial().await;
    let nodes = c.backend().await;
    let (w1, w2) = (c.worker(1), c.worker(2));
    let before = reachability(c);
    assert!(before.iter().all(|(_, _, ok)| *ok), "{before:?}");
    // (direction, w1 -> w2 connects, w2 -> w1 connects)
    for (direction, out_ok, in_ok) in [
        (Direction::Both, false, false),
        (Direction::Out, false, true),
        (Direction::In, true, false),
    ] {
        let cut = Partition {
            chain: "KIND-CHAOS-TEST".into(),
            peers: vec![Peer {
                node: w2.clone(),
                ports: vec![],
            }],
            direction,
        };
        NodeOps::partition(&nodes, &w1, &cut)
            .await
            .expect("partition");
        for (from, to, ok) in reachability(c) {
            let want = match (from.as_str(), to.as_str()) {
                (f, t) if f == w1 && t == w2 => out_ok,
                (f, t) if f == w2 && t == w1 => in_ok,
                _ => true,
            };
            assert_eq!(ok, want, "{direction:?}: {from} -> {to}");
        }
        // The same chain twice is refused, and leaves the first as it was.
        let again = NodeOps::partition(&nodes, &w1, &cut).await;
        assert!(
            again
                .as_ref()
                .is_err_and(|e| e.message.contains("exists already")),
            "{again:?}"
        );
        NodeOps::heal(&nodes, &w1, "KIND-CHAOS-TEST")
            .await
            .expect("heal");
        assert_eq!(reachability(c), before, "{direction:?}: after the heal");
        nothing_of_ours(c);
        // Idempotent: the undo may run twice.
        NodeOps::heal(&nodes, &w1, "KIND-CHAOS-TEST")
            .await
            .expect("heal again");
    }
}

#[tokio::test]
async fn a_partition_from_a_port_cuts_only_that_port() {
    let c = cluster();
    let _g = serial().await;
    let nodes = c.backend().await;
    let (w1, cp) = (c.worker(1), c.control_plane());
    assert!(connects(c, &w1, &cp, ETCD_PORT) && connects(c, &w1, &cp, PORT));
    let cut = Partition {
        chain: "KIND-CHAOS-PORT".into(),
        peers: vec![Peer {
            node: cp.clone(),
            ports: vec![ETCD_PORT],
        }],
        direction: Direction::Both,
    };
    NodeOps::partition(&nodes, &w1, &cut)
        .await
        .expect("partition");
    let during = (
        connects(c, &w1, &cp, ETCD_PORT),
        connects(c, &w1, &cp, PORT),
    );
    NodeOps::heal(&nodes, &w1, "KIND-CHAOS-PORT")
        .await
        .expect("heal");
    assert_eq!(
        during,
        (false, true),
        "(etcd port, other port) during the partition"
    );
    assert!(
        connects(c, &w1, &cp, ETCD_PORT),
        "etcd's port after the heal"
    );
    nothing_of_ours(c);
}

/// Whether this kernel has netem, asked without the code under test.
fn kernel_has_netem(c: &TestCluster) -> bool {
    let probe = "tc qdisc add dev lo root handle c4ff: netem delay 1ms && tc qdisc del dev lo root";
    c.docker_exec(&c.control_plane(), &["sh", "-c", probe])
        .status
        .success()
}

/// The median of five TCP connects (SYN to SYN-ACK) from `from` to `to`, timed inside the
/// node, in milliseconds.
fn connect_ms(c: &TestCluster, from: &str, to: &str) -> f64 {
    let script = format!(
        "s=$(date +%s%N); exec 3<>/dev/tcp/{}/{PORT} || exit 1; e=$(date +%s%N); echo $(((e - s) / 1000))",
        address(to)
    );
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let us = c.docker_exec_ok(from, &["timeout", "5", "bash", "-c", &script]);
            us.trim().parse::<f64>().expect("microseconds") / 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

#[tokio::test]
async fn a_delay_shows_in_round_trips_or_fails_with_the_reason_without_netem() {
    let c = cluster();
    let _g = serial().await;
    let (w1, w2, cp) = (c.worker(1), c.worker(2), c.control_plane());
    let nodes = c.backend().await;
    let delay = Shaping {
        impairment: Impairment::Delay {
            delay_us: 200_000,
            jitter_us: 0,
        },
        peers: vec![w2.clone()],
    };
    if kernel_has_netem(c) {
        let base = connect_ms(c, &w1, &w2);
        NodeOps::shape(&nodes, &w1, &delay).await.expect("shape");
        let slow = connect_ms(c, &w1, &w2);
        let other = connect_ms(c, &w1, &cp);
        NodeOps::unshape(&nodes, &w1).await.expect("unshape");
        assert!(
            (180.0..=220.0).contains(&(slow - base)),
            "200ms delay measured as {slow:.1} ms against {base:.1} ms without it"
        );
        assert!(
            other < base + 20.0,
            "traffic to {cp} was delayed too: {other:.1} ms"
        );
    } else {
        // Through `chaos`: exit 4 with the reason, for every packet and towards one peer.
        for to in ["", ", to: [PEER]"] {
            let dir = tempfile::tempdir().expect("tempdir");
            let pb = dir.path().join("delay.yaml");
            let body = format!(
                "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: delay\ncluster: {CLUSTER}\nsteps:\n  - network-delay: {{node: {w1}, delay: 200ms{}}}\n",
                to.replace("PEER", &w2)
            );
            std::fs::write(&pb, body).expect("playbook");
            let out = chaos_in(dir.path())
                .args(["run", pb.to_str().expect("utf-8")])
                .output()
                .expect("run chaos");
            assert_eq!(out.status.code(), Some(4), "{}", text(&out));
            assert!(text(&out).contains("no sch_netem"), "{}", text(&out));
            nothing_of_ours(c);
        }
    }
}

#[tokio::test]
async fn a_rate_limit_is_our_qdisc_and_its_undo_removes_only_it() {
    let c = cluster();
    let _g = serial().await;
    let w1 = c.worker(1);
    let nodes = c.backend().await;
    for (peers, shown) in [(vec![], "tbf"), (vec![c.worker(2)], "htb")] {
        let limit = Shaping {
            impairment: Impairment::Bandwidth { rate_kbit: 1000 },
            peers,
        };
        NodeOps::shape(&nodes, &w1, &limit).await.expect("shape");
        let q = root_qdisc(c, &w1);
        // A second shaping is refused while ours is there.
        let again = NodeOps::shape(&nodes, &w1, &limit).await;
        NodeOps::unshape(&nodes, &w1).await.expect("unshape");
        assert!(q.contains(shown) && q.contains("c4a0:"), "{q}");
        assert!(again.is_err(), "{again:?}");
        nothing_of_ours(c);
        NodeOps::unshape(&nodes, &w1).await.expect("unshape again");
    }
    // A root qdisc that is not ours is left alone.
    c.docker_exec_ok(
        &w1,
        &[
            "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "9:", "htb",
        ],
    );
    let unshaped = NodeOps::unshape(&nodes, &w1).await;
    let q = root_qdisc(c, &w1);
    c.docker_exec_ok(&w1, &["tc", "qdisc", "del", "dev", "eth0", "root"]);
    assert!(unshaped.is_ok(), "{unshaped:?}");
    assert!(q.contains("htb 9:"), "{q}");
}

#[test]
fn after_sigkill_during_network_faults_recover_leaves_no_rule_or_qdisc() {
    let c = cluster();
    let _g = SERIAL.blocking_lock();
    let (w1, w2) = (c.worker(1), c.worker(2));
    let killed = KilledRun::during_sleep(
        CLUSTER,
        &[
            format!("network-partition: {{node: {w1}, from: all}}"),
            format!("network-bandwidth: {{node: {w2}, rate-kbit: 1000}}"),
        ],
    );
    assert!(iptables_rules(c, &w1).contains("KIND-CHAOS-"));
    assert!(root_qdisc(c, &w2).contains("c4a0:"));
    assert!(!connects(c, &w2, &w1, PORT), "the partition is not there");

    killed.recovered();
    nothing_of_ours(c);
    assert!(
        reachability(c).iter().all(|(_, _, ok)| *ok),
        "{:?}",
        reachability(c)
    );
    killed.assert_nothing_left();
}
