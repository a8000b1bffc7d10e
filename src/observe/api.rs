//! Verdicts on what the Kubernetes API and etcd report.

use crate::backends::{EventView, NamespaceView, NodeView, PodView};
use crate::playbook::model::*;

use super::{Seen, SeenPod, Verdict, all, words};

fn describe_pod(p: &PodView) -> String {
    let mut s = format!("{} {}", p.key.name, p.phase);
    if p.deletion_timestamp.is_some() {
        s += " (terminating)";
    }
    if let Some(n) = &p.node {
        s += &format!(" on {n}");
    }
    s
}

fn phase_name(p: PodPhase) -> &'static str {
    match p {
        PodPhase::Pending => "Pending",
        PodPhase::Running => "Running",
        PodPhase::Succeeded => "Succeeded",
        PodPhase::Failed => "Failed",
        PodPhase::Unknown => "Unknown",
    }
}

/// The containers a condition looks at: the named one (an app or an init container, a
/// native sidecar among the latter), else all of the pod's app containers.
fn containers<'a>(
    c: &'a PodsCondition,
    p: &'a PodView,
) -> impl Iterator<Item = &'a crate::backends::ContainerView> {
    let inits = p
        .init_containers
        .iter()
        .filter(move |_| c.container.is_some());
    p.containers
        .iter()
        .chain(inits)
        .filter(move |k| c.container.as_ref().is_none_or(|n| &k.name == n))
}

fn toleration_matches(m: &TolerationMatch, t: &crate::backends::Toleration) -> bool {
    t.key.as_deref() == Some(m.key.as_str())
        && m.effect.is_none_or(|e| t.effect == Some(e))
        && m.toleration_seconds.is_none_or(|s| t.seconds == Some(s))
}

