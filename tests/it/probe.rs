//! The steady state and probes against the in-memory fake cluster: nothing is injected when
//! the steady state does not hold, "did not recover" after the undo, probes sampling on paused
//! time (their statistics exact), stopping with a failing step and on Ctrl-C, and an HTTP probe
//! against a local server that is stopped and started while the probe runs.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::engine::{
    self, PlaybookReport, RunOptions, RunStatus, StepResult, StepStatus, UndoStatus,
};
use kind_chaos::exit::Exit;
use kind_chaos::playbook::Phase;
use support::{HEADER, Recorder, plan};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;

async fn run_cancel(
    fake: &FakeCluster,
    yaml: &str,
    cancel: &CancellationToken,
) -> (PlaybookReport, Vec<String>) {
    let p = plan(&format!("{HEADER}{yaml}"));
    let mut rec = Recorder::default();
    let report = engine::run(
        &p,
        Arc::new(fake.clone()),
        &mut rec,
        cancel,
        &RunOptions::default(),
    )
    .await;
    (report, rec.lines)
}

async fn run(fake: &FakeCluster, yaml: &str) -> (PlaybookReport, Vec<String>) {
    run_cancel(fake, yaml, &CancellationToken::new()).await
}

fn step<'r>(report: &'r PlaybookReport, id: &str, phase: Phase) -> &'r StepResult {
    report
        .steps
        .iter()
        .find(|s| s.id == id && s.phase == phase)
        .unwrap_or_else(|| panic!("no step {id} in {phase:?}: {report:#?}"))
}

#[tokio::test(start_paused = true)]
async fn a_steady_state_that_does_not_hold_injects_nothing_and_still_tears_down() {
    let fake = FakeCluster::kind_like("kind");
    let (report, events) = run(
        &fake,
        r#"
steady-state:
  - condition: {kubelet: {node: kind-worker, running: false}}
  - condition: {kubelet: {node: kind-worker2, running: true}}
steps:
  - kubelet-stop: {node: kind-worker}
  - node-pause: {node: kind-worker2}
teardown:
  - exec: {node: kind-worker, command: [echo, teardown]}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::NotSteady, "{report:#?}");
    assert_eq!(Exit::of(&report), Exit::AssertionFailed);
    // Nothing of `steps` touched the cluster; teardown ran.
    assert_eq!(fake.calls(), ["exec kind-worker echo teardown"]);
    let failed = step(&report, "steady-state[0]", Phase::SteadyBefore);
    assert_eq!(failed.status, StepStatus::Failed);
    assert_eq!(failed.action, "steady-state");
    let v = failed.verdict.as_ref().expect("a verdict");
    assert_eq!(v.expected, "kubelet not running on kind-worker");
    assert_eq!(
        failed.message.as_deref(),
        Some(
            format!(
                "not steady before the faults: expected {}; observed {}",
                v.expected, v.observed
            )
            .as_str()
        )
    );
    // Every item is checked, not only up to the first that fails.
    assert_eq!(
        step(&report, "steady-state[1]", Phase::SteadyBefore).status,
        StepStatus::Passed
    );
    for id in ["steps[0]", "steps[1]"] {
        let s = step(&report, id, Phase::Steps);
        assert_eq!(s.status, StepStatus::Skipped);
        assert_eq!(
            s.message.as_deref(),
            Some("skipped: the steady state did not hold")
        );
    }
    // No second check after the (absent) faults.
    assert!(report.steps.iter().all(|s| s.phase != Phase::SteadyAfter));
    assert_eq!(events.last().map(String::as_str), Some("finish NotSteady"));
}

#[tokio::test(start_paused = true)]
async fn a_steady_state_that_holds_again_after_the_undo_passes() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(
        &fake,
        r#"
steady-state:
  - condition: {kubelet: {node: kind-worker, running: true}}
steps:
  - kubelet-stop: {node: kind-worker}
  - assert: {kubelet: {node: kind-worker, running: false}}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    for phase in [Phase::SteadyBefore, Phase::SteadyAfter] {
        assert_eq!(
            step(&report, "steady-state[0]", phase).status,
            StepStatus::Passed
        );
    }
    // The second check comes after the undo.
    assert_eq!(
        fake.calls(),
        ["kubelet-stop kind-worker", "kubelet-start kind-worker"]
    );
    let order: Vec<&str> = report.steps.iter().map(|s| s.phase.as_str()).collect();
    assert_eq!(order, ["steady-before", "steps", "steps", "steady-after"]);
}

