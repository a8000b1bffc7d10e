//! Walking the steps of each phase into [`PlanStep`]s with ids, and the references between
//! steps: names must be unique, and `undo` may only name an earlier step that left something
//! to undo (what the model's [`Action::has_undo`] says).

use crate::playbook::de::Recover;
use crate::playbook::model::{Action, AtLeast, MAX_REPEAT, Percent, ProbeCheck, ProbeExpect, Step};
use crate::playbook::plan::{Phase, PlanStep, PlanStepKind, ProbePlan, defaults};
use crate::playbook::yaml::{Node, NodeKind, Span};

use super::{Validator, unknown_name_help};

impl Validator<'_> {
    /// The steps inside a `group`, `parallel` or `repeat` (`node` holds them, ids under
    /// `prefix`); none at all is an error (`empty`) at `empty_at`.
    fn nested(
        &mut self,
        phase: Phase,
        steps: &[Recover<Step>],
        node: Option<&Node>,
        empty_at: Option<&Node>,
        prefix: &str,
        empty: &str,
    ) -> Vec<PlanStep> {
        let kids = self.steps(phase, steps, node, prefix);
        if steps.is_empty() {
            self.error(empty_at.map(|b| b.span), empty);
        }
        kids
    }

    pub(super) fn steps(
        &mut self,
        phase: Phase,
        steps: &[Recover<Step>],
        node: Option<&Node>,
        prefix: &str,
    ) -> Vec<PlanStep> {
        let items = seq_items(node);
        let mut out = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let id = format!("{prefix}[{i}]");
            let (Some(step), Some(node)) = (&step.0, items.get(i)) else {
                // Its error is already recorded; its name still counts for references.
                if let Some(name) = items.get(i).and_then(|n| n.get("name")) {
                    self.register_name(name);
                }
                continue;
            };
            if let Some(p) = self.step(phase, step, node, id) {
                out.push(p);
            }
        }
        out
    }

    fn step(&mut self, phase: Phase, step: &Step, node: &Node, id: String) -> Option<PlanStep> {
        let key = step.action.key();
        let body = node.get(key);
        let at = |path: &[&str]| -> Option<Span> {
            let mut n = body?;
            for p in path {
                n = n.get(p)?;
            }
            Some(n.span)
        };
        if let Some(name) = node.get("name") {
            self.register_name(name);
        }
        let kind = match &step.action {
            Action::Group(children) => {
                let id = format!("{id}.group");
                PlanStepKind::Group(self.nested(phase, children, body, body, &id, "an empty group"))
            }
            Action::Probe(p) => {
                let during = self.steps(
                    phase,
                    &p.during,
                    body.and_then(|b| b.get("during")),
                    &format!("{id}.during"),
                );
                if p.during.is_empty() {
                    self.error(at(&["during"]).or(body.map(|b| b.span)), "an empty probe")
                        .help = Some("`during` lists the steps to probe while they run".into());
                }
                if p.interval.is_some_and(|t| t.0.is_zero()) {
                    self.error(
                        at(&["interval"]),
                        "a probe interval must be greater than zero",
                    );
                }
                self.check_probe(&p.check, &at);
                // The check's own `target-of` names a step before the probe or in its
                // `during` (the preflight resolves every node before the first step); the
                // `during` steps' own are checked with them.
                if let Some(NodeKind::Map(entries)) = body.map(|b| &b.kind) {
                    for (k, v) in entries {
                        if k.scalar_text() != Some("during") {
                            self.target_refs(Some(v));
                        }
                    }
                }
                PlanStepKind::Probe {
                    probe: Box::new(ProbePlan {
                        check: p.check.clone(),
                        interval: p.interval.map_or(defaults::PROBE_INTERVAL, |i| i.0),
                        expect: p.expect.clone().unwrap_or(ProbeExpect {
                            availability: Some(AtLeast {
                                at_least: Percent(100.0),
                            }),
                            ..ProbeExpect::default()
                        }),
                    }),
                    during,
                }
            }
            Action::Parallel(children) => {
                let id = format!("{id}.parallel");
                let empty = "an empty `parallel`";
                PlanStepKind::Parallel(self.nested(phase, children, body, body, &id, empty))
            }
            Action::Repeat(r) => {
                let steps_node = body.and_then(|b| b.get("steps"));
                let kids = self.nested(
                    phase,
                    &r.steps,
                    steps_node,
                    steps_node.or(body),
                    &format!("{id}.repeat"),
                    "a `repeat` of no steps",
                );
                if !(1..=MAX_REPEAT).contains(&r.times) {
                    self.error(
                        at(&["times"]),
                        format!("a `repeat` runs 1 to {MAX_REPEAT} times"),
                    );
                }
                PlanStepKind::Repeat {
                    times: r.times,
                    every: r.every.map(|d| d.0),
                    steps: kids,
                }
            }
            Action::Apply(a) => {
                let file = self.dir.join(a.file());
                let documents =
                    self.manifest(&file, a.file(), at(&["file"]).or(body.map(|b| b.span)));
                PlanStepKind::Apply {
                    file,
                    namespace: a.namespace().map(str::to_string),
                    documents: documents.unwrap_or_default(),
                }
            }
            Action::Undo(target) => {
                if !self.undoable.contains_key(target) {
                    let none = "name the fault step to undo with `name:`";
                    let help = unknown_name_help(target, self.undoable.keys(), "faults", none);
                    self.error(
                        body.map(|b| b.span),
                        format!("no earlier fault step is named `{target}`"),
                    )
                    .help = Some(help);
                }
                PlanStepKind::Action(Box::new(step.action.clone()))
            }
            other => {
                self.check_action(other, &at);
                self.target_refs(body);
                PlanStepKind::Action(Box::new(other.clone()))
            }
        };
        if let Some(hold) = &step.hold {
            self.check_hold(&step.action, hold.0, node.get("for").map(|n| n.span));
        }
        if let (true, Some(n)) = (step.action.has_undo(), &step.name) {
            self.undoable.insert(n.clone(), ());
        }
        Some(PlanStep {
            id,
            name: step.name.clone(),
            line: node.span.start.line,
            hold: step.hold.map(|d| d.0),
            kind,
        })
    }

    /// The items of `steady-state`, one `Check` step each (`steady-state[0]`...).
    pub(super) fn steady_state(
        &mut self,
        checks: &[Recover<ProbeCheck>],
        node: Option<&Node>,
    ) -> Vec<PlanStep> {
        let items = seq_items(node);
        let mut out = Vec::new();
        for (i, check) in checks.iter().enumerate() {
            let (Some(check), Some(item)) = (&check.0, items.get(i)) else {
                continue;
            };
            self.check_probe(check, &|path: &[&str]| {
                let mut n = item;
                for k in path {
                    n = n.get(k)?;
                }
                Some(n.span)
            });
            out.push(PlanStep {
                id: format!("steady-state[{i}]"),
                name: None,
                line: item.span.start.line,
                kind: PlanStepKind::Check(Box::new(check.clone())),
                hold: None,
            });
        }
        out
    }

    /// Every `target-of: STEP` in a step's body must name an earlier step (the preflight checks
    /// that the step chose a node).
    fn target_refs(&mut self, body: Option<&Node>) {
        let mut refs = Vec::new();
        if let Some(b) = body {
            target_of_nodes(b, &mut refs);
        }
        for n in refs {
            let Some(name) = n.scalar_text() else {
                continue;
            };
            if self.names.contains_key(name) {
                continue;
            }
            let none = "name the step that chose the node with `name:`";
            let help = unknown_name_help(name, self.names.keys(), "steps", none);
            self.error(
                Some(n.span),
                format!("`target-of: {name}`: no earlier step is named `{name}`"),
            )
            .help = Some(help);
        }
    }

    /// `for:` only on a fault that has an undo (the undo is what ends it), and not zero.
    fn check_hold(&mut self, action: &Action, hold: std::time::Duration, at: Option<Span>) {
        let fault_with_undo = action.has_undo()
            && !matches!(
                action,
                Action::Apply(_)
                    | Action::Group(_)
                    | Action::Parallel(_)
                    | Action::Repeat(_)
                    | Action::Probe(_)
            );
        if !fault_with_undo {
            self.error(
                at,
                format!(
                    "`for` needs a fault with an undo, and `{}` has none",
                    action.key()
                ),
            )
            .help = Some(
                "`for` undoes the fault of its own step when the time is up; put it on a fault like `kubelet-stop` or `node-pause`"
                    .into(),
            );
        } else if hold.is_zero() {
            self.error(at, "`for` must be longer than zero");
        }
    }

    /// Records a step's name; names must be unique because steps refer to each other by name.
    fn register_name(&mut self, node: &Node) {
        let Some(name) = node.scalar_text() else {
            return;
        };
        if let Some(first) = self.names.get(name) {
            let line = first.start.line;
            self.error(
                Some(node.span),
                format!("step name `{name}` is already used (line {line})"),
            )
            .help = Some("step names must be unique: `duration` and `undo` refer to them".into());
            return;
        }
        self.names.insert(name.to_string(), node.span);
    }
}

/// The values of every `target-of` key under `n`.
fn target_of_nodes<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
    match &n.kind {
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                if k.scalar_text() == Some("target-of") {
                    out.push(v);
                } else {
                    target_of_nodes(v, out);
                }
            }
        }
        NodeKind::Seq(items) => items.iter().for_each(|i| target_of_nodes(i, out)),
        _ => {}
    }
}

/// The items of a sequence node (none for anything else), to find each step's own node.
fn seq_items(node: Option<&Node>) -> &[Node] {
    match node.map(|n| &n.kind) {
        Some(NodeKind::Seq(items)) => items,
        _ => &[],
    }
}
