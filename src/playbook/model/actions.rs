//! Everything a step can do, as written: the `Action` enum, the body of each action and the
//! targets they name. The playbook side of a fault lives here and nowhere else: its key, its
//! fields (their doc comments become the JSON Schema), whether it has an undo, what it reaches
//! and which node targets it holds (one match arm each). How a fault
//! is described, injected and undone lives in its engine module (`engine/faults/`).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::de::Recover;
use super::super::values::{Duration, Signal};
use super::Wait;
use super::conditions::Condition;
use super::control::Repeat;
use super::etcd::EtcdDelete;
use super::network::{NetworkBandwidth, NetworkDelay, NetworkLoss, NetworkPartition, Peers};
use super::pods::{ContainerKill, PodDelete};
use super::probe::ProbeStep;
use super::resource::{CpuHog, DiskFill, MemoryHog};
use super::step::Step;
use super::target::NodeTarget;

/// Everything a step can do.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Apply Kubernetes manifests (server-side apply); deleted again when the run ends.
    Apply(Apply),
    /// Stop the kubelet in a node: `chmod -x /usr/bin/kubelet`, then kill it. Undo: `chmod +x`.
    KubeletStop(NodeRef),
    /// Pause a node container (docker pause). Undo: unpause.
    NodePause(NodeRef),
    /// Stop a node container (docker stop). Undo: start.
    NodeStop(NodeStop),
    /// Kill a node container with a signal (docker kill). Undo: start.
    NodeKill(NodeKill),
    /// Send a signal to a pod's container process inside its node. No undo.
    ContainerKill(ContainerKill),
    /// Delete pods (graceful, or `force`: grace 0 and background propagation). No undo.
    PodDelete(PodDelete),
    /// Delete a namespace. No undo.
    NamespaceDelete(NamespaceDelete),
    /// Delete any resource. No undo.
    ResourceDelete(ResourceDelete),
    /// Add a finalizer to a resource. Undo: remove exactly that finalizer.
    FinalizerAdd(FinalizerAdd),
    /// Remove one finalizer, or all of them, from a resource. No undo.
    FinalizerRemove(FinalizerRemove),
    /// Empty a namespace's `spec.finalizers` through `/finalize`. No undo.
    NamespaceFinalize(NamespaceRef),
    /// Cordon a node. Undo: uncordon.
    NodeCordon(NodeRef),
    /// Taint a node. Undo: remove the taint.
    NodeTaint(NodeTaint),
    /// Delete a raw etcd key or prefix; the values are backed up first. Undo: restore them.
    EtcdDelete(EtcdDelete),
    /// Run a command (argv, never a shell string) in a node container, with an optional undo.
    Exec(Exec),
    /// Cut a node off from peers with iptables rules in a chain of kind-chaos's own inside the
    /// node container. Undo: remove that chain and the jumps to it.
    NetworkPartition(NetworkPartition),
    /// Delay the packets a node sends (tc netem on its `kind` interface). Undo: remove it.
    NetworkDelay(NetworkDelay),
    /// Drop a share of the packets a node sends (tc netem). Undo: remove it.
    NetworkLoss(NetworkLoss),
    /// Limit the rate a node sends at (tc tbf). Undo: remove it.
    NetworkBandwidth(NetworkBandwidth),
    /// Keep CPUs of a node busy for a while (busy loops under `timeout` in the node
    /// container). Undo: stop them.
    CpuHog(CpuHog),
    /// Hold memory in a node for a while (a filled tmpfs of kind-chaos's own in the node
    /// container). Undo: unmount it.
    MemoryHog(MemoryHog),
    /// Fill the disk under a node's `/var/lib/containerd` for a while (one file of
    /// kind-chaos's own). Undo: remove it.
    DiskFill(DiskFill),
    /// Wait until a condition holds, or fail after a timeout.
    Wait(Wait),
    /// Pause the playbook for a fixed time.
    Sleep(Duration),
    /// Check a condition once; the run fails if it does not hold.
    Assert(Condition),
    /// A named group of steps, reported together.
    Group(Vec<Recover<Step>>),
    /// Sample a check (HTTP, a command, a condition) in the background while the steps of
    /// `during` run, then judge the samples (availability, longest outage, latency).
    Probe(ProbeStep),
    /// Steps run at the same time, each a branch of its own (a `group` for a sequence). Every
    /// branch runs to its end even when another fails; the step passes only if all do, and
    /// every fault of every branch is undone.
    Parallel(Vec<Recover<Step>>),
    /// Steps run again and again: `times` iterations, one starting `every` after the start of
    /// the one before (straight away when it took longer).
    Repeat(Repeat),
    /// Undo now what an earlier named step (or group) injected, instead of at the end.
    Undo(String),
}

