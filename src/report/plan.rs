//! `--dry-run`: the resolved plan, every step with its target, timeout and the undo it would
//! register. Touches nothing.

use std::fmt::Write;

use crate::engine::{describe, undo};
use crate::playbook::values::format_duration;
use crate::playbook::{Plan, PlanStep, PlanStepKind};

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
    if !plan.vars.is_empty() {
        let vars: Vec<String> = plan
            .vars
            .iter()
            .map(|v| format!("{}={} ({})", v.name, v.value, v.from.as_str()))
            .collect();
        let _ = writeln!(out, "  vars: {}", vars.join(", "));
    }
    for (phase, steps) in plan.phases() {
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

fn step(out: &mut String, s: &PlanStep, depth: usize) {
    let pad = "  ".repeat(depth);
    let name = s
        .name
        .as_ref()
        .map(|n| format!(" [{n}]"))
        .unwrap_or_default();
    let _ = writeln!(out, "{pad}{}{name} {}", s.id, describe::step(s));
    match &s.kind {
        PlanStepKind::Group(children)
        | PlanStepKind::Parallel(children)
        | PlanStepKind::Repeat {
            steps: children, ..
        } => {
            for c in children {
                step(out, c, depth + 1);
            }
        }
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
