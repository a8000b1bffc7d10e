//! Verdicts on what the Kubernetes API and etcd report.

use crate::backends::{EventView, NamespaceView, NodeView, PodView};
use crate::playbook::model::*;

use super::{Verdict, all, count_verdict};

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

/// The containers a condition looks at: the named one, else all of the pod's.
fn containers<'a>(
    c: &'a PodsCondition,
    p: &'a PodView,
) -> impl Iterator<Item = &'a crate::backends::ContainerView> {
    p.containers
        .iter()
        .filter(move |k| c.container.as_ref().is_none_or(|n| &k.name == n))
}

/// Pods: the filters select pods, then `count` is checked on what matched.
pub fn pods(c: &PodsCondition, pods: &[PodView]) -> Verdict {
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
        .collect();
    let mut what = vec!["pod(s)".to_string()];
    if let Some(ph) = c.phase {
        what.push(phase_name(ph).into());
    }
    if let Some(r) = c.ready {
        what.push(if r { "ready" } else { "not ready" }.into());
    }
    if let Some(t) = c.terminating {
        what.push(if t { "terminating" } else { "not terminating" }.into());
    }
    if let Some(r) = c.restarts {
        what.push(format!("with {r} restarts"));
    }
    if let Some(code) = c.exit_code {
        what.push(format!("exit code {code}"));
    }
    if let Some(r) = &c.reason {
        what.push(format!("reason {r}"));
    }
    if let Some(k) = &c.container {
        what.push(format!("(container {k})"));
    }
    let scope = match (&c.name, &c.selector) {
        (Some(n), _) => format!("{}/{n}", c.namespace),
        (None, Some(s)) => format!("{} in {}", s, c.namespace),
        (None, None) => format!("in {}", c.namespace),
    };
    let want = c.count.unwrap_or(crate::playbook::values::Count {
        at_least: 1,
        at_most: None,
    });
    let expected = format!(
        "{want} {} ({scope}{})",
        what.join(" "),
        c.node
            .as_ref()
            .map(|n| format!(" on {n}"))
            .unwrap_or_default()
    );
    let seen = if pods.is_empty() {
        "no such pods".to_string()
    } else {
        pods.iter().map(describe_pod).collect::<Vec<_>>().join(", ")
    };
    Verdict::new(
        want.matches(matching.len() as u64),
        expected,
        format!("{} matched: {seen}", matching.len()),
    )
}