/// Pods: the filters select pods, then `count` is checked on what matched. `earlier` is what
/// the step named by `replaces` saw (`None` when it has not run or saw no pods).
pub fn pods(c: &PodsCondition, pods: &[PodView], earlier: Option<&Seen>) -> Verdict {
    let before: &[SeenPod] = match (&c.replaces, earlier) {
        (None, _) => &[],
        (Some(_), Some(Seen::Pods(p))) => p,
        (Some(step), _) => {
            return Verdict::new(
                false,
                words::pods(c),
                format!("step `{step}` has not looked at pods"),
            );
        }
    };
    let matching: Vec<&PodView> = pods
        .iter()
        .filter(|p| c.phase.is_none_or(|ph| p.phase == phase_name(ph)))
        .filter(|p| c.ready.is_none_or(|r| p.ready == r))
        .filter(|p| {
            c.terminating
                .is_none_or(|t| p.deletion_timestamp.is_some() == t)
        })
        .filter(|p| {
            let restarts: u64 = containers(c, p).map(|k| u64::from(k.restarts)).sum();
            c.restarts.is_none_or(|r| r.matches(restarts))
        })
        .filter(|p| {
            c.exit_code
                .is_none_or(|code| containers(c, p).any(|k| k.last_exit_code == Some(code)))
        })
        .filter(|p| {
            c.reason.as_ref().is_none_or(|r| {
                containers(c, p).any(|k| k.last_reason.as_deref() == Some(r.as_str()))
            })
        })
        .filter(|p| {
            c.tolerations
                .iter()
                .all(|m| p.tolerations.iter().any(|t| toleration_matches(m, t)))
        })
        .filter(|p| {
            !before
                .iter()
                .any(|b| b.key == p.key || (!b.uid.is_empty() && b.uid == p.uid))
        })
        .collect();
    let want = c.count.unwrap_or(crate::playbook::values::Count {
        at_least: 1,
        at_most: None,
    });
    let seen = if pods.is_empty() {
        "no such pods".to_string()
    } else {
        pods.iter().map(describe_pod).collect::<Vec<_>>().join(", ")
    };
    let mut seen = format!("{} matched: {seen}", matching.len());
    if !c.tolerations.is_empty() {
        seen += &format!("; tolerations: {}", tolerations_seen(pods));
    }
    if let Some(step) = &c.replaces {
        let names: Vec<String> = before.iter().map(|b| b.key.name.clone()).collect();
        seen += &format!("; `{step}` saw {}", or_none(&names));
    }
    Verdict::new(want.matches(matching.len() as u64), words::pods(c), seen).seeing(Seen::Pods(
        matching
            .iter()
            .map(|p| SeenPod {
                key: p.key.clone(),
                uid: p.uid.clone(),
            })
            .collect(),
    ))
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The tolerations of each pod, as `kubectl describe` lists them (`key:Effect for 300s`).
fn tolerations_seen(pods: &[PodView]) -> String {
    let per_pod: Vec<String> = pods
        .iter()
        .map(|p| {
            let ts: Vec<String> = p
                .tolerations
                .iter()
                .map(|t| {
                    let mut s = t.key.clone().unwrap_or_else(|| "(any key)".into());
                    if let Some(e) = t.effect {
                        s += &format!(":{e:?}");
                    }
                    if let Some(secs) = t.seconds {
                        s += &format!(" for {secs}s");
                    }
                    s
                })
                .collect();
            format!("{} [{}]", p.key.name, or_none(&ts))
        })
        .collect();
    or_none(&per_pod)
}

/// Whether a log line is what `pod-logs` looks for: contains it, or is it (`whole-line`).
fn line_matches(c: &PodLogsCondition, line: &str) -> bool {
    if c.whole_line {
        line.trim_end() == c.contains
    } else {
        line.contains(&c.contains)
    }
}

pub fn pod_logs(c: &PodLogsCondition, log: &str) -> Verdict {
    let want = c.present.unwrap_or(true);
    let found = log.lines().any(|l| line_matches(c, l));
    let holds = found == want;
    let last = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(empty log)");
    Verdict::new(
        holds,
        words::pod_logs(c),
        match log.lines().find(|l| line_matches(c, l)) {
            Some(line) if !want => format!("the line `{line}`"),
            _ => format!("{} lines; last: {last}", log.lines().count()),
        },
    )
}

fn taint_matches(m: &TaintMatch, t: &crate::backends::Taint) -> bool {
    m.key == t.key
        && m.value.as_ref().is_none_or(|v| t.value.as_ref() == Some(v))
        && m.effect.is_none_or(|e| e == t.effect)
}

fn status_name(s: ConditionStatus) -> &'static str {
    match s {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

pub fn node(c: &NodeCondition, nodes: &[NodeView]) -> Verdict {
    let Some(n) = nodes.iter().find(|n| n.name == c.name.name()) else {
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        return Verdict::new(
            false,
            words::node(c),
            format!("no such node; nodes: {}", names.join(", ")),
        );
    };
    // What was seen for each property, in the order `words::node_properties` words them.
    let mut seen_parts: Vec<(bool, String)> = Vec::new();
    if let Some(r) = c.ready {
        seen_parts.push((
            n.ready == status_name(r),
            format!("node {} Ready={}", n.name, n.ready),
        ));
    }
    let taints: Vec<String> = n
        .taints
        .iter()
        .map(|t| format!("{}:{:?}", t.key, t.effect))
        .collect();
    let seen = if taints.is_empty() {
        "no taints".to_string()
    } else {
        taints.join(", ")
    };
    for m in &c.taints {
        seen_parts.push((
            n.taints.iter().any(|t| taint_matches(m, t)),
            format!("node {} has {seen}", n.name),
        ));
    }
    for m in &c.no_taints {
        seen_parts.push((
            !n.taints.iter().any(|t| taint_matches(m, t)),
            format!("node {} has {seen}", n.name),
        ));
    }
    for (k, v) in &c.labels {
        let got = n.labels.get(k);
        seen_parts.push((
            got == Some(v),
            format!(
                "node {} {k}={}",
                n.name,
                got.map(String::as_str).unwrap_or("(unset)")
            ),
        ));
    }
    if seen_parts.is_empty() {
        return Verdict::new(true, words::node(c), format!("node {} exists", n.name));
    }
    let parts = words::node_properties(c)
        .into_iter()
        .zip(seen_parts)
        .map(|(want, (holds, seen))| Verdict::new(holds, format!("node {} {want}", c.name), seen))
        .collect();
    all(parts)
}

pub fn namespace(c: &NamespaceCondition, ns: Option<&NamespaceView>) -> Verdict {
    let seen = match ns {
        None => "absent".to_string(),
        Some(n) => n.phase.clone(),
    };
    let want = match c.state {
        NamespaceState::Active => "Active",
        NamespaceState::Terminating => "Terminating",
        NamespaceState::Absent => "absent",
    };
    Verdict::new(
        seen == want,
        words::namespace(c),
        format!("namespace {} {seen}", c.name),
    )
}

/// Follows a dotted path (`status.phase`, `spec.containers.0.image`) into a JSON value.
pub fn field<'a>(obj: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(obj, |v, part| match v {
        serde_json::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => v.get(part),
    })
}