#[tokio::test(start_paused = true)]
async fn a_system_that_does_not_recover_after_the_undo_fails_with_what_was_seen() {
    let fake = FakeCluster::kind_like("kind");
    // The undo "succeeds" but changes nothing: the kubelet stays down.
    fake.state().knobs.undo_noop = true;
    let (report, _) = run(
        &fake,
        r#"
steady-state:
  - condition: {kubelet: {node: kind-worker, running: true}}
steps:
  - kubelet-stop: {node: kind-worker}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed, "{report:#?}");
    assert_eq!(Exit::of(&report), Exit::AssertionFailed);
    assert_eq!(report.undo[0].status, UndoStatus::Undone);
    let after = step(&report, "steady-state[0]", Phase::SteadyAfter);
    assert_eq!(after.status, StepStatus::Failed);
    let v = after.verdict.as_ref().expect("a verdict");
    assert_eq!(v.expected, "kubelet running on kind-worker");
    assert!(v.observed.contains("not running"), "{v:?}");
    assert!(
        after.message.as_deref().is_some_and(|m| m
            .starts_with("did not recover: expected kubelet running on kind-worker; observed ")),
        "{after:#?}"
    );
}

/// A probe of the kubelet on paused time: samples at 0s, 1s, ... 5s; the kubelet is down from
/// 0.5s to 3.5s, so the samples at 1, 2 and 3s fail and the outage runs from 1s to 4s.
#[tokio::test(start_paused = true)]
async fn a_probe_samples_at_its_interval_and_its_statistics_are_exact() {
    let fake = FakeCluster::kind_like("kind");
    let (report, events) = run(
        &fake,
        r#"
steps:
  - name: kubelet probe
    probe:
      condition: {kubelet: {node: kind-worker, running: true}}
      interval: 1s
      during:
        - sleep: 500ms
        - {name: k, kubelet-stop: {node: kind-worker}}
        - sleep: 3s
        - undo: k
        - sleep: 1800ms
      expect:
        availability: {at-least: 50%}
        longest-outage: {at-most: 3s}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let probe = step(&report, "steps[0]", Phase::Steps);
    assert_eq!(probe.action, "probe");
    let p = probe.probe.as_ref().expect("the probe's report");
    let oks: Vec<bool> = p.samples.iter().map(|s| s.ok).collect();
    assert_eq!(oks, [true, false, false, false, true, true]);
    let times: Vec<u64> = p.samples.iter().map(|s| s.t.as_millis() as u64).collect();
    assert_eq!(times, [0, 1000, 2000, 3000, 4000, 5000]);
    assert_eq!((p.stats.ok, p.stats.total), (3, 6));
    assert_eq!(p.stats.availability, Some(50.0));
    assert_eq!(p.stats.longest_outage, Duration::from_secs(3));
    assert!(!p.stats.failing_at_end);
    assert_eq!(
        probe.verdict.as_ref().map(|v| v.observed.as_str()),
        Some("availability 50% (3/6), longest outage 3s")
    );
    // Every sample was reported, and the fault inside `during` was undone by its `undo` step.
    let samples: Vec<&str> = events
        .iter()
        .filter(|e| e.starts_with("sample "))
        .map(String::as_str)
        .collect();
    assert_eq!(
        samples,
        [
            "sample kubelet probe ok",
            "sample kubelet probe failed",
            "sample kubelet probe failed",
            "sample kubelet probe failed",
            "sample kubelet probe ok",
            "sample kubelet probe ok",
        ]
    );
    assert_eq!(
        fake.calls(),
        ["kubelet-stop kind-worker", "kubelet-start kind-worker"]
    );
    // JSON: the step carries the samples and the statistics.
    let json = serde_json::to_value(&report).unwrap();
    let jp = &json["steps"][json["steps"].as_array().unwrap().len() - 1]["probe"];
    assert_eq!(jp["availability"], 50.0);
    assert_eq!(jp["longest_outage"], 3.0);
    assert_eq!(jp["samples"].as_array().unwrap().len(), 6);
    assert_eq!(jp["samples"][1]["ok"], false);
}

#[tokio::test(start_paused = true)]
async fn a_probe_whose_samples_miss_the_bounds_fails_and_its_faults_are_undone() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(
        &fake,
        r#"
steps:
  - probe:
      condition: {kubelet: {node: kind-worker, running: true}}
      interval: 1s
      during:
        - sleep: 500ms
        - kubelet-stop: {node: kind-worker}
        - sleep: 2s
      expect:
        availability: {at-least: 99%}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed, "{report:#?}");
    let probe = step(&report, "steps[0]", Phase::Steps);
    let v = probe.verdict.as_ref().unwrap();
    assert_eq!(v.expected, "availability at least 99%");
    assert_eq!(v.observed, "availability 33.33% (1/3)");
    let p = probe.probe.as_ref().unwrap();
    // Still failing when the probe stopped at 2.5s: the outage runs from 1s to then.
    assert!(p.stats.failing_at_end);
    assert_eq!(p.stats.longest_outage, Duration::from_millis(1500));
    assert_eq!(
        fake.calls(),
        ["kubelet-stop kind-worker", "kubelet-start kind-worker"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_probe_stops_when_a_step_of_during_fails() {
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(
        &fake,
        r#"
steps:
  - probe:
      condition: {kubelet: {node: kind-worker, running: true}}
      during:
        - sleep: 2500ms
        - assert: {kubelet: {node: kind-worker, running: false}}
        - sleep: 1m
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    let probe = step(&report, "steps[0]", Phase::Steps);
    assert_eq!(probe.status, StepStatus::Failed);
    assert_eq!(probe.probe.as_ref().unwrap().samples.len(), 3);
    assert_eq!(
        step(&report, "steps[0].during[2]", Phase::Steps).status,
        StepStatus::Skipped
    );
}

#[tokio::test(start_paused = true)]
async fn a_probe_stops_on_ctrl_c() {
    let fake = FakeCluster::kind_like("kind");
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        c.cancel();
    });
    let (report, _) = run_cancel(
        &fake,
        r#"
steps:
  - probe:
      condition: {kubelet: {node: kind-worker, running: true}}
      during:
        - kubelet-stop: {node: kind-worker2}
        - sleep: 10m
"#,
        &cancel,
    )
    .await;
    assert_eq!(report.status, RunStatus::Interrupted);
    let probe = step(&report, "steps[0]", Phase::Steps);
    assert_eq!(probe.status, StepStatus::Interrupted);
    assert_eq!(probe.probe.as_ref().unwrap().samples.len(), 3);
    assert_eq!(report.undo[0].status, UndoStatus::Undone);
}

/// A test HTTP server; stopping it (or dropping it) closes its port: connections are refused.
struct Server(tokio::task::JoinHandle<()>);

impl Server {
    async fn stop(mut self) {
        self.0.abort();
        let _ = (&mut self.0).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An HTTP server on `port` answering `200 ok` to every request.
fn serve(port: u16) -> Server {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket
        .bind(format!("127.0.0.1:{port}").parse().unwrap())
        .unwrap();
    let listener = socket.listen(64).unwrap();
    Server(tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
                    .await;
                let _ = conn.shutdown().await;
            });
        }
    }))
}

