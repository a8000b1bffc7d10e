//! The Events the kubelet records about a pod's containers, posted to the API as core/v1
//! Events (what `kubectl get events` and `kubectl describe pod` show), the way upstream's
//! kuberuntime records them (pkg/kubelet/kuberuntime/kuberuntime_container.go,
//! `recordContainerEvent`, with the reasons of pkg/kubelet/events/event.go): the
//! involved object is the pod, its `fieldPath` names the container
//! (`spec.containers{NAME}` or `spec.initContainers{NAME}`, as
//! pkg/kubelet/container/ref.go `GenerateContainerRef` makes it), the source is the
//! kubelet on its host. Recording is best effort: a failure is logged, never an error of
//! the pod.

use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use serde_json::{Value, json};

use super::launch::PodRef;

/// `events.KillingContainer`.
pub const KILLING: &str = "Killing";
/// `events.FailedPostStartHook`.
pub const FAILED_POST_START_HOOK: &str = "FailedPostStartHook";
/// `events.FailedPreStopHook`.
pub const FAILED_PRE_STOP_HOOK: &str = "FailedPreStopHook";

/// Normal or Warning, as `v1.EventTypeNormal` / `v1.EventTypeWarning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Warning,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Normal => "Normal",
            Kind::Warning => "Warning",
        }
    }
}

/// Records events about one pod's containers.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    pod: PodRef,
    node: Option<String>,
    inits: Vec<String>,
}

impl Recorder {
    pub fn new(client: kube::Client, pod: &Pod) -> Recorder {
        let spec = pod.spec.as_ref();
        Recorder {
            client,
            pod: PodRef::of(pod),
            node: spec.and_then(|s| s.node_name.clone()),
            inits: spec
                .and_then(|s| s.init_containers.as_ref())
                .map(|v| v.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default(),
        }
    }

    /// The pod the events are about.
    pub fn pod(&self) -> &PodRef {
        &self.pod
    }

    /// Posts the event about `container`; logs (never returns) a failure.
    pub async fn container_event(&self, container: &str, kind: Kind, reason: &str, msg: &str) {
        let init = self.inits.iter().any(|n| n == container);
        let event = event_json(
            &self.pod,
            self.node.as_deref(),
            &field_path(container, init),
            kind,
            reason,
            msg,
            Timestamp::now(),
        );
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.pod.namespace);
        match serde_json::from_value::<Event>(event) {
            Ok(ev) => {
                if let Err(e) = api.create(&Default::default(), &ev).await {
                    tracing::warn!("recording the {reason} event of pod {}: {e}", self.pod.name);
                }
            }
            Err(e) => tracing::warn!("building the {reason} event of {}: {e}", self.pod.name),
        }
    }
}

/// `spec.containers{NAME}` or `spec.initContainers{NAME}`.
pub fn field_path(container: &str, init: bool) -> String {
    let list = if init { "initContainers" } else { "containers" };
    format!("spec.{list}{{{container}}}")
}

/// The Event object, named `<pod>.<hex of the time in ns>` as client-go's recorder names
/// them (staging/src/k8s.io/client-go/tools/record/event.go, `makeEvent`).
pub fn event_json(
    pod: &PodRef,
    node: Option<&str>,
    field_path: &str,
    kind: Kind,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{}.{:x}", pod.name, now.as_nanosecond()),
            "namespace": pod.namespace,
        },
        "involvedObject": {
            "apiVersion": "v1", "kind": "Pod", "name": pod.name, "namespace": pod.namespace,
            "uid": pod.uid, "fieldPath": field_path,
        },
        "reason": reason,
        "message": message,
        "type": kind.as_str(),
        "source": { "component": "kubelet", "host": node },
        "reportingComponent": "kubelet",
        "reportingInstance": node,
        "firstTimestamp": now.to_string(),
        "lastTimestamp": now.to_string(),
        "count": 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_event_names_the_pod_and_the_container() {
        let pod = PodRef {
            name: "web".into(),
            namespace: "ns".into(),
            uid: "u1".into(),
        };
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let e = event_json(
            &pod,
            Some("node-1"),
            &field_path("main", false),
            Kind::Warning,
            FAILED_PRE_STOP_HOOK,
            "PreStopHook failed",
            t,
        );
        assert_eq!(e["involvedObject"]["fieldPath"], "spec.containers{main}");
        assert_eq!(e["involvedObject"]["uid"], "u1");
        assert_eq!(e["type"], "Warning");
        assert_eq!(e["reason"], "FailedPreStopHook");
        assert_eq!(e["source"]["host"], "node-1");
        assert_eq!(e["metadata"]["namespace"], "ns");
        assert!(e["metadata"]["name"].as_str().unwrap().starts_with("web."));
        // It is a valid core/v1 Event.
        let ev: Event = serde_json::from_value(e).unwrap();
        assert_eq!(ev.count, Some(1));
        assert_eq!(field_path("init", true), "spec.initContainers{init}");
    }
}