impl Action {
    /// The key that names this action in a playbook (`kubelet-stop`).
    pub fn key(&self) -> &'static str {
        match self {
            Action::Apply(_) => "apply",
            Action::KubeletStop(_) => "kubelet-stop",
            Action::NodePause(_) => "node-pause",
            Action::NodeStop(_) => "node-stop",
            Action::NodeKill(_) => "node-kill",
            Action::ContainerKill(_) => "container-kill",
            Action::PodDelete(_) => "pod-delete",
            Action::NamespaceDelete(_) => "namespace-delete",
            Action::ResourceDelete(_) => "resource-delete",
            Action::FinalizerAdd(_) => "finalizer-add",
            Action::FinalizerRemove(_) => "finalizer-remove",
            Action::NamespaceFinalize(_) => "namespace-finalize",
            Action::NodeCordon(_) => "node-cordon",
            Action::NodeTaint(_) => "node-taint",
            Action::EtcdDelete(_) => "etcd-delete",
            Action::Exec(_) => "exec",
            Action::NetworkPartition(_) => "network-partition",
            Action::NetworkDelay(_) => "network-delay",
            Action::NetworkLoss(_) => "network-loss",
            Action::NetworkBandwidth(_) => "network-bandwidth",
            Action::CpuHog(_) => "cpu-hog",
            Action::MemoryHog(_) => "memory-hog",
            Action::DiskFill(_) => "disk-fill",
            Action::Wait(_) => "wait",
            Action::Sleep(_) => "sleep",
            Action::Assert(_) => "assert",
            Action::Group(_) => "group",
            Action::Probe(_) => "probe",
            Action::Parallel(_) => "parallel",
            Action::Repeat(_) => "repeat",
            Action::Undo(_) => "undo",
        }
    }

    /// Whether the step leaves something an `undo:` step can take back: a fault with an undo,
    /// applied manifests, or a group. Only those are named; every other action leaves nothing.
    /// The engine's fault modules build that undo; a test there checks, fault by fault, that
    /// they agree with this.
    pub fn has_undo(&self) -> bool {
        self.traits().0
    }

    /// What the action reaches in the cluster (the preflight connects to it first).
    pub fn reach(&self) -> Reach {
        self.traits().1
    }

    /// Whether each action leaves an undo, and what it reaches: one list, one line an action.
    fn traits(&self) -> (bool, Reach) {
        use Reach::{Api, Etcd, Inner, Nodes};
        match self {
            Action::Apply(_) | Action::FinalizerAdd(_) => (true, Api),
            Action::NodeCordon(_) | Action::NodeTaint(_) => (true, Api),
            Action::PodDelete(_) | Action::NamespaceDelete(_) => (false, Api),
            Action::ResourceDelete(_) | Action::FinalizerRemove(_) => (false, Api),
            Action::NamespaceFinalize(_) => (false, Api),
            Action::KubeletStop(_) | Action::NodePause(_) => (true, Nodes),
            Action::NodeStop(_) | Action::NodeKill(_) => (true, Nodes),
            Action::NetworkPartition(_) | Action::NetworkDelay(_) => (true, Nodes),
            Action::NetworkLoss(_) | Action::NetworkBandwidth(_) => (true, Nodes),
            Action::CpuHog(_) | Action::MemoryHog(_) | Action::DiskFill(_) => (true, Nodes),
            Action::ContainerKill(_) => (false, Nodes),
            Action::Exec(x) => (x.undo.is_some(), Nodes),
            Action::EtcdDelete(_) => (true, Etcd),
            Action::Group(_) | Action::Probe(_) => (true, Inner),
            Action::Parallel(_) | Action::Repeat(_) => (true, Inner),
            Action::Wait(_) | Action::Sleep(_) | Action::Assert(_) | Action::Undo(_) => {
                (false, Inner)
            }
        }
    }
}

