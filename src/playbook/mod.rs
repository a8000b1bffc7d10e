//! The playbook language: reading YAML files into a validated, resolved [`Plan`].
//!
//! Nothing here touches a cluster; the only I/O is reading the playbook and the manifests it
//! names. Every problem in a file is reported at once, with file, line and column.

pub mod de;
pub mod diag;
pub mod model;
mod plan;
pub mod suggest;
mod validate;
pub mod values;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use diag::Diagnostic;
pub use plan::{Phase, Plan, PlanStep, PlanStepKind, defaults as plan_defaults};

/// The text of every file a load read, for rendering code frames.
#[derive(Debug, Default, Clone)]
pub struct Sources(BTreeMap<PathBuf, String>);

impl Sources {
    pub fn get(&self, path: &Path) -> Option<String> {
        self.0.get(path).cloned()
    }
    pub(crate) fn insert(&mut self, path: &Path, text: &str) {
        self.0.insert(path.to_path_buf(), text.to_string());
    }
}

/// Why a playbook could not be loaded: every problem found, and the sources to show them in.
#[derive(Debug)]
pub struct Invalid {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

impl Invalid {
    /// Renders every diagnostic with a code frame.
    pub fn render(&self, color: bool) -> String {
        diag::render(&self.diagnostics, &|p| self.sources.get(p), color)
    }
}

/// Reads, checks and resolves one playbook file.
pub fn load(path: &Path) -> Result<Plan, Invalid> {
    let mut sources = Sources::default();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return Err(Invalid {
                diagnostics: vec![Diagnostic::new(
                    path,
                    None,
                    format!("cannot read the playbook: {e}"),
                )],
                sources,
            });
        }
    };
    sources.insert(path, &text);
    load_str(path, &text, sources)
}

/// Checks and resolves a playbook whose text is already in memory (`path` names it in messages
/// and is the base for relative manifest paths).
pub fn load_str(path: &Path, text: &str, mut sources: Sources) -> Result<Plan, Invalid> {
    sources.insert(path, text);
    let mut v = validate::Validator::new(path, &mut sources);
    let plan = v.run(text);
    let diagnostics = v.finish();
    match plan {
        Some(plan) if diagnostics.is_empty() => Ok(plan),
        _ => Err(Invalid {
            diagnostics,
            sources,
        }),
    }
}
