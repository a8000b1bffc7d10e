//! `for:`, `parallel:` and `repeat:` in the engine against the in-memory fake cluster, on
//! paused tokio time: a held fault is undone when its time is up, parallel branches overlap
//! and a failing one loses nobody's results or undo, a repeat runs its iterations on time with
//! unique ids and names.

use std::sync::Arc;
use std::time::Duration;

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::engine::{self, PlaybookReport, RunOptions, RunStatus, StepStatus, UndoStatus};
use tokio_util::sync::CancellationToken;

use crate::support::{HEADER, Recorder, plan};

async fn run(fake: &FakeCluster, yaml: &str) -> (PlaybookReport, Vec<String>) {
    let p = plan(&format!("{HEADER}{yaml}"));
    let mut rec = Recorder::default();
    let report = engine::run(
        &p,
        Arc::new(fake.clone()),
        &mut rec,
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await;
    (report, rec.lines)
}

#[tokio::test(start_paused = true)]
async fn a_fault_with_for_is_undone_when_its_time_is_up_before_the_next_step() {
    let fake = FakeCluster::kind_like("kind");
    let t0 = tokio::time::Instant::now();
    let (report, events) = run(
        &fake,
        r#"
steps:
  - name: stop
    kubelet-stop: {node: kind-worker}
    for: 30s
  - assert: {kubelet: {node: kind-worker, running: true}}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    assert_eq!(report.steps[0].duration, Duration::from_secs(30));
    assert_eq!(
        report.steps[0].undo.as_deref(),
        Some("make the kubelet executable again on kind-worker and wait for it")
    );
    assert_eq!(
        events,
        [
            "start t",
            "step stop",
            "undo 1",
            "undo Undone make the kubelet executable again on kind-worker and wait for it",
            "Passed stop",
            "step steps[1]",
            "Passed steps[1]",
            "finish Passed",
        ]
    );
    assert_eq!(
        fake.calls(),
        ["kubelet-stop kind-worker", "kubelet-start kind-worker"]
    );
    assert_eq!(report.undo.len(), 1, "undone once, not again at the end");
}

#[tokio::test(start_paused = true)]
async fn a_held_fault_cut_short_by_a_failing_run_timeout_is_still_undone_once() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(
        &fake,
        r#"
timeout: 10s
steps:
  - node-pause: {node: kind-worker}
    for: 1m
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Error, "{report:#?}");
    assert_eq!(report.steps[0].status, StepStatus::Error);
    assert_eq!(
        fake.calls(),
        ["node-pause kind-worker", "node-unpause kind-worker"]
    );
    let undone: Vec<UndoStatus> = report.undo.iter().map(|u| u.status).collect();
    assert_eq!(undone, [UndoStatus::Undone]);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_hold_leaves_the_fault_to_the_final_unwind_which_undoes_it_once() {
    let fake = FakeCluster::kind_like("kind");
    let p = plan(&format!(
        "{HEADER}steps:\n  - name: paused\n    node-pause: {{node: kind-worker}}\n    for: 10m\n"
    ));
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        c2.cancel();
    });
    let t0 = tokio::time::Instant::now();
    let mut rec = Recorder::default();
    let report = engine::run(
        &p,
        Arc::new(fake.clone()),
        &mut rec,
        &cancel,
        &RunOptions::default(),
    )
    .await;
    assert_eq!(report.status, RunStatus::Interrupted, "{report:#?}");
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    assert_eq!(report.steps[0].status, StepStatus::Interrupted);
    assert_eq!(
        fake.calls(),
        ["node-pause kind-worker", "node-unpause kind-worker"]
    );
    let undone: Vec<(&str, UndoStatus)> = report
        .undo
        .iter()
        .map(|u| (u.step.as_str(), u.status))
        .collect();
    assert_eq!(undone, [("steps[0]", UndoStatus::Undone)]);
}

#[tokio::test(start_paused = true)]
async fn parallel_branches_overlap_and_a_failing_one_loses_no_result_or_undo() {
    let fake = FakeCluster::kind_like("kind");
    let t0 = tokio::time::Instant::now();
    let (report, _) = run(
        &fake,
        r#"
steps:
  - name: both
    parallel:
      - {name: cordon, node-cordon: {node: kind-worker}}
      - {name: pause, node-pause: {node: kind-worker2}, for: 10s}
      - {name: wrong, assert: {kubelet: {node: kind-worker, running: false}}}
      - {name: nap, sleep: 10s}
  - name: after
    sleep: 1s
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed, "{report:#?}");
    // The branches ran at the same time: 10s, not 20s; the step after was skipped.
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
    let got: Vec<(&str, StepStatus)> = report.steps.iter().map(|s| (s.label(), s.status)).collect();
    use StepStatus::*;
    assert_eq!(
        got,
        [
            ("cordon", Passed),
            ("pause", Passed),
            ("wrong", Failed),
            ("nap", Passed),
            ("both", Failed),
            ("after", Skipped),
        ]
    );
    let ids: Vec<&str> = report.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids[..2], ["steps[0].parallel[0]", "steps[0].parallel[1]"]);
    let v = report.steps[4].verdict.as_ref().unwrap();
    assert_eq!(v.observed, "1 of 4 branches did not pass: wrong");
    // The held pause was undone by its step; the cordon by the unwind, after the failure.
    let calls = fake.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(
        calls[..2].contains(&"cordon kind-worker".to_string()),
        "{calls:?}"
    );
    assert!(
        calls[..2].contains(&"node-pause kind-worker2".to_string()),
        "{calls:?}"
    );
    assert_eq!(
        calls[2..],
        ["node-unpause kind-worker2", "uncordon kind-worker"]
    );
    assert!(report.undo.iter().all(|u| u.status == UndoStatus::Undone));
    assert!(!fake.state().nodes["kind-worker"].unschedulable);
}

#[tokio::test(start_paused = true)]
async fn repeat_runs_each_iteration_on_time_with_unique_ids_and_names() {
    let fake = FakeCluster::kind_like("kind");
    let t0 = tokio::time::Instant::now();
    let (report, _) = run(
        &fake,
        r#"
steps:
  - name: flapping
    repeat:
      times: 3
      every: 10s
      steps:
        - {name: flap, node-pause: {node: kind-worker}, for: 2s}
        - assert: {duration: {step: flap, at-most: 3s}}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    // Iterations start at 0s, 10s and 20s; the last one lasts its 2s.
    assert_eq!(t0.elapsed(), Duration::from_secs(22));
    let labels: Vec<&str> = report.steps.iter().map(|s| s.label()).collect();
    assert_eq!(
        labels,
        [
            "flap#1",
            "steps[0].repeat#1[1]",
            "flap#2",
            "steps[0].repeat#2[1]",
            "flap#3",
            "steps[0].repeat#3[1]",
            "flapping",
        ]
    );
    assert_eq!(report.steps[0].id, "steps[0].repeat#1[0]");
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| *c == "node-pause kind-worker")
            .count(),
        3
    );
    assert_eq!(report.undo.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failing_iteration_stops_the_repeat_and_its_fault_is_still_undone() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(
        &fake,
        r#"
steps:
  - repeat:
      times: 5
      steps:
        - node-cordon: {node: kind-worker}
        - assert: {kubelet: {node: kind-worker, running: false}}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed, "{report:#?}");
    assert_eq!(fake.calls(), ["cordon kind-worker", "uncordon kind-worker"]);
    let last = report.steps.last().unwrap();
    assert_eq!(
        last.verdict.as_ref().unwrap().observed,
        "iteration 1 did not pass"
    );
}