impl Action {
    /// Every node target of the action, in the order written: the node first, then its peers.
    pub fn node_targets_mut(&mut self) -> Vec<&mut NodeTarget> {
        let (node, peers): (&mut NodeTarget, Option<&mut Vec<NodeTarget>>) = match self {
            Action::KubeletStop(x) | Action::NodePause(x) | Action::NodeCordon(x) => {
                (&mut x.node, None)
            }
            Action::NodeStop(x) => (&mut x.node, None),
            Action::NodeKill(x) => (&mut x.node, None),
            Action::NodeTaint(x) => (&mut x.node, None),
            Action::Exec(x) => (&mut x.node, None),
            Action::CpuHog(x) => (&mut x.node, None),
            Action::MemoryHog(x) => (&mut x.node, None),
            Action::DiskFill(x) => (&mut x.node, None),
            Action::NetworkPartition(x) => match &mut x.from {
                Peers::Nodes(peers) => (&mut x.node, Some(peers)),
                _ => (&mut x.node, None),
            },
            Action::NetworkDelay(x) => (&mut x.node, x.to.as_mut()),
            Action::NetworkLoss(x) => (&mut x.node, x.to.as_mut()),
            Action::NetworkBandwidth(x) => (&mut x.node, x.to.as_mut()),
            Action::Wait(w) => return w.until.node_targets_mut(),
            Action::Assert(c) => return c.node_targets_mut(),
            Action::Apply(_)
            | Action::Probe(_)
            | Action::Parallel(_)
            | Action::Repeat(_)
            | Action::ContainerKill(_)
            | Action::PodDelete(_)
            | Action::NamespaceDelete(_)
            | Action::ResourceDelete(_)
            | Action::FinalizerAdd(_)
            | Action::FinalizerRemove(_)
            | Action::NamespaceFinalize(_)
            | Action::EtcdDelete(_)
            | Action::Sleep(_)
            | Action::Group(_)
            | Action::Undo(_) => return Vec::new(),
        };
        let mut all = vec![node];
        all.extend(peers.into_iter().flatten());
        all
    }
}

/// What an action reaches in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The API server.
    Api,
    /// The node containers.
    Nodes,
    /// etcd.
    Etcd,
    /// Nothing of its own: a sleep, an `undo:`, or what its condition or its steps reach (a
    /// wait, an assertion, a group, a probe, `parallel`, `repeat`).
    Inner,
}

/// A node of the cluster: `{node: NAME}`, or `{node: {role: worker, index: 2}}` (see `NodeTarget`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeRef {
    pub node: NodeTarget,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeStop {
    pub node: NodeTarget,
    /// Seconds Docker waits after SIGTERM before SIGKILL (default 10s).
    #[serde(default)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeKill {
    pub node: NodeTarget,
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
    /// An object of the core group (`v1`): a `Pod`, a `Namespace` (no namespace), ...
    pub fn core(kind: &str, namespace: Option<&str>, name: &str) -> ResourceRef {
        ResourceRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
        }
    }

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
    pub node: NodeTarget,
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    pub effect: TaintEffect,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Exec {
    pub node: NodeTarget,
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

#[cfg(test)]
mod tests;
