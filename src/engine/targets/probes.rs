//! The node targets of the probes' checks (`exec` in a node container, `http` to a node's
//! address; a pod's is looked up at each sample), resolved in the preflight like a fault's (by
//! name, by role and `index` or `pick: random`, or `target-of` a named step), after the steps'
//! own targets so that `target-of` sees the node each step chose. A node the cluster lacks
//! stops the run before any fault, naming the nodes there are.

use std::collections::HashMap;

use crate::backends::NodeContainer;
use crate::playbook::model::NodeSelect;
use crate::playbook::{Plan, PlanStep, PlanStepKind, Resolved, ResolvedTarget};

use super::pick::{Rng, pick_node, step_seed};

/// The node targets of the probes' checks (in `steady-state` and in `probe:` steps),
/// resolved on the plan [`resolve`] returned, like a fault's: by name, by role (`index`, or
/// `pick: random` from the step's seed), or `target-of` a named step (the node it chose).
/// Each resolved target that did not name its node is listed in `plan.resolved`.
pub(super) fn resolve_probe_nodes(
    plan: &mut Plan,
    nodes: Option<&[NodeContainer]>,
) -> Result<(), String> {
    let mut chosen: HashMap<String, String> = HashMap::new();
    for s in plan.all_steps() {
        if let (Some(n), PlanStepKind::Action(a)) = (&s.name, &s.kind) {
            let mut a = a.as_ref().clone();
            if let Some(t) = a.node_targets_mut().first() {
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
                pods: Vec::new(),
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
        let Some(t) = check.and_then(|c| c.node_target_mut()) else {
            continue;
        };
        let named = matches!(t.select, NodeSelect::Name(_));
        if t.is_resolved() && !named {
            continue;
        }
        let node = match (&t.select, nodes) {
            (NodeSelect::TargetOf(step), _) => chosen.get(step).cloned().ok_or_else(|| {
                format!("{where_}: `target-of: {step}`: no step named `{step}` chose a node")
            })?,
            (NodeSelect::Name(n), None) => n.clone(),
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
        if named {
            continue;
        }
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
