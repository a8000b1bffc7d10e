//! The network faults through the engine against the in-memory fake cluster: which peers a
//! partition names for each `from`, that the undo removes exactly the chain it journaled, that
//! a partition failing part way is still undone, that a shaping is taken back; and the CPU
//! hog, the other fault inside a node container, stopped by the marker it started with.

use crate::support;

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::engine::{PlaybookReport, RunStatus};
use support::fake_run::run_fake;

async fn run(fake: &FakeCluster, yaml: &str) -> PlaybookReport {
    run_fake(fake, yaml).await.0
}

/// The calls the fake recorded that touch the network.
fn network_calls(fake: &FakeCluster) -> Vec<String> {
    fake.calls()
        .into_iter()
        .filter(|c| c.starts_with("network-"))
        .collect()
}

/// No `network-partition` call was made.
fn assert_nothing_partitioned(fake: &FakeCluster) {
    assert!(
        !network_calls(fake)
            .iter()
            .any(|c| c.starts_with("network-partition")),
        "{:?}",
        fake.calls()
    );
}

/// The chain a `network-partition X` call named.
fn chain_of(call: &str) -> String {
    call.split(' ').nth(2).expect("a chain").to_string()
}

#[tokio::test(start_paused = true)]
async fn each_from_names_its_peers_and_the_undo_removes_that_chain() {
    for (from, peers) in [
        ("control-plane", "kind-control-plane"),
        ("etcd", "kind-control-plane"),
        ("all", "kind-control-plane,kind-worker2"),
        ("{nodes: [kind-worker2]}", "kind-worker2"),
    ] {
        let fake = FakeCluster::kind_like("kind");
        let report = run(
            &fake,
            &format!(
                "steps:\n  - network-partition: {{node: kind-worker, from: {from}, direction: out}}\n  - assert: {{kubelet: {{node: kind-worker, running: true}}}}\n"
            ),
        )
        .await;
        assert_eq!(report.status, RunStatus::Passed, "{from}: {report:#?}");
        let calls = network_calls(&fake);
        assert_eq!(calls.len(), 2, "{from}: {calls:?}");
        let chain = chain_of(&calls[0]);
        assert!(
            chain.starts_with("KIND-CHAOS-") && chain.len() <= 28,
            "{chain}"
        );
        assert_eq!(
            calls[0],
            format!("network-partition kind-worker {chain} out {peers}"),
            "{from}"
        );
        assert_eq!(calls[1], format!("network-heal kind-worker {chain}"));
        assert!(fake.state().nodes["kind-worker"].chains.is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn a_partition_that_fails_part_way_is_still_healed() {
    let fake = FakeCluster::kind_like("kind");
    fake.fail_next("network-partition", "failed", "iptables: rule 2 refused");
    let report = run(
        &fake,
        "steps:\n  - network-partition: {node: kind-worker, from: control-plane}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error, "{report:#?}");
    let calls = network_calls(&fake);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("network-heal kind-worker KIND-CHAOS-"),
        "{calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_partition_from_the_control_plane_of_the_control_plane_fails_with_nothing_done() {
    let fake = FakeCluster::kind_like("kind");
    let report = run(
        &fake,
        "steps:\n  - network-partition: {node: kind-control-plane, from: control-plane}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error, "{report:#?}");
    let text = format!("{report:?}");
    assert!(
        text.contains("nothing to partition node `kind-control-plane` from"),
        "{text}"
    );
    // Nothing was partitioned; the journaled heal may run and finds nothing to remove.
    assert!(fake.state().nodes["kind-control-plane"].chains.is_empty());
    assert_nothing_partitioned(&fake);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_peer_is_not_found_before_anything_is_changed() {
    let fake = FakeCluster::kind_like("kind");
    let report = run(
        &fake,
        "steps:\n  - network-partition: {node: kind-worker, from: {nodes: [kind-worker9]}}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error, "{report:#?}");
    assert!(format!("{report:?}").contains("no node `kind-worker9`"));
    assert_nothing_partitioned(&fake);
}

#[tokio::test(start_paused = true)]
async fn a_shaping_is_taken_back_at_the_end() {
    for (step, shaped) in [
        (
            "network-delay: {node: kind-worker, delay: 200ms, jitter: 10ms, to: [kind-worker2]}",
            "Delay { delay_us: 200000, jitter_us: 10000 } kind-worker2",
        ),
        (
            "network-loss: {node: kind-worker, percent: 50}",
            "Loss { percent: 50 } ",
        ),
        (
            "network-bandwidth: {node: kind-worker, rate-kbit: 512}",
            "Bandwidth { rate_kbit: 512 } ",
        ),
    ] {
        let fake = FakeCluster::kind_like("kind");
        let report = run(
            &fake,
            &format!(
                "steps:\n  - {step}\n  - assert: {{kubelet: {{node: kind-worker, running: true}}}}\n"
            ),
        )
        .await;
        assert_eq!(report.status, RunStatus::Passed, "{step}: {report:#?}");
        assert_eq!(
            network_calls(&fake),
            [
                format!("network-shape kind-worker {shaped}"),
                "network-unshape kind-worker".to_string()
            ],
            "{step}"
        );
        assert!(fake.state().nodes["kind-worker"].shaping.is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn a_cpu_hog_is_stopped_at_the_end_by_the_marker_it_started_with() {
    let fake = FakeCluster::kind_like("kind");
    let report = run(
        &fake,
        "steps:\n  - cpu-hog: {node: kind-worker, cores: 2, duration: 90s}\n  - assert: {kubelet: {node: kind-worker, running: true}}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let calls: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("cpu-"))
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let marker = calls[0].split(' ').nth(2).expect("a marker").to_string();
    assert!(marker.starts_with("kind-chaos-hog-"), "{marker}");
    assert_eq!(calls[0], format!("cpu-hog kind-worker {marker} 2 90s"));
    assert_eq!(calls[1], format!("cpu-unhog kind-worker {marker}"));
    assert!(fake.state().nodes["kind-worker"].hogs.is_empty());
}