pub fn pod_logs(c: &PodLogsCondition, log: &str) -> Verdict {
    let which = if c.previous { "previous" } else { "current" };
    let want = c.present.unwrap_or(true);
    let found = log.lines().any(|l| l.contains(&c.contains));
    let holds = found == want;
    let verb = if want { "to contain" } else { "not to contain" };
    let last = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(empty log)");
    Verdict::new(
        holds,
        format!(
            "{which} log of {}/{} {verb} `{}`",
            c.namespace, c.pod, c.contains
        ),
        match log.lines().find(|l| l.contains(&c.contains)) {
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
    let Some(n) = nodes.iter().find(|n| n.name == c.name) else {
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        return Verdict::new(
            false,
            format!("node {}", c.name),
            format!("no such node; nodes: {}", names.join(", ")),
        );
    };
    let mut parts = Vec::new();
    if let Some(r) = c.ready {
        parts.push(Verdict::new(
            n.ready == status_name(r),
            format!("{} Ready={}", n.name, status_name(r)),
            format!("{} Ready={}", n.name, n.ready),
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
        parts.push(Verdict::new(
            n.taints.iter().any(|t| taint_matches(m, t)),
            format!("{} tainted {}", n.name, m.key),
            format!("{} has {seen}", n.name),
        ));
    }
    for m in &c.no_taints {
        parts.push(Verdict::new(
            !n.taints.iter().any(|t| taint_matches(m, t)),
            format!("{} without taint {}", n.name, m.key),
            format!("{} has {seen}", n.name),
        ));
    }
    for (k, v) in &c.labels {
        let got = n.labels.get(k);
        parts.push(Verdict::new(
            got == Some(v),
            format!("{} label {k}={v}", n.name),
            format!(
                "{} label {k}={}",
                n.name,
                got.map(String::as_str).unwrap_or("(unset)")
            ),
        ));
    }
    if parts.is_empty() {
        return Verdict::new(
            true,
            format!("node {} exists", n.name),
            format!("node {} exists", n.name),
        );
    }
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
        format!("namespace {} {want}", c.name),
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

pub fn resource(c: &ResourceCondition, obj: Option<&serde_json::Value>) -> Verdict {
    let want_exists = c.exists.unwrap_or(true);
    let r = &c.resource;
    match (obj, &c.field) {
        (None, _) => Verdict::new(
            !want_exists,
            format!("{r} {}", if want_exists { "exists" } else { "absent" }),
            format!("{r} absent"),
        ),
        (Some(_), _) if !want_exists => {
            Verdict::new(false, format!("{r} absent"), format!("{r} exists"))
        }
        (Some(_), None) => Verdict::new(true, format!("{r} exists"), format!("{r} exists")),
        (Some(o), Some(path)) => {
            let got = field(o, path);
            let got_text = got
                .map(|v| v.to_string())
                .unwrap_or_else(|| "(unset)".into());
            match &c.equals {
                Some(want) => Verdict::new(
                    got == Some(want),
                    format!("{r} {path} = {want}"),
                    format!("{path} = {got_text}"),
                ),
                None => Verdict::new(
                    got.is_some(),
                    format!("{r} has {path}"),
                    format!("{path} = {got_text}"),
                ),
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
        format!(
            "an event {} in {}{}",
            c.reason,
            c.namespace,
            c.object
                .as_ref()
                .map(|o| format!(" for {o}"))
                .unwrap_or_default()
        ),
        if reasons.is_empty() {
            "no events".into()
        } else {
            format!("{} events: {}", reasons.len(), reasons.join(", "))
        },
    )
}

pub fn etcd_key_exists(key: &str, want: bool, exists: bool) -> Verdict {
    let word = |b: bool| if b { "exists" } else { "absent" };
    Verdict::new(
        want == exists,
        format!("etcd key {key} {}", word(want)),
        format!("etcd key {key} {}", word(exists)),
    )
}

pub fn etcd_prefix_count(prefix: &str, want: &crate::playbook::values::Count, got: u64) -> Verdict {
    count_verdict(&format!("key(s) under {prefix}"), want, got)
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
            present,
        }
    }

    #[test]
    fn container_properties_can_be_scoped_to_one_container() {
        use crate::backends::{ContainerView, PodKey};
        let pod = PodView {
            key: PodKey {
                namespace: "default".into(),
                name: "p".into(),
            },
            phase: "Running".into(),
            containers: vec![
                ContainerView {
                    name: "app".into(),
                    restarts: 1,
                    last_exit_code: Some(1),
                    last_reason: Some("Error".into()),
                    ..Default::default()
                },
                ContainerView {
                    name: "witness".into(),
                    restarts: 0,
                    last_exit_code: Some(0),
                    last_reason: Some("Completed".into()),
                    ..Default::default()
                },
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
        };
        assert!(pods(&cond(None, 0), std::slice::from_ref(&pod)).holds);
        assert!(pods(&cond(Some("app"), 1), std::slice::from_ref(&pod)).holds);
        let v = pods(&cond(Some("app"), 0), std::slice::from_ref(&pod));
        assert!(!v.holds);
        assert!(v.expected.contains("(container app)"), "{}", v.expected);
    }

    #[test]
    fn a_log_line_present_or_absent() {
        let log = "SIGTERM\nImmediate exit\nReceived 15\nExiting with code 0\n";
        assert!(pod_logs(&logs("Received 15", None), log).holds);
        let v = pod_logs(&logs("Received 15", Some(false)), log);
        assert!(!v.holds);
        assert_eq!(
            v.expected,
            "previous log of default/p not to contain `Received 15`"
        );
        assert_eq!(v.observed, "the line `Received 15`");
        assert!(pod_logs(&logs("Received 2", Some(false)), log).holds);
        let v = pod_logs(&logs("Received 2", None), log);
        assert_eq!(v.observed, "4 lines; last: Exiting with code 0");
    }
}
