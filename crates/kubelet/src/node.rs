//! The Node object: registration and NodeStatus.
//!
//! Registration follows upstream's `tryRegisterWithAPIServer` (pkg/kubelet/kubelet_node_status.go):
//! create the Node with its well-known labels, the `--node-labels` and the
//! `--register-with-taints`; if it exists already, keep it (taints are only applied at
//! creation) and reconcile the labels. Status follows the setters in
//! pkg/kubelet/nodestatus/setters.go: Ready with reason `KubeletReady`, the pressure
//! conditions False, addresses, capacity = allocatable (no reservations) and nodeInfo.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::config::Config;
use crate::host::{HostInfo, go_arch};

/// The role label kubeadm puts on kind's control-plane node.
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// Errors talking to the API server about the Node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("registering node {node}: {source}")]
    Register { node: String, source: kube::Error },
    #[error("posting the status of node {node}: {source}")]
    Status { node: String, source: kube::Error },
    #[error("building the Node object: {0}")]
    Encode(#[from] serde_json::Error),
}

/// What the status depends on besides the host: the runtime and the node's address.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    pub name: String,
    pub ip: Option<IpAddr>,
    pub runtime_version: String,
    pub kubelet_version: String,
    pub host: HostInfo,
}

/// The Node as first registered: metadata and spec (the status is posted separately).
pub fn initial_node(cfg: &Config, name: &str) -> Result<Node, serde_json::Error> {
    let mut labels = json!({
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": go_arch(),
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": go_arch(),
    });
    for (k, v) in &cfg.node_labels {
        labels[k] = json!(v);
    }
    let mut spec = json!({ "providerID": format!("kind://docker/kind/{name}") });
    if !cfg.register_with_taints.is_empty() {
        spec["taints"] = serde_json::to_value(&cfg.register_with_taints)?;
    }
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": { "name": name, "labels": labels },
        "spec": spec,
    }))
}

/// Creates the Node, or reconciles the labels of the one that exists. Returns it.
pub async fn register(api: &Api<Node>, cfg: &Config, name: &str) -> Result<Node, NodeError> {
    let node = initial_node(cfg, name)?;
    let err = |source| NodeError::Register {
        node: name.to_string(),
        source,
    };
    match api.create(&PostParams::default(), &node).await {
        Ok(n) => Ok(n),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let labels = node.metadata.labels.unwrap_or_default();
            let patch = json!({ "metadata": { "labels": labels } });
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(err)
        }
        Err(e) => Err(err(e)),
    }
}

/// The status to post now. `previous` is the Node as last seen: a condition whose status
/// did not change keeps its lastTransitionTime.
pub fn node_status(facts: &NodeFacts, previous: Option<&Node>, now: Timestamp) -> Value {
    let now_s = now.to_string();
    let old_transition = |ty: &str, status: &str| -> Option<String> {
        let conds = previous?.status.as_ref()?.conditions.as_ref()?;
        let c = conds.iter().find(|c| c.type_ == ty && c.status == status)?;
        c.last_transition_time.as_ref().map(|t| t.0.to_string())
    };
    let cond = |ty: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": ty, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now_s,
            "lastTransitionTime": old_transition(ty, status).unwrap_or_else(|| now_s.clone()),
        })
    };
    let mut addresses = Vec::new();
    if let Some(ip) = facts.ip {
        addresses.push(json!({ "type": "InternalIP", "address": ip.to_string() }));
    }
    addresses.push(json!({ "type": "Hostname", "address": facts.name }));
    let h = &facts.host;
    let resources = json!({
        "cpu": h.cpus.to_string(),
        "memory": format!("{}Ki", h.memory_ki),
        "pods": "110",
    });
    json!({
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": addresses,
        "capacity": resources,
        "allocatable": resources,
        "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
        "nodeInfo": {
            "machineID": h.machine_id,
            "systemUUID": h.machine_id,
            "bootID": h.boot_id,
            "kernelVersion": h.kernel_version,
            "osImage": h.os_image,
            "containerRuntimeVersion": facts.runtime_version,
            "kubeletVersion": facts.kubelet_version,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": go_arch(),
        },
    })
}

/// Posts the status (merge patch of `status`), returning the Node as stored.
pub async fn post_status(
    api: &Api<Node>,
    facts: &NodeFacts,
    previous: Option<&Node>,
) -> Result<Node, NodeError> {
    let status = node_status(facts, previous, Timestamp::now());
    let patch = json!({ "status": status });
    api.patch_status(&facts.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| NodeError::Status {
            node: facts.name.clone(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn facts() -> NodeFacts {
        NodeFacts {
            name: "kc-worker".into(),
            ip: Some("172.18.0.3".parse().unwrap()),
            runtime_version: "containerd://1.6.20".into(),
            kubelet_version: "v1.32.0-kind-chaos".into(),
            host: HostInfo {
                cpus: 2,
                memory_ki: 1024,
                os_image: "Debian".into(),
                kernel_version: "6.1".into(),
                boot_id: "b".into(),
                machine_id: "m".into(),
            },
        }
    }

    #[test]
    fn registers_with_labels_and_taints() {
        let cfg = Config::parse_from([
            "kubelet",
            "--node-labels",
            "mock-server=true",
            "--register-with-taints",
            "playground_test=x:NoSchedule",
        ]);
        let n = serde_json::to_value(initial_node(&cfg, "kc-worker").unwrap()).unwrap();
        assert_eq!(n["metadata"]["labels"]["mock-server"], "true");
        assert_eq!(
            n["metadata"]["labels"]["kubernetes.io/hostname"],
            "kc-worker"
        );
        assert_eq!(n["spec"]["taints"][0]["key"], "playground_test");
        assert_eq!(n["spec"]["taints"][0]["effect"], "NoSchedule");
    }

    #[test]
    fn status_keeps_transition_times_of_unchanged_conditions() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
        let first = node_status(&facts(), None, t0);
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": "kc-worker"}, "status": first}))
                .unwrap();
        let second = node_status(&facts(), Some(&node), t1);
        let ready = &second["conditions"][3];
        assert_eq!(ready["type"], "Ready");
        assert_eq!(ready["reason"], "KubeletReady");
        assert_eq!(ready["lastTransitionTime"], "2026-01-01T00:00:00Z");
        assert_eq!(ready["lastHeartbeatTime"], "2026-01-01T00:00:10Z");
        assert_eq!(second["addresses"][0]["address"], "172.18.0.3");
        assert_eq!(
            second["nodeInfo"]["containerRuntimeVersion"],
            "containerd://1.6.20"
        );
    }
}
