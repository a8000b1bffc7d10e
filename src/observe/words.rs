//! How each condition is put into words: what it claims, in one place. The `assert` and
//! `wait until` lines of progress, reports and `--dry-run` (engine/describe.rs) and the
//! `expected` of every verdict here both use these functions, so a condition reads the same
//! where it is announced and where it fails.

use crate::playbook::model::*;

/// The words of a whole condition.
pub fn condition(c: &Condition) -> String {
    match c {
        Condition::Pods(p) => pods(p),
        Condition::PodLogs(l) => pod_logs(l),
        Condition::Node(n) => node(n),
        Condition::Namespace(n) => namespace(n),
        Condition::Resource(r) => resource(r),
        Condition::Event(e) => event(e),
        Condition::EtcdKey(e) => etcd_key(e),
        Condition::Shims(s) => shims(s),
        Condition::Sandbox(s) => sandbox(s),
        Condition::Kubelet(k) => kubelet(k),
        Condition::Drift(d) => drift(d),
        Condition::Duration(d) => duration(d),
    }
}

/// The pods a name or selector picks in a namespace (also the target of `pod-delete`).
pub fn pods_target(ns: &str, name: &Option<String>, selector: &Option<String>) -> String {
    match (name, selector) {
        (Some(n), _) => format!("pod {ns}/{n}"),
        (None, Some(s)) => format!("pods {s} in {ns}"),
        (None, None) => format!("pods in {ns}"),
    }
}

pub fn pods(p: &PodsCondition) -> String {
    let mut s = pods_target(&p.namespace, &p.name, &p.selector);
    if let Some(n) = &p.node {
        s += &format!(" on {n}");
    }
    let mut props = Vec::new();
    if let Some(c) = p.count {
        props.push(format!("count {c}"));
    }
    if let Some(ph) = p.phase {
        props.push(format!("{ph:?}"));
    }
    if let Some(r) = p.ready {
        props.push(if r { "ready" } else { "not ready" }.into());
    }
    if let Some(t) = p.terminating {
        props.push(if t { "terminating" } else { "not terminating" }.into());
    }
    if let Some(r) = p.restarts {
        props.push(format!("restarts {r}"));
    }
    if let Some(e) = p.exit_code {
        props.push(format!("exit code {e}"));
    }
    if let Some(r) = &p.reason {
        props.push(format!("reason {r}"));
    }
    if let Some(k) = &p.container {
        props.push(format!("container {k}"));
    }
    props.extend(p.tolerations.iter().map(toleration));
    if let Some(step) = &p.replaces {
        props.push(format!("none of the pods `{step}` saw (new name and UID)"));
    }
    if props.is_empty() {
        s
    } else {
        format!("{s}: {}", props.join(", "))
    }
}

fn toleration(t: &TolerationMatch) -> String {
    let mut s = format!("tolerating {}", t.key);
    if let Some(e) = t.effect {
        s += &format!(":{e:?}");
    }
    if let Some(secs) = t.toleration_seconds {
        s += &format!(" for {secs}s");
    }
    s
}

pub fn pod_logs(l: &PodLogsCondition) -> String {
    format!(
        "{}log of {}/{}{} {} `{}`",
        if l.previous { "previous " } else { "" },
        l.namespace,
        l.pod,
        part(" container ", l.container.as_ref()),
        match (l.present == Some(false), l.whole_line) {
            (true, false) => "lacks",
            (false, false) => "contains",
            (true, true) => "has no line",
            (false, true) => "has the line",
        },
        l.contains
    )
}

/// Each property a `node` condition asks for, in the order it is worded.
pub fn node_properties(n: &NodeCondition) -> Vec<String> {
    let mut props = Vec::new();
    if let Some(r) = n.ready {
        props.push(format!("Ready={r:?}"));
    }
    props.extend(n.taints.iter().map(|t| format!("tainted {}", t.key)));
    props.extend(n.no_taints.iter().map(|t| format!("not tainted {}", t.key)));
    props.extend(n.labels.iter().map(|(k, v)| format!("{k}={v}")));
    props
}

