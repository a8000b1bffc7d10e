//! The conditions that judge what the seeds judge by eye: a whole log line, a pod's
//! tolerations, a replacement compared with what an earlier step saw, as many shims as before.

use crate::backends::{NodeReality, PodKey, PodView, Shim, Toleration};
use crate::playbook::model::*;
use crate::playbook::values::Count;

use super::*;

fn logs(contains: &str, whole_line: bool, present: Option<bool>) -> PodLogsCondition {
    PodLogsCondition {
        namespace: "default".into(),
        pod: "p".into(),
        container: None,
        previous: false,
        contains: contains.into(),
        whole_line,
        present,
    }
}

#[test]
fn a_whole_line_is_not_a_prefix_of_a_longer_one() {
    let pid_12 = "Zero exit code\nPID 12\n";
    // A substring match takes `PID 12` for `PID 1`; a whole-line match does not.
    assert!(pod_logs(&logs("PID 1", false, None), pid_12).holds);
    let v = pod_logs(&logs("PID 1", true, None), pid_12);
    assert!(!v.holds);
    assert_eq!(v.expected, "log of default/p has the line `PID 1`");
    assert!(pod_logs(&logs("PID 1", true, Some(false)), pid_12).holds);
    // Trailing whitespace (a `\r` of a CRLF log) does not count.
    assert!(pod_logs(&logs("PID 1", true, None), "PID 1\r\nPID 12\n").holds);
    let v = pod_logs(&logs("PID 1", true, Some(false)), "PID 1  \n");
    assert!(!v.holds);
    assert_eq!(v.expected, "log of default/p has no line `PID 1`");
    assert_eq!(v.observed, "the line `PID 1  `");
}

fn pods_cond() -> PodsCondition {
    PodsCondition {
        namespace: "default".into(),
        name: None,
        selector: Some("app=web".into()),
        node: None,
        container: None,
        count: Some(Count {
            at_least: 1,
            at_most: None,
        }),
        phase: None,
        ready: None,
        terminating: None,
        restarts: None,
        exit_code: None,
        reason: None,
        tolerations: vec![],
        replaces: None,
    }
}

fn pod(name: &str, uid: &str, tolerations: Vec<Toleration>) -> PodView {
    PodView {
        key: PodKey {
            namespace: "default".into(),
            name: name.into(),
        },
        uid: uid.into(),
        phase: "Running".into(),
        tolerations,
        ..PodView::default()
    }
}

fn unreachable(seconds: Option<i64>) -> Toleration {
    Toleration {
        key: Some("node.kubernetes.io/unreachable".into()),
        operator: Some("Exists".into()),
        value: None,
        effect: Some(TaintEffect::NoExecute),
        seconds,
    }
}

fn want_unreachable(seconds: i64) -> TolerationMatch {
    TolerationMatch {
        key: "node.kubernetes.io/unreachable".into(),
        effect: Some(TaintEffect::NoExecute),
        toleration_seconds: Some(seconds),
    }
}

#[test]
fn a_pod_must_carry_the_toleration_with_its_seconds() {
    let c = PodsCondition {
        tolerations: vec![want_unreachable(300)],
        ..pods_cond()
    };
    assert!(pods(&c, &[pod("a", "u", vec![unreachable(Some(300))])], None).holds);
    // No toleration, another duration, for ever, another effect, any key: none is it.
    let wildcard = Toleration {
        operator: Some("Exists".into()),
        ..Toleration::default()
    };
    let no_schedule = Toleration {
        effect: Some(TaintEffect::NoSchedule),
        ..unreachable(Some(300))
    };
    for ts in [
        vec![],
        vec![unreachable(Some(30))],
        vec![unreachable(None)],
        vec![no_schedule],
        vec![wildcard],
    ] {
        let v = pods(&c, &[pod("a", "u", ts.clone())], None);
        assert!(!v.holds, "{ts:?}");
        assert!(
            v.expected
                .contains("tolerating node.kubernetes.io/unreachable:NoExecute for 300s"),
            "{}",
            v.expected
        );
    }
    let v = pods(&c, &[pod("a", "u", vec![unreachable(Some(30))])], None);
    assert_eq!(
        v.observed,
        "0 matched: a Running; tolerations: a [node.kubernetes.io/unreachable:NoExecute for 30s]"
    );
}