/// An HTTP probe of `node: kind-worker, port: P` (the fake's nodes are at 127.0.0.1) while a
/// real server on P is stopped and started again: the outage is in the samples, and the
/// statistics are exactly what the samples say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_probe_sees_a_server_stop_and_start() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let server = serve(port);
    let flip = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        server.stop().await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        serve(port)
    });
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(
        &fake,
        &format!(
            r#"
steps:
  - name: web
    probe:
      http: {{node: kind-worker, port: {port}, path: /healthz, body: "^ok$", timeout: 500ms}}
      interval: 100ms
      during:
        - kubelet-stop: {{node: kind-worker}}
        - sleep: 2500ms
      expect:
        availability: {{at-least: 10%}}
        longest-outage: {{at-most: 2s}}
"#
        ),
    )
    .await;
    flip.await.unwrap().stop().await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let p = step(&report, "steps[0]", Phase::Steps)
        .probe
        .clone()
        .expect("the probe's report");
    let s = &p.samples;
    assert!(s.len() >= 15, "{} samples", s.len());
    assert!(s[0].ok, "{:?}", s[0]);
    assert!(s.last().unwrap().ok, "{:?}", s.last());
    let failed: Vec<_> = s.iter().filter(|x| !x.ok).collect();
    assert!(!failed.is_empty(), "the outage was not seen: {s:?}");
    // Refused while the port is closed; a request caught by the stop itself may be reset.
    assert!(
        failed.iter().any(|x| x.observed == "connection refused"),
        "{failed:?}"
    );
    assert!(
        failed.iter().all(|x| x.observed == "connection refused"
            || x.observed == "connection reset"
            || x.observed.starts_with("no answer")),
        "{failed:?}"
    );
    // The statistics, recomputed from the samples by hand.
    let ok = s.iter().filter(|x| x.ok).count();
    assert_eq!((p.stats.ok, p.stats.total), (ok, s.len()));
    assert_eq!(
        p.stats.availability,
        Some(ok as f64 * 100.0 / s.len() as f64)
    );
    let first_failed = s.iter().position(|x| !x.ok).unwrap();
    let back = first_failed + s[first_failed..].iter().position(|x| x.ok).unwrap();
    assert!(s[back..].iter().all(|x| x.ok), "one outage only: {s:?}");
    assert_eq!(p.stats.longest_outage, s[back].t - s[first_failed].t);
    // The server was down for 800ms: the outage seen is that, give or take a sample or two.
    let outage = p.stats.longest_outage.as_millis();
    assert!((500..=1300).contains(&outage), "outage {outage}ms");
    // The fault inside `during` was undone.
    assert_eq!(
        fake.calls(),
        ["kubelet-stop kind-worker", "kubelet-start kind-worker"]
    );
}

