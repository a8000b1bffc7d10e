//! The fake cluster's state and its knobs, as plain data so a test can build it in code or
//! load it from a JSON file (the hidden `--fake-cluster` flag of the CLI end-to-end tests).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backends::{
    BackendError, ErrorKind, NamespaceView, PodKey, PodView, Sandbox, Shaping, Taint,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct State {
    pub nodes: BTreeMap<String, FakeNode>,
    pub pods: Vec<PodView>,
    pub namespaces: Vec<NamespaceView>,
    /// Generic objects, keyed by `Kind namespace/name`.
    pub objects: BTreeMap<String, serde_json::Value>,
    /// Logs by `namespace/name` (current container) or `namespace/name#previous`.
    pub logs: BTreeMap<String, String>,
    pub etcd: BTreeMap<String, String>,
    pub events: Vec<FakeEvent>,
    /// How the API server answers an edit of an object (keyed like `objects`) when it is
    /// not the usual (accepted, or 404 for a missing object or namespace): a 403, 409, 422.
    pub write_refusals: BTreeMap<String, WriteRefusal>,
    pub knobs: Knobs,
}

/// An API server's refusal of an edit: status code and message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteRefusal {
    pub code: u16,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FakeNode {
    pub role: String,
    /// Docker's view: `running`, `paused`, `exited`.
    pub container: String,
    /// Whether `/usr/bin/kubelet` is executable.
    pub kubelet_executable: bool,
    pub kubelet_running: bool,
    /// The API's Ready condition.
    pub ready: String,
    pub unschedulable: bool,
    pub taints: Vec<Taint>,
    pub labels: BTreeMap<String, String>,
    pub sandboxes: Vec<Sandbox>,
    /// The iptables chains of partitions on this node.
    pub chains: Vec<String>,
    /// The traffic shaping on this node's interface.
    pub shaping: Option<Shaping>,
    /// The markers of the CPU hogs running on this node.
    pub hogs: Vec<String>,
    /// The memory and disk fills on this node: marker and bytes held.
    pub fills: BTreeMap<String, u64>,
}

impl Default for FakeNode {
    fn default() -> Self {
        FakeNode {
            role: "worker".into(),
            container: "running".into(),
            kubelet_executable: true,
            kubelet_running: true,
            ready: "True".into(),
            unschedulable: false,
            taints: Vec::new(),
            labels: BTreeMap::new(),
            sandboxes: Vec::new(),
            chains: Vec::new(),
            shaping: None,
            hogs: Vec::new(),
            fills: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FakeEvent {
    pub namespace: String,
    pub reason: String,
    pub object: String,
    #[serde(default)]
    pub message: String,
}

/// Adversarial knobs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// The next call of each named operation fails (`kubelet-stop`, `node-unpause`, `pods`...).
    pub fail_next: Vec<Failure>,
    /// Undo operations succeed but change nothing.
    pub undo_noop: bool,
    /// Backends that cannot be connected (`nodes`, `kube`, `etcd`).
    pub unavailable: Vec<String>,
    /// Changes applied after a number of observations (reads), to make waits succeed later.
    pub schedule: Vec<Scheduled>,
    /// Operations that never return (to test timeouts and interruption): by operation name.
    pub hang: Vec<String>,
    /// A pod delete that is not forced (grace 0) leaves the pod Terminating (a
    /// deletionTimestamp) for this many more observations, then it goes; unset: it goes at once.
    pub terminating_for: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub op: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    pub message: String,
}

fn default_kind() -> String {
    "failed".into()
}

impl Failure {
    pub fn error(&self) -> BackendError {
        let kind = match self.kind.as_str() {
            "unavailable" => ErrorKind::Unavailable,
            "not-found" => ErrorKind::NotFound,
            _ => ErrorKind::Failed,
        };
        BackendError {
            kind,
            message: self.message.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheduled {
    /// Applied once this many observations have been made.
    pub after: u64,
    pub change: Change,
}

/// A change the fake applies to itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    NodeReady {
        node: String,
        status: String,
    },
    PodPhase {
        pod: PodKey,
        phase: String,
    },
    PodReady {
        pod: PodKey,
        ready: bool,
    },
    PodGone {
        pod: PodKey,
    },
    /// The pod is replaced by one named `name` with UID `uid` (the same name for a pod
    /// recreated under its name), and its sandboxes on the nodes with the replacement's.
    PodReplaced {
        pod: PodKey,
        name: String,
        uid: String,
    },
    /// The pod's sandbox leaves the node (its shim with it).
    SandboxGone {
        node: String,
        pod: PodKey,
    },
    NamespaceGone {
        name: String,
    },
    EtcdPut {
        key: String,
        value: String,
    },
    EtcdDelete {
        key: String,
    },
}

impl State {
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::NodeReady { node, status } => {
                if let Some(n) = self.nodes.get_mut(node) {
                    n.ready = status.clone();
                }
            }
            Change::PodPhase { pod, phase } => {
                if let Some(p) = self.pods.iter_mut().find(|p| &p.key == pod) {
                    p.phase = phase.clone();
                }
            }
            Change::PodReady { pod, ready } => {
                if let Some(p) = self.pods.iter_mut().find(|p| &p.key == pod) {
                    p.ready = *ready;
                }
            }
            Change::PodGone { pod } => self.pods.retain(|p| &p.key != pod),
            Change::PodReplaced { pod, name, uid } => {
                let new = PodKey {
                    namespace: pod.namespace.clone(),
                    name: name.clone(),
                };
                if let Some(p) = self.pods.iter_mut().find(|p| &p.key == pod) {
                    p.key = new.clone();
                    p.uid = uid.clone();
                }
                for sb in self.nodes.values_mut().flat_map(|n| n.sandboxes.iter_mut()) {
                    if &sb.pod == pod {
                        sb.id = format!("sandbox-of-{uid}");
                        sb.pod = new.clone();
                        sb.uid = uid.clone();
                    }
                }
            }
            Change::SandboxGone { node, pod } => {
                if let Some(n) = self.nodes.get_mut(node) {
                    n.sandboxes.retain(|sb| &sb.pod != pod);
                }
            }
            Change::NamespaceGone { name } => self.namespaces.retain(|n| &n.name != name),
            Change::EtcdPut { key, value } => {
                self.etcd.insert(key.clone(), value.clone());
            }
            Change::EtcdDelete { key } => {
                self.etcd.remove(key);
            }
        }
    }
}
