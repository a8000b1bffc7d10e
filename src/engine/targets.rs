//! The preflight: before the first step, every node target of a playbook is resolved against
//! the cluster's node containers (by name, by role and position, at random from the run's
//! seed, or as the node an earlier step chose), and every backend the playbook needs is
//! reached. A playbook that names a node the cluster lacks stops here, before anything is
//! injected, with the names of the nodes there are. So one playbook travels between clusters
//! (`--cluster other`) and a random pick can be replayed from the seed the report prints.
//!
//! The picking is pure (`pick_node`, `pick_pods`) and unit-tested; randomness comes from a
//! small seeded PRNG of our own (SplitMix64), so the same seed makes the same picks anywhere.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use crate::backends::{BackendError, NodeContainer};
use crate::playbook::model::{
    Action, Condition, HttpTarget, NodePick, NodeSelect, NodeTarget, PodPick, ProbeCheck,
};
use crate::playbook::{Plan, PlanStep, PlanStepKind, Resolved, ResolvedTarget};

use super::backends::Backends;

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

/// The items (matching pods, in name order) a `pick` takes, with the step's seed.
pub fn pick_pods<T: Clone>(items: &[T], pick: PodPick, seed: u64) -> Result<Vec<T>, String> {
    let n = items.len();
    let take = match pick {
        PodPick::All => return Ok(items.to_vec()),
        PodPick::One => {
            return match items {
                [one] => Ok(vec![one.clone()]),
                _ => Err(format!(
                    "`pick: one` needs exactly one matching pod, and {n} match"
                )),
            };
        }
        PodPick::Random => 1,
        PodPick::Count(c) => usize::try_from(c).unwrap_or(usize::MAX).min(n),
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

/// Which backends a playbook needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The node containers (Docker): node faults, what runs on the nodes, or a node target
    /// that does not name its node.
    pub nodes: bool,
    pub api: bool,
    pub etcd: bool,
    /// Something is picked at random (a seed is needed).
    pub random: bool,
}

impl Needs {
    fn of_condition(&mut self, c: &Condition) {
        match c {
            Condition::Pods(_)
            | Condition::PodLogs(_)
            | Condition::Node(_)
            | Condition::Namespace(_)
            | Condition::Resource(_)
            | Condition::Event(_) => self.api = true,
            Condition::EtcdKey(_) => self.etcd = true,
            Condition::Shims(_) | Condition::Sandbox(_) | Condition::Kubelet(_) => {
                self.nodes = true
            }
            Condition::Drift(_) => {
                self.nodes = true;
                self.api = true;
            }
            Condition::Duration(_) => {}
        }
    }

    /// A probe's check: HTTP to a node's address and exec in a node need the node containers.
    fn of_probe(&mut self, c: &ProbeCheck) {
        match c {
            ProbeCheck::Http(h) => self.nodes |= matches!(h.target, HttpTarget::Node { .. }),
            ProbeCheck::Exec(_) => self.nodes = true,
            ProbeCheck::Condition(c) => self.of_condition(c),
        }
    }

    fn of_action(&mut self, a: &Action) {
        match a {
            Action::Apply(_)
            | Action::NamespaceDelete(_)
            | Action::ResourceDelete(_)
            | Action::FinalizerAdd(_)
            | Action::FinalizerRemove(_)
            | Action::NamespaceFinalize(_)
            | Action::NodeCordon(_)
            | Action::NodeTaint(_) => self.api = true,
            Action::PodDelete(p) => {
                self.api = true;
                self.random |= !matches!(p.pick, None | Some(PodPick::All | PodPick::One));
            }
            Action::KubeletStop(_)
            | Action::NodePause(_)
            | Action::NodeStop(_)
            | Action::NodeKill(_)
            | Action::ContainerKill(_)
            | Action::Exec(_)
            | Action::NetworkPartition(_)
            | Action::NetworkDelay(_)
            | Action::NetworkLoss(_)
            | Action::NetworkBandwidth(_)
            | Action::CpuHog(_)
            | Action::MemoryHog(_)
            | Action::DiskFill(_) => self.nodes = true,
            Action::Probe(p) => self.of_probe(&p.check),
            Action::EtcdDelete(_) => self.etcd = true,
            Action::Wait(w) => self.of_condition(&w.until),
            Action::Assert(c) => self.of_condition(c),
            Action::Sleep(_)
            | Action::Group(_)
            | Action::Parallel(_)
            | Action::Repeat(_)
            | Action::Undo(_) => {}
        }
    }
}

/// What the plan needs from the cluster.
pub fn needs(plan: &Plan) -> Needs {
    let mut n = Needs::default();
    for s in plan.all_steps() {
        match &s.kind {
            PlanStepKind::Apply { .. } => n.api = true,
            PlanStepKind::Group(_) | PlanStepKind::Parallel(_) | PlanStepKind::Repeat { .. } => {}
            PlanStepKind::Check(c) => n.of_probe(c),
            PlanStepKind::Probe { probe, .. } => n.of_probe(&probe.check),
            PlanStepKind::Action(a) => {
                n.of_action(a);
                let mut a = a.as_ref().clone();
                for t in node_targets(&mut a) {
                    if !matches!(t.select, NodeSelect::Name(_)) {
                        n.nodes = true;
                    }
                    if let NodeSelect::Role {
                        pick: Some(NodePick::Random),
                        ..
                    } = t.select
                    {
                        n.random = true;
                    }
                }
            }
        }
    }
    n
}

/// Every node target of an action, to resolve in place.
fn node_targets(a: &mut Action) -> Vec<&mut NodeTarget> {
    match a {
        Action::KubeletStop(x) | Action::NodePause(x) | Action::NodeCordon(x) => {
            vec![&mut x.node]
        }
        Action::NodeStop(x) => vec![&mut x.node],
        Action::NodeKill(x) => vec![&mut x.node],
        Action::NodeTaint(x) => vec![&mut x.node],
        Action::Exec(x) => vec![&mut x.node],
        Action::NetworkPartition(x) => vec![&mut x.node],
        Action::NetworkDelay(x) => vec![&mut x.node],
        Action::NetworkLoss(x) => vec![&mut x.node],
        Action::NetworkBandwidth(x) => vec![&mut x.node],
        Action::CpuHog(x) => vec![&mut x.node],
        Action::MemoryHog(x) => vec![&mut x.node],
        Action::DiskFill(x) => vec![&mut x.node],
        Action::Wait(w) => condition_targets(&mut w.until),
        Action::Assert(c) => condition_targets(c),
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
        | Action::Undo(_) => Vec::new(),
    }
}

fn condition_targets(c: &mut Condition) -> Vec<&mut NodeTarget> {
    match c {
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

/// Resolves every node target of `plan` against `nodes` (`None`: the node containers were not
/// listed because nothing needs them, so names stay as written) and seeds the random picks.
/// The error names the step and what the cluster has.
pub fn resolve(
    plan: &Plan,
    nodes: Option<&[NodeContainer]>,
    seed: Option<u64>,
) -> Result<Plan, String> {
    let mut out = plan.clone();
    let seed = seed.or(plan.seed);
    let mut r = Resolver {
        nodes,
        seed: seed.unwrap_or(0),
        chosen: HashMap::new(),
        targets: Vec::new(),
    };
    for steps in [&mut out.setup, &mut out.steps, &mut out.teardown] {
        r.steps(steps)?;
    }
    out.resolved = Some(Resolved {
        seed,
        targets: r.targets,
    });
    Ok(out)
}

struct Resolver<'a> {
    nodes: Option<&'a [NodeContainer]>,
    seed: u64,
    /// The node each named step chose (its first node target), for `target-of`.
    chosen: HashMap<String, String>,
    targets: Vec<ResolvedTarget>,
}

impl Resolver<'_> {
    fn steps(&mut self, steps: &mut [PlanStep]) -> Result<(), String> {
        for s in steps {
            let where_ = match &s.name {
                Some(n) => format!("{} ({n})", s.id),
                None => s.id.clone(),
            };
            let step_seed = step_seed(self.seed, &s.id);
            match &mut s.kind {
                PlanStepKind::Group(children)
                | PlanStepKind::Parallel(children)
                | PlanStepKind::Repeat {
                    steps: children, ..
                }
                | PlanStepKind::Probe {
                    during: children, ..
                } => self.steps(children)?,
                PlanStepKind::Apply { .. } | PlanStepKind::Check(_) => {}
                PlanStepKind::Action(a) => {
                    if let Action::PodDelete(p) = a.as_mut() {
                        p.seed = step_seed;
                    }
                    let mut rng = Rng::new(step_seed);
                    for t in node_targets(a) {
                        let node = match (&t.select, self.nodes) {
                            (NodeSelect::TargetOf(step), _) => {
                                self.chosen.get(step).cloned().ok_or_else(|| {
                                    format!(
                                        "{where_}: `target-of: {step}`: no earlier step named `{step}` chose a node"
                                    )
                                })?
                            }
                            (NodeSelect::Name(n), None) => n.clone(),
                            (_, None) => {
                                return Err(format!(
                                    "{where_}: `{}` needs the node containers, which were not listed",
                                    t.written()
                                ));
                            }
                            (select, Some(nodes)) => pick_node(nodes, select, &mut rng)
                                .map_err(|e| format!("{where_}: {e}"))?,
                        };
                        if !matches!(t.select, NodeSelect::Name(_)) {
                            self.targets.push(ResolvedTarget {
                                step: s.id.clone(),
                                name: s.name.clone(),
                                target: t.written().to_string(),
                                node: node.clone(),
                            });
                        }
                        if let Some(n) = &s.name {
                            self.chosen.entry(n.clone()).or_insert_with(|| node.clone());
                        }
                        t.resolve(node);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The preflight of a run: reach every backend the plan needs, list the node containers if
/// anything needs them, and resolve every target. Returns the plan with its targets resolved.
/// An unreachable backend is `Unavailable` (exit 3), a target the cluster lacks `NotFound`.
pub async fn preflight(plan: &Plan, b: &Backends) -> Result<Plan, BackendError> {
    let need = needs(plan);
    let nodes = if need.nodes {
        Some(b.nodes().await?.nodes().await?)
    } else {
        None
    };
    if need.api {
        b.kube().await?;
    }
    if need.etcd {
        b.etcd().await?;
    }
    let seed = match plan.seed {
        Some(s) => Some(s),
        None if need.random => Some(draw_seed()),
        None => None,
    };
    let mut plan = resolve(plan, nodes.as_deref(), seed).map_err(BackendError::not_found)?;
    resolve_probe_nodes(&mut plan, nodes.as_deref()).map_err(BackendError::not_found)?;
    Ok(plan)
}

#[cfg(test)]
mod tests;

/// The node targets of the probes' `exec` checks (in `steady-state` and in `probe:` steps),
/// resolved on the plan [`resolve`] returned, like a fault's: by name, by role (`index`, or
/// `pick: random` from the step's seed), or `target-of` a named step (the node it chose).
/// Each resolved target that did not name its node is listed in `plan.resolved`.
pub fn resolve_probe_nodes(plan: &mut Plan, nodes: Option<&[NodeContainer]>) -> Result<(), String> {
    let mut chosen: HashMap<String, String> = HashMap::new();
    for s in plan.all_steps() {
        if let (Some(n), PlanStepKind::Action(a)) = (&s.name, &s.kind) {
            let mut a = a.as_ref().clone();
            if let Some(t) = node_targets(&mut a).first() {
                chosen
                    .entry(n.clone())
                    .or_insert_with(|| t.name().to_string());
            }
        }
    }
    let seed = plan.resolved.as_ref().and_then(|r| r.seed).unwrap_or(0);
    let mut found = Vec::new();
    for steps in [
        &mut plan.setup,
        &mut plan.steady_state,
        &mut plan.steps,
        &mut plan.teardown,
    ] {
        probe_nodes(steps, nodes, seed, &chosen, &mut found)?;
    }
    if !found.is_empty() {
        plan.resolved
            .get_or_insert_with(|| Resolved {
                seed: None,
                targets: Vec::new(),
            })
            .targets
            .extend(found);
    }
    Ok(())
}

fn probe_nodes(
    steps: &mut [PlanStep],
    nodes: Option<&[NodeContainer]>,
    seed: u64,
    chosen: &HashMap<String, String>,
    found: &mut Vec<ResolvedTarget>,
) -> Result<(), String> {
    for s in steps {
        let where_ = match &s.name {
            Some(n) => format!("{} ({n})", s.id),
            None => s.id.clone(),
        };
        let mut rng = Rng::new(step_seed(seed, &s.id));
        let check = match &mut s.kind {
            PlanStepKind::Check(c) => Some(c.as_mut()),
            PlanStepKind::Probe { probe, during } => {
                probe_nodes(during, nodes, seed, chosen, found)?;
                Some(&mut probe.check)
            }
            PlanStepKind::Group(c) | PlanStepKind::Parallel(c) => {
                probe_nodes(c, nodes, seed, chosen, found)?;
                None
            }
            PlanStepKind::Repeat { steps, .. } => {
                probe_nodes(steps, nodes, seed, chosen, found)?;
                None
            }
            PlanStepKind::Action(_) | PlanStepKind::Apply { .. } => None,
        };
        let Some(ProbeCheck::Exec(x)) = check else {
            continue;
        };
        let t = &mut x.node;
        if t.is_resolved() {
            continue;
        }
        let node = match (&t.select, nodes) {
            (NodeSelect::TargetOf(step), _) => chosen.get(step).cloned().ok_or_else(|| {
                format!("{where_}: `target-of: {step}`: no step named `{step}` chose a node")
            })?,
            (_, None) => {
                return Err(format!(
                    "{where_}: `{}` needs the node containers, which were not listed",
                    t.written()
                ));
            }
            (select, Some(nodes)) => {
                pick_node(nodes, select, &mut rng).map_err(|e| format!("{where_}: {e}"))?
            }
        };
        found.push(ResolvedTarget {
            step: s.id.clone(),
            name: s.name.clone(),
            target: t.written().to_string(),
            node: node.clone(),
        });
        t.resolve(node);
    }
    Ok(())
}
