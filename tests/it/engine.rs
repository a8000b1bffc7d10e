//! The engine against the in-memory fake cluster: order of events, LIFO undo on failure and on
//! interruption, teardown always, waits and timeouts on paused tokio time (no real sleeps).

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use kind_chaos::backends::fake::{Change, FakeCluster, Scheduled};
use kind_chaos::engine::{self, ErrorClass, RunOptions, RunStatus, StepStatus, UndoStatus};
use kind_chaos::exit::Exit;
use support::fake_run::{plan_in, run_fake, run_fake_with, run_plan};
use support::{HEADER, Recorder, plan};
use tokio_util::sync::CancellationToken;

/// A ConfigMap for `apply` to create (and its undo to delete).
const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: default}\n";

#[tokio::test(start_paused = true)]
async fn a_passing_run_undoes_its_fault_and_reports_each_step() {
    let fake = FakeCluster::kind_like("kind");
    fake.state().knobs.schedule.push(Scheduled {
        after: 3,
        change: Change::NodeReady {
            node: "kind-worker".into(),
            status: "Unknown".into(),
        },
    });
    let (report, events) = run_fake(
        &fake,
        r#"
steps:
  - name: break
    kubelet-stop: {node: kind-worker}
  - assert: {kubelet: {node: kind-worker, running: false}}
  - wait:
      until: {node: {name: kind-worker, ready: Unknown}}
      timeout: 1m
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    assert_eq!(
        events,
        [
            "start t",
            "step break",
            "Passed break",
            "step steps[1]",
            "Passed steps[1]",
            "step steps[2]",
            "Passed steps[2]",
            "undo 1",
            "undo Undone make the kubelet executable again on kind-worker and wait for it",
            "finish Passed",
        ]
    );
    assert_eq!(
        fake.calls(),
        ["kubelet-stop kind-worker", "kubelet-start kind-worker"]
    );
    assert!(fake.state().nodes["kind-worker"].kubelet_running);
    assert_eq!(Exit::of(&report), Exit::Passed);
}

#[tokio::test(start_paused = true)]
async fn a_failed_assertion_undoes_faults_newest_first_skips_the_rest_and_runs_teardown() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run_fake(
        &fake,
        r#"
steps:
  - node-pause: {node: kind-worker}
  - kubelet-stop: {node: kind-worker2}
  - assert: {kubelet: {node: kind-worker2, running: true}}
  - node-cordon: {node: kind-worker}
teardown:
  - exec: {node: kind-control-plane, command: [echo, teardown]}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(
        fake.calls(),
        [
            "node-pause kind-worker",
            "kubelet-stop kind-worker2",
            "kubelet-start kind-worker2",
            "node-unpause kind-worker",
            "exec kind-control-plane echo teardown",
        ]
    );
    let statuses: Vec<StepStatus> = report.steps.iter().map(|s| s.status).collect();
    use StepStatus::*;
    assert_eq!(statuses, [Passed, Passed, Failed, Skipped, Passed]);
    let failed = &report.steps[2];
    let v = failed.verdict.as_ref().unwrap();
    assert_eq!(v.expected, "kubelet running on kind-worker2");
    assert_eq!(v.observed, "kubelet not running on kind-worker2");
    assert_eq!(Exit::of(&report), Exit::AssertionFailed);
}

#[tokio::test(start_paused = true)]
async fn a_wait_times_out_on_paused_time_and_says_what_it_saw_last() {
    let fake = FakeCluster::kind_like("kind");
    let started = tokio::time::Instant::now();
    let (report, _) = run_fake(
        &fake,
        r#"
steps:
  - wait:
      until: {node: {name: kind-worker, ready: Unknown}}
      timeout: 2m
      interval: 5s
"#,
    )
    .await;
    let step = &report.steps[0];
    assert_eq!(step.status, StepStatus::Failed);
    assert_eq!(
        step.message.as_deref(),
        Some(
            "expected node kind-worker Ready=Unknown; observed node kind-worker Ready=True after 2m"
        )
    );
    // Virtual time passed: exactly the timeout, no real sleeping.
    assert_eq!(started.elapsed(), Duration::from_secs(120));
}

#[tokio::test(start_paused = true)]
async fn interruption_stops_the_wait_undoes_and_still_runs_teardown() {
    let fake = FakeCluster::kind_like("kind");
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        c2.cancel();
    });
    let yaml = r#"
steps:
  - node-pause: {node: kind-worker}
  - wait:
      until: {node: {name: kind-worker, ready: Unknown}}
      timeout: 10m
  - node-cordon: {node: kind-worker2}
