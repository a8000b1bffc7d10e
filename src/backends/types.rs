//! The data the backends exchange with the engine: views of pods, nodes and namespaces, what
//! runs on a node, etcd backups. Plain data, serializable for reports and the undo journal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::playbook::model::TaintEffect;
use crate::playbook::values::Signal;

/// A pod by namespace and name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for PodKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A signal for a pod's container process(es) on a node (`container-kill`): only `container`
/// when given, else every running application container of the pod.
#[derive(Debug, Clone, Copy)]
pub struct PodSignal<'a> {
    pub pod: &'a PodKey,
    pub container: Option<&'a str>,
    pub signal: Signal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KubeletAction {
    Stop,
    Start,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerAction {
    Pause,
    Unpause,
    Stop { timeout_secs: Option<u64> },
    Start,
    Kill { signal: i32 },
}

impl ContainerAction {
    pub fn kill(signal: Signal) -> Self {
        ContainerAction::Kill { signal: signal.0 }
    }
}

/// A node container as Docker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeContainer {
    pub name: String,
    pub role: String,
    /// `running`, `paused`, `exited`...
    pub state: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// What really runs on one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReality {
    pub node: String,
    pub kubelet_running: bool,
    /// Live `containerd-shim-runc-v2` processes, each with the sandbox it serves.
    pub shims: Vec<Shim>,
    pub sandboxes: Vec<Sandbox>,
}

/// How a node's reality was read: from containerd's metadata database, through containerd's
/// socket or from the host's `/proc` alone (no process started in the node), or by one exec of
/// the scan script in the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RealitySource {
    ContainerdMetadata,
    ContainerdSocket,
    HostProc,
    Exec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shim {
    pub pid: u32,
    pub sandbox_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sandbox {
    pub id: String,
    pub pod: PodKey,
    pub uid: String,
    /// Whether a shim serves it (the sandbox is live).
    pub live: bool,
    /// Containers running in it.
    pub containers: Vec<String>,
}

/// The API server's answer to a write it was asked to judge (a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCheck {
    Accepted,
    /// Refused with this HTTP status and message, like `namespaces "x" not found` (404) for an
    /// object whose namespace is gone.
    Refused {
        code: u16,
        message: String,
    },
}

/// Which pods to look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodQuery {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub selector: Option<String>,
    pub node: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodView {
    pub key: PodKey,
    pub uid: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub node: Option<String>,
    /// The pod's IP (`status.podIP`), once the kubelet reported one.
    #[serde(default)]
    pub ip: Option<String>,
    pub phase: String,
    pub ready: bool,
    pub deletion_timestamp: Option<String>,
    pub finalizers: Vec<String>,
    pub containers: Vec<ContainerView>,
    /// The init containers' statuses (native sidecars among them), for conditions that name
    /// one with `container`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<ContainerView>,
    /// The pod's `spec.tolerations`, including those admission added (the 300 s NoExecute
    /// tolerations of DefaultTolerationSeconds).
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
}

/// One toleration of a pod's spec. `key` is `None` for a toleration of every key (operator
/// `Exists` without a key), `effect` for one of every effect, `seconds` when it tolerates for
/// ever.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toleration {
    pub key: Option<String>,
    /// `Equal` or `Exists`, as the API writes it.
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<TaintEffect>,
    pub seconds: Option<i64>,
}

impl PodView {
    pub fn restarts(&self) -> u64 {
        self.containers.iter().map(|c| u64::from(c.restarts)).sum()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerView {
    pub name: String,
    pub restarts: u32,
    /// `running`, `waiting`, `terminated`.
    pub state: String,
    /// From the current state if terminated, else the last terminated state.
    pub last_exit_code: Option<i32>,
    pub last_reason: Option<String>,
    /// The runtime's ID of the current container, as `status.containerStatuses[].containerID`
    /// writes it (`containerd://ID`); `None` before it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: TaintEffect,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    pub name: String,
    /// `True`, `False` or `Unknown` (`Unknown` also when the condition is missing).
    pub ready: String,
    pub unschedulable: bool,
    pub taints: Vec<Taint>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceView {
    pub name: String,
    /// `Active` or `Terminating`.
    pub phase: String,
    pub finalizers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub reason: String,
    pub object: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinalizerOp {
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EtcdSelector {
    Key(String),
    Prefix(String),
}

impl std::fmt::Display for EtcdSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EtcdSelector::Key(k) => write!(f, "key {k}"),
            EtcdSelector::Prefix(p) => write!(f, "prefix {p}"),
        }
    }
}

/// Every key and value an etcd delete removed, read at one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdBackup {
    pub revision: i64,
    pub entries: Vec<EtcdEntry>,
}

impl EtcdBackup {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A key and its value, serialized as base64 strings (any bytes, a third larger; read also as
/// the arrays of numbers journals of version 1 held).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdEntry {
    #[serde(with = "bytes_b64")]
    pub key: Vec<u8>,
    #[serde(with = "bytes_b64")]
    pub value: Vec<u8>,
}

mod bytes_b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    struct Bytes;

    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Vec<u8>, E> {
            STANDARD.decode(s.as_bytes()).map_err(E::custom)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut numbers: A) -> Result<Vec<u8>, A::Error> {
            let mut v = Vec::new();
            while let Some(b) = numbers.next_element()? {
                v.push(b);
            }
            Ok(v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_any(Bytes)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    pub restored: Vec<String>,
    /// Keys that exist again and were left alone.
    pub skipped: Vec<String>,
}

/// What an API watch for the run's timeline looks at: the pods of these namespaces and the
/// namespaces themselves, and these nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchScope {
    pub namespaces: std::collections::BTreeSet<String>,
    pub nodes: std::collections::BTreeSet<String>,
}

impl WatchScope {
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.nodes.is_empty()
    }
}

/// One change an API watch saw, as it saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiChange {
    /// A pod was added or changed (or listed again).
    Pod(PodView),
    /// A pod was deleted, or was missing from a list made again after the watch broke.
    PodGone(PodKey),
    Node(NodeView),
    NodeGone(String),
    Namespace(NamespaceView),
    NamespaceGone(String),
    /// The watch of `what` (`pods in NS`, `nodes`, `namespaces`) failed: changes may be missed
    /// until it lists again ([`ApiChange::Listed`]).
    Broken {
        what: String,
        error: String,
    },
    /// The watch of `what` (re-)listed everything: the state is complete again.
    Listed {
        what: String,
    },
}
