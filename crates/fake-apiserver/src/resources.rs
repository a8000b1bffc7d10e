//! The kinds the fake serves: built-in core/v1, apps/v1 and batch/v1 kinds plus kinds a
//! test registers (CRD-like, with generic storage).

use std::sync::Arc;

/// One served resource (a group/version/plural with its kind and scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    /// API group, empty for the core group.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Plural resource name, e.g. `pods`.
    pub plural: String,
    /// Namespaced (`true`) or cluster-scoped.
    pub namespaced: bool,
    /// Subresources served, e.g. `status`, `log`, `finalize`.
    pub subresources: Vec<String>,
    /// Short names advertised by discovery (`po`, `ns`, ...).
    pub short_names: Vec<String>,
}

impl ResourceDef {
    pub(crate) fn new(api_version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        let (group, version) = split_api_version(api_version);
        ResourceDef {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            namespaced,
            subresources: Vec::new(),
            short_names: Vec::new(),
        }
    }

    fn subs(mut self, subs: &[&str]) -> Self {
        self.subresources = subs.iter().map(|s| s.to_string()).collect();
        self
    }

    fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `deployments.apps`: how error messages and the store name it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub(crate) fn has_sub(&self, sub: &str) -> bool {
        self.subresources.iter().any(|s| s == sub)
    }

    /// Whether the resource has a status subresource (main-resource writes keep status).
    pub(crate) fn has_status(&self) -> bool {
        self.has_sub("status")
    }

    /// Whether a delete of this kind answers with the deleted object (else a `Status`).
    pub(crate) fn returns_deleted_object(&self) -> bool {
        matches!(self.plural.as_str(), "pods" | "services") || self.is_custom()
    }

    pub(crate) fn is_custom(&self) -> bool {
        !matches!(self.group.as_str(), "" | "apps" | "batch")
    }

    pub(crate) fn is(&self, group: &str, plural: &str) -> bool {
        self.group == group && self.plural == plural
    }
}

pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// All served resources.
#[derive(Debug)]
pub(crate) struct Registry {
    defs: Vec<Arc<ResourceDef>>,
}

impl Registry {
    pub(crate) fn builtin() -> Self {
        let defs = vec![
            ResourceDef::new("v1", "Pod", "pods", true)
                .subs(&[
                    "status",
                    "log",
                    "binding",
                    "eviction",
                    "exec",
                    "attach",
                    "portforward",
                ])
                .short(&["po"]),
            ResourceDef::new("v1", "Node", "nodes", false)
                .subs(&["status", "proxy"])
                .short(&["no"]),
            ResourceDef::new("v1", "Namespace", "namespaces", false)
                .subs(&["status", "finalize"])
                .short(&["ns"]),
            ResourceDef::new("v1", "Event", "events", true).short(&["ev"]),
            ResourceDef::new("v1", "ConfigMap", "configmaps", true).short(&["cm"]),
            ResourceDef::new("v1", "Secret", "secrets", true),
            ResourceDef::new("v1", "Service", "services", true)
                .subs(&["status"])
                .short(&["svc"]),
            ResourceDef::new("v1", "ServiceAccount", "serviceaccounts", true).short(&["sa"]),
            ResourceDef::new("apps/v1", "Deployment", "deployments", true)
                .subs(&["status", "scale"])
                .short(&["deploy"]),
            ResourceDef::new("apps/v1", "ReplicaSet", "replicasets", true)
                .subs(&["status", "scale"])
                .short(&["rs"]),
            ResourceDef::new("apps/v1", "DaemonSet", "daemonsets", true)
                .subs(&["status"])
                .short(&["ds"]),
            ResourceDef::new("apps/v1", "StatefulSet", "statefulsets", true)
                .subs(&["status", "scale"])
                .short(&["sts"]),
            // Upstream: pkg/registry/batch/job/storage/storage.go (no short names; status).
            ResourceDef::new("batch/v1", "Job", "jobs", true).subs(&["status"]),
        ];
        Registry {
            defs: defs.into_iter().map(Arc::new).collect(),
        }
    }

    pub(crate) fn add(&mut self, def: ResourceDef) {
        self.defs.retain(|d| {
            !(d.group == def.group && d.version == def.version && d.plural == def.plural)
        });
        self.defs.push(Arc::new(def));
    }

    pub(crate) fn all(&self) -> &[Arc<ResourceDef>] {
        &self.defs
    }

    /// By group, version and plural (the URL form).
    pub(crate) fn by_path(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
            .cloned()
    }

    /// By `apiVersion` and either kind or plural (the test API form).
    pub(crate) fn by_kind(
        &self,
        api_version: &str,
        kind_or_plural: &str,
    ) -> Option<Arc<ResourceDef>> {
        let (group, version) = split_api_version(api_version);
        self.defs
            .iter()
            .find(|d| {
                d.group == group
                    && d.version == version
                    && (d.kind == kind_or_plural || d.plural == kind_or_plural)
            })
            .cloned()
    }

    pub(crate) fn pods(&self) -> Arc<ResourceDef> {
        self.fixed("", "pods")
    }

    pub(crate) fn namespaces(&self) -> Arc<ResourceDef> {
        self.fixed("", "namespaces")
    }

    pub(crate) fn nodes(&self) -> Arc<ResourceDef> {
        self.fixed("", "nodes")
    }

    pub(crate) fn events(&self) -> Arc<ResourceDef> {
        self.fixed("", "events")
    }

    pub(crate) fn deployments(&self) -> Arc<ResourceDef> {
        self.fixed("apps", "deployments")
    }

    pub(crate) fn replicasets(&self) -> Arc<ResourceDef> {
        self.fixed("apps", "replicasets")
    }

    pub(crate) fn jobs(&self) -> Arc<ResourceDef> {
        self.fixed("batch", "jobs")
    }

    /// A built-in that `register_resource` can never remove (it only replaces same group/version/plural).
    fn fixed(&self, group: &str, plural: &str) -> Arc<ResourceDef> {
        self.defs
            .iter()
            .find(|d| d.is(group, plural))
            .cloned()
            .unwrap_or_else(|| Arc::new(ResourceDef::new("v1", "Unknown", plural, true)))
    }

    /// Groups (other than core) in registration order, each with its versions.
    pub(crate) fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for d in self.defs.iter().filter(|d| !d.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == d.group) {
                Some((_, versions)) if !versions.contains(&d.version) => {
                    versions.push(d.version.clone())
                }
                Some(_) => {}
                None => out.push((d.group.clone(), vec![d.version.clone()])),
            }
        }
        out
    }
}
