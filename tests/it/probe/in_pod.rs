//! `exec` probes in a pod, on the in-memory fake and paused time: each sample looks the pod up
//! (its node and container ID) and runs `ctr task exec` in its node; a pod deleted while the
//! probe runs makes failed samples that say so, not an error of the run.

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::backends::{ContainerView, PodKey, PodView};
use kind_chaos::engine::RunStatus;
use kind_chaos::playbook::Phase;

use super::{run, step};

fn web() -> PodView {
    PodView {
        key: PodKey {
            namespace: "default".into(),
            name: "web".into(),
        },
        uid: "u-web".into(),
        node: Some("kind-worker2".into()),
        phase: "Running".into(),
        ready: true,
        containers: vec![ContainerView {
            name: "app".into(),
            state: "running".into(),
            id: Some("containerd://abc123".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Samples at 0, 1, 2 and 3 s; the pod is deleted at 1.5 s, so the last two fail with the
/// reason, and only the first two ran the command, in the pod's node, through `ctr`.
#[tokio::test(start_paused = true)]
async fn a_pod_deleted_mid_probe_makes_failed_samples_with_the_reason() {
    let fake = FakeCluster::kind_like("kind");
    fake.state().pods.push(web());
    let (report, events) = run(
        &fake,
        r#"
steps:
  - name: in web
    probe:
      exec: {pod: {name: web}, command: [cat, /etc/hostname]}
      interval: 1s
      during:
        - sleep: 1500ms
        - pod-delete: {namespace: default, name: web}
        - sleep: 2s
      expect:
        availability: {at-least: 50%}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let probe = step(&report, "steps[0]", Phase::Steps);
    let p = probe.probe.as_ref().expect("the probe's report");
    let seen: Vec<(bool, &str)> = p
        .samples
        .iter()
        .map(|s| (s.ok, s.observed.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (true, "exit 0"),
            (true, "exit 0"),
            (false, "pod default/web not found"),
            (false, "pod default/web not found"),
        ]
    );
    assert_eq!(p.check, "`cat /etc/hostname` in pod default/web exits 0");
    let execs: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("exec "))
        .collect();
    assert_eq!(execs.len(), 2, "{execs:?}");
    for e in &execs {
        let words: Vec<&str> = e.split(' ').collect();
        assert_eq!(
            words[..7],
            [
                "exec",
                "kind-worker2",
                "ctr",
                "-n",
                "k8s.io",
                "task",
                "exec"
            ]
        );
        assert_eq!(words[7], "--exec-id");
        assert!(words[8].starts_with("chaos-probe-"), "{e}");
        assert_eq!(words[9..], ["abc123", "cat", "/etc/hostname"]);
    }
    assert_ne!(execs[0], execs[1], "each exec has its own exec ID");
    assert_eq!(
        events.iter().filter(|e| e.starts_with("sample ")).count(),
        4
    );
}

/// A pod found by a selector whose container is not started yet fails the sample with the
/// container's state; the run goes on.
#[tokio::test(start_paused = true)]
async fn a_waiting_container_fails_the_sample_with_its_state() {
    let fake = FakeCluster::kind_like("kind");
    let mut pod = web();
    pod.labels.insert("app".into(), "web".into());
    pod.containers[0].state = "waiting".into();
    pod.containers[0].id = None;
    fake.state().pods.push(pod);
    let (report, _) = run(
        &fake,
        r#"
steady-state:
  - exec: {pod: {selector: app=web}, command: ["true"]}
steps:
  - sleep: 1s
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::NotSteady, "{report:#?}");
    let s = step(&report, "steady-state[0]", Phase::SteadyBefore);
    let v = s.verdict.as_ref().expect("a verdict");
    assert_eq!(v.observed, "container app of pod default/web is waiting");
    assert!(fake.calls().iter().all(|c| !c.starts_with("exec ")));
}
