//! Direct access for tests: read and write objects without HTTP, register kinds, add
//! nodes and flip their Ready condition, record events.

use serde_json::{Value, json};

use crate::FakeApiServer;
use crate::error::ApiError;
use crate::resources::ResourceDef;
use crate::scheduler::set_condition;
use crate::util::{self, set_at, str_at};

/// The status of a node's `Ready` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadyStatus {
    /// Ready (`KubeletReady`).
    #[default]
    True,
    /// Not ready (`KubeletNotReady`).
    False,
    /// Unknown (`NodeStatusUnknown`: the kubelet stopped posting status).
    Unknown,
}

impl ReadyStatus {
    fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            ReadyStatus::True => ("True", "KubeletReady", "kubelet is posting ready status"),
            ReadyStatus::False => (
                "False",
                "KubeletNotReady",
                "container runtime network not ready",
            ),
            ReadyStatus::Unknown => (
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
            ),
        }
    }
}

/// A node to add with [`FakeApiServer::add_node`], kind-style by default (Ready, linux/amd64,
/// an InternalIP on 172.18.0.0/16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeNode {
    name: String,
    labels: Vec<(String, String)>,
    taints: Vec<(String, String, String)>,
    ready: ReadyStatus,
}

impl FakeNode {
    /// A Ready node called `name`.
    pub fn new(name: &str) -> FakeNode {
        FakeNode {
            name: name.to_string(),
            labels: Vec::new(),
            taints: Vec::new(),
            ready: ReadyStatus::True,
        }
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> FakeNode {
        self.labels.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds a taint (`effect`: `NoSchedule`, `PreferNoSchedule` or `NoExecute`).
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> FakeNode {
        self.taints
            .push((key.to_string(), value.to_string(), effect.to_string()));
        self
    }

    /// Marks it a kind control-plane node (role label and NoSchedule taint).
    pub fn control_plane(self) -> FakeNode {
        self.label("node-role.kubernetes.io/control-plane", "")
            .taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")
    }

    /// Sets the initial Ready status.
    pub fn ready(mut self, status: ReadyStatus) -> FakeNode {
        self.ready = status;
        self
    }

    fn to_json(&self, index: u64) -> Value {
        let mut labels = json!({
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
        });
        for (k, v) in &self.labels {
            labels[k] = json!(v);
        }
        let taints: Vec<Value> = self
            .taints
            .iter()
            .map(|(k, v, e)| {
                if v.is_empty() {
                    json!({ "key": k, "effect": e })
                } else {
                    json!({ "key": k, "value": v, "effect": e })
                }
            })
            .collect();
        let mut spec = json!({ "podCIDR": format!("10.244.{index}.0/24"), "providerID": format!("kind://docker/kind/{}", self.name) });
        if !taints.is_empty() {
            spec["taints"] = json!(taints);
        }
        let mut node = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": { "name": self.name, "labels": labels },
            "spec": spec,
            "status": {
                "addresses": [
                    { "type": "InternalIP", "address": format!("172.18.0.{}", index + 2) },
                    { "type": "Hostname", "address": self.name },
                ],
                "capacity": { "cpu": "2", "memory": "24Gi", "pods": "110" },
                "allocatable": { "cpu": "2", "memory": "24Gi", "pods": "110" },
                "nodeInfo": {
                    "kubeletVersion": "v1.37.0", "kubeProxyVersion": "v1.37.0",
                    "containerRuntimeVersion": "containerd://2.1.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "operatingSystem": "linux", "architecture": "amd64",
                },
                "conditions": [],
            },
        });
        for c in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
            set_condition(
                &mut node,
                c,
                "False",
                &format!("KubeletHasSufficient{}", &c[..c.len() - 8]),
                "",
            );
        }
        let (status, reason, message) = self.ready.parts();
        set_condition(&mut node, "Ready", status, reason, message);
        node
    }
}

