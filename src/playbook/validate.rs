//! Turns playbook text into a [`Plan`], collecting every problem on the way: YAML syntax,
//! duplicate keys, unknown fields and step types (from the deserializer), then the rules serde
//! cannot express (one of `name`/`selector`, step references, manifests that must exist).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::de::{self, Recover, Sink};
use super::diag::Diagnostic;
use super::model::{self, Action, Condition, Playbook, Step};
use super::plan::{self, Phase, Plan, PlanStep, PlanStepKind};
use super::suggest::did_you_mean;
use super::yaml::{self, Node, NodeKind, Span};
use super::{Sources, limits, names};

pub struct Validator<'a> {
    pub(super) file: PathBuf,
    pub(super) dir: PathBuf,
    pub(super) sources: &'a mut Sources,
    pub(super) diags: Vec<Diagnostic>,
    /// Problems beyond [`limits::MAX_PROBLEMS`]: counted, not kept.
    omitted: usize,
    /// Where a problem beyond the limit is written, to be forgotten.
    overflow: Diagnostic,
    /// Step names seen so far, for duplicates and `duration` references.
    names: HashMap<String, Span>,
    /// Named steps that inject something `undo` can take back.
    undoable: HashMap<String, ()>,
}

impl<'a> Validator<'a> {
    pub fn new(file: &Path, sources: &'a mut Sources) -> Self {
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Validator {
            file: file.to_path_buf(),
            dir,
            sources,
            diags: Vec::new(),
            omitted: 0,
            overflow: Diagnostic::new(file, None, ""),
            names: HashMap::new(),
            undoable: HashMap::new(),
        }
    }

    /// Every problem kept (in file and position order), and how many more were found.
    pub fn finish(mut self) -> (Vec<Diagnostic>, usize) {
        self.diags.sort_by(|a, b| {
            (&a.file, a.span.map(|s| s.start.offset).unwrap_or(0))
                .cmp(&(&b.file, b.span.map(|s| s.start.offset).unwrap_or(0)))
        });
        self.diags.dedup();
        (self.diags, self.omitted)
    }

