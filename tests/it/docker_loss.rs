//! `network-loss` of 50% against real Docker, on the test cluster of `docker_fill`: where the
//! kernel has netem, the loss shows in a sample of pings between two node containers within a
//! binomial bound; where it has none (this development machine's kernel), the fault fails
//! through `chaos` with exit 4 and that reason, leaving no qdisc.

use std::time::Duration;

use crate::docker_fill::{CLUSTER, SERIAL, cluster};
use crate::support::testcluster::{TestCluster, docker};
use crate::support::{chaos_in, text};

/// Whether this kernel has netem, asked without the code under test.
fn kernel_has_netem(c: &TestCluster) -> bool {
    let probe = "tc qdisc add dev lo root handle c4ff: netem delay 1ms && tc qdisc del dev lo root";
    c.docker_exec(&c.control_plane(), &["sh", "-c", probe])
        .status
        .success()
}

fn root_qdisc(c: &TestCluster, node: &str) -> String {
    c.docker_exec_ok(node, &["tc", "qdisc", "show", "dev", "eth0", "root"])
}

/// Pings sent from `from` to `to` and how many were answered (busybox `ping`, copied in).
fn pings(c: &TestCluster, from: &str, to: &str, count: u32) -> (u32, u32) {
    let addr = docker(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.kind.IPAddress}}",
        to,
    ]);
    let out = c.docker_exec(
        from,
        &[
            "/usr/local/bin/busybox",
            "ping",
            "-q",
            "-c",
            &count.to_string(),
            "-i",
            "0.02",
            "-W",
            "1",
            addr.trim(),
        ],
    );
    let said = String::from_utf8_lossy(&out.stdout);
    let line = said
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no summary from ping: {said}"));
    let numbers: Vec<u32> = line
        .split(|ch: char| !ch.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(2)
        .map(|w| w.parse().expect("a number"))
        .collect();
    (numbers[0], numbers[1])
}

/// The playbook of a 50% loss on `node`, run through `chaos` for `hold` with `state` as its
/// state folder; returns its output.
fn run_loss(node: &str, state: &std::path::Path, hold: Duration) -> std::process::Output {
    let pb = state.join("loss.yaml");
    let body = format!(
        "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: loss\ncluster: {CLUSTER}\nsteps:\n  - network-loss: {{node: {node}, percent: 50}}\n  - sleep: {}s\n",
        hold.as_secs()
    );
    std::fs::write(&pb, body).expect("playbook");
    chaos_in(state)
        .args(["run", pb.to_str().expect("utf-8")])
        .output()
        .expect("run chaos")
}

#[test]
fn a_loss_of_half_shows_in_a_bounded_sample_or_fails_with_the_reason_without_netem() {
    let c = cluster();
    let _g = SERIAL.blocking_lock();
    let (w1, w2) = (c.worker(1), c.worker(2));
    let state = tempfile::tempdir().expect("state dir");
    if !kernel_has_netem(c) {
        let out = run_loss(&w1, state.path(), Duration::from_secs(1));
        assert_eq!(out.status.code(), Some(4), "{}", text(&out));
        assert!(text(&out).contains("no sch_netem"), "{}", text(&out));
        assert!(!root_qdisc(c, &w1).contains("c4a0:"));
        return;
    }
    // With netem: the loss is applied by a background `chaos run` holding it for a while; the
    // sample is taken meanwhile. N = 400 pings, each request dropped with p = 0.5 (the loss is
    // on what w1 sends; replies come back unshaped): the answered count is Binomial(400, 0.5),
    // mean 200, sd 10; the bound of 5 sd (150..=250) fails a correct loss about once in
    // 1.7 million runs.
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .expect("a static busybox on the host (Debian's busybox-static), to ping in the nodes");
    docker(&["cp", busybox, &format!("{w1}:/usr/local/bin/busybox")]);
    let (sent0, got0) = pings(c, &w1, &w2, 50);
    assert_eq!(sent0, got0, "pings are lost without the fault");
    let mut run = chaos_in(state.path());
    let pb = state.path().join("loss.yaml");
    std::fs::write(
        &pb,
        format!(
            "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: loss\ncluster: {CLUSTER}\nsteps:\n  - network-loss: {{node: {w1}, percent: 50}}\n  - sleep: 10m\n"
        ),
    )
    .expect("playbook");
    run.args(["run", pb.to_str().expect("utf-8")]);
    let (mut child, _) =
        crate::support::wait::spawn_until(run, "sleep 10m", Duration::from_secs(60));
    let (sent, got) = pings(c, &w1, &w2, 400);
    crate::support::wait::signal(&child, "-INT");
    let _ = child.wait();
    eprintln!("50% loss: {got} of {sent} pings answered");
    assert_eq!(sent, 400);
    assert!((150..=250).contains(&got), "{got} of {sent} answered");
    assert!(
        !root_qdisc(c, &w1).contains("c4a0:"),
        "the undo left the qdisc"
    );
}
