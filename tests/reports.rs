//! The human, JSON and JUnit renderings of one run (a passing step, a failed assertion, a
//! skipped step, a failed undo), pinned by snapshots with durations redacted.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kind_chaos::backends::fake::{Failure, FakeCluster};
use kind_chaos::engine::{self, PlaybookReport, RunOptions};
use kind_chaos::report::{human::Human, json, junit, summary_table};
use support::{HEADER, SharedBuf, plan};
use tokio_util::sync::CancellationToken;

const PLAYBOOK: &str = r#"
steps:
  - name: pause-worker
    node-pause: {node: kind-worker}
  - name: break-kubelet
    kubelet-stop: {node: kind-worker2}
  - name: waits-for-nothing
    wait:
      until: {kubelet: {node: kind-worker2, running: true}}
      timeout: 45s
      interval: 10s
  - node-cordon: {node: kind-worker}
teardown:
  - exec: {node: kind-control-plane, command: ["true"]}
"#;

async fn one_run(out: SharedBuf) -> PlaybookReport {
    let fake = FakeCluster::kind_like("kind");
    fake.state().knobs.fail_next.push(Failure {
        op: "node-unpause".into(),
        kind: "failed".into(),
        message: "No such container: kind-worker".into(),
    });
    let p = plan(&format!("{HEADER}{PLAYBOOK}"));
    let mut human = Human::new(Box::new(out), false);
    let opts = RunOptions {
        retain: false,
        clock: Arc::new(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
    };
    engine::run(
        &p,
        Arc::new(fake),
        &mut human,
        &CancellationToken::new(),
        &opts,
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn human_output() {
    let out = SharedBuf::default();
    let report = one_run(out.clone()).await;
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d+(\.\d+)?(ms|s|m)\b", "[dur]");
    settings.bind(|| {
        insta::assert_snapshot!(format!("{}\n{}", out.text(), summary_table(&[report])));
    });
}

#[tokio::test(start_paused = true)]
async fn json_report() {
    let report = one_run(SharedBuf::default()).await;
    let text = json::render(&[report], 5).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], json::SCHEMA);
    assert_eq!(v["exit_code"], 5);
    assert_eq!(
        v["playbooks"][0]["steps"][2]["verdict"]["expected"],
        "kubelet running on kind-worker2"
    );
    assert_eq!(v["playbooks"][0]["undo"][1]["status"], "failed");
    // A failed rollback is the run's status, whatever the steps did.
    assert_eq!(v["playbooks"][0]["status"], "rollback-failed");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r#""duration": \d+(\.\d+)?"#, r#""duration": "[dur]""#);
    settings.add_filter(
        r#""tool_version": "[^"]+""#,
        r#""tool_version": "[version]""#,
    );
    settings.bind(|| insta::assert_snapshot!(text));
}

#[tokio::test(start_paused = true)]
async fn junit_report() {
    let report = one_run(SharedBuf::default()).await;
    let text = junit::render(&[report]).unwrap();
    assert!(text.contains("<failure"), "{text}");
    assert!(
        text.contains(
            "ROLLBACK FAILED, the cluster may be left faulted: No such container: kind-worker"
        ),
        "{text}"
    );
    assert!(text.contains("type=\"rollback-failed\""), "{text}");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r#"time="[0-9.]+""#, r#"time="[dur]""#);
    settings.add_filter(r"\b\d+(\.\d+)?(ms|s|m)\b", "[dur]");
    settings.bind(|| insta::assert_snapshot!(text));
}
