//! `--dry-run`: the resolved plan, every step with its target, timeout and the undo it would
//! register. Touches nothing.

use std::fmt::Write;

use crate::engine::{describe, undo};
use crate::playbook::values::format_duration;
use crate::playbook::{Phase, Plan, PlanStep, PlanStepKind};

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "playbook {} ({})", plan.name, plan.file.display());
    if let Some(d) = &plan.description {
        for line in d.trim().lines() {
            let _ = writeln!(out, "  | {line}");
        }
    }
    let _ = writeln!(
        out,
        "  cluster: {}   run timeout: {}",
        plan.cluster.as_deref().unwrap_or("(from --cluster)"),
        format_duration(plan.timeout)
    );
    resolved(&mut out, plan);
    if !plan.vars.is_empty() {
        let vars: Vec<String> = plan
            .vars
            .iter()
            .map(|v| format!("{}={} ({})", v.name, v.value, v.from.as_str()))
            .collect();
        let _ = writeln!(out, "  vars: {}", vars.join(", "));
    }
    for (phase, steps) in plan.phases() {
        if phase == Phase::Steps {
            steady_state(&mut out, plan);
        }
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}:", phase.as_str());
        for s in steps {
            step(&mut out, s, 1);
        }
    }
    out
}

/// The steady state, checked between `setup` and `steps`, and again after the undo of `steps`.
fn steady_state(out: &mut String, plan: &Plan) {
    if plan.steady_state.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "steady-state (before the faults of steps, and again after their undo):"
    );
    for s in &plan.steady_state {
        step(out, s, 1);
    }
}

/// The seed and the nodes the preflight chose, when a preflight ran (`chaos run` always;
/// `--dry-run` when it reached the cluster); the playbook's own `seed:` otherwise.
pub fn resolved(out: &mut String, plan: &Plan) {
    let Some(r) = &plan.resolved else {
        if let Some(seed) = plan.seed {
            let _ = writeln!(out, "  seed: {seed}");
        }
        return;
    };
    if let Some(seed) = r.seed {
        let how = if plan.seed.is_some() {
            "the playbook's"
        } else {
            "drawn for this run; write `seed: N` to replay its picks"
        };
        let _ = writeln!(out, "  seed: {seed} ({how})");
    }
    for t in &r.targets {
        let name = tag(t.name.as_deref());
        let _ = writeln!(out, "  target {}{name}: {} -> {}", t.step, t.target, t.node);
    }
    for p in &r.pods {
        let name = tag(p.name.as_deref());
        let chosen = match &p.pods {
            Some(pods) => pods.join(", "),
            None => "chosen by the step as it runs (its pods may not be there yet)".into(),
        };
        let _ = writeln!(out, "  pods {}{name}: {} -> {chosen}", p.step, p.target);
    }
}

/// A step's `name`, as ` [name]` after its id; nothing when it has none.
fn tag(name: Option<&str>) -> String {
    name.map(|n| format!(" [{n}]")).unwrap_or_default()
}

fn step(out: &mut String, s: &PlanStep, depth: usize) {
    let pad = "  ".repeat(depth);
    let name = tag(s.name.as_deref());
    let _ = writeln!(out, "{pad}{}{name} {}", s.id, describe::step(s));
    match &s.kind {
        PlanStepKind::Group(children)
        | PlanStepKind::Probe {
            during: children, ..
        }
        | PlanStepKind::Parallel(children)
        | PlanStepKind::Repeat {
            steps: children, ..
        } => {
            for c in children {
                step(out, c, depth + 1);
            }
        }
        PlanStepKind::Check(_) => {}
        PlanStepKind::Apply { .. } => {
            let _ = writeln!(out, "{pad}  undo: delete what was applied");
        }
        PlanStepKind::Action(a) => {
            if let Some(u) = undo::planned(a) {
                match s.hold {
                    Some(d) => {
                        let _ = writeln!(out, "{pad}  undo after {}: {u}", format_duration(d));
                    }
                    None => {
                        let _ = writeln!(out, "{pad}  undo: {u}");
                    }
                }
            }
        }
    }
}