#[test]
fn a_replacement_has_a_new_name_and_a_new_uid() {
    let first = pods(&pods_cond(), &[pod("web-1", "u1", vec![])], None);
    assert!(first.holds);
    let before = first.seen;
    assert_eq!(
        before,
        Seen::Pods(vec![SeenPod {
            key: PodKey {
                namespace: "default".into(),
                name: "web-1".into(),
            },
            uid: "u1".into(),
        }])
    );
    let c = PodsCondition {
        replaces: Some("before".into()),
        ..pods_cond()
    };
    assert!(pods(&c, &[pod("web-2", "u2", vec![])], Some(&before)).holds);
    // The same pod, one recreated under its name, one with its UID: no replacement.
    for (name, uid) in [("web-1", "u1"), ("web-1", "u2"), ("web-2", "u1")] {
        let v = pods(&c, &[pod(name, uid, vec![])], Some(&before));
        assert!(!v.holds, "{name} {uid}");
        assert!(
            v.observed.ends_with("; `before` saw web-1"),
            "{}",
            v.observed
        );
    }
    // The step has not run (or looked at something else): the condition cannot hold.
    let v = pods(&c, &[pod("web-2", "u2", vec![])], None);
    assert!(!v.holds);
    assert_eq!(v.observed, "step `before` has not looked at pods");
    assert!(!pods(&c, &[pod("web-2", "u2", vec![])], Some(&Seen::Shims(1))).holds);
}

fn node_with_shims(n: u32) -> Vec<NodeReality> {
    vec![NodeReality {
        node: "w".into(),
        kubelet_running: true,
        shims: (0..n)
            .map(|i| Shim {
                pid: 100 + i,
                sandbox_id: format!("s{i}"),
            })
            .collect(),
        sandboxes: vec![],
    }]
}

#[test]
fn as_many_shims_as_an_earlier_step_counted() {
    let counted = shims(
        &ShimsCondition {
            node: "w".into(),
            count: Some(Count {
                at_least: 1,
                at_most: None,
            }),
            same_as: None,
        },
        &node_with_shims(3),
        None,
    );
    assert!(counted.holds);
    assert_eq!(counted.seen, Seen::Shims(3));
    let c = ShimsCondition {
        node: "w".into(),
        count: None,
        same_as: Some("before".into()),
    };
    assert_eq!(words::shims(&c), "as many shim(s) on w as `before` counted");
    assert!(shims(&c, &node_with_shims(3), Some(&counted.seen)).holds);
    let v = shims(&c, &node_with_shims(4), Some(&counted.seen));
    assert!(!v.holds);
    assert_eq!(v.observed, "4 shim(s) on w, `before` counted 3");
    assert!(!shims(&c, &node_with_shims(3), None).holds);
}

#[test]
fn an_edit_refused_or_accepted() {
    use crate::backends::WriteCheck;
    let pod = ResourceRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some("gone".into()),
        name: "p".into(),
    };
    let c = |writable: bool, exists: Option<bool>| ResourceCondition {
        resource: pod.clone(),
        exists,
        field: None,
        equals: None,
        writable: Some(writable),
    };
    let refused = WriteCheck::Refused {
        code: 404,
        message: "namespaces \"gone\" not found".into(),
    };
    let v = resource(&c(false, None), None, Some(&refused));
    assert!(v.holds);
    assert_eq!(v.expected, "an edit of Pod gone/p is refused");
    assert_eq!(
        v.observed,
        "an edit is refused: namespaces \"gone\" not found (404)"
    );
    let v = resource(&c(true, None), None, Some(&refused));
    assert!(!v.holds);
    assert!(resource(&c(true, None), None, Some(&WriteCheck::Accepted)).holds);
    assert!(!resource(&c(false, None), None, Some(&WriteCheck::Accepted)).holds);
    assert!(!resource(&c(false, None), None, None).holds);
    // With `exists`, both must hold: a refused edit of an object that is not there fails.
    let v = resource(&c(false, Some(true)), None, Some(&refused));
    assert!(!v.holds);
    assert_eq!(v.expected, "Pod gone/p exists");
    let obj = serde_json::json!({"metadata": {"name": "p"}});
    assert!(resource(&c(false, Some(true)), Some(&obj), Some(&refused)).holds);
}