/// A `resource` condition; `write` is the API server's answer to a dry-run edit, when the
/// condition asks whether the object is `writable`.
pub fn resource(
    c: &ResourceCondition,
    obj: Option<&serde_json::Value>,
    write: Option<&crate::backends::WriteCheck>,
) -> Verdict {
    let Some(want) = c.writable else {
        return object(c, obj);
    };
    let seen = match write {
        None => "no edit tried".to_string(),
        Some(crate::backends::WriteCheck::Accepted) => "an edit is accepted".to_string(),
        Some(crate::backends::WriteCheck::Refused { code, message }) => {
            format!("an edit is refused: {message} ({code})")
        }
    };
    let accepted = matches!(write, Some(crate::backends::WriteCheck::Accepted));
    let writable = Verdict::new(
        write.is_some() && accepted == want,
        words::writable(&c.resource, want),
        seen,
    );
    if c.exists.is_none() && c.field.is_none() {
        return writable;
    }
    all(vec![object(c, obj), writable])
}

/// Existence and field of a `resource` condition.
fn object(c: &ResourceCondition, obj: Option<&serde_json::Value>) -> Verdict {
    let want_exists = c.exists.unwrap_or(true);
    let r = &c.resource;
    let expected = words::resource_object(c);
    match (obj, &c.field) {
        (None, _) => Verdict::new(!want_exists, expected, format!("{r} absent")),
        (Some(_), _) if !want_exists => Verdict::new(false, expected, format!("{r} exists")),
        (Some(_), None) => Verdict::new(true, expected, format!("{r} exists")),
        (Some(o), Some(path)) => {
            let got = field(o, path);
            let got_text = got
                .map(|v| v.to_string())
                .unwrap_or_else(|| "(unset)".into());
            match &c.equals {
                Some(want) => {
                    Verdict::new(got == Some(want), expected, format!("{path} = {got_text}"))
                }
                None => Verdict::new(got.is_some(), expected, format!("{path} = {got_text}")),
            }
        }
    }
}

pub fn events(c: &EventCondition, events: &[EventView]) -> Verdict {
    let hit = events.iter().any(|e| {
        e.reason == c.reason
            && c.object
                .as_ref()
                .is_none_or(|o| e.object.ends_with(o.as_str()))
    });
    let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    Verdict::new(
        hit,
        words::event(c),
        if reasons.is_empty() {
            "no events".into()
        } else {
            format!("{} events: {}", reasons.len(), reasons.join(", "))
        },
    )
}

/// An `etcd-key` condition on one key, which `exists` (or not).
pub fn etcd_key_exists(c: &EtcdKeyCondition, key: &str, exists: bool) -> Verdict {
    let word = if exists { "exists" } else { "absent" };
    Verdict::new(
        c.exists.unwrap_or(true) == exists,
        words::etcd_key(c),
        format!("etcd key {key} {word}"),
    )
}

