//! What waits and assertions can check: the Kubernetes view, the node view, etcd, and the gap
//! between them (ghost and phantom pods).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::values::{Count, Duration};
use super::actions::{ResourceRef, TaintEffect, default_namespace};
use super::etcd::EtcdTarget;
use super::target::NodeTarget;
use super::written::read_as_written;
use crate::playbook::schema::by_hand;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(transform = crate::playbook::schema::keyed_alternatives)]
pub enum Condition {
    /// Pods matching a name or selector (and optionally a node) have these properties.
    Pods(PodsCondition),
    /// A pod's log (current or previous container) contains a line.
    PodLogs(PodLogsCondition),
    /// A node's Ready condition, taints and labels.
    Node(NodeCondition),
    /// A namespace is Active, Terminating or absent.
    Namespace(NamespaceCondition),
    /// Any object exists or not, or one of its fields has a value.
    Resource(ResourceCondition),
    /// An event with this reason was recorded.
    Event(EventCondition),
    /// A raw etcd key exists or not, or a prefix holds a number of keys.
    EtcdKey(EtcdKeyCondition),
    /// The number of live containerd shims (one per pod sandbox) on a node.
    Shims(ShimsCondition),
    /// A pod has (or has not) a live sandbox on the nodes.
    Sandbox(SandboxCondition),
    /// The kubelet process is running (or not) in a node.
    Kubelet(KubeletCondition),
    /// Ghost pods (running on a node, deleted in the API) and phantoms (the reverse).
    Drift(DriftCondition),
    /// How long an earlier step took.
    Duration(DurationCondition),
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PodsCondition {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default)]
    pub name: Option<String>,
    /// A label selector, like `app.kubernetes.io/name=deployment`.
    #[serde(default)]
    pub selector: Option<String>,
    /// Only pods the API places on this node.
    #[serde(default)]
    pub node: Option<NodeTarget>,
    /// `restarts`, `exit-code` and `reason` look at this container only, an app or an init
    /// container (a native sidecar); default: any app container.
    #[serde(default)]
    pub container: Option<String>,
    /// How many pods match (after the filters below). Default: at least one.
    #[serde(default)]
    pub count: Option<Count>,
    #[serde(default)]
    pub phase: Option<PodPhase>,
    #[serde(default)]
    pub ready: Option<bool>,
    /// `true`: every matching pod has a deletionTimestamp ("Terminating").
    #[serde(default)]
    pub terminating: Option<bool>,
    /// Container restarts, summed per pod.
    #[serde(default)]
    pub restarts: Option<Count>,
    /// Exit code of the last terminated container state.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Reason of the last terminated state (`Completed`, `Error`, `OOMKilled`).
    #[serde(default)]
    pub reason: Option<String>,
    /// Tolerations each pod must have in its spec (also those admission added, like the
    /// default 300 s for `node.kubernetes.io/unreachable`).
    #[serde(default)]
    pub tolerations: Vec<TolerationMatch>,
    /// The `name` of an earlier `pods` wait or assert: only pods that step did not see count,
    /// by name and by UID (a replacement, not the same pod nor one recreated under its name).
    #[serde(default)]
    pub replaces: Option<String>,
}

/// A toleration to look for in a pod's spec: one with exactly this key; `effect` and
/// `toleration-seconds` are matched only when given.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TolerationMatch {
    pub key: String,
    #[serde(default)]
    pub effect: Option<TaintEffect>,
    /// How long the pod tolerates the taint once the node has it, in seconds.
    #[serde(default)]
    pub toleration_seconds: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PodLogsCondition {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub pod: String,
    #[serde(default)]
    pub container: Option<String>,
    /// Read the previous (terminated) container's log.
    #[serde(default)]
    pub previous: bool,
    /// A substring that some line must contain (the whole line with `whole-line`).
    pub contains: String,
    /// `true`: a line must be exactly `contains` (trailing whitespace aside), so `PID 1` does
    /// not match `PID 12`.
    #[serde(default)]
    pub whole_line: bool,
    /// `false`: no line may contain it (e.g. a signal that must never reach the app).
    #[serde(default)]
    pub present: Option<bool>,
}

/// The status of a Kubernetes condition, written as the API writes it: `True`, `False` or
/// `Unknown`. YAML (1.2 and 1.1 alike) reads a plain `True` or `false` as a boolean, and so do
/// editors and schema validators, so a boolean is read as the same status and the schema says
/// both; a quoted `"true"` is neither and is refused by both.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl<'de> Deserialize<'de> for ConditionStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ConditionStatus;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`True`, `False` or `Unknown`")
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<ConditionStatus, E> {
                Ok(if b {
                    ConditionStatus::True
                } else {
                    ConditionStatus::False
                })
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ConditionStatus, E> {
                match s {
                    "True" => Ok(ConditionStatus::True),
                    "False" => Ok(ConditionStatus::False),
                    "Unknown" => Ok(ConditionStatus::Unknown),
                    _ => Err(E::unknown_variant(s, &["True", "False", "Unknown"])),
                }
            }
        }
        d.deserialize_any(V)
    }
}

