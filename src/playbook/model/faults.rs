//! The bodies of the fault actions, and the targets they name.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::values::{Duration, Signal};

/// A node of the cluster, by its Kubernetes node name (= its container name in kind).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeRef {
    pub node: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeStop {
    pub node: String,
    /// Seconds Docker waits after SIGTERM before SIGKILL (default 10s).
    #[serde(default)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeKill {
    pub node: String,
    /// Default SIGKILL.
    #[serde(default)]
    pub signal: Option<Signal>,
}

/// A namespace by name.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NamespaceRef {
    pub namespace: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ContainerKill {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub pod: String,
    /// The container; may be left out when the pod has only one.
    #[serde(default)]
    pub container: Option<String>,
    /// Default SIGTERM.
    #[serde(default)]
    pub signal: Option<Signal>,
}

pub fn default_namespace() -> String {
    "default".into()
}

/// How dependents of a deleted object are handled.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum Propagation {
    Foreground,
    Background,
    Orphan,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PodDelete {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// One pod by name...
    #[serde(default)]
    pub name: Option<String>,
    /// ...or every pod matching a label selector (`app=web`).
    #[serde(default)]
    pub selector: Option<String>,
    /// Grace period for the containers to stop (default: the pod's own).
    #[serde(default)]
    pub grace_period: Option<Duration>,
    /// `kubectl delete --force`: grace 0 and background propagation.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NamespaceDelete {
    pub namespace: String,
    #[serde(default)]
    pub propagation: Option<Propagation>,
}

/// Any Kubernetes object.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceRef {
    /// `v1`, `apps/v1`, ...
    pub api_version: String,
    /// `Pod`, `Deployment`, ...
    pub kind: String,
    /// Left out for cluster-scoped objects.
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

impl ResourceRef {
    /// The object a manifest document describes; `namespace` is used when it names none.
    pub fn of_document(doc: &serde_json::Value, namespace: Option<&str>) -> ResourceRef {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        ResourceRef {
            api_version: text(&doc["apiVersion"]),
            kind: text(&doc["kind"]),
            namespace: doc["metadata"]["namespace"]
                .as_str()
                .or(namespace)
                .map(str::to_string),
            name: text(&doc["metadata"]["name"]),
        }
    }
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ResourceDelete {
    pub resource: ResourceRef,
    #[serde(default)]
    pub grace_period: Option<Duration>,
    #[serde(default)]
    pub propagation: Option<Propagation>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FinalizerAdd {
    pub resource: ResourceRef,
    /// A qualified name, like `chaos.kind-chaos.dev/hold`.
    pub finalizer: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FinalizerRemove {
    pub resource: ResourceRef,
    /// The finalizer to remove; every finalizer when left out.
    #[serde(default)]
    pub finalizer: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeTaint {
    pub node: String,
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    pub effect: TaintEffect,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EtcdDelete {
    /// One key, like `/registry/pods/default/web-0`...
    #[serde(default)]
    pub key: Option<String>,
    /// ...or every key under a prefix.
    #[serde(default)]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Exec {
    pub node: String,
    /// The command as an argument list; never passed through a shell.
    pub command: Vec<String>,
    /// A command that undoes it, run when the faults are undone.
    #[serde(default)]
    pub undo: Option<Vec<String>>,
}

/// Manifests to apply: a path (relative to the playbook), or a path and a namespace.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Apply {
    File(PathBuf),
    Spec(ApplySpec),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ApplySpec {
    pub file: PathBuf,
    /// Namespace for objects that do not name one.
    #[serde(default)]
    pub namespace: Option<String>,
}

impl Apply {
    pub fn file(&self) -> &std::path::Path {
        match self {
            Apply::File(p) => p,
            Apply::Spec(s) => &s.file,
        }
    }
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Apply::File(_) => None,
            Apply::Spec(s) => s.namespace.as_deref(),
        }
    }
}

impl<'de> Deserialize<'de> for Apply {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Apply;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a manifest path, or `{file: PATH, namespace: NS}`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Apply, E> {
                Ok(Apply::File(PathBuf::from(v)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<Apply, A::Error> {
                ApplySpec::deserialize(serde::de::value::MapAccessDeserializer::new(m))
                    .map(Apply::Spec)
            }
        }
        d.deserialize_any(V)
    }
}
