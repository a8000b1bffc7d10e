//! The bodies of the network faults (`network-partition`, `network-delay`, `network-loss`,
//! `network-bandwidth`), apart from `actions.rs` only to keep that file short: their variants,
//! keys and undo flags are in `actions.rs` with every other action's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::values::Duration;
use super::target::NodeTarget;

/// Cut a node off from some of its peers on the `kind` network, in a direction.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkPartition {
    /// The node whose traffic is cut (its own iptables rules; the peers are not touched).
    pub node: NodeTarget,
    /// Which peers it is cut off from.
    pub from: Peers,
    /// Which connections stop, by who opens them (default `both`).
    #[serde(default)]
    pub direction: Option<Direction>,
}

/// The peers of a partition, by their addresses on the `kind` network.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Peers {
    /// The control-plane node(s): the API server and everything else on them.
    ControlPlane,
    /// Only etcd's client and peer ports (2379, 2380) on the control-plane node(s).
    Etcd,
    /// Every other node of the cluster.
    All,
    /// These nodes: each a name, `{role: ROLE, index: N}`, `{role: ROLE, pick: random}` or
    /// `{target-of: STEP}`, like a fault's `node`.
    Nodes(Vec<NodeTarget>),
}

/// Which connections a partition stops, seen from the partitioned node.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Every packet to and from the peers is dropped.
    #[default]
    Both,
    /// Connections the peers open to the node stop (new and established); the node's own
    /// connections to them keep working.
    In,
    /// Connections the node opens to the peers stop (new and established); theirs to it keep
    /// working.
    Out,
}

impl Direction {
    pub fn word(self) -> &'static str {
        match self {
            Direction::Both => "both",
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// Delay every packet a node sends (tc netem), or only those to some peers.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkDelay {
    pub node: NodeTarget,
    /// Added to every packet the node sends, like `200ms`.
    pub delay: Duration,
    /// Random variation around `delay` (default none).
    #[serde(default)]
    pub jitter: Option<Duration>,
    /// Only packets to these nodes, each named like `node` (default: every packet on the
    /// node's `kind` interface).
    #[serde(default)]
    pub to: Option<Vec<NodeTarget>>,
}

/// Drop a share of the packets a node sends (tc netem), or only of those to some peers.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkLoss {
    pub node: NodeTarget,
    /// The share of packets dropped, 1 to 100 (per cent).
    pub percent: u8,
    /// Only packets to these nodes, each named like `node` (default: every packet on the
    /// node's `kind` interface).
    #[serde(default)]
    pub to: Option<Vec<NodeTarget>>,
}

/// Limit the rate a node sends at (tc tbf), or only to some peers (an htb class).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkBandwidth {
    pub node: NodeTarget,
    /// The rate, in kilobits per second (at least 8).
    pub rate_kbit: u32,
    /// Only packets to these nodes, each named like `node` (default: every packet on the
    /// node's `kind` interface).
    #[serde(default)]
    pub to: Option<Vec<NodeTarget>>,
}