/// An `etcd-key` condition on a prefix, under which `got` keys were counted.
pub fn etcd_prefix_count(c: &EtcdKeyCondition, prefix: &str, got: u64) -> Verdict {
    let want = c.count.unwrap_or(crate::playbook::values::Count {
        at_least: 1,
        at_most: None,
    });
    Verdict::new(
        want.matches(got),
        words::etcd_key(c),
        format!("{got} key(s) under {prefix}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(contains: &str, present: Option<bool>) -> PodLogsCondition {
        PodLogsCondition {
            namespace: "default".into(),
            pod: "p".into(),
            container: None,
            previous: true,
            contains: contains.into(),
            whole_line: false,
            present,
        }
    }

    #[test]
    fn container_properties_can_be_scoped_to_one_container() {
        use crate::backends::{ContainerView, PodKey};
        let exited = |name: &str, restarts: u32, code: i32, reason: &str| ContainerView {
            name: name.into(),
            restarts,
            last_exit_code: Some(code),
            last_reason: Some(reason.into()),
            ..Default::default()
        };
        let pod = PodView {
            key: PodKey {
                namespace: "default".into(),
                name: "p".into(),
            },
            phase: "Running".into(),
            containers: vec![
                exited("app", 1, 1, "Error"),
                exited("witness", 0, 0, "Completed"),
            ],
            ..PodView::default()
        };
        let cond = |container: Option<&str>, exit: i32| PodsCondition {
            namespace: "default".into(),
            name: Some("p".into()),
            selector: None,
            node: None,
            container: container.map(str::to_string),
            count: None,
            phase: None,
            ready: None,
            terminating: None,
            restarts: None,
            exit_code: Some(exit),
            reason: None,
            tolerations: vec![],
            replaces: None,
        };
        assert!(pods(&cond(None, 0), std::slice::from_ref(&pod), None).holds);
        assert!(pods(&cond(Some("app"), 1), std::slice::from_ref(&pod), None).holds);
        let v = pods(&cond(Some("app"), 0), std::slice::from_ref(&pod), None);
        assert!(!v.holds);
        assert!(v.expected.contains("container app"), "{}", v.expected);
        // A native sidecar is an init container: only a condition naming it looks at it.
        let mut with_sidecar = pod.clone();
        with_sidecar.containers = vec![exited("app", 0, 0, "Completed")];
        with_sidecar.init_containers = vec![exited("shipper", 0, 137, "Error")];
        let pods_of = std::slice::from_ref(&with_sidecar);
        assert!(pods(&cond(Some("shipper"), 137), pods_of, None).holds);
        assert!(!pods(&cond(Some("shipper"), 0), pods_of, None).holds);
        assert!(
            pods(&cond(None, 0), pods_of, None).holds,
            "unnamed, only the app containers count"
        );
        assert!(!pods(&cond(None, 137), pods_of, None).holds);
    }

    #[test]
    fn node_properties_fail_in_the_words_of_the_condition() {
        let seen = NodeView {
            name: "w".into(),
            ready: "True".into(),
            unschedulable: false,
            taints: vec![],
            labels: [("role".to_string(), "db".to_string())].into(),
        };
        let c = NodeCondition {
            name: "w".into(),
            ready: Some(ConditionStatus::Unknown),
            taints: vec![],
            no_taints: vec![],
            labels: [("role".to_string(), "web".to_string())].into(),
        };
        assert_eq!(
            crate::observe::words::node(&c),
            "node w Ready=Unknown, role=web"
        );
        let v = node(&c, std::slice::from_ref(&seen));
        assert!(!v.holds);
        assert_eq!(v.expected, "node w Ready=Unknown; node w role=web");
        assert_eq!(v.observed, "node w Ready=True; node w role=db");
        let c = NodeCondition {
            ready: Some(ConditionStatus::True),
            labels: [("role".to_string(), "db".to_string())].into(),
            ..c
        };
        assert!(node(&c, std::slice::from_ref(&seen)).holds);
    }

    #[test]
    fn a_log_line_present_or_absent() {
        let log = "SIGTERM\nImmediate exit\nReceived 15\nExiting with code 0\n";
        assert!(pod_logs(&logs("Received 15", None), log).holds);
        let v = pod_logs(&logs("Received 15", Some(false)), log);
        assert!(!v.holds);
        assert_eq!(v.expected, "previous log of default/p lacks `Received 15`");
        assert_eq!(v.observed, "the line `Received 15`");
        assert!(pod_logs(&logs("Received 2", Some(false)), log).holds);
        let v = pod_logs(&logs("Received 2", None), log);
        assert_eq!(v.observed, "4 lines; last: Exiting with code 0");
    }
}
