//! Turns playbook text into a [`Plan`], collecting every problem on the way: YAML syntax,
//! duplicate keys, unknown fields and step types (from the deserializer), then the rules serde
//! cannot express (one of `name`/`selector`, step references, manifests that must exist).
//!
//! This file checks the document (YAML, its header, its top-level keys) and hands the phases
//! to [`steps`] (step ids, names and references) and [`rules`] (what each action or condition
//! requires beyond its type); manifests are read in `manifest.rs`.

mod rules;
mod steps;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::de::{self, Recover, Sink};
use super::diag::Diagnostic;
use super::model::{self, Playbook};
use super::plan::{self, Phase, Plan};
use super::suggest::did_you_mean;
use super::yaml::{self, Node, NodeKind, Span};
use super::{Sources, limits, names, vars};

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
    /// `--set`, `CHAOS_VAR_*` and `--cluster`, for the variables.
    inputs: &'a vars::Inputs,
}

impl<'a> Validator<'a> {
    pub fn new(file: &Path, sources: &'a mut Sources, inputs: &'a vars::Inputs) -> Self {
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
            inputs,
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
                if let Some(start) = super::vars::flow::dollar_in_flow(text, e.pos.offset) {
                    let span = Span {
                        start,
                        end_offset: start.offset + 2,
                    };
                    self.error(
                        Some(span),
                        format!("invalid YAML: `${{` inside a flow collection (`[...]` or `{{...}}`), where `{{` opens a mapping ({})", e.message),
                    )
                    .help = Some("quote the scalar that holds it: `[\"${vars.a}\", b]`, `{x: \"${vars.b}\"}`".into());
                    return None;
                }
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
        let (vars, problems) = vars::apply(&mut root, text, self.inputs);
        for p in problems {
            self.error(p.span, p.message).help = p.help;
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
        let steady_state = self.steady_state(&pb.steady_state, root.get("steady-state"));
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
            vars,
            timeout: pb
                .timeout
                .and_then(|d| d.0)
                .map(|d| d.0)
                .unwrap_or(plan::defaults::RUN_TIMEOUT),
            seed: pb.seed,
            resolved: None,
            setup,
            steady_state,
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

/// The help for a reference to a name that no earlier step (of `kinds`: `steps`, `faults`)
/// has: the nearest name, else every name there is, else `none` when there is no name at all.
fn unknown_name_help<'k>(
    name: &str,
    known: impl Iterator<Item = &'k String>,
    kinds: &str,
    none: &str,
) -> String {
    let known: Vec<&str> = known.map(String::as_str).collect();
    match did_you_mean(name, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => none.to_string(),
        None => format!("named earlier {kinds}: {}", sorted(&known)),
    }
}

fn sorted(names: &[&str]) -> String {
    let mut v: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    v.sort();
    v.join(", ")
}
