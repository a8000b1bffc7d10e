//! k8s-openapi objects to the project's views (pure functions, unit-tested).
//!
//! Why it exists: the engine and `observe` judge [`PodView`]s, [`NodeView`]s, ... and must not
//! know kube's types. The mapping encodes these rules (see ARCHITECTURE.md's glossary): "Terminating" is a
//! `deletionTimestamp`, not a phase; a container's last exit code and reason come from its
//! current state when it is terminated, else from its last terminated state; a node without a
//! Ready condition is `Unknown`.

use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Event, Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::backends::{
    ContainerView, EventView, NamespaceView, NodeView, PodKey, PodView, Taint, Toleration,
};
use crate::playbook::model::TaintEffect;

/// A timestamp as the API writes it (RFC 3339).
fn time_text(t: &Time) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| t.0.to_string())
}

fn state_name(s: Option<&ContainerState>) -> &'static str {
    match s {
        Some(s) if s.running.is_some() => "running",
        Some(s) if s.terminated.is_some() => "terminated",
        _ => "waiting",
    }
}

pub(crate) fn container_view(c: &ContainerStatus) -> ContainerView {
    let last = c
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| c.last_state.as_ref().and_then(|s| s.terminated.as_ref()));
    ContainerView {
        name: c.name.clone(),
        restarts: u32::try_from(c.restart_count).unwrap_or(0),
        state: state_name(c.state.as_ref()).to_string(),
        last_exit_code: last.map(|t| t.exit_code),
        last_reason: last.and_then(|t| t.reason.clone()),
        id: c.container_id.clone().filter(|i| !i.is_empty()),
    }
}

