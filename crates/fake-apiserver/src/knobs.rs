//! Test knobs: simulated kubelets and their timing, pod logs, the request log, injected
//! faults, watch breaking and history compaction, controller switches.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::FakeApiServer;

/// How long a simulated kubelet takes to stop a Terminating pod before it confirms the
/// deletion (sets the grace period to 0, so the pod goes unless finalizers remain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PodTermination {
    /// On the controllers' next pass (default).
    #[default]
    Immediate,
    /// A fixed delay after the pod got its `deletionTimestamp`.
    After(Duration),
    /// The pod's real `deletionGracePeriodSeconds` (as with a container that ignores SIGTERM).
    GracePeriod,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FaultAction {
    Respond {
        code: u16,
        reason: String,
        message: String,
    },
    Delay(Duration),
    Disconnect,
}

/// A failure injected into matching requests by [`FakeApiServer::fail_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub(crate) action: FaultAction,
    pub(crate) times: usize,
}

impl Fault {
    /// Answer with a `Status` of this code, reason and message (e.g. 500 `InternalError`).
    pub fn status(code: u16, reason: &str, message: &str) -> Fault {
        Fault {
            action: FaultAction::Respond {
                code,
                reason: reason.to_string(),
                message: message.to_string(),
            },
            times: 1,
        }
    }

    /// 403 `Forbidden` with an RBAC-like message, e.g. `pods "x" is forbidden: User "u" cannot delete resource "pods" ...`.
    pub fn forbidden(message: &str) -> Fault {
        Fault::status(403, "Forbidden", message)
    }

    /// 500 `InternalError`.
    pub fn internal(message: &str) -> Fault {
        Fault::status(500, "InternalError", message)
    }

    /// Hold the request this long, then serve it normally (to provoke client timeouts).
    pub fn delay(delay: Duration) -> Fault {
        Fault {
            action: FaultAction::Delay(delay),
            times: 1,
        }
    }

    /// Close the connection without answering.
    pub fn disconnect() -> Fault {
        Fault {
            action: FaultAction::Disconnect,
            times: 1,
        }
    }

    /// Apply to the next `n` matching requests instead of only the next one.
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }
}

/// One request the server received, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: String,
    /// The path, e.g. `/api/v1/namespaces/default/pods/web`.
    pub path: String,
    /// The raw query string (without `?`), e.g. `gracePeriodSeconds=0`.
    pub query: String,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body as text (empty if none).
    pub body: String,
    /// The HTTP status answered (for a watch: that of the response head; 0 while a delayed
    /// request is still held, or when the connection was dropped by [`Fault::disconnect`]).
    pub status: u16,
}

impl RecordedRequest {
    /// A query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// A DeleteOptions/option value from the body or, failing that, the query (e.g.
    /// `gracePeriodSeconds`, `propagationPolicy`), rendered as text.
    pub fn option(&self, name: &str) -> Option<String> {
        let from_body = self.body_json().and_then(|b| match b.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            v => Some(v.to_string()),
        });
        from_body.or_else(|| self.query_param(name))
    }
}

#[derive(Debug)]
pub(crate) struct FaultRule {
    pub method: String,
    pub path_prefix: String,
    pub fault: Fault,
}

/// The knobs' state, inside the server's [`crate::store::State`].
#[derive(Debug)]
pub(crate) struct Knobs {
    /// Nodes whose kubelet is down, with the time it went down.
    pub kubelets_down: HashMap<String, Instant>,
    /// (namespace, pod, container, previous) -> log text.
    pub pod_logs: HashMap<(String, String, String, bool), String>,
    pub termination: PodTermination,
    /// Whether the fake plays the nodes' kubelets (confirming deletions, starting pods).
    pub simulated_kubelets: bool,
    pub auto_schedule: bool,
    pub deployments: bool,
    pub node_monitor_grace: Option<Duration>,
    /// The heartbeat-driven node lifecycle and taint eviction (see [`crate::lifecycle`]).
    pub lifecycle: Option<crate::lifecycle::Lifecycle>,
    /// Whether `pods/log` is fetched from the node's kubelet on port 10250.
    pub kubelet_logs: bool,
    pub faults: Vec<FaultRule>,
    pub requests: Vec<RecordedRequest>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            kubelets_down: HashMap::new(),
            pod_logs: HashMap::new(),
            termination: PodTermination::default(),
            simulated_kubelets: true,
            auto_schedule: false,
            deployments: true,
            node_monitor_grace: None,
            lifecycle: None,
            kubelet_logs: false,
            faults: Vec::new(),
            requests: Vec::new(),
        }
    }
}

impl Knobs {
    /// Takes the first fault rule matching `method` and `path` (consuming one use).
    pub(crate) fn take_fault(&mut self, method: &str, path: &str) -> Option<FaultAction> {
        let i = self.faults.iter().position(|r| {
            (r.method == "*" || r.method.is_empty() || r.method.eq_ignore_ascii_case(method))
                && path.starts_with(&r.path_prefix)
        })?;
        let rule = &mut self.faults[i];
        let action = rule.fault.action.clone();
        rule.fault.times = rule.fault.times.saturating_sub(1);
        if rule.fault.times == 0 {
            self.faults.remove(i);
        }
        Some(action)
    }

    pub(crate) fn kubelet_is_up(&self, node: &str) -> bool {
        !self.kubelets_down.contains_key(node)
    }
}

