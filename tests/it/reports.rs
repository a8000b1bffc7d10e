//! The human, JSON and JUnit renderings of one run (a passing step, a failed assertion, a
//! skipped step, a failed undo), pinned by snapshots with durations redacted; and how failed,
//! retried, owed and interrupted undos are counted; the summary table at 60 columns; the
//! progress in colour and in ASCII (`report::style`).

use crate::support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kind_chaos::backends::fake::{Failure, FakeCluster};
use kind_chaos::engine::{self, PlaybookReport, RunOptions, RunStatus, UndoResult, UndoStatus};
use kind_chaos::exit::Exit;
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
        ..RunOptions::default()
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
    // Wall-clock times: when each step that ran started, when each undo finished.
    assert_eq!(
        v["playbooks"][0]["steps"][0]["started_at"],
        "2026-11-18T11:06:40.000Z"
    );
    assert!(
        v["playbooks"][0]["steps"][3].get("started_at").is_none(),
        "skipped"
    );
    assert_eq!(
        v["playbooks"][0]["undo"][1]["at"],
        "2026-11-18T11:06:40.000Z"
    );
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

fn report_with(undo: &[(&str, UndoStatus)], status: RunStatus) -> PlaybookReport {
    PlaybookReport {
        name: "t".into(),
        file: "t.yaml".into(),
        started_at: "2026-11-18T11:06:40Z".into(),
        duration: Duration::from_secs(1),
        status,
        error_class: None,
        vars: Default::default(),
        steps: Vec::new(),
        undo: undo
            .iter()
            .map(|(step, status)| UndoResult {
                step: step.to_string(),
                description: format!("undo {step}"),
                at: None,
                status: *status,
                message: None,
            })
            .collect(),
        resolved: None,
        timeline: Default::default(),
    }
}

#[test]
fn an_undo_that_failed_and_was_retried_successfully_is_not_a_failed_rollback() {
    use UndoStatus::*;
    let made_good = report_with(
        &[("steps[0]", Failed), ("steps[0]", Undone)],
        RunStatus::Error,
    );
    assert!(!made_good.rollback_failed());
    assert_eq!(Exit::of(&made_good), Exit::StepFailed);
    let xml = junit::render(&[made_good]).unwrap();
    assert!(!xml.contains("rollback-failed"), "{xml}");

    let still_failed = report_with(
        &[("steps[1]", Failed), ("steps[0]", Undone)],
        RunStatus::Passed,
    );
    assert!(still_failed.rollback_failed());
    assert_eq!(Exit::of(&still_failed), Exit::RollbackFailed);
}

#[test]
fn an_interrupted_run_and_an_owed_undo_are_junit_errors() {
    let r = report_with(&[("steps[0]", UndoStatus::Owed)], RunStatus::Interrupted);
    let xml = junit::render(&[r]).unwrap();
    assert!(xml.contains("type=\"interrupted\""), "{xml}");
    assert!(xml.contains("type=\"not-undone\""), "{xml}");
    assert!(xml.contains("errors=\"2\""), "{xml}");
}

#[test]
fn the_summary_escapes_control_bytes_in_names() {
    let mut r = report_with(&[], RunStatus::Passed);
    r.name = "evil\x1b]0;pwned\x07".into();
    let table = summary_table(&[r]);
    assert!(table.contains("evil\\x1b]0;pwned\\x07"), "{table}");
    assert!(!table.contains('\x1b'), "{table}");
}

#[tokio::test(start_paused = true)]
async fn the_summary_table_fits_sixty_columns() {
    let report = one_run(SharedBuf::default()).await;
    let table = kind_chaos::report::summary_table_width(&[report], Some(60));
    for line in table.lines() {
        assert!(
            line.chars().count() <= 60,
            "{line:?} is wider than 60:\n{table}"
        );
    }
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d+(\.\d+)?(ms|s|m)\b", "[dur]");
    settings.bind(|| insta::assert_snapshot!(table));
}

/// The progress of [`one_run`] in a style, its colours shown as `<green>...</>`.
async fn styled_run(style: kind_chaos::report::style::Style) -> String {
    let out = SharedBuf::default();
    let fake = FakeCluster::kind_like("kind");
    fake.state().knobs.fail_next.push(Failure {
        op: "node-unpause".into(),
        kind: "failed".into(),
        message: "No such container: kind-worker".into(),
    });
    let mut human = Human::new(Box::new(out.clone()), false).with_style(style);
    let opts = RunOptions {
        retain: false,
        clock: Arc::new(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
        ..RunOptions::default()
    };
    let p = plan(&format!("{HEADER}{PLAYBOOK}"));
    engine::run(
        &p,
        Arc::new(fake),
        &mut human,
        &CancellationToken::new(),
        &opts,
    )
    .await;
    out.text()
        .replace("\x1b[32m", "<green>")
        .replace("\x1b[31m", "<red>")
        .replace("\x1b[33m", "<yellow>")
        .replace("\x1b[0m", "</>")
}

#[tokio::test(start_paused = true)]
async fn human_output_in_colour() {
    use kind_chaos::report::style::Style;
    let text = styled_run(Style {
        color: true,
        ascii: false,
    })
    .await;
    assert!(text.contains("<green>✔</> pause-worker"), "{text}");
    assert!(text.contains("<red>✘</> waits-for-nothing"), "{text}");
    // Without colour (NO_COLOR, a pipe) the same lines carry no escape at all.
    let plain = styled_run(Style {
        color: false,
        ascii: false,
    })
    .await;
    assert!(!plain.contains(['\x1b', '<']), "{plain}");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d+(\.\d+)?(ms|s|m)\b", "[dur]");
    settings.bind(|| insta::assert_snapshot!(text));
}

#[tokio::test(start_paused = true)]
async fn human_output_on_a_dumb_terminal_is_ascii() {
    use kind_chaos::report::style::Style;
    let text = styled_run(Style {
        color: false,
        ascii: true,
    })
    .await;
    assert!(text.is_ascii(), "{text}");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d+(\.\d+)?(ms|s|m)\b", "[dur]");
    settings.bind(|| insta::assert_snapshot!(text));
}
