//! The rules of one action or condition that types cannot say: one of `name`/`selector`, an
//! etcd prefix that is too wide, empty commands, qualified finalizer names, wait timeouts, the
//! ranges and peer lists of network faults, a CPU hog's bounds, the
//! least duration of a memory hog or a disk fill, and the references and pairings
//! inside conditions.

use crate::playbook::model::{
    Action, Condition, DiskFill, EtcdDelete, EtcdTarget, MemoryHog, NodeTarget, Peers, ProbeCheck,
};
use crate::playbook::names;
use crate::playbook::yaml::Span;

use super::{Validator, unknown_name_help};

impl Validator<'_> {
    pub(super) fn check_action(&mut self, action: &Action, at: &dyn Fn(&[&str]) -> Option<Span>) {
        match action {
            Action::PodDelete(_) | Action::ContainerKill(_) => self.check_pods(action, at),
            Action::EtcdDelete(EtcdDelete {
                target: EtcdTarget::Prefix(prefix),
            }) => {
                if let Some(why) = names::whole_etcd_prefix(prefix) {
                    self.error(
                        at(&["prefix"]),
                        format!("refusing to delete every key under this prefix: {why}"),
                    )
                    .help = Some("name a narrower prefix, like `/registry/pods/default/`".into());
                }
            }
            Action::Exec(x) if x.command.is_empty() => {
                self.error(at(&["command"]), "an empty command");
            }
            Action::Exec(x) if x.undo.as_ref().is_some_and(Vec::is_empty) => {
                self.error(at(&["undo"]), "an empty undo command");
            }
            Action::FinalizerAdd(f) if !f.finalizer.contains('/') => {
                self.error(
                    at(&["finalizer"]),
                    format!("finalizer `{}` is not a qualified name", f.finalizer),
                )
                .help = Some(
                    "Kubernetes requires a domain prefix, like `chaos.kind-chaos.dev/hold`".into(),
                );
            }
            Action::NetworkPartition(n) => {
                if matches!(&n.from, Peers::Nodes(list) if list.is_empty()) {
                    self.error(at(&["from", "nodes"]), "a partition from no nodes");
                }
            }
            Action::NetworkDelay(d) => {
                if d.delay.0.is_zero() {
                    self.error(at(&["delay"]), "a delay must be greater than zero");
                }
                self.check_peers(d.to.as_deref(), at(&["to"]));
            }
            Action::NetworkLoss(l) => {
                if !(1..=100).contains(&l.percent) {
                    self.error(at(&["percent"]), "a loss is 1 to 100 per cent");
                }
                self.check_peers(l.to.as_deref(), at(&["to"]));
            }
            Action::NetworkBandwidth(b) => {
                if b.rate_kbit < 8 {
                    self.error(at(&["rate-kbit"]), "a rate of at least 8 kbit/s");
                }
                self.check_peers(b.to.as_deref(), at(&["to"]));
            }
            Action::CpuHog(h) => {
                if h.cores.is_some_and(|c| !(1..=64).contains(&c)) {
                    self.error(at(&["cores"]), "a CPU hog of 1 to 64 cores");
                }
                if h.duration.0 < std::time::Duration::from_secs(1) {
                    self.error(at(&["duration"]), "a CPU hog runs at least 1s");
                }
            }
            Action::MemoryHog(MemoryHog { duration, .. })
            | Action::DiskFill(DiskFill { duration, .. })
                if duration.0 < std::time::Duration::from_secs(1) =>
            {
                self.error(
                    at(&["duration"]),
                    "a memory hog or a disk fill lasts at least 1s",
                );
            }
            Action::Wait(w) => {
                if w.timeout.is_some_and(|t| t.0.is_zero()) {
                    self.error(at(&["timeout"]), "a wait timeout must be greater than zero");
                }
                if w.interval.is_some_and(|t| t.0.is_zero()) {
                    self.error(
                        at(&["interval"]),
                        "a wait interval must be greater than zero",
                    );
                }
                self.check_condition(&w.until, &|p: &[&str]| {
                    let mut full = vec!["until"];
                    full.extend_from_slice(p);
                    at(&full)
                });
            }
            Action::Assert(c) => self.check_condition(c, at),
            _ => {}
        }
    }

    /// A probe's check: a condition's rules, under its `condition` key.
    pub(super) fn check_probe(&mut self, c: &ProbeCheck, at: &dyn Fn(&[&str]) -> Option<Span>) {
        if let ProbeCheck::Condition(c) = c {
            self.check_condition(c, &|p: &[&str]| {
                let mut full = vec!["condition"];
                full.extend_from_slice(p);
                at(&full)
            });
        }
    }

    fn check_peers(&mut self, to: Option<&[NodeTarget]>, at: Option<Span>) {
        if to.is_some_and(<[NodeTarget]>::is_empty) {
            self.error(
                at,
                "an empty list of peers: leave `to` out to mean every packet",
            );
        }
    }

    /// `pod-delete` and `container-kill`: one pod by its name (`name`, `pod`) or a `selector`,
    /// and a `pick` only among what a selector matches.
    fn check_pods(&mut self, action: &Action, at: &dyn Fn(&[&str]) -> Option<Span>) {
        let (what, name, named, selector, pick) = match action {
            Action::PodDelete(p) => ("pod-delete", "name", p.name.is_some(), &p.selector, p.pick),
            Action::ContainerKill(c) => (
                "container-kill",
                "pod",
                c.pod.is_some(),
                &c.selector,
                c.pick,
            ),
            _ => return,
        };
        let pods = [(name, named), ("selector", selector.is_some())];
        self.one_of(at(&[]), what, &pods);
        self.check_selector(selector.as_deref(), at(&["selector"]));
        if named && pick.is_some() {
            self.error(
                at(&["pick"]),
                format!("`pick` chooses among the pods a `selector` matches; `{name}` is one pod"),
            );
        }
    }

    fn check_condition(&mut self, c: &Condition, at: &dyn Fn(&[&str]) -> Option<Span>) {
        match c {
            Condition::Pods(p) => {
                if p.name.is_some() && p.selector.is_some() {
                    self.error(at(&["pods"]), "`pods` takes `name` or `selector`, not both");
                }
                self.check_selector(p.selector.as_deref(), at(&["pods", "selector"]));
                if let Some(step) = &p.replaces {
                    self.check_step_ref(step, at(&["pods", "replaces"]));
                }
            }
            Condition::Shims(s) => {
                if let Some(step) = &s.same_as {
                    self.check_step_ref(step, at(&["shims", "same-as"]));
                }
                if s.count.is_none() && s.same_as.is_none() {
                    self.error(at(&["shims"]), "`shims` needs `count`, `same-as` or both");
                }
            }
            Condition::EtcdKey(e) => {
                let key = matches!(e.target, EtcdTarget::Key(_));
                if key && e.count.is_some() {
                    self.error(
                        at(&["etcd-key", "count"]),
                        "`count` goes with `prefix`, not `key`",
                    );
                }
                if !key && e.exists.is_some() {
                    self.error(
                        at(&["etcd-key", "exists"]),
                        "`exists` goes with `key`; use `count` with `prefix`",
                    );
                }
            }
            Condition::Resource(r) if r.equals.is_some() && r.field.is_none() => {
                self.error(at(&["resource", "equals"]), "`equals` needs a `field`");
            }
            Condition::Duration(d) => {
                self.check_step_ref(&d.step, at(&["duration", "step"]));
                if d.at_least.is_none() && d.at_most.is_none() {
                    self.error(
                        at(&["duration"]),
                        "`duration` needs `at-least`, `at-most` or both",
                    );
                }
            }
            Condition::Drift(d) if d.ghosts.is_none() && d.phantoms.is_none() => {
                self.error(at(&["drift"]), "`drift` needs `ghosts`, `phantoms` or both");
            }
            _ => {}
        }
    }

    /// A condition's reference to an earlier step by its `name`.
    fn check_step_ref(&mut self, step: &str, span: Option<Span>) {
        if self.names.contains_key(step) {
            return;
        }
        let none = "no earlier step has a `name`";
        let help = unknown_name_help(step, self.names.keys(), "steps", none);
        self.error(span, format!("no earlier step is named `{step}`"))
            .help = Some(help);
    }

    fn one_of(&mut self, span: Option<Span>, what: &str, options: &[(&str, bool)]) {
        let set = options.iter().filter(|(_, s)| *s).count();
        let names: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
        if set == 0 {
            self.error(
                span,
                format!("`{what}` needs one of {}", names.join(" or ")),
            );
        } else if set > 1 {
            self.error(
                span,
                format!("`{what}` takes only one of {}", names.join(" or ")),
            );
        }
    }
}