impl FakeApiServer {
    fn resolve(
        &self,
        api_version: &str,
        kind_or_plural: &str,
    ) -> Result<std::sync::Arc<ResourceDef>, ApiError> {
        self.shared()
            .lock()
            .reg
            .by_kind(api_version, kind_or_plural)
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFound",
                    format!("no resource {kind_or_plural:?} is served in {api_version:?}"),
                )
            })
    }

    /// One object, by `apiVersion` (`v1`, `apps/v1`), kind or plural (`Pod` or `pods`),
    /// namespace (ignored for cluster-scoped kinds) and name.
    pub fn get(
        &self,
        api_version: &str,
        kind_or_plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let res = self.resolve(api_version, kind_or_plural).ok()?;
        self.shared()
            .lock()
            .get(&res, namespace.unwrap_or(""), name)
            .cloned()
    }

    /// Objects of a kind, in one namespace or (`None`) all, ordered by namespace and name.
    pub fn list(
        &self,
        api_version: &str,
        kind_or_plural: &str,
        namespace: Option<&str>,
    ) -> Vec<Value> {
        let Ok(res) = self.resolve(api_version, kind_or_plural) else {
            return Vec::new();
        };
        self.shared()
            .lock()
            .list(&res, namespace)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Stores an object as given, creating or replacing it, without admission, defaults or
    /// validation (so a test can seed any state, status included, even in a namespace that
    /// does not exist). The kind comes from `apiVersion` and `kind`; a missing namespace of a
    /// namespaced object is `default`; missing `uid`/`creationTimestamp` are filled in. Watches
    /// see it and the controllers act on it. Returns the stored object.
    pub fn insert(&self, object: Value) -> Result<Value, ApiError> {
        let api_version = str_at(&object, &["apiVersion"]).unwrap_or("").to_string();
        let kind = str_at(&object, &["kind"]).unwrap_or("").to_string();
        let res = self.resolve(&api_version, &kind)?;
        let name = util::name_of(&object).to_string();
        if name.is_empty() {
            return Err(ApiError::invalid(
                &res,
                "",
                "metadata.name",
                "FieldValueRequired",
                "Required value: name is required",
            ));
        }
        self.shared().mutate(|st| {
            let mut obj = object;
            obj["kind"] = json!(res.kind);
            if res.namespaced {
                if util::namespace_of(&obj).is_empty() {
                    set_at(&mut obj, &["metadata", "namespace"], json!("default"));
                }
            } else {
                util::remove_at(&mut obj, &["metadata", "namespace"]);
            }
            let ns = util::namespace_of(&obj).to_string();
            match st.get(&res, &ns, &name).cloned() {
                Some(old) => {
                    for k in ["uid", "creationTimestamp"] {
                        if obj["metadata"].get(k).is_none() {
                            set_at(&mut obj, &["metadata", k], old["metadata"][k].clone());
                        }
                    }
                    Ok(st.update(&res, &old, obj).0)
                }
                None => {
                    if util::uid_of(&obj).is_empty() {
                        let uid = st.rng.uid();
                        set_at(&mut obj, &["metadata", "uid"], json!(uid));
                    }
                    if obj["metadata"].get("creationTimestamp").is_none() {
                        set_at(
                            &mut obj,
                            &["metadata", "creationTimestamp"],
                            json!(util::now()),
                        );
                    }
                    Ok(st.create(&res, obj))
                }
            }
        })
    }

    /// Removes an object at once, ignoring finalizers and grace periods, as deleting its etcd
    /// key does (watches see DELETED). Returns what was removed.
    pub fn remove(
        &self,
        api_version: &str,
        kind_or_plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let res = self.resolve(api_version, kind_or_plural).ok()?;
        self.shared()
            .mutate(|st| st.remove(&res, namespace.unwrap_or(""), name))
    }

    /// Serves a further kind with generic storage (like installing a CRD):
    /// `register_resource("example.com/v1", "Widget", "widgets", true)`. Discovery lists it.
    pub fn register_resource(
        &self,
        api_version: &str,
        kind: &str,
        plural: &str,
        namespaced: bool,
    ) -> ResourceDef {
        let def = ResourceDef::new(api_version, kind, plural, namespaced);
        self.shared().lock().reg.add(def.clone());
        def
    }

    /// Adds (or replaces) a Node. Returns it as stored.
    pub fn add_node(&self, node: FakeNode) -> Result<Value, ApiError> {
        let index = self.list("v1", "Node", None).len() as u64;
        self.insert(node.to_json(index))
    }

    /// Sets a node's Ready condition (as its kubelet, or the node lifecycle controller, would).
    pub fn set_node_ready(&self, node: &str, status: ReadyStatus) -> Result<Value, ApiError> {
        let res = self.resolve("v1", "Node")?;
        self.shared().mutate(|st| {
            let old = st
                .get(&res, "", node)
                .cloned()
                .ok_or_else(|| ApiError::not_found(&res, node))?;
            let mut new = old.clone();
            let (s, reason, message) = status.parts();
            set_condition(&mut new, "Ready", s, reason, message);
            Ok(st.update(&res, &old, new).0)
        })
    }

    /// Records a core/v1 Event about `involved` (any stored object), as a component would.
    /// `event_type` is `Normal` or `Warning`. Returns the Event.
    pub fn record_event(
        &self,
        involved: &Value,
        event_type: &str,
        reason: &str,
        message: &str,
    ) -> Result<Value, ApiError> {
        self.shared().mutate(|st| {
            crate::events::record(st, involved, event_type, reason, message, "fake-apiserver")
        })
    }
}
