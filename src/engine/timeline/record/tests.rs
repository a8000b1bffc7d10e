//! The recorder on hand-made events: transitions only when something changed, a pod missing
//! from the next look of the same wait, sandboxes and ghosts coming and going, and the cap.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::backends::{NodeView, Sandbox};
use crate::playbook::{self, Plan, Sources};

fn plan() -> Plan {
    let yaml = "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: t\nsteps:\n  - wait: {until: {node: {name: w1, ready: Unknown}}}\n";
    match playbook::load_str(Path::new("t.yaml"), yaml, Sources::default()) {
        Ok(p) => p,
        Err(_) => panic!("test playbook"),
    }
}

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_000_000 + s)
}

fn pod(name: &str, ready: bool, terminating: bool) -> PodView {
    PodView {
        key: PodKey {
            namespace: "default".into(),
            name: name.into(),
        },
        node: Some("w1".into()),
        phase: "Running".into(),
        ready,
        deletion_timestamp: terminating.then(|| "2026-01-01T00:00:00Z".into()),
        ..PodView::default()
    }
}

fn node(live: &[&str]) -> NodeReality {
    NodeReality {
        node: "w1".into(),
        kubelet_running: true,
        shims: vec![],
        sandboxes: live
            .iter()
            .map(|n| Sandbox {
                id: format!("id-{n}"),
                pod: PodKey {
                    namespace: "default".into(),
                    name: n.to_string(),
                },
                uid: String::new(),
                live: true,
                containers: vec![],
            })
            .collect(),
    }
}

fn kinds(r: &Recorder) -> Vec<String> {
    r.timeline()
        .entries
        .iter()
        .map(|e| match &e.what {
            What::Pod { pod, present, .. } => format!("pod {pod} {present}"),
            What::Sandbox { pod, live, .. } => format!("sandbox {pod} {live}"),
            What::Drift { pod, state, .. } => format!("drift {pod} {state:?}"),
            What::Node { node, ready, .. } => format!("node {node} {ready}"),
            What::Reality { .. } => "reality".into(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn api_objects_are_recorded_when_they_change_and_when_they_leave_the_query() {
    let p = plan();
    let step = &p.steps[0];
    let mut r = Recorder::new(100);
    let look = |r: &mut Recorder, s: u64, pods: &[PodView]| {
        r.record(
            &Event::ApiObserved {
                step,
                seen: ApiSeen::Pods(pods),
            },
            at(s),
        )
    };
    look(&mut r, 0, &[pod("a", true, false), pod("b", true, false)]);
    look(&mut r, 1, &[pod("a", true, false), pod("b", true, false)]);
    look(&mut r, 2, &[pod("a", false, false), pod("b", true, true)]);
    look(&mut r, 3, &[pod("a", false, false)]);
    let nodes = |ready: &str| {
        vec![NodeView {
            name: "w1".into(),
            ready: ready.into(),
            unschedulable: false,
            taints: vec![],
            labels: Default::default(),
        }]
    };
    for (s, ready) in [(4, "True"), (5, "True"), (6, "Unknown")] {
        let n = nodes(ready);
        r.record(
            &Event::ApiObserved {
                step,
                seen: ApiSeen::Nodes(&n),
            },
            at(s),
        );
    }
    assert_eq!(
        kinds(&r),
        [
            "pod default/a true",
            "pod default/b true",
            "pod default/a true",
            "pod default/b true",
            "pod default/b false",
            "node w1 True",
            "node w1 Unknown",
        ]
    );
    assert_eq!(r.timeline().entries[0].at, "2026-11-18T11:06:40.000Z");
}

#[test]
fn sandboxes_and_ghosts_come_and_go_between_samples() {
    let p = plan();
    let step = &p.steps[0];
    let mut r = Recorder::new(100);
    let sample = |r: &mut Recorder, s: u64, live: &[&str], pods: Option<&[PodView]>| {
        let nodes = [node(live)];
        r.record(
            &Event::RealitySampled {
                step,
                nodes: &nodes,
                pods,
            },
            at(s),
        )
    };
    let api = [pod("a", true, false)];
    sample(&mut r, 0, &["a"], Some(&api));
    // `a` deleted in the API while its sandbox runs on: a ghost.
    sample(&mut r, 5, &["a"], Some(&[]));
    // The API unreadable: the ghost is not judged, nor cleared.
    sample(&mut r, 10, &["a"], None);
    sample(&mut r, 15, &[], Some(&[]));
    assert_eq!(
        kinds(&r),
        [
            "reality",
            "sandbox default/a true",
            "reality",
            "drift default/a Ghost",
            "reality",
            "reality",
            "sandbox default/a false",
            "drift default/a Cleared",
        ]
    );
    let counts: Vec<(Option<u32>, u32)> = r
        .timeline()
        .entries
        .iter()
        .filter_map(|e| match &e.what {
            What::Reality { nodes, .. } => Some((nodes[0].ghosts, nodes[0].sandboxes)),
            _ => None,
        })
        .collect();
    assert_eq!(
        counts,
        [(Some(0), 1), (Some(1), 1), (None, 1), (Some(0), 0)]
    );
}

#[test]
fn a_full_timeline_thins_old_samples_first_and_counts_what_it_dropped() {
    let mut r = Recorder::new(10);
    r.push(
        at(0),
        What::RunStarted {
            playbook: "t".into(),
        },
    );
    for s in 1..=100 {
        r.push(
            at(s),
            What::WaitObserved {
                step: "steps[0]".into(),
                elapsed: s as f64,
                observed: format!("look {s}"),
            },
        );
    }
    r.push(
        at(101),
        What::RunFinished {
            status: crate::engine::RunStatus::Passed,
        },
    );
    let t = r.into_timeline();
    assert!(t.entries.len() <= 10, "{}", t.entries.len());
    assert_eq!(t.entries.len() as u64 + t.dropped, 102);
    // Transitions outlive samples; what is kept stays in order.
    assert!(matches!(t.entries[0].what, What::RunStarted { .. }));
    assert!(matches!(
        t.entries.last().unwrap().what,
        What::RunFinished { .. }
    ));
    let times: Vec<&String> = t.entries.iter().map(|e| &e.at).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    // With nothing but transitions, the oldest goes.
    let mut r = Recorder::new(3);
    for s in 0..5 {
        r.push(
            at(s),
            What::RunStarted {
                playbook: format!("p{s}"),
            },
        );
    }
    let t = r.into_timeline();
    assert_eq!(t.dropped, 2);
    assert!(matches!(&t.entries[0].what, What::RunStarted { playbook } if playbook == "p2"));
}
