//! What the watch covers (the namespaces and nodes a plan names) and how its changes land in
//! the timeline (transitions once, a broken watch once until it lists again).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::backends::{NamespaceView, NodeView, PodKey, PodView};
use crate::playbook::{self, Sources};

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_000_000 + s)
}

fn kinds(r: &Recorder) -> Vec<String> {
    r.timeline()
        .entries
        .iter()
        .map(|e| match &e.what {
            What::Pod {
                pod,
                present,
                terminating,
                ..
            } => format!("pod {pod} present={present} terminating={terminating}"),
            What::Node { node, ready, .. } => format!("node {node} {ready}"),
            What::Namespace { namespace, phase } => format!("namespace {namespace} {phase:?}"),
            What::Watch { what, state, .. } => format!("watch {what} {state:?}"),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn the_scope_is_what_the_steps_and_conditions_name() {
    let yaml = "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: t\nsteps:
  - pod-delete: {namespace: shop, name: web}
  - kubelet-stop: {node: kind-worker}
  - wait: {until: {node: {name: kind-worker2, ready: Unknown}}}
  - assert: {namespace: {name: gone, state: absent}}
  - assert: {pods: {selector: app=db, count: 1}}
";
    let Ok(plan) = playbook::load_str(Path::new("t.yaml"), yaml, Sources::default()) else {
        panic!("test playbook")
    };
    let s = scope(&plan);
    let ns: Vec<&str> = s.namespaces.iter().map(String::as_str).collect();
    let nodes: Vec<&str> = s.nodes.iter().map(String::as_str).collect();
    assert_eq!(ns, ["default", "gone", "shop"]);
    assert_eq!(nodes, ["kind-worker", "kind-worker2"]);
}

#[test]
fn watched_changes_are_transitions_and_gaps_are_recorded_once() {
    let mut r = Recorder::new(100);
    let key = PodKey {
        namespace: "shop".into(),
        name: "web".into(),
    };
    let mut p = PodView {
        key: key.clone(),
        phase: "Running".into(),
        ready: true,
        ..PodView::default()
    };
    watched(&mut r, at(0), &ApiChange::Pod(p.clone()));
    watched(&mut r, at(1), &ApiChange::Pod(p.clone()));
    p.deletion_timestamp = Some("2026-01-01T00:00:00Z".into());
    watched(&mut r, at(2), &ApiChange::Pod(p.clone()));
    for _ in 0..3 {
        watched(
            &mut r,
            at(3),
            &ApiChange::Broken {
                what: "pods in shop".into(),
                error: "connection reset".into(),
            },
        );
    }
    watched(&mut r, at(4), &ApiChange::PodGone(key.clone()));
    watched(&mut r, at(4), &ApiChange::PodGone(key));
    watched(
        &mut r,
        at(5),
        &ApiChange::Listed {
            what: "pods in shop".into(),
        },
    );
    watched(
        &mut r,
        at(5),
        &ApiChange::Listed {
            what: "pods in shop".into(),
        },
    );
    let node = NodeView {
        name: "w1".into(),
        ready: "True".into(),
        unschedulable: false,
        taints: vec![],
        labels: Default::default(),
    };
    watched(&mut r, at(6), &ApiChange::Node(node.clone()));
    watched(&mut r, at(6), &ApiChange::Node(node));
    watched(
        &mut r,
        at(7),
        &ApiChange::Namespace(NamespaceView {
            name: "shop".into(),
            phase: "Terminating".into(),
            finalizers: vec![],
        }),
    );
    watched(&mut r, at(8), &ApiChange::NamespaceGone("shop".into()));
    assert_eq!(
        kinds(&r),
        [
            "pod shop/web present=true terminating=false",
            "pod shop/web present=true terminating=true",
            "watch pods in shop Broken",
            "pod shop/web present=false terminating=true",
            "watch pods in shop Resumed",
            "node w1 True",
            "namespace shop Some(\"Terminating\")",
            "namespace shop None",
        ]
    );
}