impl FakeApiServer {
    /// Starts or stops the simulated kubelet of `node` (all are up by default). While down,
    /// pods on the node are not started and Terminating pods stay Terminating; when it comes
    /// back, they are confirmed deleted (see [`PodTermination`]).
    pub fn kubelet_up(&self, node: &str, up: bool) {
        self.shared().mutate(|st| {
            if up {
                st.knobs.kubelets_down.remove(node);
            } else {
                st.knobs
                    .kubelets_down
                    .entry(node.to_string())
                    .or_insert_with(Instant::now);
            }
        });
        self.shared().wake.notify_one();
    }

    /// Turns the simulated kubelets on or off (default on). Off, the fake neither confirms
    /// the deletion of Terminating pods nor starts bound pods: real kubelets do that (the
    /// served control plane of the test cluster, whose nodes run crates/kubelet).
    pub fn simulate_kubelets(&self, on: bool) {
        self.shared().mutate(|st| st.knobs.simulated_kubelets = on);
        self.shared().wake.notify_one();
    }

    /// How long kubelets take to confirm the deletion of Terminating pods.
    pub fn pod_termination(&self, mode: PodTermination) {
        self.shared().mutate(|st| st.knobs.termination = mode);
        self.shared().wake.notify_one();
    }

    /// Turns the scheduler and the pod-starting kubelets on or off (default off): when on,
    /// Pending pods are bound to a fitting Ready node and started (Running, Ready) by that
    /// node's kubelet if it is up.
    pub fn auto_schedule(&self, on: bool) {
        self.shared().mutate(|st| st.knobs.auto_schedule = on);
        self.shared().wake.notify_one();
    }

    /// Turns the deployment controller on or off (default on).
    pub fn deployment_controller(&self, on: bool) {
        self.shared().mutate(|st| st.knobs.deployments = on);
        self.shared().wake.notify_one();
    }

    /// When set, a node whose kubelet has been down this long gets Ready `Unknown` and the
    /// `node.kubernetes.io/unreachable` NoSchedule/NoExecute taints (the real default is
    /// 40-50 s); both are undone when the kubelet comes back. Default: off.
    pub fn node_monitor_grace(&self, grace: Option<Duration>) {
        self.shared()
            .mutate(|st| st.knobs.node_monitor_grace = grace);
        self.shared().wake.notify_one();
    }

    /// Runs the node lifecycle controller as kube-controller-manager does (default off): a
    /// node whose Lease in `kube-node-lease` (or Ready heartbeat) has not changed for `grace`
    /// gets every condition `Unknown` and the `node.kubernetes.io/unreachable` NoSchedule and
    /// NoExecute taints; pods on NoExecute-tainted nodes are deleted once their toleration
    /// runs out. [`crate::lifecycle::NODE_MONITOR_GRACE`] is upstream's default.
    pub fn node_lifecycle(&self, grace: Option<Duration>) {
        self.shared()
            .mutate(|st| st.knobs.lifecycle = grace.map(crate::lifecycle::Lifecycle::new));
        self.shared().wake.notify_one();
    }

    /// Serves `pods/log` from the kubelet of the pod's node (`http://<node InternalIP>:10250`)
    /// as the real API server proxies it, instead of the text of [`FakeApiServer::set_pod_log`]
    /// (default off; on in the served mode, whose nodes run crates/kubelet).
    pub fn proxy_pod_logs(&self, on: bool) {
        self.shared().mutate(|st| st.knobs.kubelet_logs = on);
    }

    /// Sets the log text `GET .../pods/{name}/log` returns for this container (`previous`:
    /// for `previous=true`, the last terminated instance).
    pub fn set_pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        text: &str,
    ) {
        self.shared().mutate(|st| {
            st.knobs.pod_logs.insert(
                (
                    namespace.to_string(),
                    pod.to_string(),
                    container.to_string(),
                    previous,
                ),
                text.to_string(),
            );
        });
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared().lock().knobs.requests.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.shared().lock().knobs.requests.clear();
    }

    /// Makes the next matching request fail as `fault` says. `method` is `GET`, `DELETE`, ...
    /// or `*` for any; `path_prefix` matches the start of the path (e.g.
    /// `/api/v1/namespaces/default/pods`). Rules are tried in the order they were added.
    pub fn fail_next(&self, method: &str, path_prefix: &str, fault: Fault) {
        self.shared()
            .lock()
            .knobs
            .faults
            .push(crate::knobs::FaultRule {
                method: method.to_string(),
                path_prefix: path_prefix.to_string(),
                fault,
            });
    }

    /// Ends every open watch stream now (cleanly, as when the server's watch timeout
    /// expires), so clients must resume from their last resourceVersion.
    pub fn break_watches(&self) {
        self.shared().break_tx.send_modify(|n| *n += 1);
    }

    /// Drops the whole watch history, as an API server restart over a compacted etcd does:
    /// every watch from an earlier resourceVersion, open or resumed, gets a 410 `Expired`
    /// ERROR event and must re-list.
    pub fn compact_history(&self) {
        self.shared().mutate(|st| st.compact());
    }

    /// How many changes the watch history keeps (default 1000).
    pub fn set_history_limit(&self, limit: usize) {
        self.shared().lock().history_limit = limit.max(1);
    }

    /// Runs the controllers (kubelets, namespace controller, garbage collector, deployments,
    /// scheduler) until nothing changes, now, instead of waiting for their next tick.
    pub fn settle(&self) {
        crate::controllers::settle(self.shared());
    }
}
