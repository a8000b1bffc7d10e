//! The network faults inside a node container: `network-partition` (iptables rules in a chain
//! of our own) and `network-delay` / `network-loss` / `network-bandwidth` (a qdisc of our own
//! on the node's interface), and their undos (remove that chain, remove that qdisc).
//!
//! Peers are resolved here, from the node list and its roles, into node names; the backend
//! finds their addresses. A partition's chain is named from the fault itself, so the undo
//! journaled before it knows exactly what to remove, and the same partition cannot be put on
//! a node twice while the first is still there.

use async_trait::async_trait;

use crate::backends::{
    BackendError, CHAIN_PREFIX, Direction, Impairment, Partition, Peer, Result, Shaping,
};
use crate::playbook::model::{self, Action, NodeTarget, Peers};

use super::super::backends::Backends;
use super::{Fault, UndoRecord};

/// The fault `action` is, when this family holds it. Written out rather than by `family!`:
/// three actions share the one [`Shape`] fault.
pub fn of(action: &Action) -> Option<Box<dyn Fault + '_>> {
    match action {
        Action::NetworkPartition(p) => Some(Box::new(NetworkPartition(p))),
        Action::NetworkDelay(d) => Some(Box::new(Shape::delay(d))),
        Action::NetworkLoss(l) => Some(Box::new(Shape::loss(l))),
        Action::NetworkBandwidth(w) => Some(Box::new(Shape::bandwidth(w))),
        _ => None,
    }
}

/// etcd's client and peer ports, what `from: etcd` cuts.
const ETCD_PORTS: [u16; 2] = [2379, 2380];

pub struct NetworkPartition<'a>(pub &'a model::NetworkPartition);

impl NetworkPartition<'_> {
    fn direction(&self) -> Direction {
        self.0.direction.unwrap_or_default()
    }

    /// `KIND-CHAOS-` and eight hex digits of an FNV-1a hash of what the fault says: stable
    /// across runs (so a leftover blocks the same partition until recovered) and short enough
    /// for iptables' 28 characters.
    fn chain(&self) -> String {
        // The peers by name, written as `Nodes(["a", "b"])` as before node targets were
        // resolved, so a partition's chain keeps its name across versions.
        let from = match &self.0.from {
            Peers::Nodes(list) => format!("Nodes({:?})", names(list)),
            other => format!("{other:?}"),
        };
        let text = format!("{}|{from}|{}", self.0.node, self.direction().word());
        let hash = text.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        format!("{CHAIN_PREFIX}{hash:08X}")
    }

    /// The peers the partition cuts, from the cluster's nodes.
    async fn peers(&self, b: &Backends) -> Result<Vec<Peer>> {
        let node = self.0.node.name();
        let nodes = b.nodes().await?.nodes().await?;
        if !nodes.iter().any(|n| n.name == node) {
            return Err(BackendError::not_found(format!(
                "no node `{node}` in the cluster"
            )));
        }
        let others = nodes.iter().filter(|n| n.name != node);
        let control_planes = || others.clone().filter(|n| n.role == "control-plane");
        let peers: Vec<Peer> = match &self.0.from {
            Peers::ControlPlane => control_planes().map(|n| peer(&n.name, &[])).collect(),
            Peers::Etcd => control_planes()
                .map(|n| peer(&n.name, &ETCD_PORTS))
                .collect(),
            Peers::All => others.map(|n| peer(&n.name, &[])).collect(),
            Peers::Nodes(targets) => {
                let mut list = Vec::new();
                for name in names(targets) {
                    if name == node {
                        return Err(BackendError::failed(format!(
                            "cannot partition node `{node}` from itself"
                        )));
                    }
                    if !nodes.iter().any(|n| n.name == name) {
                        return Err(BackendError::not_found(format!(
                            "no node `{name}` in the cluster to partition `{node}` from"
                        )));
                    }
                    list.push(peer(name, &[]));
                }
                list
            }
        };
        if peers.is_empty() {
            return Err(BackendError::failed(format!(
                "nothing to partition node `{node}` from: no other node is {}",
                peers_text(&self.0.from)
            )));
        }
        Ok(peers)
    }
}

/// The names of peer nodes (resolved by the preflight).
fn names(targets: &[NodeTarget]) -> Vec<&str> {
    targets.iter().map(NodeTarget::name).collect()
}

fn peer(node: &str, ports: &[u16]) -> Peer {
    Peer {
        node: node.to_string(),
        ports: ports.to_vec(),
    }
}