pub(crate) fn pod_view(p: &Pod) -> PodView {
    let status = p.status.as_ref();
    let statuses = status.and_then(|s| s.container_statuses.as_ref());
    let containers = match statuses {
        // In the spec's order (the kubelet sorts the statuses by name: pkg/kubelet/
        // kubelet_pods.go, convertToAPIContainerStatuses), so the first is the first app
        // container, the one an exec probe without `container` runs in.
        Some(list) if !list.is_empty() => {
            let order = |name: &str| {
                p.spec
                    .as_ref()
                    .and_then(|s| s.containers.iter().position(|c| c.name == name))
                    .unwrap_or(usize::MAX)
            };
            let mut views: Vec<ContainerView> = list.iter().map(container_view).collect();
            views.sort_by_key(|v| order(&v.name));
            views
        }
        // Not started yet: the spec's containers, waiting, never restarted.
        _ => p
            .spec
            .as_ref()
            .map(|s| {
                s.containers
                    .iter()
                    .map(|c| ContainerView {
                        name: c.name.clone(),
                        state: "waiting".into(),
                        ..Default::default()
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let init_containers = status
        .and_then(|s| s.init_container_statuses.as_ref())
        .map(|list| list.iter().map(container_view).collect())
        .unwrap_or_default();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    PodView {
        key: PodKey {
            namespace: p.metadata.namespace.clone().unwrap_or_default(),
            name: p.metadata.name.clone().unwrap_or_default(),
        },
        uid: p.metadata.uid.clone().unwrap_or_default(),
        labels: p.metadata.labels.clone().unwrap_or_default(),
        node: p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        ip: status
            .and_then(|s| s.pod_ip.clone())
            .filter(|ip| !ip.is_empty()),
        phase: status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into()),
        ready,
        deletion_timestamp: p.metadata.deletion_timestamp.as_ref().map(time_text),
        finalizers: p.metadata.finalizers.clone().unwrap_or_default(),
        containers,
        init_containers,
        tolerations: p
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_ref())
            .map(|ts| {
                ts.iter()
                    .map(|t| Toleration {
                        key: t.key.clone().filter(|k| !k.is_empty()),
                        operator: t.operator.clone(),
                        value: t.value.clone(),
                        effect: t.effect.as_deref().and_then(effect_of),
                        seconds: t.toleration_seconds,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn effect_of(s: &str) -> Option<TaintEffect> {
    match s {
        "NoSchedule" => Some(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
        "NoExecute" => Some(TaintEffect::NoExecute),
        _ => None,
    }
}

pub(crate) fn node_view(n: &Node) -> NodeView {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| match c.status.as_str() {
            "True" | "False" => c.status.clone(),
            _ => "Unknown".to_string(),
        })
        .unwrap_or_else(|| "Unknown".to_string());
    let spec = n.spec.as_ref();
    NodeView {
        name: n.metadata.name.clone().unwrap_or_default(),
        ready,
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        taints: spec
            .and_then(|s| s.taints.as_ref())
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| {
                        Some(Taint {
                            key: t.key.clone(),
                            value: t.value.clone().filter(|v| !v.is_empty()),
                            effect: effect_of(&t.effect)?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        labels: n.metadata.labels.clone().unwrap_or_default(),
    }
}

pub(crate) fn namespace_view(ns: &Namespace) -> NamespaceView {
    NamespaceView {
        name: ns.metadata.name.clone().unwrap_or_default(),
        phase: ns
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| {
                if ns.metadata.deletion_timestamp.is_some() {
                    "Terminating".into()
                } else {
                    "Active".into()
                }
            }),
        finalizers: ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.clone())
            .unwrap_or_default(),
    }
}

/// `object` is `kind/name` in lower case, as kubectl prints it (`pod/web`).
pub(crate) fn event_view(e: &Event) -> EventView {
    let o = &e.involved_object;
    EventView {
        reason: e.reason.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            o.kind.clone().unwrap_or_default().to_lowercase(),
            o.name.clone().unwrap_or_default()
        ),
        message: e.message.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn containers_come_in_the_spec_order_with_their_ids() {
        let p = pod(json!({
            "metadata": {"name": "web", "namespace": "lab"},
            "spec": {"containers": [{"name": "web"}, {"name": "a-side"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a-side", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                 "containerID": "containerd://s1", "state": {"running": {}}},
                {"name": "web", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                 "containerID": "containerd://w1", "state": {"running": {}}}
            ]}
        }));
        let v = pod_view(&p);
        let got: Vec<(&str, Option<&str>)> = v
            .containers
            .iter()
            .map(|c| (c.name.as_str(), c.id.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("web", Some("containerd://w1")),
                ("a-side", Some("containerd://s1"))
            ]
        );
    }

    #[test]
    fn a_crash_looping_container_reports_its_last_exit() {
        let p = pod(json!({
            "metadata": {"name": "web", "namespace": "lab", "uid": "u1",
                         "deletionTimestamp": "2025-01-02T03:04:05Z", "finalizers": ["x/y"]},
            "spec": {"nodeName": "kind-worker", "containers": [{"name": "app"}, {"name": "side"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {"name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 3,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                     "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}}},
                    {"name": "side", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                     "lastState": {"terminated": {"exitCode": 9, "reason": "Old"}}}
                ]}
        }));
        let v = pod_view(&p);
        assert_eq!(v.key.to_string(), "lab/web");
        assert_eq!(v.node.as_deref(), Some("kind-worker"));
        assert_eq!(v.phase, "Running");
        assert!(!v.ready);
        assert_eq!(
            v.deletion_timestamp.as_deref(),
            Some("2025-01-02T03:04:05Z")
        );
        assert_eq!(v.finalizers, vec!["x/y"]);
        assert_eq!(v.restarts(), 3);
        assert_eq!(v.containers[0].state, "waiting");
        assert_eq!(v.containers[0].last_exit_code, Some(2));
        assert_eq!(v.containers[0].last_reason.as_deref(), Some("Error"));
        // The current terminated state wins over the last one.
        assert_eq!(v.containers[1].state, "terminated");
        assert_eq!(v.containers[1].last_exit_code, Some(0));
        assert_eq!(v.containers[1].last_reason.as_deref(), Some("Completed"));
    }

    #[test]
    fn tolerations_are_read_from_the_spec() {
        let v = pod_view(&pod(json!({
            "metadata": {"name": "web", "namespace": "lab"},
            "spec": {"containers": [{"name": "app"}], "tolerations": [
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 300},
                {"operator": "Exists"},
                {"key": "", "operator": "Exists", "effect": "NoSchedule"}]}
        })));
        assert_eq!(
            v.tolerations,
            vec![
                Toleration {
                    key: Some("node.kubernetes.io/unreachable".into()),
                    operator: Some("Exists".into()),
                    value: None,
                    effect: Some(TaintEffect::NoExecute),
                    seconds: Some(300),
                },
                Toleration {
                    operator: Some("Exists".into()),
                    ..Toleration::default()
                },
                Toleration {
                    operator: Some("Exists".into()),
                    effect: Some(TaintEffect::NoSchedule),
                    ..Toleration::default()
                },
            ]
        );
    }

    #[test]
    fn a_new_pod_is_pending_with_waiting_containers() {
        let v = pod_view(&pod(json!({
            "metadata": {"name": "web", "namespace": "lab"},
            "spec": {"containers": [{"name": "app"}]}
        })));
        assert_eq!(v.phase, "Pending");
        assert_eq!(v.node, None);
        assert_eq!(v.containers[0].state, "waiting");
        assert_eq!(v.containers[0].last_exit_code, None);
    }

    #[test]
    fn nodes_without_a_ready_condition_are_unknown() {
        let n: Node = serde_json::from_value(json!({
            "metadata": {"name": "w", "labels": {"mock-server": "true"}},
            "spec": {"unschedulable": true, "taints": [
                {"key": "a", "effect": "NoSchedule"},
                {"key": "b", "value": "v", "effect": "NoExecute"},
                {"key": "c", "effect": "Weird"}]}
        }))
        .unwrap();
        let v = node_view(&n);
        assert_eq!(v.ready, "Unknown");
        assert!(v.unschedulable);
        assert_eq!(v.taints.len(), 2);
        assert_eq!(v.taints[1].value.as_deref(), Some("v"));
        assert_eq!(v.labels["mock-server"], "true");
        let n: Node = serde_json::from_value(json!({
            "metadata": {"name": "w"},
            "status": {"conditions": [{"type": "Ready", "status": "False"}]}
        }))
        .unwrap();
        assert_eq!(node_view(&n).ready, "False");
    }

    #[test]
    fn namespaces_and_events() {
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": {"name": "lab"}, "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Terminating"}
        }))
        .unwrap();
        let v = namespace_view(&ns);
        assert_eq!((v.phase.as_str(), v.finalizers.len()), ("Terminating", 1));
        let e: Event = serde_json::from_value(json!({
            "metadata": {"name": "e", "namespace": "lab"},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reason": "Killing", "message": "Stopping container app"
        }))
        .unwrap();
        let v = event_view(&e);
        assert_eq!(
            (v.reason.as_str(), v.object.as_str()),
            ("Killing", "pod/web")
        );
    }
}
