//! Probes over long runs and named nodes, on the in-memory fake and paused time: 100,000
//! samples judged exactly in bounded memory, and `exec` probes naming their node by role or
//! `target-of`, resolved once by the preflight.

use std::sync::Arc;
use std::time::Duration;

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::engine::{self, RunOptions, RunStatus};
use kind_chaos::playbook::Phase;
use tokio_util::sync::CancellationToken;

use super::{run, step};
use crate::support::{HEADER, Recorder, plan};

/// A day-long game day in miniature, on paused time: 100,000 samples a second apart, the
/// kubelet stopped for 20 s in the middle. The statistics count every sample, exactly; the
/// report keeps the first and last samples and those where the probe turned, and says how
/// many it left out.
#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_samples_are_judged_exactly_and_kept_bounded() {
    let fake = FakeCluster::kind_like("kind");
    let p = plan(&format!(
        "{HEADER}{}",
        r#"
timeout: 30h
steps:
  - name: long probe
    probe:
      condition: {kubelet: {node: kind-worker, running: true}}
      interval: 1s
      during:
        - sleep: 50000500ms
        - {name: k, kubelet-stop: {node: kind-worker}}
        - sleep: 20s
        - undo: k
        - sleep: 49979000ms
      expect:
        availability: {at-least: 99.9%}
        longest-outage: {at-most: 20s}
"#
    ));
    let report = engine::run(
        &p,
        Arc::new(fake.clone()),
        &mut Recorder::default(),
        &CancellationToken::new(),
        &RunOptions {
            sample_every: None,
            ..RunOptions::default()
        },
    )
    .await;
    assert_eq!(
        report.status,
        RunStatus::Passed,
        "{:?}",
        report.steps.last().map(|s| &s.message)
    );
    let probe = step(&report, "steps[0]", Phase::Steps);
    let p = probe.probe.as_ref().expect("the probe's report");
    assert_eq!((p.stats.total, p.stats.ok), (100_000, 99_980));
    assert_eq!(p.stats.longest_outage, Duration::from_secs(20));
    assert!(!p.stats.failing_at_end);
    assert_eq!(
        probe.verdict.as_ref().map(|v| v.observed.as_str()),
        Some("availability 99.98% (99980/100000), longest outage 20s")
    );
    // Kept: the first and last 100 and the two turns; the rest counted as left out.
    assert_eq!(p.samples.len(), 202);
    assert_eq!(p.stats.samples_left_out, 100_000 - 202);
    let turns: Vec<(u64, bool)> = p
        .samples
        .iter()
        .filter(|s| s.t >= Duration::from_secs(100) && s.t < Duration::from_secs(99_900))
        .map(|s| (s.t.as_secs(), s.ok))
        .collect();
    assert_eq!(turns, [(50_001, false), (50_021, true)]);
    let json = serde_json::to_value(&report).unwrap();
    let jp = &json["steps"][json["steps"].as_array().unwrap().len() - 1]["probe"];
    assert_eq!(jp["samples_left_out"], serde_json::json!(100_000 - 202));
    assert_eq!(jp["samples"].as_array().unwrap().len(), 202);
}

/// An `exec` probe names its node as a fault does: by role and index, and `target-of` a
/// step; the preflight resolves each once, and the report lists what it chose.
#[tokio::test(start_paused = true)]
async fn exec_probes_name_their_node_by_role_or_by_the_target_of_a_step() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(
        &fake,
        r#"
steady-state:
  - exec: {node: {role: worker, index: 2}, command: ["true"]}
steps:
  - probe:
      exec: {node: {target-of: k}, command: [probe]}
      interval: 1s
      during:
        - {name: k, kubelet-stop: {node: {role: control-plane}}}
        - sleep: 1500ms
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let calls = fake.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == "exec kind-worker2 true")
            .count(),
        2,
        "the steady state before and after: {calls:?}"
    );
    assert!(
        calls.iter().any(|c| c == "exec kind-control-plane probe"),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|c| c.contains("{")), "{calls:?}");
    let resolved: Vec<(String, String)> = report
        .resolved
        .as_ref()
        .expect("resolved targets")
        .targets
        .iter()
        .map(|t| (t.target.clone(), t.node.clone()))
        .collect();
    assert!(
        resolved.contains(&("{role: worker, index: 2}".into(), "kind-worker2".into())),
        "{resolved:?}"
    );
    assert!(
        resolved.contains(&("{target-of: k}".into(), "kind-control-plane".into())),
        "{resolved:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_exec_probe_on_a_role_the_cluster_lacks_stops_the_run_before_any_fault() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(
        &fake,
        r#"
steps:
  - kubelet-stop: {node: kind-worker}
  - probe:
      exec: {node: {role: gpu}, command: ["true"]}
      during:
        - sleep: 1s
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Error, "{report:#?}");
    assert_eq!(report.steps[0].id, "preflight");
    assert!(
        report.steps[0]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("gpu"),
        "{:?}",
        report.steps[0].message
    );
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}
