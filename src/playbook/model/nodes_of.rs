//! Which node targets each action and condition holds: the one list the preflight walks to
//! resolve every `{role: ...}`, `pick` and `target-of` in place (a fault's `node`, a network
//! fault's peers in `to:` and `from: {nodes: [...]}`, a condition's `node`).

use super::actions::Action;
use super::conditions::Condition;
use super::network::Peers;
use super::target::NodeTarget;

impl Action {
    /// Every node target of the action, in the order written: the node first, then its peers.
    pub fn node_targets_mut(&mut self) -> Vec<&mut NodeTarget> {
        let (node, peers): (&mut NodeTarget, Option<&mut Vec<NodeTarget>>) = match self {
            Action::KubeletStop(x) | Action::NodePause(x) | Action::NodeCordon(x) => {
                (&mut x.node, None)
            }
            Action::NodeStop(x) => (&mut x.node, None),
            Action::NodeKill(x) => (&mut x.node, None),
            Action::NodeTaint(x) => (&mut x.node, None),
            Action::Exec(x) => (&mut x.node, None),
            Action::CpuHog(x) => (&mut x.node, None),
            Action::MemoryHog(x) => (&mut x.node, None),
            Action::DiskFill(x) => (&mut x.node, None),
            Action::NetworkPartition(x) => match &mut x.from {
                Peers::Nodes(peers) => (&mut x.node, Some(peers)),
                _ => (&mut x.node, None),
            },
            Action::NetworkDelay(x) => (&mut x.node, x.to.as_mut()),
            Action::NetworkLoss(x) => (&mut x.node, x.to.as_mut()),
            Action::NetworkBandwidth(x) => (&mut x.node, x.to.as_mut()),
            Action::Wait(w) => return w.until.node_targets_mut(),
            Action::Assert(c) => return c.node_targets_mut(),
            Action::Apply(_)
            | Action::Probe(_)
            | Action::Parallel(_)
            | Action::Repeat(_)
            | Action::ContainerKill(_)
            | Action::PodDelete(_)
            | Action::NamespaceDelete(_)
            | Action::ResourceDelete(_)
            | Action::FinalizerAdd(_)
            | Action::FinalizerRemove(_)
            | Action::NamespaceFinalize(_)
            | Action::EtcdDelete(_)
            | Action::Sleep(_)
            | Action::Group(_)
            | Action::Undo(_) => return Vec::new(),
        };
        let mut all = vec![node];
        all.extend(peers.into_iter().flatten());
        all
    }
}

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
