//! `apiVersion` + `kind` to the resource that serves it, through API discovery, cached.
//!
//! Why it exists: playbooks apply, delete and inspect any kind (a Deployment, a CRD's
//! objects), so the URL of an object cannot be hard-coded. Discovery asks the server once per
//! group version and the answer is kept for the backend's life; misses are not cached, so a
//! kind whose CRD a playbook just installed is found on the next try. An unknown kind gets a
//! message naming it, what the group version does serve, and the closest match; it is a
//! `NotFound` error, because no object of a kind that is not served can exist (so deleting
//! one, as an undo may, is already done).

use std::collections::HashMap;
use std::sync::Mutex;

use ::kube::api::{Api, DynamicObject};
use ::kube::core::GroupVersionKind;
use ::kube::discovery::{self, ApiResource, Scope};

use super::KubeBackend;
use super::error::status_code;
use crate::backends::BackendError;

/// A resolved kind.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub ar: ApiResource,
    pub namespaced: bool,
}

/// The cache of resolved kinds, keyed by (`apiVersion`, `kind`).
#[derive(Debug, Default)]
pub(crate) struct Resources {
    cache: Mutex<HashMap<(String, String), Resolved>>,
}

/// `apps/v1` -> (`apps`, `v1`); `v1` -> (``, `v1`).
fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

impl KubeBackend {
    /// Resolves a kind; `Failed` with a clear message when the server does not serve it.
    pub(crate) async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Resolved, BackendError> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(r) = self
            .resources
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(r.clone());
        }
        if api_version.is_empty() || kind.is_empty() {
            return Err(BackendError::failed(format!(
                "an object needs both `apiVersion` and `kind` (got apiVersion `{api_version}`, kind `{kind}`)"
            )));
        }
        let (group, version) = split_api_version(api_version);
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let found = discovery::pinned_kind(&self.client, &gvk).await;
        let resolved = match found {
            Ok((ar, caps)) => Resolved {
                ar,
                namespaced: caps.scope == Scope::Namespaced,
            },
            Err(::kube::Error::Discovery(_)) => {
                return Err(self.unknown_kind(api_version, kind).await);
            }
            Err(e) if status_code(&e) == Some(404) => {
                return Err(BackendError::not_found(format!(
                    "unknown kind `{kind}`: the API server at {} serves no API group version `{api_version}`",
                    self.server
                )));
            }
            Err(e) => {
                return Err(self.fail("discover", &format!("kind `{kind}` of `{api_version}`"), e));
            }
        };
        self.resources
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, resolved.clone());
        Ok(resolved)
    }

    /// The message for a kind its group version does not serve, with what it does serve.
    async fn unknown_kind(&self, api_version: &str, kind: &str) -> BackendError {
        let (group, version) = split_api_version(api_version);
        let gv = ::kube::core::GroupVersion::gv(group, version);
        let kinds: Vec<String> = match discovery::pinned_group(&self.client, &gv).await {
            Ok(g) => g
                .recommended_resources()
                .into_iter()
                .map(|(ar, _)| ar.kind)
                .collect(),
            Err(_) => Vec::new(),
        };
        let close = closest(kind, &kinds)
            .map(|k| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        let served = if kinds.is_empty() {
            String::new()
        } else {
            let mut k = kinds.clone();
            k.sort();
            k.dedup();
            format!(" (it serves {})", k.join(", "))
        };
        BackendError::not_found(format!(
            "unknown kind `{kind}`: the API server at {} serves no kind `{kind}` in `{api_version}`{served}{close}",
            self.server
        ))
    }

    /// The API of a resolved kind: in `namespace` (default `default`) when namespaced.
    pub(crate) fn dynamic_api(&self, r: &Resolved, namespace: Option<&str>) -> Api<DynamicObject> {
        if r.namespaced {
            Api::namespaced_with(self.client.clone(), namespace.unwrap_or("default"), &r.ar)
        } else {
            Api::all_with(self.client.clone(), &r.ar)
        }
    }
}

/// The served kind a typo most likely meant: same letters in another case or order, one or
/// two edits away (by length), or the start of it (`Deploy`).
fn closest<'a>(kind: &str, served: &'a [String]) -> Option<&'a str> {
    let want = kind.to_lowercase();
    let budget = (want.chars().count() / 3).max(1);
    served
        .iter()
        .map(|k| {
            let low = k.to_lowercase();
            let d = if low.starts_with(&want) && !want.is_empty() {
                0
            } else {
                strsim::osa_distance(&low, &want)
            };
            (d, k.as_str())
        })
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_the_kind_meant() {
        let served: Vec<String> = ["Pod", "Deployment", "ConfigMap", "Namespace"]
            .map(String::from)
            .to_vec();
        assert_eq!(closest("Pdo", &served), Some("Pod"));
        assert_eq!(closest("pod", &served), Some("Pod"));
        assert_eq!(closest("Deploy", &served), Some("Deployment"));
        assert_eq!(closest("Configmap", &served), Some("ConfigMap"));
        assert_eq!(closest("Namespce", &served), Some("Namespace"));
        assert_eq!(closest("Widget", &served), None);
    }

    #[test]
    fn api_versions_split_into_group_and_version() {
        assert_eq!(split_api_version("v1"), ("", "v1"));
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        assert_eq!(
            split_api_version("example.com/v1beta1"),
            ("example.com", "v1beta1")
        );
    }
}
