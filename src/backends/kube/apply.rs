//! Applying manifest documents with server-side apply.
//!
//! Why it exists: setup steps install the labs' workloads. Server-side apply (field manager
//! [`FIELD_MANAGER`], forced, as `kubectl apply --server-side --force-conflicts`) makes a rerun
//! after a crashed run converge instead of failing on objects that already exist. Every
//! document is checked and its kind resolved *before* anything is applied, so a typo in the
//! third document does not leave the first two behind; errors name the document by its
//! position in the file (1-based, as an editor counts `---` sections) and by kind and name.

use ::kube::api::{Patch, PatchParams};
use serde_json::Value;

use super::discovery::Resolved;
use super::{FIELD_MANAGER, KubeBackend};
use crate::backends::BackendError;
use crate::playbook::model::ResourceRef;

/// One document, checked and resolved, ready to apply.
struct Planned {
    resolved: Resolved,
    reference: ResourceRef,
    body: Value,
}

/// `document 2 (Pod web)`, for messages.
fn describe(index: usize, doc: &Value) -> String {
    let kind = doc["kind"].as_str().unwrap_or("?");
    match doc["metadata"]["name"].as_str() {
        Some(name) => format!("document {} ({kind} {name})", index + 1),
        None => format!("document {} ({kind})", index + 1),
    }
}

impl KubeBackend {
    /// Server-side applies `documents` in order; `namespace` is the default for namespaced
    /// objects that name none (else `default`). Returns what was applied.
    pub(crate) async fn apply(
        &self,
        documents: &[Value],
        namespace: Option<&str>,
    ) -> Result<Vec<ResourceRef>, BackendError> {
        let mut planned = Vec::new();
        let mut problems = Vec::new();
        for (i, doc) in documents.iter().enumerate() {
            match self.plan_document(doc, namespace).await {
                Ok(p) => planned.push(p),
                Err(e) if e.kind == crate::backends::ErrorKind::Unavailable => {
                    return Err(e);
                }
                Err(e) => problems.push(format!("{}: {}", describe(i, doc), e.message)),
            }
        }
        if !problems.is_empty() {
            return Err(BackendError::failed(format!(
                "nothing applied: {}",
                problems.join("; ")
            )));
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let mut applied = Vec::new();
        for (i, p) in planned.into_iter().enumerate() {
            let api = self.dynamic_api(&p.resolved, p.reference.namespace.as_deref());
            api.patch(&p.reference.name, &params, &Patch::Apply(&p.body))
                .await
                .map_err(|e| {
                    let mut err = self.fail("apply", &describe(i, &p.body), e);
                    if !applied.is_empty() {
                        err.message += &format!(
                            " (applied before it: {})",
                            applied
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    err
                })?;
            applied.push(p.reference);
        }
        Ok(applied)
    }

    async fn plan_document(
        &self,
        doc: &Value,
        namespace: Option<&str>,
    ) -> Result<Planned, BackendError> {
        if !doc.is_object() {
            return Err(BackendError::failed("not an object (a mapping of fields)"));
        }
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        if api_version.is_empty() || kind.is_empty() {
            return Err(BackendError::failed("needs `apiVersion` and `kind`"));
        }
        if name.is_empty() {
            let hint = if doc["metadata"]["generateName"].is_string() {
                " (`generateName` cannot be applied: apply needs a fixed name)"
            } else {
                ""
            };
            return Err(BackendError::failed(format!("needs `metadata.name`{hint}")));
        }
        let resolved = self.resolve(api_version, kind).await?;
        let mut body = doc.clone();
        let ns = if resolved.namespaced {
            let ns = doc["metadata"]["namespace"]
                .as_str()
                .or(namespace)
                .unwrap_or("default")
                .to_string();
            body["metadata"]["namespace"] = Value::String(ns.clone());
            Some(ns)
        } else {
            if let Some(m) = body["metadata"].as_object_mut() {
                m.remove("namespace");
            }
            None
        };
        Ok(Planned {
            resolved,
            reference: ResourceRef {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                namespace: ns,
                name: name.to_string(),
            },
            body,
        })
    }
}
