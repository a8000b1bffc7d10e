//! The preflight: before the first step, every node target of a playbook is resolved against
//! the cluster's node containers (by name, by role and position, at random from the run's
//! seed, or as the node an earlier step chose), every pod `pick` whose pods are already there
//! is chosen, and every backend the playbook needs is reached. A playbook that names a node
//! the cluster lacks, or picks more pods than match, stops here, before anything is injected,
//! with what there is. So one playbook travels between clusters (`--cluster other`) and a
//! random pick can be replayed from the seed the report prints.
//!
//! The picking is pure (`pick.rs`: `pick_node`, `pick_pods`) and unit-tested; `pods.rs` holds
//! the pod picks, made here or, for pods an earlier step creates, by the step itself.

use std::collections::HashMap;

use crate::backends::{BackendError, NodeContainer};
use crate::playbook::model::{
    Action, Condition, ExecTarget, HttpTarget, NodePick, NodeSelect, ProbeCheck, Reach,
};
use crate::playbook::{Plan, PlanStep, PlanStepKind, Resolved, ResolvedPods, ResolvedTarget};

use super::backends::Backends;

mod pick;
pub mod pods;
mod probes;

pub use pick::*;

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

    /// A probe's check: HTTP to a node's address and exec in a node need the node containers;
    /// exec in a pod needs them and the API (where the pod is found).
    fn of_probe(&mut self, c: &ProbeCheck) {
        match c {
            ProbeCheck::Http(h) => self.nodes |= matches!(h.target, HttpTarget::Node { .. }),
            ProbeCheck::Exec(x) => {
                self.nodes = true;
                self.api |= matches!(x.target, ExecTarget::Pod(_));
            }
            ProbeCheck::Condition(c) => self.of_condition(c),
        }
    }

    /// What the action reaches (`Action::reach`), what its condition or probe does, and: a
    /// selector lists pods through the API, a random pick needs a seed, and a node target that
    /// does not name its node needs the node containers.
    fn of_action(&mut self, a: &mut Action) {
        match a.reach() {
            Reach::Api => self.api = true,
            Reach::Nodes => self.nodes = true,
            Reach::Etcd => self.etcd = true,
            Reach::Inner => {}
        }
        match a {
            Action::Probe(p) => self.of_probe(&p.check),
            Action::Wait(w) => self.of_condition(&w.until),
            Action::Assert(c) => self.of_condition(c),
            Action::ContainerKill(c) if c.selector.is_some() => self.api = true,
            _ => {}
        }
        if let Some(c) = a.pod_choice() {
            self.random |= c.pick.is_random();
        }
        for t in a.node_targets_mut() {
            match t.select {
                NodeSelect::Name(_) => {}
                NodeSelect::Role {
                    pick: Some(NodePick::Random),
                    ..
                } => {
                    self.nodes = true;
                    self.random = true;
                }
                _ => self.nodes = true,
            }
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
            PlanStepKind::Action(a) => n.of_action(&mut a.as_ref().clone()),
        }
    }
    n
}

/// The pods matching each (namespace, selector) the preflight listed.
pub type PodLists = HashMap<(String, String), Vec<String>>;

/// Resolves every node target of `plan` against `nodes` (`None`: the node containers were not
/// listed because nothing needs them, so names stay as written), seeds the random picks, and
/// chooses the pod picks whose pods `pods` holds. The error names the step and what the
/// cluster has.
pub fn resolve(
    plan: &Plan,
    nodes: Option<&[NodeContainer]>,
    pods: &PodLists,
    seed: Option<u64>,
) -> Result<Plan, String> {
    resolve_listing(plan, nodes, pods, seed).map(|(plan, _)| plan)
}

/// [`resolve`], and the (namespace, selector) of every pick the preflight could choose if it
/// listed their pods (`pods` lacks them).
fn resolve_listing(
    plan: &Plan,
    nodes: Option<&[NodeContainer]>,
    pods: &PodLists,
    seed: Option<u64>,
) -> Result<(Plan, Vec<(String, String)>), String> {
    let mut out = plan.clone();
    let seed = seed.or(plan.seed);
    let mut r = Resolver {
        nodes,
        pods,
        seed: seed.unwrap_or(0),
        chosen: HashMap::new(),
        targets: Vec::new(),
        picks: Vec::new(),
        wanted: Vec::new(),
        pods_may_change: false,
    };
    for steps in [&mut out.setup, &mut out.steps, &mut out.teardown] {
        r.steps(steps, false)?;
    }
    out.resolved = Some(Resolved {
        seed,
        targets: r.targets,
        pods: r.picks,
    });
    probes::resolve_probe_nodes(&mut out, nodes)?;
    Ok((out, r.wanted))
}

