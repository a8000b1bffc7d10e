//! API transitions from watches: a pod a fault deletes shows Terminating, then gone, in the
//! timeline with no wait reading it (the in-memory fake, paused time); a broken watch is a gap
//! in the timeline, not a failed run; and the kube backend's watch over the in-process fake
//! API server reports a pod's deletion in steps, and carries on after the server ends its
//! watches.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kind_chaos::backends::fake::{Failure, FakeCluster};
use kind_chaos::backends::{ApiChange, FinalizerOp, PodKey, PodView, WatchScope};
use kind_chaos::engine::timeline::{WatchState, What};
use kind_chaos::engine::{self, PlaybookReport, RunOptions, RunStatus};
use support::kube::{KubeLab, pod, rref};
use support::{HEADER, Recorder, plan};
use tokio_util::sync::CancellationToken;

/// A fault deletes shop/web, then the run only sleeps: no step reads the pod.
const DELETE_THEN_SLEEP: &str = r#"
steps:
  - pod-delete: {namespace: shop, name: web}
  - sleep: 10s
"#;

fn web() -> PodKey {
    PodKey {
        namespace: "shop".into(),
        name: "web".into(),
    }
}

/// shop/web runs; a delete leaves it Terminating for 4 observations (the sleep's reality
/// samples, one a second), then it goes.
fn fake() -> FakeCluster {
    let fake = FakeCluster::kind_like("kind");
    {
        let mut s = fake.state();
        s.pods.push(PodView {
            key: web(),
            node: Some("kind-worker".into()),
            phase: "Running".into(),
            ready: true,
            ..PodView::default()
        });
        s.knobs.terminating_for = Some(4);
    }
    fake
}

async fn run(fake: FakeCluster) -> PlaybookReport {
    let p = plan(&format!("{HEADER}{DELETE_THEN_SLEEP}"));
    engine::run(
        &p,
        Arc::new(fake),
        &mut Recorder::default(),
        &CancellationToken::new(),
        &RunOptions {
            sample_every: Some(Duration::from_secs(1)),
            ..RunOptions::default()
        },
    )
    .await
}

/// The pod entries of shop/web as `present terminating`.
fn web_states(r: &PlaybookReport) -> Vec<String> {
    r.timeline
        .entries
        .iter()
        .filter_map(|e| match &e.what {
            What::Pod {
                pod,
                present,
                terminating,
                ..
            } if pod == "shop/web" => Some(format!("present={present} terminating={terminating}")),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_pod_a_fault_deletes_shows_terminating_then_gone_without_a_wait_reading_it() {
    let report = run(fake()).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    assert!(
        !report.steps.iter().any(|s| s.action == "wait"),
        "no step reads the pod"
    );
    assert_eq!(
        web_states(&report),
        [
            "present=true terminating=false",
            "present=true terminating=true",
            "present=false terminating=true",
        ],
        "{:#?}",
        report.timeline.entries
    );
    // Terminating after the fault's step started, gone during the sleep, before the end.
    let at = |pred: &dyn Fn(&What) -> bool| {
        report
            .timeline
            .entries
            .iter()
            .position(|e| pred(&e.what))
            .unwrap()
    };
    let terminating = at(&|w| {
        matches!(
            w,
            What::Pod {
                terminating: true,
                present: true,
                ..
            }
        )
    });
    let gone = at(&|w| matches!(w, What::Pod { present: false, .. }));
    let fault = at(&|w| matches!(w, What::StepStarted { action, .. } if action == "pod-delete"));
    let sleep = at(&|w| matches!(w, What::StepStarted { action, .. } if action == "sleep"));
    let end = at(&|w| matches!(w, What::RunFinished { .. }));
    assert!(fault < terminating && sleep < gone && gone < end);
}

#[tokio::test(start_paused = true)]
async fn a_broken_watch_is_a_gap_in_the_timeline_not_a_failed_run() {
    let fake = fake();
    fake.state().knobs.fail_next.push(Failure {
        op: "watch".into(),
        kind: "failed".into(),
        message: "connection reset".into(),
    });
    let report = run(fake).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let watch: Vec<WatchState> = report
        .timeline
        .entries
        .iter()
        .filter_map(|e| match &e.what {
            What::Watch { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(watch, [WatchState::Broken, WatchState::Resumed]);
    // Listed again after the gap: the deletion is still seen in steps.
    assert_eq!(
        web_states(&report).len(),
        3,
        "{:#?}",
        report.timeline.entries
    );
}

#[tokio::test(start_paused = true)]
async fn without_anything_named_in_the_api_nothing_is_watched() {
    let p = plan(&format!("{HEADER}steps:\n  - sleep: 3s\n"));
    let fake = fake();
    let report = engine::run(
        &p,
        Arc::new(fake),
        &mut Recorder::default(),
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await;
    assert!(
        !report
            .timeline
            .entries
            .iter()
            .any(|e| matches!(e.what, What::Pod { .. } | What::Node { .. })),
        "{:#?}",
        report.timeline.entries
    );
}

/// The next change of the stream within 5 s (real time: the API server is real).
async fn next(s: &mut futures::stream::BoxStream<'static, ApiChange>) -> ApiChange {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("a change within 5s")
        .expect("the stream never ends")
}

/// The next change of shop/web (skipping `Listed`).
async fn next_of_web(s: &mut futures::stream::BoxStream<'static, ApiChange>) -> ApiChange {
    loop {
        match next(s).await {
            ApiChange::Listed { .. } => {}
            c @ (ApiChange::Pod(_) | ApiChange::PodGone(_)) => return c,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_kube_watch_reports_a_pod_terminating_then_gone_and_survives_broken_watches() {
    let lab = KubeLab::start().await;
    lab.insert(support::kube::namespace("shop"));
    lab.insert(pod("shop", "web", None, &["chaos.test/hold"]));
    let scope = WatchScope {
        namespaces: ["shop".to_string()].into(),
        nodes: Default::default(),
    };
    let ops = lab.ops();
    let mut s = ops.watch(&scope);
    let mut first = Vec::new();
    // The first list: the pod, the namespace, and `Listed` for each watch.
    while first.len() < 4 {
        first.push(next(&mut s).await);
    }
    assert!(
        first.iter().any(
            |c| matches!(c, ApiChange::Pod(p) if p.key == web() && p.deletion_timestamp.is_none())
        ),
        "{first:#?}"
    );
    assert!(
        first
            .iter()
            .any(|c| matches!(c, ApiChange::Namespace(n) if n.name == "shop")),
        "{first:#?}"
    );
    let r = rref("v1", "Pod", Some("shop"), "web");
    ops.delete(&r, &Default::default()).await.unwrap();
    match next_of_web(&mut s).await {
        ApiChange::Pod(p) => assert!(p.deletion_timestamp.is_some(), "{p:?}"),
        other => panic!("expected the pod Terminating, got {other:?}"),
    }
    // The server ends every watch; the change made meanwhile is still reported.
    lab.server.break_watches();
    ops.finalizer(&r, "chaos.test/hold", FinalizerOp::Remove)
        .await
        .unwrap();
    loop {
        match next_of_web(&mut s).await {
            ApiChange::PodGone(k) => {
                assert_eq!(k, web());
                break;
            }
            // The finalizer's removal, seen before the deletion completes.
            ApiChange::Pod(p) => assert!(p.deletion_timestamp.is_some(), "{p:?}"),
            other => panic!("{other:?}"),
        }
    }
}