/// The CLI end to end: a run whose steady state does not hold exits 1, says so, and its JSON
/// and JUnit reports carry the failed check (expected versus observed), never a pass.
#[test]
fn chaos_run_reports_a_steady_state_that_does_not_hold_everywhere() {
    let c = support::CliCase::new(
        "not-steady",
        "steady-state:\n  - condition: {kubelet: {node: kind-worker, running: false}}\nsteps:\n  - node-pause: {node: kind-worker}\n",
        support::FAKE_KIND,
    );
    let (j, x) = (c.path("r.json"), c.path("r.xml"));
    let out = c
        .run(&[
            "--json",
            j.to_str().unwrap(),
            "--junit",
            x.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let all = support::text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("NOT STEADY (nothing injected)"), "{all}");
    assert!(
        all.contains("expected: kubelet not running on kind-worker"),
        "{all}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    let pb = &report["playbooks"][0];
    assert_eq!(report["exit_code"], 1);
    assert_eq!(pb["status"], "not-steady");
    assert_eq!(pb["steps"][0]["phase"], "steady-before");
    assert_eq!(pb["steps"][0]["status"], "failed");
    assert_eq!(pb["steps"][1]["status"], "skipped");
    assert_eq!(pb["undo"], serde_json::json!([]));
    let junit = std::fs::read_to_string(&x).unwrap();
    assert!(junit.contains("not steady before the faults"), "{junit}");
    assert!(junit.contains("<failure"), "{junit}");
}

/// People see one line per probe (its samples summed up) and the steady-state checks with what
/// was expected and observed when they fail.
#[tokio::test(start_paused = true)]
async fn the_progress_sums_up_each_probe_in_one_line() {
    use kind_chaos::report::human::Human;
    let fake = FakeCluster::kind_like("kind");
    fake.state().knobs.undo_noop = true;
    let p = plan(&format!(
        "{HEADER}{}",
        r#"
steady-state:
  - condition: {kubelet: {node: kind-worker, running: true}}
steps:
  - name: kubelet probe
    probe:
      condition: {kubelet: {node: kind-worker, running: true}}
      during:
        - sleep: 500ms
        - kubelet-stop: {node: kind-worker}
        - sleep: 2s
      expect:
        availability: {at-least: 30%}
"#
    ));
    let out = support::SharedBuf::default();
    let mut human = Human::new(Box::new(out.clone()), false);
    let report = engine::run(
        &p,
        Arc::new(fake),
        &mut human,
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    let text = out.text();
    assert!(
        text.contains(
            "    probe: 1/3 samples ok (33.3%), longest outage 1.5s (still failing at the end), p95 latency 0s\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("✔ steady-state[0]: steady state: kubelet running on kind-worker"),
        "{text}"
    );
    assert!(
        text.contains(
            "✘ steady-state[0]: steady state after the undo: kubelet running on kind-worker"
        ),
        "{text}"
    );
    assert!(
        text.contains("    expected: kubelet running on kind-worker\n      observed: kubelet not running on kind-worker"),
        "{text}"
    );
}

mod http_node;
mod in_pod;
mod long;
