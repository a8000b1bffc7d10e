//! One-line, human descriptions of steps, for progress lines, reports and `--dry-run`.

use crate::playbook::model::*;
use crate::playbook::values::format_duration;
use crate::playbook::{PlanStep, PlanStepKind, plan_defaults};

pub fn step(s: &PlanStep) -> String {
    match &s.kind {
        PlanStepKind::Group(children) => format!("group of {} step(s)", children.len()),
        PlanStepKind::Apply {
            file, documents, ..
        } => {
            let names: Vec<String> = documents
                .iter()
                .map(|d| {
                    format!(
                        "{} {}",
                        d["kind"].as_str().unwrap_or("?"),
                        d["metadata"]["name"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            format!("apply {} ({})", file.display(), names.join(", "))
        }
        PlanStepKind::Action(a) => action(a),
    }
}

fn pods_target(ns: &str, name: &Option<String>, selector: &Option<String>) -> String {
    match (name, selector) {
        (Some(n), _) => format!("pod {ns}/{n}"),
        (None, Some(s)) => format!("pods {s} in {ns}"),
        (None, None) => format!("pods in {ns}"),
    }
}

pub fn action(a: &Action) -> String {
    match a {
        Action::Apply(x) => format!("apply {}", x.file().display()),
        Action::KubeletStop(n) => format!("stop the kubelet on {}", n.node),
        Action::NodePause(n) => format!("pause node container {}", n.node),
        Action::NodeStop(n) => format!("stop node container {}", n.node),
        Action::NodeKill(n) => format!(
            "kill node container {} with {}",
            n.node,
            n.signal.map(|s| s.to_string()).unwrap_or("SIGKILL".into())
        ),
        Action::ContainerKill(c) => format!(
            "send {} to {}/{}{}",
            c.signal.map(|s| s.to_string()).unwrap_or("SIGTERM".into()),
            c.namespace,
            c.pod,
            c.container
                .as_ref()
                .map(|x| format!(" container {x}"))
                .unwrap_or_default()
        ),
        Action::PodDelete(p) => {
            let how = if p.force {
                " (force: grace 0)".to_string()
            } else {
                p.grace_period
                    .map(|g| format!(" (grace {g})"))
                    .unwrap_or_default()
            };
            format!(
                "delete {}{how}",
                pods_target(&p.namespace, &p.name, &p.selector)
            )
        }
        Action::NamespaceDelete(n) => format!("delete namespace {}", n.namespace),
        Action::ResourceDelete(d) => format!("delete {}", d.resource),
        Action::FinalizerAdd(f) => format!("add finalizer {} to {}", f.finalizer, f.resource),
        Action::FinalizerRemove(f) => match &f.finalizer {
            Some(x) => format!("remove finalizer {x} from {}", f.resource),
            None => format!("remove every finalizer from {}", f.resource),
        },
        Action::NamespaceFinalize(n) => format!(
            "clear spec.finalizers of namespace {} via /finalize",
            n.namespace
        ),
        Action::NodeCordon(n) => format!("cordon {}", n.node),
        Action::NodeTaint(t) => format!(
            "taint {} {}{}:{:?}",
            t.node,
            t.key,
            t.value
                .as_ref()
                .map(|v| format!("={v}"))
                .unwrap_or_default(),
            t.effect
        ),
        Action::EtcdDelete(e) => match (&e.key, &e.prefix) {
            (Some(k), _) => format!("delete etcd key {k} (backed up first)"),
            (_, p) => format!(
                "delete etcd keys under {} (backed up first)",
                p.as_deref().unwrap_or_default()
            ),
        },
        Action::Exec(x) => format!("run `{}` in {}", x.command.join(" "), x.node),
        Action::Wait(w) => format!(
            "wait until {} (timeout {})",
            condition(&w.until),
            format_duration(
                w.timeout
                    .map(|t| t.0)
                    .unwrap_or(plan_defaults::WAIT_TIMEOUT)
            )
        ),
        Action::Sleep(d) => format!("sleep {d}"),
        Action::Assert(c) => format!("assert {}", condition(c)),
        Action::Group(g) => format!("group of {} step(s)", g.len()),
        Action::Undo(name) => format!("undo what step `{name}` did"),
    }
}

pub fn condition(c: &Condition) -> String {
    match c {
        Condition::Pods(p) => {
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
                props.push(if r {
                    "ready".into()
                } else {
                    "not ready".into()
                });
            }
            if let Some(t) = p.terminating {
                props.push(if t {
                    "terminating".into()
                } else {
                    "not terminating".into()
                });
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
            if props.is_empty() {
                s
            } else {
                format!("{s}: {}", props.join(", "))
            }
        }
        Condition::PodLogs(l) => format!(
            "{}log of {}/{}{} {} `{}`",
            if l.previous { "previous " } else { "" },
            l.namespace,
            l.pod,
            l.container
                .as_ref()
                .map(|c| format!(" container {c}"))
                .unwrap_or_default(),
            if l.present == Some(false) {
                "lacks"
            } else {
                "contains"
            },
            l.contains
        ),
        Condition::Node(n) => {
            let mut props = Vec::new();
            if let Some(r) = n.ready {
                props.push(format!("Ready={r:?}"));
            }
            props.extend(n.taints.iter().map(|t| format!("tainted {}", t.key)));
            props.extend(n.no_taints.iter().map(|t| format!("not tainted {}", t.key)));
            props.extend(n.labels.iter().map(|(k, v)| format!("{k}={v}")));
            format!("node {} {}", n.name, props.join(", "))
        }
        Condition::Namespace(n) => format!("namespace {} is {:?}", n.name, n.state),
        Condition::Resource(r) => match (&r.field, &r.equals) {
            (Some(f), Some(v)) => format!("{} has {f} = {v}", r.resource),
            (Some(f), None) => format!("{} has {f}", r.resource),
            _ if r.exists == Some(false) => format!("{} is absent", r.resource),
            _ => format!("{} exists", r.resource),
        },
        Condition::Event(e) => format!("an event {} in {}", e.reason, e.namespace),
        Condition::EtcdKey(e) => match (&e.key, &e.prefix) {
            (Some(k), _) if e.exists == Some(false) => format!("etcd key {k} is absent"),
            (Some(k), _) => format!("etcd key {k} exists"),
            (_, p) => format!(
                "{} etcd key(s) under {}",
                e.count
                    .map(|c| c.to_string())
                    .unwrap_or("at least 1".into()),
                p.as_deref().unwrap_or_default()
            ),
        },
        Condition::Shims(s) => format!("{} shim(s) on {}", s.count, s.node),
        Condition::Sandbox(s) => format!(
            "{} live sandbox for {}/{}{}",
            if s.present == Some(false) { "no" } else { "a" },
            s.namespace,
            s.pod,
            s.node
                .as_ref()
                .map(|n| format!(" on {n}"))
                .unwrap_or_default()
        ),
        Condition::Kubelet(k) => format!(
            "kubelet {} on {}",
            if k.running { "running" } else { "not running" },
            k.node
        ),
        Condition::Drift(d) => {
            let mut parts = Vec::new();
            if let Some(g) = d.ghosts {
                parts.push(format!("{g} ghost(s)"));
            }
            if let Some(p) = d.phantoms {
                parts.push(format!("{p} phantom(s)"));
            }
            format!(
                "{}{}",
                parts.join(" and "),
                d.node
                    .as_ref()
                    .map(|n| format!(" on {n}"))
                    .unwrap_or_default()
            )
        }
        Condition::Duration(d) => {
            let mut parts = Vec::new();
            if let Some(l) = d.at_least {
                parts.push(format!("at least {l}"));
            }
            if let Some(m) = d.at_most {
                parts.push(format!("at most {m}"));
            }
            format!("step `{}` took {}", d.step, parts.join(" and "))
        }
    }
}
