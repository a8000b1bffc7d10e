//! What the network faults ask of a node, in this project's own words: a partition (peers whose
//! traffic a chain of our own drops) and a shaping (delay, loss or a rate limit on the node's
//! interface, optionally only towards some peers). Peers are named by node; the adapter finds
//! their addresses.

use serde::{Deserialize, Serialize};

pub use crate::playbook::model::Direction;

/// The prefix of every iptables chain kind-chaos creates; `chaos recover` and the tests find
/// leftovers by it.
pub const CHAIN_PREFIX: &str = "KIND-CHAOS-";

/// Drop a node's traffic with some peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// The chain holding the rules, jumped to from `INPUT` and `OUTPUT` (starts with
    /// [`CHAIN_PREFIX`], at most 28 characters as iptables allows).
    pub chain: String,
    pub peers: Vec<Peer>,
    pub direction: Direction,
}

/// A peer node, all of its traffic or only that of some of its ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub node: String,
    /// Only these TCP ports on the peer (empty: every packet).
    pub ports: Vec<u16>,
}

/// Degrade what a node sends on its interface on the `kind` network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shaping {
    pub impairment: Impairment,
    /// Only packets to these nodes (empty: every packet).
    pub peers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Impairment {
    Delay { delay_us: u64, jitter_us: u64 },
    Loss { percent: u8 },
    Bandwidth { rate_kbit: u32 },
}