    /// Records a problem, unless [`limits::MAX_PROBLEMS`] are already kept.
    pub(super) fn push(&mut self, d: Diagnostic) -> &mut Diagnostic {
        if self.diags.len() >= limits::MAX_PROBLEMS {
            self.omitted = self.omitted.saturating_add(1);
            self.overflow = d;
            return &mut self.overflow;
        }
        self.diags.push(d);
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    pub(super) fn error(
        &mut self,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let d = Diagnostic::new(&self.file, span, message);
        self.push(d)
    }

    pub fn run(&mut self, text: &str) -> Option<Plan> {
        let docs = match yaml::parse(text) {
            Ok(d) => d,
            Err(e) => {
                let span = Span {
                    start: e.pos,
                    end_offset: e.pos.offset + 1,
                };
                self.error(Some(span), format!("invalid YAML: {}", e.message));
                return None;
            }
        };
        for d in &docs.duplicate_keys {
            let span = Span {
                start: d.pos,
                end_offset: d.pos.offset,
            };
            self.error(Some(span), d.message.clone()).help =
                Some("a key may appear only once in a mapping".into());
        }
        let mut it = docs.docs.into_iter();
        let root = match it.next() {
            Some(r) if !is_null(&r) => r,
            _ => {
                let start = yaml::Pos {
                    line: 1,
                    col: 1,
                    offset: 0,
                };
                self.error(Some(Span { start, end_offset: 0 }), "the playbook is empty")
                    .help = Some("expected a mapping with `apiVersion: chaos/v1alpha1`, `kind: Playbook`, `name` and `steps`".into());
                return None;
            }
        };
        if let Some(extra) = it.next() {
            self.error(
                Some(extra.span),
                "a playbook file holds exactly one YAML document",
            )
            .help = Some("put each playbook in its own file".into());
        }
        if !matches!(root.kind, NodeKind::Map(_)) {
            self.error(
                Some(root.span),
                format!(
                    "expected a mapping (the playbook), found {}",
                    root.describe()
                ),
            );
            return None;
        }
        // A mapping without a single playbook field is some other file: saying which keys it
        // has would print its content (`/etc/shadow` scans as a mapping with one odd key).
        let known = |n: &Node| matches!(&n.kind, NodeKind::Map(e) if e.iter().any(|(k, _)| k.scalar_text().is_some_and(|t| model::PLAYBOOK_FIELDS.contains(&t))));
        if !known(&root) {
            self.error(
                Some(root.span),
                "this is not a playbook: none of its top-level keys is a playbook field",
            )
            .help = Some(
                "a playbook starts with `apiVersion: chaos/v1alpha1` and `kind: Playbook`".into(),
            );
            return None;
        }
        // Duplicate keys are reported above; unknown top-level keys here. Both are dropped so the
        // rest of the file is still checked.
        let mut root = first_keys_only(root);
        let mut unknown_keys = false;
        if let NodeKind::Map(entries) = &mut root.kind {
            let mut unknown = Vec::new();
            entries.retain(|(k, _)| {
                let known = k
                    .scalar_text()
                    .is_some_and(|t| model::PLAYBOOK_FIELDS.contains(&t));
                if !known {
                    unknown.push((k.span, k.scalar_text().unwrap_or("?").to_string()));
                }
                known
            });
            unknown_keys = !unknown.is_empty();
            for (span, key) in unknown {
                let fields = model::PLAYBOOK_FIELDS;
                let list = fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let help = match did_you_mean(&key, fields.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? (expected one of {list})"),
                    None => format!("expected one of {list}"),
                };
                self.error(Some(span), format!("unknown field `{key}`"))
                    .help = Some(help);
            }
        }
        let sink = Sink::default();
        let parsed = de::from_node::<Playbook>(&root, &sink);
        let (errors, dropped) = sink.into_parts();
        for e in errors {
            self.push_de(e);
        }
        self.omitted = self.omitted.saturating_add(dropped);
        let pb = match parsed {
            Ok(pb) => pb,
            Err(e) => {
                self.push_de(e);
                return None;
            }
        };
        self.check_header(&pb, &root);
        let setup = self.steps(Phase::Setup, &pb.setup, root.get("setup"), "setup");
        let steps = self.steps(Phase::Steps, &pb.steps, root.get("steps"), "steps");
        let teardown = self.steps(
            Phase::Teardown,
            &pb.teardown,
            root.get("teardown"),
            "teardown",
        );
        // A misspelt `steps:` is already reported as an unknown key; "no steps" would be noise.
        if pb.steps.is_empty() && !unknown_keys {
            let span = root.get("steps").map(|n| n.span).unwrap_or(root.span);
            self.error(Some(span), "the playbook has no steps").help =
                Some("add a `steps:` list with at least one fault, wait or assertion".into());
        }
        Some(Plan {
            name: pb.name,
            description: pb.description,
            file: self.file.clone(),
            cluster: pb.cluster,
            timeout: pb
                .timeout
                .and_then(|d| d.0)
                .map(|d| d.0)
                .unwrap_or(plan::defaults::RUN_TIMEOUT),
            setup,
            steps,
            teardown,
        })
    }

    fn push_de(&mut self, e: de::DeError) {
        let d = Diagnostic {
            file: self.file.clone(),
            span: e.span,
            message: e.message,
            help: e.help,
        };
        self.push(d);
    }

    fn check_header(&mut self, pb: &Playbook, root: &Node) {
        if pb.api_version != model::API_VERSION {
            let span = root.get("apiVersion").map(|n| n.span);
            self.error(span, format!("unsupported apiVersion `{}`", pb.api_version))
                .help = Some(format!("expected `{}`", model::API_VERSION));
        }
        if pb.kind != model::KIND {
            let span = root.get("kind").map(|n| n.span);
            self.error(span, format!("unsupported kind `{}`", pb.kind))
                .help = Some(format!("expected `{}`", model::KIND));
        }
        if let Some(name) = &pb.cluster
            && let Err(e) = names::check_cluster_name(name)
        {
            let span = root.get("cluster").map(|n| n.span);
            self.error(span, e);
        }
        if let Some(Recover(Some(t))) = pb.timeout
            && t.0.is_zero()
        {
            let span = root.get("timeout").map(|n| n.span);
            self.error(span, "the run timeout must be greater than zero");
        }
    }

    fn steps(
        &mut self,
        phase: Phase,
        steps: &[Recover<Step>],
        node: Option<&Node>,
        prefix: &str,
    ) -> Vec<PlanStep> {
        let items: &[Node] = match node.map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items,
            _ => &[],
        };
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
                let kids = self.steps(phase, children, body, &format!("{id}.group"));
                if children.is_empty() {
                    self.error(body.map(|b| b.span), "an empty group");
                }
                PlanStepKind::Group(kids)
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
                    let known: Vec<&str> = self.undoable.keys().map(String::as_str).collect();
                    let help = match did_you_mean(target, known.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if known.is_empty() => {
                            "name the fault step to undo with `name:`".to_string()
                        }
                        None => format!("named earlier faults: {}", sorted(&known)),
                    };
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
                PlanStepKind::Action(Box::new(other.clone()))
            }
        };
        let undoable = match &kind {
            PlanStepKind::Action(a) => crate::engine::undo::planned(a).is_some(),
            PlanStepKind::Group(_) | PlanStepKind::Apply { .. } => true,
        };
        if let (true, Some(n)) = (undoable, &step.name) {
            self.undoable.insert(n.clone(), ());
        }
        Some(PlanStep {
            id,
            name: step.name.clone(),
            kind,
        })
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

    fn check_action(&mut self, action: &Action, at: &dyn Fn(&[&str]) -> Option<Span>) {
        let whole = at(&[]);
        match action {
            Action::PodDelete(p) => {
                self.one_of(
                    whole,
                    "pod-delete",
                    &[
                        ("name", p.name.is_some()),
                        ("selector", p.selector.is_some()),
                    ],
                );
                self.check_selector(p.selector.as_deref(), at(&["selector"]));
            }
            Action::EtcdDelete(e) => {
                self.one_of(
                    whole,
                    "etcd-delete",
                    &[("key", e.key.is_some()), ("prefix", e.prefix.is_some())],
                );
                if let Some(why) = e.prefix.as_deref().and_then(names::whole_etcd_prefix) {
                    self.error(
                        at(&["prefix"]),
                        format!("refusing to delete every key under this prefix: {why}"),
                    )
                    .help = Some("name a narrower prefix, like `/registry/pods/default/`".into());
                }
            }
            Action::Exec(x) if x.command.is_empty() => {
                self.error(at(&["command"]), "an empty command");
            }
            Action::Exec(x) if x.undo.as_ref().is_some_and(Vec::is_empty) => {
                self.error(at(&["undo"]), "an empty undo command");
            }
            Action::FinalizerAdd(f) if !f.finalizer.contains('/') => {
                self.error(
                    at(&["finalizer"]),
                    format!("finalizer `{}` is not a qualified name", f.finalizer),
                )
                .help = Some(
                    "Kubernetes requires a domain prefix, like `chaos.kind-chaos.dev/hold`".into(),
                );
            }
            Action::Wait(w) => {
                if w.timeout.is_some_and(|t| t.0.is_zero()) {
                    self.error(at(&["timeout"]), "a wait timeout must be greater than zero");
                }
                if w.interval.is_some_and(|t| t.0.is_zero()) {
                    self.error(
                        at(&["interval"]),
                        "a wait interval must be greater than zero",
                    );
                }
                self.check_condition(&w.until, &|p: &[&str]| {
                    let mut full = vec!["until"];
                    full.extend_from_slice(p);
                    at(&full)
                });
            }
            Action::Assert(c) => self.check_condition(c, at),
            _ => {}
        }
    }

    fn check_condition(&mut self, c: &Condition, at: &dyn Fn(&[&str]) -> Option<Span>) {
        match c {
            Condition::Pods(p) => {
                if p.name.is_some() && p.selector.is_some() {
                    self.error(at(&["pods"]), "`pods` takes `name` or `selector`, not both");
                }
                self.check_selector(p.selector.as_deref(), at(&["pods", "selector"]));
            }
            Condition::EtcdKey(e) => {
                let whole = at(&["etcd-key"]);
                self.one_of(
                    whole,
                    "etcd-key",
                    &[("key", e.key.is_some()), ("prefix", e.prefix.is_some())],
                );
                if e.key.is_some() && e.count.is_some() {
                    self.error(
                        at(&["etcd-key", "count"]),
                        "`count` goes with `prefix`, not `key`",
                    );
                }
                if e.prefix.is_some() && e.exists.is_some() {
                    self.error(
                        at(&["etcd-key", "exists"]),
                        "`exists` goes with `key`; use `count` with `prefix`",
                    );
                }
            }
            Condition::Resource(r) if r.equals.is_some() && r.field.is_none() => {
                self.error(at(&["resource", "equals"]), "`equals` needs a `field`");
            }
            Condition::Duration(d) => {
                if !self.names.contains_key(&d.step) {
                    let known: Vec<&str> = self.names.keys().map(String::as_str).collect();
                    let help = match did_you_mean(&d.step, known.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if known.is_empty() => "no earlier step has a `name`".to_string(),
                        None => format!("named earlier steps: {}", sorted(&known)),
                    };
                    self.error(
                        at(&["duration", "step"]),
                        format!("no earlier step is named `{}`", d.step),
                    )
                    .help = Some(help);
                }
                if d.at_least.is_none() && d.at_most.is_none() {
                    self.error(
                        at(&["duration"]),
                        "`duration` needs `at-least`, `at-most` or both",
                    );
                }
            }
            Condition::Drift(d) if d.ghosts.is_none() && d.phantoms.is_none() => {
                self.error(at(&["drift"]), "`drift` needs `ghosts`, `phantoms` or both");
            }
            _ => {}
        }
    }

    fn one_of(&mut self, span: Option<Span>, what: &str, options: &[(&str, bool)]) {
        let set = options.iter().filter(|(_, s)| *s).count();
        let names: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
        if set == 0 {
            self.error(
                span,
                format!("`{what}` needs one of {}", names.join(" or ")),
            );
        } else if set > 1 {
            self.error(
                span,
                format!("`{what}` takes only one of {}", names.join(" or ")),
            );
        }
    }
}

/// The tree with only the first of any duplicate keys (duplicates are reported separately).
fn first_keys_only(node: Node) -> Node {
    let kind = match node.kind {
        NodeKind::Map(entries) => {
            let mut seen = std::collections::HashSet::new();
            NodeKind::Map(
                entries
                    .into_iter()
                    .filter(|(k, _)| k.scalar_text().is_none_or(|t| seen.insert(t.to_string())))
                    .map(|(k, v)| (k, first_keys_only(v)))
                    .collect(),
            )
        }
        NodeKind::Seq(items) => NodeKind::Seq(items.into_iter().map(first_keys_only).collect()),
        scalar => scalar,
    };
    Node {
        span: node.span,
        kind,
    }
}

pub(super) fn is_null(n: &Node) -> bool {
    matches!(&n.kind, NodeKind::Scalar(s) if !s.quoted && matches!(s.text.as_str(), "" | "~" | "null"))
}

fn sorted(names: &[&str]) -> String {
    let mut v: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    v.sort();
    v.join(", ")
}