struct Resolver<'a> {
    nodes: Option<&'a [NodeContainer]>,
    pods: &'a PodLists,
    seed: u64,
    /// The node each named step chose (its first node target), for `target-of`.
    chosen: HashMap<String, String>,
    targets: Vec<ResolvedTarget>,
    picks: Vec<ResolvedPods>,
    /// The selectors of the picks that could be chosen here if their pods were listed.
    wanted: Vec<(String, String)>,
    /// A step before this one may create or replace pods, so a pick is made at its step.
    pods_may_change: bool,
}

/// Whether a step may create, delete or replace pods, so that the pods a later pick would
/// choose from in the preflight may not be the ones there when it runs.
fn may_change_pods(a: &Action) -> bool {
    matches!(
        a,
        Action::Apply(_)
            | Action::PodDelete(_)
            | Action::NamespaceDelete(_)
            | Action::ResourceDelete(_)
            | Action::FinalizerRemove(_)
            | Action::NamespaceFinalize(_)
            | Action::EtcdDelete(_)
            | Action::Exec(_)
    )
}

impl Resolver<'_> {
    /// `repeated`: the steps run more than once (inside a `repeat`), so their picks are made
    /// at each run.
    fn steps(&mut self, steps: &mut [PlanStep], repeated: bool) -> Result<(), String> {
        for s in steps {
            let where_ = match &s.name {
                Some(n) => format!("{} ({n})", s.id),
                None => s.id.clone(),
            };
            let step_seed = step_seed(self.seed, &s.id);
            match &mut s.kind {
                PlanStepKind::Repeat {
                    steps: children, ..
                } => self.steps(children, true)?,
                PlanStepKind::Group(children)
                | PlanStepKind::Parallel(children)
                | PlanStepKind::Probe {
                    during: children, ..
                } => self.steps(children, repeated)?,
                PlanStepKind::Apply { .. } => self.pods_may_change = true,
                PlanStepKind::Check(_) => {}
                PlanStepKind::Action(a) => {
                    self.pod_choice(s.id.as_str(), s.name.as_ref(), a, step_seed, repeated)
                        .map_err(|e| format!("{where_}: {e}"))?;
                    self.pods_may_change |= may_change_pods(a);
                    let mut rng = Rng::new(step_seed);
                    for t in a.node_targets_mut() {
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

    /// Seeds the step's pod pick and chooses it now when its pods are listed and no earlier
    /// step may change them; else the step chooses when it runs.
    fn pod_choice(
        &mut self,
        id: &str,
        name: Option<&String>,
        a: &mut Action,
        step_seed: u64,
        repeated: bool,
    ) -> Result<(), String> {
        let early = !self.pods_may_change && !repeated;
        let Some(mut c) = a.pod_choice() else {
            return Ok(());
        };
        c.picked.seed = step_seed;
        let key = (c.namespace.to_string(), c.selector.to_string());
        let listed = self.pods.get(&key);
        if early && listed.is_none() {
            self.wanted.push(key);
        }
        match listed.filter(|_| early) {
            Some(pods) => pods::choose_now(&mut c, pods)?,
            None => c.picked.pods = None,
        }
        self.picks.push(ResolvedPods {
            step: id.to_string(),
            name: name.cloned(),
            target: c.written(),
            pods: c.picked.pods.clone(),
        });
        Ok(())
    }
}

/// The preflight of a run: reach every backend the plan needs, list the node containers if
/// anything needs them, list the pods of the picks it can choose, and resolve every target.
/// Returns the plan with its targets resolved. An unreachable backend is `Unavailable` (exit
/// 3), a target the cluster lacks `NotFound`.
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
    let mut lists = PodLists::new();
    let (resolved, wanted) =
        resolve_listing(plan, nodes.as_deref(), &lists, seed).map_err(BackendError::not_found)?;
    if wanted.is_empty() {
        return Ok(resolved);
    }
    let kube = b.kube().await?;
    for (namespace, selector) in wanted {
        let pods = pods::matching(kube.as_ref(), &namespace, &selector).await?;
        lists.insert((namespace, selector), pods);
    }
    resolve(plan, nodes.as_deref(), &lists, seed).map_err(BackendError::not_found)
}

#[cfg(test)]
mod tests;
