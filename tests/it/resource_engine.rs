//! The memory hog and the disk fill through the engine against the in-memory fake cluster:
//! each is freed at the end by the marker it was started with, the undo says what the node
//! reported it held and what was freed, a fill that fails is still freed (the node may have
//! written part of it), and shares are taken of what the node reports.

use crate::support;

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::engine::{PlaybookReport, RunStatus, UndoStatus};
use support::fake_run::run_fake;

async fn run(fake: &FakeCluster, yaml: &str) -> PlaybookReport {
    run_fake(fake, yaml).await.0
}

/// The calls the fake recorded that fill or free.
fn fill_calls(fake: &FakeCluster) -> Vec<String> {
    fake.calls()
        .into_iter()
        .filter(|c| c.starts_with("fill ") || c.starts_with("unfill "))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_memory_hog_and_a_disk_fill_are_freed_at_the_end_by_their_markers() {
    let fake = FakeCluster::kind_like("kind");
    let report = run(
        &fake,
        "steps:\n  - memory-hog: {node: kind-worker, size: 256Mi, duration: 90s}\n  - disk-fill: {node: kind-worker, size: 25%, duration: 2m}\n  - assert: {kubelet: {node: kind-worker, running: true}}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let calls = fill_calls(&fake);
    assert_eq!(calls.len(), 4, "{calls:?}");
    let marker = |call: &str| call.split(' ').nth(2).expect("a marker").to_string();
    let (mem, disk) = (marker(&calls[0]), marker(&calls[1]));
    assert!(mem.starts_with("kind-chaos-mem-"), "{mem}");
    assert!(disk.starts_with("kind-chaos-disk-"), "{disk}");
    assert_eq!(calls[0], format!("fill kind-worker {mem} 256Mi 90s"));
    assert_eq!(calls[1], format!("fill kind-worker {disk} 25% 120s"));
    // Newest first.
    assert_eq!(calls[2], format!("unfill kind-worker {disk}"));
    assert_eq!(calls[3], format!("unfill kind-worker {mem}"));
    assert!(fake.state().nodes["kind-worker"].fills.is_empty());
    // The undo says what the node held (a quarter of the fake's 8 GiB, rounded down to a
    // whole number of bytes by the hundredth: 2147483625) and freed.
    let undo: Vec<(String, Option<String>)> = report
        .undo
        .iter()
        .map(|u| (u.description.clone(), u.message.clone()))
        .collect();
    assert_eq!(
        undo,
        [
            (
                format!(
                    "remove the disk fill /var/lib/containerd/{disk} (~2.0Gi (2147483625 bytes) held) in node kind-worker"
                ),
                Some("freed ~2.0Gi (2147483625 bytes)".to_string())
            ),
            (
                format!(
                    "unmount the memory hog's tmpfs /run/{mem} (256Mi held) in node kind-worker"
                ),
                Some("freed 256Mi".to_string())
            ),
        ]
    );
    assert!(report.undo.iter().all(|u| u.status == UndoStatus::Undone));
}

#[tokio::test(start_paused = true)]
async fn a_fill_that_fails_is_still_freed() {
    let fake = FakeCluster::kind_like("kind");
    fake.fail_next("fill", "failed", "could not fill: No space left on device");
    let report = run(
        &fake,
        "steps:\n  - disk-fill: {node: kind-worker, size: 1G, duration: 1m}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error, "{report:#?}");
    let calls = fill_calls(&fake);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("unfill kind-worker kind-chaos-disk-"),
        "{calls:?}"
    );
    assert_eq!(report.undo.len(), 1, "{report:#?}");
    assert_eq!(report.undo[0].status, UndoStatus::Undone);
}

#[tokio::test(start_paused = true)]
async fn the_same_fill_twice_on_a_node_is_refused_while_the_first_holds() {
    let fake = FakeCluster::kind_like("kind");
    let report = run(
        &fake,
        "steps:\n  - memory-hog: {node: kind-worker, size: 1Gi, duration: 1m}\n  - memory-hog: {node: kind-worker, size: 1Gi, duration: 1m}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error, "{report:#?}");
    assert!(fake.state().nodes["kind-worker"].fills.is_empty());
}
