//! Which node targets each condition holds (a condition's `node`), which the preflight walks,
//! with the actions' own list (`Action::node_targets_mut` in actions.rs, beside the rest of
//! what each action is), to resolve every `{role: ...}`, `pick` and `target-of` in place.

use super::conditions::Condition;
use super::target::NodeTarget;

impl Condition {
    /// Every node target of the condition.
    pub fn node_targets_mut(&mut self) -> Vec<&mut NodeTarget> {
        match self {
            Condition::Pods(p) => p.node.iter_mut().collect(),
            Condition::Node(n) => vec![&mut n.name],
            Condition::Shims(s) => vec![&mut s.node],
            Condition::Sandbox(s) => s.node.iter_mut().collect(),
            Condition::Kubelet(k) => vec![&mut k.node],
            Condition::Drift(d) => d.node.iter_mut().collect(),
            Condition::PodLogs(_)
            | Condition::Namespace(_)
            | Condition::Resource(_)
            | Condition::Event(_)
            | Condition::EtcdKey(_)
            | Condition::Duration(_) => Vec::new(),
        }
    }
}