fn peers_text(from: &Peers) -> String {
    match from {
        Peers::ControlPlane => "the control plane".into(),
        Peers::Etcd => "etcd on the control plane, ports 2379 and 2380".into(),
        Peers::All => "every other node".into(),
        Peers::Nodes(list) => names(list).join(", "),
    }
}

#[async_trait]
impl Fault for NetworkPartition<'_> {
    fn describe(&self) -> String {
        let how = match self.direction() {
            Direction::Both => "every packet, both ways",
            Direction::In => "connections they open to it",
            Direction::Out => "connections it opens to them",
        };
        format!(
            "cut node {} off from {} ({how})",
            self.0.node,
            peers_text(&self.0.from)
        )
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::NetworkHeal {
            node: self.0.node.to_string(),
            chain: self.chain(),
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let cut = Partition {
            chain: self.chain(),
            peers: self.peers(b).await?,
            direction: self.direction(),
        };
        b.nodes().await?.partition(&self.0.node, &cut).await?;
        Ok(undo)
    }
    /// Rules may have been added before a later one failed.
    fn owed_if_failed(&self, _undo: &UndoRecord) -> bool {
        true
    }
}

pub fn heal_text(node: &str, chain: &str) -> String {
    format!("remove iptables chain {chain} and the jumps to it in node {node}")
}

pub async fn heal(b: &Backends, node: &str, chain: &str) -> Result<Option<String>> {
    b.nodes().await?.heal(node, chain).await?;
    Ok(None)
}

/// `network-delay`, `network-loss` and `network-bandwidth`: one qdisc on the node's interface.
pub struct Shape<'a> {
    pub node: &'a str,
    pub impairment: Impairment,
    pub to: Option<&'a [NodeTarget]>,
}

impl<'a> Shape<'a> {
    pub fn delay(d: &'a model::NetworkDelay) -> Self {
        let us = |t: std::time::Duration| u64::try_from(t.as_micros()).unwrap_or(u64::MAX);
        Shape {
            node: &d.node,
            impairment: Impairment::Delay {
                delay_us: us(d.delay.0),
                jitter_us: d.jitter.map_or(0, |j| us(j.0)),
            },
            to: d.to.as_deref(),
        }
    }
    pub fn loss(l: &'a model::NetworkLoss) -> Self {
        Shape {
            node: &l.node,
            impairment: Impairment::Loss { percent: l.percent },
            to: l.to.as_deref(),
        }
    }
    pub fn bandwidth(w: &'a model::NetworkBandwidth) -> Self {
        Shape {
            node: &w.node,
            impairment: Impairment::Bandwidth {
                rate_kbit: w.rate_kbit,
            },
            to: w.to.as_deref(),
        }
    }
}

#[async_trait]
impl Fault for Shape<'_> {
    fn describe(&self) -> String {
        let fmt = |us: u64| {
            crate::playbook::values::format_duration(std::time::Duration::from_micros(us))
        };
        let what = match self.impairment {
            Impairment::Delay {
                delay_us,
                jitter_us: 0,
            } => format!(
                "delay the packets node {} sends by {}",
                self.node,
                fmt(delay_us)
            ),
            Impairment::Delay {
                delay_us,
                jitter_us,
            } => format!(
                "delay the packets node {} sends by {} ± {}",
                self.node,
                fmt(delay_us),
                fmt(jitter_us)
            ),
            Impairment::Loss { percent } => {
                format!("drop {percent}% of the packets node {} sends", self.node)
            }
            Impairment::Bandwidth { rate_kbit } => {
                format!(
                    "limit node {}'s sending rate to {rate_kbit} kbit/s",
                    self.node
                )
            }
        };
        match self.to {
            Some(to) => format!("{what} (only packets to {})", names(to).join(", ")),
            None => what,
        }
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::NetworkUnshape {
            node: self.node.to_string(),
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let shaping = Shaping {
            impairment: self.impairment,
            peers: self
                .to
                .map(|to| names(to).into_iter().map(str::to_string).collect())
                .unwrap_or_default(),
        };
        b.nodes().await?.shape(self.node, &shaping).await?;
        Ok(undo)
    }
}

pub fn unshape_text(node: &str) -> String {
    format!("remove kind-chaos's qdisc from node {node}'s interface")
}

pub async fn unshape(b: &Backends, node: &str) -> Result<Option<String>> {
    b.nodes().await?.unshape(node).await?;
    Ok(None)
}