pub fn node(n: &NodeCondition) -> String {
    let props = node_properties(n);
    if props.is_empty() {
        return format!("node {} exists", n.name);
    }
    format!("node {} {}", n.name, props.join(", "))
}

pub fn namespace(n: &NamespaceCondition) -> String {
    format!("namespace {} is {:?}", n.name, n.state)
}

pub fn resource(r: &ResourceCondition) -> String {
    match r.writable {
        Some(w) if r.exists.is_none() && r.field.is_none() => writable(&r.resource, w),
        Some(w) => format!("{}; {}", resource_object(r), writable(&r.resource, w)),
        None => resource_object(r),
    }
}

pub fn writable(r: &ResourceRef, accepted: bool) -> String {
    if accepted {
        format!("an edit of {r} is accepted")
    } else {
        format!("an edit of {r} is refused")
    }
}

/// What a `resource` condition says of the object itself: it exists, is absent, or has a field.
pub fn resource_object(r: &ResourceCondition) -> String {
    match (&r.field, &r.equals) {
        (Some(f), Some(v)) => format!("{} has {f} = {v}", r.resource),
        (Some(f), None) => format!("{} has {f}", r.resource),
        _ if r.exists == Some(false) => format!("{} is absent", r.resource),
        _ => format!("{} exists", r.resource),
    }
}

pub fn event(e: &EventCondition) -> String {
    format!(
        "an event {} in {}{}",
        e.reason,
        e.namespace,
        part(" for ", e.object.as_ref())
    )
}

pub fn etcd_key(e: &EtcdKeyCondition) -> String {
    match &e.target {
        EtcdTarget::Key(k) if e.exists == Some(false) => format!("etcd key {k} is absent"),
        EtcdTarget::Key(k) => format!("etcd key {k} exists"),
        EtcdTarget::Prefix(p) => format!(
            "{} etcd key(s) under {p}",
            e.count
                .map(|c| c.to_string())
                .unwrap_or("at least 1".into()),
        ),
    }
}

pub fn shims(s: &ShimsCondition) -> String {
    match (&s.count, &s.same_as) {
        (Some(c), Some(step)) => format!("{c} shim(s) on {}, as many as `{step}` counted", s.node),
        (None, Some(step)) => format!("as many shim(s) on {} as `{step}` counted", s.node),
        (Some(c), None) => format!("{c} shim(s) on {}", s.node),
        (None, None) => format!("shims on {}", s.node),
    }
}

pub fn sandbox(s: &SandboxCondition) -> String {
    format!(
        "{} live sandbox for {}/{}{}",
        if s.present == Some(false) { "no" } else { "a" },
        s.namespace,
        s.pod,
        part(" on ", s.node.as_ref())
    )
}

pub fn kubelet(k: &KubeletCondition) -> String {
    format!(
        "kubelet {} on {}",
        if k.running { "running" } else { "not running" },
        k.node
    )
}

pub fn drift(d: &DriftCondition) -> String {
    let counts = [
        d.ghosts.map(|g| format!("{g} ghost(s)")),
        d.phantoms.map(|p| format!("{p} phantom(s)")),
    ];
    format!("{}{}", and(counts), part(" on ", d.node.as_ref()))
}

pub fn duration(d: &DurationCondition) -> String {
    let bounds = [
        d.at_least.map(|l| format!("at least {l}")),
        d.at_most.map(|m| format!("at most {m}")),
    ];
    format!("step `{}` took {}", d.step, and(bounds))
}

/// `before` and the value when there is one, else nothing: the optional parts of a sentence
/// (" on kind-worker", " container app").
pub fn part(before: &str, value: Option<impl std::fmt::Display>) -> String {
    value.map(|v| format!("{before}{v}")).unwrap_or_default()
}

/// The parts a condition gives (of two it may give either or both), joined by "and".
fn and(parts: [Option<String>; 2]) -> String {
    parts
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" and ")
}