by_hand!(ConditionStatus, {
    schemars::json_schema!({
        "description": "`True`, `False` or `Unknown`; a plain `True`/`False` is a YAML boolean and means the same.",
        "anyOf": [
            {"type": "string", "enum": ["True", "False", "Unknown"]},
            {"type": "boolean"}
        ]
    })
});

/// A taint to look for; `value` and `effect` are matched only when given.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TaintMatch {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub effect: Option<TaintEffect>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeCondition {
    /// The node (its name, or a node target like `{role: worker}`).
    pub name: NodeTarget,
    /// The status of the node's Ready condition (a dead kubelet gives `Unknown`).
    #[serde(default)]
    pub ready: Option<ConditionStatus>,
    /// Taints the node must have.
    #[serde(default)]
    pub taints: Vec<TaintMatch>,
    /// Taints the node must not have.
    #[serde(default)]
    pub no_taints: Vec<TaintMatch>,
    /// Labels the node must carry.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NamespaceState {
    Active,
    Terminating,
    Absent,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NamespaceCondition {
    pub name: String,
    pub state: NamespaceState,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ResourceCondition {
    pub resource: ResourceRef,
    /// Default `true`.
    #[serde(default)]
    pub exists: Option<bool>,
    /// A dotted path into the object, like `status.phase` or `metadata.finalizers`.
    #[serde(default)]
    pub field: Option<String>,
    /// The value the field must have.
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    /// Whether the API server accepts an edit of the object (a dry-run empty patch, which
    /// changes nothing): `false` when it refuses, like the 404 for an object whose namespace
    /// is gone.
    #[serde(default)]
    pub writable: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EventCondition {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub reason: String,
    /// The involved object's name, when it matters.
    #[serde(default)]
    pub object: Option<String>,
}

/// `etcd-key`: one key (and whether it `exists`) or a prefix (and how many keys `count` under
/// it). The target is one type once parsed, as for `etcd-delete`: neither or both of `key` and
/// `prefix` is refused while deserializing (see `written.rs`).
#[derive(Debug, Clone, Serialize)]
#[serde(into = "EtcdKeyFields")]
pub struct EtcdKeyCondition {
    pub target: EtcdTarget,
    pub exists: Option<bool>,
    pub count: Option<Count>,
}

// `etcd-key` as written, and as the JSON Schema shows it (no doc comment: it would become a
// schema description).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "EtcdKeyCondition")]
struct EtcdKeyFields {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
    /// For `key`: whether it exists (default `true`).
    #[serde(default)]
    exists: Option<bool>,
    /// For `prefix`: how many keys are under it.
    #[serde(default)]
    count: Option<Count>,
}

impl From<EtcdKeyCondition> for EtcdKeyFields {
    fn from(c: EtcdKeyCondition) -> Self {
        let (key, prefix) = c.target.into_fields();
        EtcdKeyFields {
            key,
            prefix,
            exists: c.exists,
            count: c.count,
        }
    }
}

impl EtcdKeyFields {
    fn check(self) -> Result<EtcdKeyCondition, String> {
        Ok(EtcdKeyCondition {
            target: EtcdTarget::of("etcd-key", self.key, self.prefix)?,
            exists: self.exists,
            count: self.count,
        })
    }
}

const ETCD_KEY_FIELDS: &[&str] = &["key", "prefix", "exists", "count"];

read_as_written!(
    EtcdKeyCondition,
    EtcdKeyFields,
    ETCD_KEY_FIELDS,
    EtcdKeyFields::check
);

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShimsCondition {
    pub node: NodeTarget,
    /// How many shims.
    #[serde(default)]
    pub count: Option<Count>,
    /// The `name` of an earlier `shims` wait or assert: as many shims as it counted.
    #[serde(default)]
    pub same_as: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SandboxCondition {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub pod: String,
    /// Look only on this node.
    #[serde(default)]
    pub node: Option<NodeTarget>,
    /// Whether a live sandbox must exist (default `true`).
    #[serde(default)]
    pub present: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KubeletCondition {
    pub node: NodeTarget,
    pub running: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DriftCondition {
    /// Only this node.
    #[serde(default)]
    pub node: Option<NodeTarget>,
    /// Only pods of this namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub ghosts: Option<Count>,
    #[serde(default)]
    pub phantoms: Option<Count>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DurationCondition {
    /// The `name` of an earlier step.
    pub step: String,
    #[serde(default)]
    pub at_least: Option<Duration>,
    #[serde(default)]
    pub at_most: Option<Duration>,
}
