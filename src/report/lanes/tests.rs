//! Lanes from a hand-made timeline: a step, a fault until its undo, a node going NotReady, a
//! pod whose sandbox outlives it in the API (a ghost interval), a probe's samples.

use super::*;
use crate::engine::RunStatus;
use crate::engine::timeline::{Entry, NodeSample};

fn e(s: u64, what: What) -> Entry {
    Entry {
        at: humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000 + s),
        )
        .to_string(),
        what,
    }
}

pub(crate) fn sample() -> Timeline {
    let reality = |kubelet: bool, shims: u32| What::Reality {
        step: "steps[1]".into(),
        nodes: vec![NodeSample {
            node: "w1".into(),
            kubelet_running: kubelet,
            shims,
            sandboxes: shims,
            ghosts: Some(0),
            phantoms: Some(0),
        }],
    };
    Timeline {
        entries: vec![
            e(
                0,
                What::RunStarted {
                    playbook: "t".into(),
                },
            ),
            e(
                0,
                What::StepStarted {
                    step: "steps[0]".into(),
                    name: Some("break".into()),
                    phase: crate::playbook::Phase::Steps,
                    action: "kubelet-stop".into(),
                    description: "stop the kubelet on w1".into(),
                },
            ),
            e(
                1,
                What::StepFinished {
                    step: "steps[0]".into(),
                    status: StepStatus::Passed,
                    message: None,
                },
            ),
            e(
                1,
                What::FaultInjected {
                    step: "steps[0]".into(),
                    undo: "start the kubelet on w1".into(),
                },
            ),
            e(2, reality(false, 1)),
            e(
                2,
                What::Sandbox {
                    node: "w1".into(),
                    pod: "default/web".into(),
                    live: true,
                },
            ),
            e(
                3,
                What::Pod {
                    pod: "default/web".into(),
                    present: true,
                    node: Some("w1".into()),
                    phase: "Running".into(),
                    ready: true,
                    terminating: false,
                },
            ),
            e(
                10,
                What::Node {
                    node: "w1".into(),
                    ready: "Unknown".into(),
                    unschedulable: false,
                    taints: vec![],
                },
            ),
            e(
                12,
                What::Pod {
                    pod: "default/web".into(),
                    present: false,
                    node: Some("w1".into()),
                    phase: "Running".into(),
                    ready: false,
                    terminating: false,
                },
            ),
            e(
                12,
                What::Drift {
                    node: "w1".into(),
                    pod: "default/web".into(),
                    state: DriftState::Ghost,
                    detail: "deleted in the API".into(),
                },
            ),
            e(
                14,
                What::Probe {
                    step: "steps[1]".into(),
                    probe: "web".into(),
                    ok: false,
                    latency_ms: None,
                    error: Some("connection refused".into()),
                },
            ),
            e(
                20,
                What::Undo {
                    step: "steps[0]".into(),
                    description: "start the kubelet on w1".into(),
                    status: UndoStatus::Undone,
                    message: None,
                },
            ),
            e(22, reality(true, 0)),
            e(
                22,
                What::Sandbox {
                    node: "w1".into(),
                    pod: "default/web".into(),
                    live: false,
                },
            ),
            e(
                22,
                What::Drift {
                    node: "w1".into(),
                    pod: "default/web".into(),
                    state: DriftState::Cleared,
                    detail: "the API and the node agree".into(),
                },
            ),
            e(
                25,
                What::RunFinished {
                    status: RunStatus::Passed,
                },
            ),
        ],
        ..Timeline::default()
    }
}

#[test]
fn lanes_show_steps_faults_nodes_pods_and_probes() {
    let c = chart(&sample()).unwrap();
    assert_eq!(c.length, 25.0);
    let titles: Vec<&str> = c.lanes.iter().map(|l| l.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "steps and faults",
            "node w1",
            "pod default/web",
            "probe web"
        ]
    );
    let steps = &c.lanes[0].rows;
    assert_eq!(
        steps[0].spans,
        [Span {
            from: 0.0,
            to: 1.0,
            label: "break".into(),
            tone: Tone::Good
        }]
    );
    assert_eq!(
        steps[1].spans,
        [Span {
            from: 1.0,
            to: 20.0,
            label: "break".into(),
            tone: Tone::Fault
        }]
    );
    let node = &c.lanes[1].rows;
    assert_eq!(node[0].spans[0].label, "NotReady (Unknown)");
    assert_eq!((node[0].spans[0].from, node[0].spans[0].to), (10.0, 25.0));
    let kubelet: Vec<(&str, f64, f64)> = node[1]
        .spans
        .iter()
        .map(|s| (s.label.as_str(), s.from, s.to))
        .collect();
    assert_eq!(kubelet, [("stopped", 2.0, 22.0), ("running", 22.0, 25.0)]);
    let ghosts = drift_intervals(&c);
    assert_eq!(ghosts.len(), 1);
    assert_eq!(ghosts[0].0, "default/web");
    assert_eq!((ghosts[0].1.from, ghosts[0].1.to), (12.0, 22.0));
    assert_eq!(ghosts[0].1.tone, Tone::Ghost);
    let pod = &c.lanes[2].rows;
    assert_eq!(pod[1].spans[0].label, "runs on w1");
    assert_eq!((pod[1].spans[0].from, pod[1].spans[0].to), (2.0, 22.0));
    assert_eq!(c.lanes[3].rows[0].marks[0].tone, Tone::Bad);
}

#[test]
fn an_empty_timeline_has_no_chart() {
    assert!(chart(&Timeline::default()).is_none());
}