teardown:
  - exec: {node: kind-control-plane, command: ["true"]}
"#;
    let (report, _) = run_fake_with(&fake, yaml, &cancel, &RunOptions::default()).await;
    assert_eq!(report.status, RunStatus::Interrupted);
    assert_eq!(report.steps[1].status, StepStatus::Interrupted);
    assert_eq!(report.steps[2].status, StepStatus::Skipped);
    assert_eq!(
        fake.calls(),
        [
            "node-pause kind-worker",
            "node-unpause kind-worker",
            "exec kind-control-plane true"
        ]
    );
    assert_eq!(fake.state().nodes["kind-worker"].container, "running");
    assert_eq!(Exit::of(&report), Exit::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn a_failed_undo_is_reported_and_means_rollback_failed() {
    let fake = FakeCluster::kind_like("kind");
    fake.fail_next("node-unpause", "failed", "container kind-worker is gone");
    let (report, _) = run_fake(
        &fake,
        "steps:\n  - node-pause: {node: kind-worker}\n  - kubelet-stop: {node: kind-worker2}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::RollbackFailed);
    let undo: Vec<(UndoStatus, &str)> = report
        .undo
        .iter()
        .map(|u| (u.status, u.description.as_str()))
        .collect();
    assert_eq!(
        undo,
        [
            (
                UndoStatus::Undone,
                "make the kubelet executable again on kind-worker2 and wait for it"
            ),
            (UndoStatus::Failed, "unpause node container kind-worker"),
        ]
    );
    assert_eq!(
        report.undo[1].message.as_deref(),
        Some("container kind-worker is gone")
    );
    assert_eq!(Exit::of(&report), Exit::RollbackFailed);
}

#[tokio::test(start_paused = true)]
async fn an_undo_that_changes_nothing_is_caught_by_an_assertion() {
    let fake = FakeCluster::kind_like("kind");
    fake.state().knobs.undo_noop = true;
    let (report, _) = run_fake(
        &fake,
        "steps:\n  - {name: k, kubelet-stop: {node: kind-worker}}\n  - undo: k\n  - assert: {kubelet: {node: kind-worker, running: true}}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    // The explicit undo ran once; nothing is left to undo at the end.
    assert_eq!(
        fake.calls(),
        ["kubelet-stop kind-worker", "kubelet-start kind-worker"]
    );
}

#[tokio::test(start_paused = true)]
async fn retain_leaves_faults_in_place_and_lists_them() {
    let fake = FakeCluster::kind_like("kind");
    let opts = RunOptions {
        retain: true,
        ..RunOptions::default()
    };
    let (report, _) = run_fake_with(
        &fake,
        "steps:\n  - node-pause: {node: kind-worker}\n",
        &CancellationToken::new(),
        &opts,
    )
    .await;
    assert_eq!(report.status, RunStatus::Retained);
    assert_eq!(fake.calls(), ["node-pause kind-worker"]);
    assert_eq!(report.retained().count(), 1);
    assert_eq!(fake.state().nodes["kind-worker"].container, "paused");
}

#[tokio::test(start_paused = true)]
async fn backends_connect_lazily_so_an_unreachable_api_does_not_matter_to_node_faults() {
    let fake = FakeCluster::kind_like("kind");
    fake.state().knobs.unavailable = vec!["kube".into()];
    let (report, _) = run_fake(&fake, "steps:\n  - kubelet-stop: {node: kind-worker}\n  - assert: {kubelet: {node: kind-worker, running: false}}\n").await;
    assert_eq!(report.status, RunStatus::Passed);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_backend_is_an_environment_error() {
    let fake = FakeCluster::kind_like("kind");
    fake.state().knobs.unavailable = vec!["nodes".into()];
    let (report, _) = run_fake(&fake, "steps:\n  - kubelet-stop: {node: kind-worker}\n").await;
    assert_eq!(report.status, RunStatus::Error);
    assert_eq!(report.error_class, Some(ErrorClass::Environment));
    assert_eq!(Exit::of(&report), Exit::Environment);
}

#[tokio::test(start_paused = true)]
async fn a_fault_that_cannot_be_carried_out_is_a_step_error_and_rolls_back() {
    let fake = FakeCluster::kind_like("kind");
    // The node is there at the preflight and gone when the fault comes (a missing node at the
    // start stops the run before any fault: see targets.rs).
    fake.fail_next(
        "kubelet-stop",
        "not-found",
        "no node `kind-worker2` any more",
    );
    let (report, _) = run_fake(
        &fake,
        "steps:\n  - node-pause: {node: kind-worker}\n  - kubelet-stop: {node: kind-worker2}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error);
    assert_eq!(report.error_class, Some(ErrorClass::Step));
    let msg = report.steps[1].message.as_deref().unwrap();
    assert!(msg.contains("no node `kind-worker2` any more"), "{msg}");
    assert_eq!(fake.calls().last().unwrap(), "node-unpause kind-worker");
    assert_eq!(Exit::of(&report), Exit::StepFailed);
}

#[tokio::test(start_paused = true)]
async fn setup_is_undone_last_and_a_setup_failure_skips_the_steps() {
    let fake = FakeCluster::kind_like("kind");
    let dir = tempfile::tempdir().unwrap();
    let p = plan_in(
        dir.path(),
        "setup:\n  - apply: m.yaml\nsteps:\n  - node-pause: {node: kind-worker}\n",
        &[("m.yaml", CONFIG_MAP)],
    );
    let (report, _) = run_plan(&p, &fake).await;
    assert_eq!(report.status, RunStatus::Passed);
    assert_eq!(
        fake.calls(),
        [
            "apply ConfigMap default/cm",
            "node-pause kind-worker",
            "node-unpause kind-worker",
            "delete ConfigMap default/cm grace=None"
        ]
    );

    let fake = FakeCluster::kind_like("kind");
    fake.fail_next("apply", "failed", "forbidden");
    let (report, _) = run_plan(&p, &fake).await;
    assert_eq!(report.status, RunStatus::Error);
    assert_eq!(report.steps[1].status, StepStatus::Skipped);
    // An apply that failed part way may have created some objects: their deletion is still owed.
    assert_eq!(fake.calls(), ["delete ConfigMap default/cm grace=None"]);
}

#[tokio::test(start_paused = true)]
async fn duration_assertions_measure_named_steps_on_the_tokio_clock() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run_fake(
        &fake,
        "steps:\n  - {name: nap, sleep: 7s}\n  - assert: {duration: {step: nap, at-least: 5s, at-most: 10s}}\n  - assert: {duration: {step: nap, at-most: 6s}}\n",
    )
    .await;
    assert_eq!(report.steps[1].status, StepStatus::Passed);
    assert_eq!(report.steps[2].status, StepStatus::Failed);
    assert_eq!(
        report.steps[2].verdict.as_ref().unwrap().observed,
        "it took 7s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_group_stops_at_its_first_failure_and_its_faults_are_undone() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run_fake(
        &fake,
        r#"
steps:
  - name: both
    group:
      - node-pause: {node: kind-worker}
      - assert: {shims: {node: kind-worker, count: 3}}
      - node-pause: {node: kind-worker2}
"#,
    )
    .await;
    let statuses: Vec<(&str, StepStatus)> = report
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("steps[0].group[0]", StepStatus::Passed),
            ("steps[0].group[1]", StepStatus::Failed),
            ("steps[0].group[2]", StepStatus::Skipped),
            ("steps[0]", StepStatus::Failed),
        ]
    );
    assert_eq!(
        fake.calls(),
        ["node-pause kind-worker", "node-unpause kind-worker"]
    );
}

#[tokio::test(start_paused = true)]
async fn the_run_timeout_bounds_the_steps() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run_fake(
        &fake,
        "timeout: 1m\nsteps:\n  - node-pause: {node: kind-worker}\n  - sleep: 5m\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error);
    assert_eq!(
        report.steps[1].message.as_deref(),
        Some("the playbook's run timeout passed")
    );
    assert_eq!(fake.state().nodes["kind-worker"].container, "running");
}

/// Records what the engine writes ahead, and what the fake's etcd held at that moment.
struct SpyLog {
    fake: FakeCluster,
    lines: Vec<String>,
}

impl engine::UndoLog for SpyLog {
    fn intent(&mut self, step: &str, record: &engine::UndoRecord) -> Result<u64, String> {
        let keys_now = self.fake.state().etcd.len();
        self.lines.push(format!(
            "intent {step} {} (etcd holds {keys_now})",
            serde_json::to_string(record).unwrap()
        ));
        Ok(self.lines.len() as u64)
    }
    fn applied(&mut self, id: u64, _: &engine::UndoRecord) {
        self.lines.push(format!("applied {id}"));
    }
    fn cancelled(&mut self, id: u64) {
        self.lines.push(format!("cancelled {id}"));
    }
    fn undone(&mut self, id: u64) {
        self.lines.push(format!("undone {id}"));
    }
    fn undo_failed(&mut self, id: u64, m: &str) {
        self.lines.push(format!("undo-failed {id} {m}"));
    }
}

#[tokio::test(start_paused = true)]
async fn etcd_values_are_journaled_before_the_delete_and_a_rewritten_key_is_left_alone() {
    let fake = FakeCluster::kind_like("kind");
    {
        let mut s = fake.state();
        s.etcd.insert("/registry/pods/default/a".into(), "A".into());
        s.etcd.insert("/registry/pods/default/b".into(), "B".into());
        s.etcd.insert("/registry/pods/other/c".into(), "C".into());
        // Something writes `a` again while the fault is in place.
        s.knobs.schedule.push(Scheduled {
            after: 1,
            change: Change::EtcdPut {
                key: "/registry/pods/default/a".into(),
                value: "A2".into(),
            },
        });
    }
    let p = plan(&format!(
        "{HEADER}steps:\n  - etcd-delete: {{prefix: /registry/pods/default/}}\n  - assert: {{etcd-key: {{prefix: /registry/pods/default/, count: 1}}}}\n"
    ));
    let mut log = SpyLog {
        fake: fake.clone(),
        lines: Vec::new(),
    };
    let report = engine::run_journaled(
        &p,
        Arc::new(fake.clone()),
        &mut Recorder::default(),
        &mut log,
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    // Written ahead while all three keys were still there, with both values of the prefix.
    assert!(
        log.lines[0].starts_with("intent steps[0]"),
        "{:?}",
        log.lines
    );
    assert!(log.lines[0].ends_with("(etcd holds 3)"), "{:?}", log.lines);
    assert_eq!(
        log.lines[0].matches("\"key\"").count(),
        2,
        "{:?}",
        log.lines
    );
    assert_eq!(log.lines[1..], ["applied 1", "undone 1"]);
    let s = fake.state();
    assert_eq!(
        s.etcd["/registry/pods/default/a"], "A2",
        "the newer value must not be clobbered"
    );
    assert_eq!(s.etcd["/registry/pods/default/b"], "B");
    assert_eq!(report.undo[0].status, UndoStatus::Undone);
    assert_eq!(
        report.undo[0].message.as_deref(),
        Some(
            "1 key(s) were written again since and were left as they are: /registry/pods/default/a"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_api_at_the_first_apply_owes_no_undo() {
    let fake = FakeCluster::kind_like("kind");
    fake.state().knobs.unavailable = vec!["kube".into()];
    let dir = tempfile::tempdir().unwrap();
    let p = plan_in(
        dir.path(),
        "setup:\n  - apply: m.yaml\nsteps:\n  - sleep: 1s\n",
        &[(
            "m.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
        )],
    );
    let (report, _) = run_plan(&p, &fake).await;
    assert_eq!(report.error_class, Some(ErrorClass::Environment));
    assert!(report.undo.is_empty(), "{:?}", report.undo);
    assert_eq!(Exit::of(&report), Exit::Environment);
}

/// An applied object whose delete answers 404 while a read still finds it (a server cache that
/// has not yet seen an etcd value an earlier undo restored) is deleted again, not reported
/// undone while stored; if it keeps answering so, the undo fails and says why.
#[tokio::test(start_paused = true)]
async fn a_404_delete_of_an_object_still_stored_is_retried_then_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan_in(
        dir.path(),
        "setup:\n  - apply: m.yaml\nsteps:\n  - sleep: 1s\n",
        &[("m.yaml", CONFIG_MAP)],
    );
    for (stale, status) in [(1, RunStatus::Passed), (5, RunStatus::RollbackFailed)] {
        let fake = FakeCluster::kind_like("kind");
        for _ in 0..stale {
            fake.fail_next("delete", "not-found", "ConfigMap default/cm not found");
        }
        let (report, _) = run_plan(&p, &fake).await;
        assert_eq!(report.status, status, "{stale} stale answer(s)");
        let stored = fake
            .calls()
            .iter()
            .filter(|c| c.starts_with("delete ConfigMap default/cm"))
            .count();
        if status == RunStatus::Passed {
            assert_eq!(
                stored,
                1,
                "the second delete went through: {:?}",
                fake.calls()
            );
            assert_eq!(report.undo[0].status, UndoStatus::Undone);
        } else {
            assert_eq!(stored, 0, "{:?}", fake.calls());
            let msg = report.undo[0].message.as_deref().unwrap_or_default();
            assert!(msg.contains("yet it is still stored"), "{msg}");
        }
    }
}
