//! Reading the manifests `apply` steps name: within the file limits, each document a
//! Kubernetes object, problems reported against the manifest file itself (and its text shown
//! only when it looks like a manifest).

use std::path::Path;

use super::de::{self, Sink};
use super::diag::Diagnostic;
use super::limits;
use super::validate::{Validator, is_null};
use super::yaml::{self, Span};

/// Top-level keys of a Kubernetes object: a file with none of them is not shown in frames.
const MANIFEST_KEYS: &[&str] = &["apiVersion", "kind", "metadata"];

impl Validator<'_> {
    /// Reads and checks a manifest file; problems are reported against that file.
    pub(super) fn manifest(
        &mut self,
        file: &Path,
        written: &Path,
        span: Option<Span>,
    ) -> Option<Vec<serde_json::Value>> {
        let text = match limits::read_text(file, limits::MAX_FILE_BYTES) {
            Ok(t) => t,
            Err(e @ limits::ReadError::NotUtf8 { .. }) => {
                // The position is in the manifest; its bytes are never shown.
                self.push(super::read_error(file, "the manifest", &e, None));
                return None;
            }
            Err(e) => {
                self.error(
                    span,
                    format!("cannot read manifest `{}`: {e}", written.display()),
                )
                .help = Some(format!(
                    "paths are relative to the playbook's folder ({})",
                    self.dir.display()
                ));
                return None;
            }
        };
        self.sources.insert(file, &text, MANIFEST_KEYS);
        let docs = match yaml::parse(&text) {
            Ok(d) => d.docs,
            Err(e) => {
                let span = Span {
                    start: e.pos,
                    end_offset: e.pos.offset + 1,
                };
                self.push(Diagnostic::new(
                    file,
                    Some(span),
                    format!("invalid YAML in manifest: {}", e.message),
                ));
                return None;
            }
        };
        let mut out = Vec::new();
        for (i, doc) in docs.iter().enumerate().filter(|(_, d)| !is_null(d)) {
            let sink = Sink::default();
            match de::from_node::<serde_json::Value>(doc, &sink) {
                Ok(v) => {
                    let missing: Vec<&str> = [
                        ("apiVersion", &v["apiVersion"]),
                        ("kind", &v["kind"]),
                        ("metadata.name", &v["metadata"]["name"]),
                    ]
                    .into_iter()
                    .filter(|(_, x)| !x.is_string())
                    .map(|(n, _)| n)
                    .collect();
                    if missing.is_empty() {
                        out.push(v);
                    } else {
                        self.push(Diagnostic::new(
                            file,
                            Some(doc.span),
                            format!("document {} of the manifest is not a Kubernetes object: it has no {}", i + 1, missing.join(", ")),
                        ));
                    }
                }
                Err(e) => {
                    self.push(Diagnostic::new(
                        file,
                        e.span,
                        format!("document {}: {}", i + 1, e.message),
                    ));
                }
            }
        }
        if out.is_empty() && self.diags.iter().all(|d| d.file != file) {
            self.push(Diagnostic::new(file, None, "the manifest holds no objects"));
        }
        Some(out)
    }
}
