//! One-line, human descriptions of steps, for progress lines, reports and `--dry-run`. Faults
//! describe themselves in their modules (`engine/faults/`); the other actions are worded here.

use crate::observe::words::condition;
use crate::playbook::model::*;
use crate::playbook::values::format_duration;
use crate::playbook::{PlanStep, PlanStepKind, plan_defaults};

pub fn step(s: &PlanStep) -> String {
    match &s.kind {
        PlanStepKind::Group(children) => format!("group of {} step(s)", children.len()),
        PlanStepKind::Parallel(children) => {
            format!("{} step(s) at the same time", children.len())
        }
        PlanStepKind::Repeat {
            times,
            every,
            steps,
        } => repeat(*times, *every, steps.len()),
        PlanStepKind::Apply {
            file, documents, ..
        } => {
            let names: Vec<String> = documents
                .iter()
                .map(|d| {
                    format!(
                        "{} {}",
                        d["kind"].as_str().unwrap_or("?"),
                        d["metadata"]["name"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            format!("apply {} ({})", file.display(), names.join(", "))
        }
        PlanStepKind::Action(a) => action(a),
        PlanStepKind::Check(c) => format!("steady state: {}", crate::observe::probe::words(c)),
        PlanStepKind::Probe { probe, during } => format!(
            "probe {} every {} during {} step(s)",
            crate::observe::probe::words(&probe.check),
            format_duration(probe.interval),
            during.len()
        ),
    }
}

/// One line for any action: a fault describes itself (`engine/faults/`), the others here.
pub fn action(a: &Action) -> String {
    if let Some(fault) = super::faults::of(a) {
        return fault.describe();
    }
    match a {
        Action::Apply(x) => format!("apply {}", x.file().display()),
        Action::Wait(w) => format!(
            "wait until {} (timeout {})",
            condition(&w.until),
            format_duration(
                w.timeout
                    .map(|t| t.0)
                    .unwrap_or(plan_defaults::WAIT_TIMEOUT)
            )
        ),
        Action::Sleep(d) => format!("sleep {d}"),
        Action::Assert(c) => format!("assert {}", condition(c)),
        Action::Group(g) => format!("group of {} step(s)", g.len()),
        Action::Probe(p) => format!(
            "probe {} during {} step(s)",
            crate::observe::probe::words(&p.check),
            p.during.len()
        ),
        Action::Parallel(g) => format!("{} step(s) at the same time", g.len()),
        Action::Repeat(r) => repeat(r.times, r.every.map(|d| d.0), r.steps.len()),
        Action::Undo(name) => format!("undo what step `{name}` did"),
        // Faults are described above.
        _ => String::new(),
    }
}

fn repeat(times: u32, every: Option<std::time::Duration>, steps: usize) -> String {
    match every {
        Some(e) => format!(
            "repeat {steps} step(s) {times} time(s), every {}",
            format_duration(e)
        ),
        None => format!("repeat {steps} step(s) {times} time(s)"),
    }
}
