//! The picking rules, pure: a small seeded PRNG of our own (SplitMix64, so the same seed makes
//! the same picks anywhere), the seed of each step, and how a node target or a pod `pick`
//! chooses among what the cluster has. The preflight (`targets.rs`) and the steps that pick at
//! run time (`pods.rs`) both choose through these.

use std::hash::{BuildHasher, Hasher};

use crate::backends::NodeContainer;
use crate::playbook::model::{NodePick, NodeSelect, PodPick};

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same numbers on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0); the modulo bias is negligible for the handful of nodes
    /// and pods picked from.
    pub fn below(&mut self, n: usize) -> usize {
        let n64 = n.max(1) as u64;
        usize::try_from(self.next_u64() % n64).unwrap_or(0)
    }
}

/// The seed of one step's picks: the run's seed mixed with the step's id, so a step picks the
/// same whatever other steps pick (adding a step elsewhere does not change this one's choice).
pub fn step_seed(seed: u64, step_id: &str) -> u64 {
    // FNV-1a of the id, then one SplitMix64 round.
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in step_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    Rng::new(seed ^ h).next_u64()
}

/// A seed for a run that wrote none: from the OS's randomness (std's hasher keys), below 2^53
/// so that it can be written back as `seed:` exactly (YAML readers, ours included, read larger
/// integers as floats, and JSON tools lose digits past 2^53).
pub fn draw_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    h.finish() & ((1 << 53) - 1)
}

/// `name (role)` of every node, for messages.
fn listing(nodes: &[NodeContainer]) -> String {
    if nodes.is_empty() {
        return "no nodes".into();
    }
    nodes
        .iter()
        .map(|n| format!("{} ({})", n.name, n.role))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The node `select` names among `nodes` (sorted by name, as kind names them in order).
/// `TargetOf` is the caller's (it needs the earlier steps); here it is an error.
pub fn pick_node(
    nodes: &[NodeContainer],
    select: &NodeSelect,
    rng: &mut Rng,
) -> Result<String, String> {
    let mut sorted: Vec<&NodeContainer> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    match select {
        NodeSelect::Name(n) => match sorted.iter().find(|c| &c.name == n) {
            Some(c) => Ok(c.name.clone()),
            None => Err(format!("no node `{n}`; the cluster has {}", listing(nodes))),
        },
        NodeSelect::Role { role, index, pick } => {
            let of_role: Vec<&str> = sorted
                .iter()
                .filter(|c| &c.role == role)
                .map(|c| c.name.as_str())
                .collect();
            if of_role.is_empty() {
                let mut roles: Vec<&str> = nodes.iter().map(|n| n.role.as_str()).collect();
                roles.sort_unstable();
                roles.dedup();
                return Err(format!(
                    "no node has the role `{role}` (roles: {}); the cluster has {}",
                    roles.join(", "),
                    listing(nodes)
                ));
            }
            match (index, pick) {
                (Some(i), _) => {
                    let at = usize::try_from(*i).unwrap_or(usize::MAX);
                    match at.checked_sub(1).and_then(|k| of_role.get(k)) {
                        Some(n) => Ok((*n).to_string()),
                        None => Err(format!(
                            "`index: {i}`: the cluster has {} {role} node(s): {}",
                            of_role.len(),
                            of_role.join(", ")
                        )),
                    }
                }
                (None, Some(NodePick::Random)) => Ok(of_role[rng.below(of_role.len())].to_string()),
                (None, None) => match of_role[..] {
                    [only] => Ok(only.to_string()),
                    _ => Err(format!(
                        "{} nodes have the role `{role}` ({}); say which with `index: N` (from 1) or `pick: random`",
                        of_role.len(),
                        of_role.join(", ")
                    )),
                },
            }
        }
        NodeSelect::TargetOf(step) => Err(format!(
            "`target-of: {step}`: no earlier step named `{step}` chose a node"
        )),
    }
}

/// The items (matching pods, in name order) a `pick` takes, with the step's seed; an error
/// when fewer match than the pick needs (`one`: exactly one; N: at least N; else one, `all`
/// included: a pick of nothing would pass having done nothing).
pub fn pick_pods<T: Clone>(items: &[T], pick: PodPick, seed: u64) -> Result<Vec<T>, String> {
    let n = items.len();
    let take = match pick {
        PodPick::All if n > 0 => return Ok(items.to_vec()),
        PodPick::One => {
            return match items {
                [one] => Ok(vec![one.clone()]),
                _ => Err(format!(
                    "`pick: one` needs exactly one matching pod, and {n} match"
                )),
            };
        }
        _ if n < pick.needs() => {
            let need = pick.needs();
            return Err(format!(
                "`pick: {pick}` needs at least {need} matching pod{}, and {n} match",
                if need == 1 { "" } else { "s" }
            ));
        }
        PodPick::All => n,
        PodPick::Random => 1,
        PodPick::Count(c) => usize::try_from(c).unwrap_or(usize::MAX),
        PodPick::Percent(p) => (n * usize::from(p)).div_ceil(100),
    };
    // A partial Fisher-Yates shuffle: the first `take` of a random order, then back in the
    // items' own order so the report reads like the cluster.
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..take.min(n) {
        let j = i + rng.below(n - i);
        order.swap(i, j);
    }
    let mut chosen = order[..take.min(n)].to_vec();
    chosen.sort_unstable();
    Ok(chosen.into_iter().map(|i| items[i].clone()).collect())
}
