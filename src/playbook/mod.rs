//! The playbook language: reading YAML files into a validated, resolved [`Plan`].
//!
//! Nothing here touches a cluster; the only I/O is reading the playbook and the manifests it
//! names. Every problem in a file is reported at once, with file, line and column.

pub mod de;
pub mod diag;
pub mod limits;
mod manifest;
pub mod model;
pub mod names;
mod plan;
pub mod schema;
pub mod selector;
pub mod suggest;
mod validate;
pub mod values;
pub mod vars;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use diag::Diagnostic;
pub use plan::{
    Phase, Plan, PlanStep, PlanStepKind, ProbePlan, Resolved, ResolvedPods, ResolvedTarget,
    defaults as plan_defaults,
};

/// The text of every file a load read, for rendering code frames. Only text that looks like a
/// playbook or manifest is kept (see [`yaml::looks_like`]): any other file (a key,
/// `/etc/shadow`, `/proc/self/environ`) is reported by path and position, never shown.
#[derive(Debug, Default, Clone)]
pub struct Sources(BTreeMap<PathBuf, Arc<str>>);

impl Sources {
    pub fn get(&self, path: &Path) -> Option<Arc<str>> {
        self.0.get(path).cloned()
    }
    /// Keeps `text` for code frames if its first document is a mapping with one of `keys` at
    /// the top; forgets it otherwise.
    pub(crate) fn insert(&mut self, path: &Path, text: &str, keys: &[&str]) {
        if yaml::looks_like(text, keys) {
            self.0.insert(path.to_path_buf(), Arc::from(text));
        } else {
            self.0.remove(path);
        }
    }
    /// Keeps `text` as it is: for a source already admitted by [`Sources::insert`] and then
    /// transformed (escaped for the terminal).
    pub(crate) fn keep(&mut self, path: &Path, text: &str) {
        self.0.insert(path.to_path_buf(), Arc::from(text));
    }
}

/// Why a playbook could not be loaded: every problem found, and the sources to show them in.
#[derive(Debug)]
pub struct Invalid {
    pub diagnostics: Vec<Diagnostic>,
    /// Problems found beyond [`limits::MAX_PROBLEMS`]: counted, not kept.
    pub omitted: usize,
    pub sources: Sources,
}

impl Invalid {
    fn one(d: Diagnostic, sources: Sources) -> Invalid {
        Invalid {
            diagnostics: vec![d],
            omitted: 0,
            sources,
        }
    }

    /// How many problems were found, kept or not.
    pub fn count(&self) -> usize {
        self.diagnostics.len().saturating_add(self.omitted)
    }

    /// Renders the diagnostics with code frames (when their file may be shown), at most
    /// [`diag::MAX_RENDERED`] of them.
    pub fn render(&self, color: bool) -> String {
        diag::render(
            &self.diagnostics,
            self.omitted,
            &|p| self.sources.get(p),
            color,
        )
    }
}

/// Reads a playbook or manifest within [`limits`], as a diagnostic against `path` when it
/// cannot be (`what` names the file in the message).
pub(crate) fn read_limited(path: &Path, what: &str) -> Result<String, Diagnostic> {
    limits::read_text(path, limits::MAX_FILE_BYTES).map_err(|e| read_error(path, what, &e, None))
}

/// The diagnostic for a file that could not be read: at `at`, except that a file that is not
/// UTF-8 is reported at its first invalid byte (and, not being text, never shown).
pub(crate) fn read_error(
    path: &Path,
    what: &str,
    e: &limits::ReadError,
    at: Option<yaml::Span>,
) -> Diagnostic {
    let span = match *e {
        limits::ReadError::NotUtf8 {
            line, col, offset, ..
        } => Some(yaml::Span {
            start: yaml::Pos { line, col, offset },
            end_offset: offset,
        }),
        _ => at,
    };
    Diagnostic::new(path, span, format!("cannot read {what}: {e}"))
}

/// Reads, checks and resolves one playbook file, its variables at their defaults.
pub fn load(path: &Path) -> Result<Plan, Invalid> {
    load_with(path, &vars::Inputs::default())
}

/// Reads, checks and resolves one playbook file with `--set`, `CHAOS_VAR_*` and `--cluster`
/// (see [`vars`]).
pub fn load_with(path: &Path, inputs: &vars::Inputs) -> Result<Plan, Invalid> {
    match read_limited(path, "the playbook") {
        Ok(text) => load_str_with(path, &text, Sources::default(), inputs),
        Err(d) => Err(Invalid::one(d, Sources::default())),
    }
}

/// Checks and resolves a playbook whose text is already in memory (`path` names it in messages
/// and is the base for relative manifest paths).
pub fn load_str(path: &Path, text: &str, sources: Sources) -> Result<Plan, Invalid> {
    load_str_with(path, text, sources, &vars::Inputs::default())
}

/// [`load_str`] with the variables' overrides.
pub fn load_str_with(
    path: &Path,
    text: &str,
    mut sources: Sources,
    inputs: &vars::Inputs,
) -> Result<Plan, Invalid> {
    if text.len() as u64 > limits::MAX_FILE_BYTES {
        let e = limits::ReadError::TooLarge {
            limit: limits::MAX_FILE_BYTES,
        };
        return Err(Invalid::one(
            read_error(path, "the playbook", &e, None),
            sources,
        ));
    }
    sources.insert(path, text, model::PLAYBOOK_FIELDS);
    let (plan, (diagnostics, omitted)) = suggest::with_budget(|| {
        let mut v = validate::Validator::new(path, &mut sources, inputs);
        let plan = v.run(text);
        (plan, v.finish())
    });
    match plan {
        Some(plan) if diagnostics.is_empty() => Ok(plan),
        _ => Err(Invalid {
            diagnostics,
            omitted,
            sources,
        }),
    }
}
