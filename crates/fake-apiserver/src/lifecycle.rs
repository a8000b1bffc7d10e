//! Node lifecycle driven by the kubelets' heartbeats, and taint-based eviction: what
//! kube-controller-manager's node lifecycle controller and taint eviction controller do.
//!
//! Why it exists: in the local test cluster (the served mode) every node runs a real
//! (stand-in) kubelet that renews its Lease in `kube-node-lease`. When it stops, nothing but
//! the missing heartbeats tells the control plane: after the node monitor grace period the
//! node's conditions turn `Unknown`, it gets the `unreachable` taints, and after the pods'
//! `NoExecute` tolerations (300 s, from the DefaultTolerationSeconds admission) they are
//! deleted. The kubelet-failure lab watches exactly that. The knob-driven
//! [`crate::kubelet::node_monitor`] stays for in-process tests without kubelets.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::events;
use crate::scheduler::{self, set_condition};
use crate::semantics::{self, DeleteOpts};
use crate::store::State;
use crate::util::{self, at, set_at, str_at};

/// The node monitor grace period from Kubernetes 1.32 on (the served API reports 1.37);
/// it was 40 s up to 1.31.
// Upstream: pkg/controller/nodelifecycle/config/v1alpha1/defaults.go, NodeMonitorGracePeriod = 50s (1.32+).
pub const NODE_MONITOR_GRACE: Duration = Duration::from_secs(50);

/// The node lifecycle controller's memory: when it last saw each node's heartbeat change.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    pub grace: Duration,
    /// node -> (the heartbeat seen: lease renewTime + Ready heartbeat, when it was seen).
    probes: HashMap<String, (String, Instant)>,
    /// pod uid -> when the taint manager began counting its toleration.
    evictions: HashMap<String, Instant>,
}

impl Lifecycle {
    pub(crate) fn new(grace: Duration) -> Lifecycle {
        Lifecycle {
            grace,
            probes: HashMap::new(),
            evictions: HashMap::new(),
        }
    }
}

const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The node conditions the controller turns Unknown.
// Upstream: pkg/controller/nodelifecycle/node_lifecycle_controller.go, tryUpdateNodeHealth (nodeConditionTypes).
const CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What a node's heartbeat looks like now: its Lease's renewTime and its Ready condition's
/// lastHeartbeatTime (either changing counts as a heartbeat).
fn heartbeat(st: &State, node: &Value) -> String {
    let name = util::name_of(node);
    let lease = st
        .reg
        .by_path("coordination.k8s.io", "v1", "leases")
        .and_then(|res| st.get(&res, "kube-node-lease", name).cloned());
    let renew = lease
        .as_ref()
        .and_then(|l| str_at(l, &["spec", "renewTime"]))
        .unwrap_or("")
        .to_string();
    let ready_beat = at(node, &["status", "conditions"])
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["lastHeartbeatTime"].as_str())
        .unwrap_or("");
    format!("{renew}|{ready_beat}")
}

/// One pass of the node lifecycle controller and the taint eviction controller.
pub(crate) fn run(st: &mut State) {
    let Some(mut lc) = st.knobs.lifecycle.take() else {
        return;
    };
    monitor_nodes(st, &mut lc);
    evict(st, &mut lc);
    st.knobs.lifecycle = Some(lc);
}

fn monitor_nodes(st: &mut State, lc: &mut Lifecycle) {
    let nodes = st.reg.nodes();
    let now = Instant::now();
    let all: Vec<Value> = st.list(&nodes, None).into_iter().cloned().collect();
    lc.probes
        .retain(|n, _| all.iter().any(|o| util::name_of(o) == n));
    for old in all {
        let name = util::name_of(&old).to_string();
        let beat = heartbeat(st, &old);
        // Upstream: node_lifecycle_controller.go, tryUpdateNodeHealth: a changed lease renewTime
        // or Ready heartbeat sets probeTimestamp to now (the controller's own clock).
        let probe = match lc.probes.get(&name) {
            Some((seen, at)) if *seen == beat => *at,
            _ => {
                lc.probes.insert(name.clone(), (beat, now));
                now
            }
        };
        let mut new = old.clone();
        let was_ready = scheduler::condition(&old, "Ready");
        if now >= probe + lc.grace {
            // Upstream: tryUpdateNodeHealth: past the grace period every condition is Unknown,
            // "Kubelet stopped posting node status." (NodeStatusNeverUpdated when never posted).
            for c in CONDITIONS {
                let (reason, message) = match scheduler::condition(&old, c) {
                    Some(_) => ("NodeStatusUnknown", "Kubelet stopped posting node status."),
                    None => (
                        "NodeStatusNeverUpdated",
                        "Kubelet never posted node status.",
                    ),
                };
                set_condition(&mut new, c, "Unknown", reason, message);
            }
        }
        let ready = scheduler::condition(&new, "Ready").map(str::to_string);
        set_taints(&mut new, ready.as_deref());
        if new != old {
            st.update(&nodes, &old, new.clone());
        }
        if ready.as_deref() != Some("True") && was_ready == Some("True") {
            // Upstream: node_lifecycle_controller.go, monitorNodeHealth -> RecordNodeStatusChange(..., "NodeNotReady")
            // and MarkPodsNotReady (pkg/controller/util/node/controller_utils.go).
            let msg = format!("Node {name} status is now: NodeNotReady");
            let _ = events::record(st, &new, "Normal", "NodeNotReady", &msg, "node-controller");
            mark_pods_not_ready(st, &name);
        }
    }
}

/// The taints a node's Ready condition calls for, other taints kept.
fn set_taints(node: &mut Value, ready: Option<&str>) {
    let old: Vec<Value> = node["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |key: &str, effect: &str| {
        old.iter()
            .find(|t| t["key"] == key && t["effect"] == effect)
            .cloned()
    };
    let mut taints: Vec<Value> = old
        .iter()
        .filter(|t| t["key"] != UNREACHABLE && t["key"] != NOT_READY)
        .cloned()
        .collect();
    let key = match ready {
        Some("True") => None,
        Some("False") => Some(NOT_READY),
        _ => Some(UNREACHABLE),
    };
    if let Some(key) = key {
        // Upstream: node_lifecycle_controller.go, doNoScheduleTaintingPass (nodeConditionToTaintKeyStatusMap).
        taints.push(
            find(key, "NoSchedule")
                .unwrap_or_else(|| json!({ "key": key, "effect": "NoSchedule" })),
        );
        // Upstream: node_lifecycle_controller.go, doNoExecuteTaintingPass (UnreachableTaintTemplate /
        // NotReadyTaintTemplate, TimeAdded = now).
        taints.push(find(key, "NoExecute").unwrap_or_else(
            || json!({ "key": key, "effect": "NoExecute", "timeAdded": util::now() }),
        ));
    }
    if taints == old {
        return;
    }
    if taints.is_empty() {
        util::remove_at(node, &["spec", "taints"]);
    } else {
        set_at(node, &["spec", "taints"], json!(taints));
    }
}

/// The pods of a node that stopped reporting: Ready False, a NodeNotReady event each.
// Upstream: pkg/controller/util/node/controller_utils.go, MarkPodsNotReady.
fn mark_pods_not_ready(st: &mut State, node: &str) {
    let pods = st.reg.pods();
    let on_node: Vec<Value> = st
        .list(&pods, None)
        .into_iter()
        .filter(|p| str_at(p, &["spec", "nodeName"]) == Some(node))
        .cloned()
        .collect();
    for p in on_node {
        let mut np = p.clone();
        if scheduler::condition(&p, "Ready") == Some("True") {
            set_condition(&mut np, "Ready", "False", "", "");
            st.update(&pods, &p, np.clone());
        }
        let _ = events::record(
            st,
            &np,
            "Warning",
            "NodeNotReady",
            "Node is not ready",
            "node-controller",
        );
    }
}

/// The smallest `tolerationSeconds` among the tolerations that tolerate the node's
/// NoExecute taints; `None` when one taint is not tolerated (evict now), `Some(None)` when
/// they are tolerated forever.
// Upstream: pkg/controller/tainteviction/taint_eviction.go, processPodOnNode and getMinTolerationTime.
fn min_toleration(pod: &Value, taints: &[Value]) -> Option<Option<u64>> {
    let tolerations = at(pod, &["spec", "tolerations"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut min: Option<u64> = None;
    for taint in taints {
        let used: Vec<&Value> = tolerations
            .iter()
            .filter(|t| scheduler::tolerates(std::slice::from_ref(*t), taint))
            .collect();
        if used.is_empty() {
            return None;
        }
        for t in used {
            if let Some(s) = t["tolerationSeconds"].as_i64() {
                let s = s.max(0) as u64;
                min = Some(min.map_or(s, |m| m.min(s)));
            }
        }
    }
    Some(min)
}

/// Deletes the pods on NoExecute-tainted nodes once their toleration has run out.
fn evict(st: &mut State, lc: &mut Lifecycle) {
    let nodes = st.reg.nodes();
    let pods = st.reg.pods();
    let now = Instant::now();
    let tainted: HashMap<String, Vec<Value>> = st
        .list(&nodes, None)
        .into_iter()
        .filter_map(|n| {
            let ts: Vec<Value> = n["spec"]["taints"]
                .as_array()?
                .iter()
                .filter(|t| t["effect"] == "NoExecute")
                .cloned()
                .collect();
            (!ts.is_empty()).then(|| (util::name_of(n).to_string(), ts))
        })
        .collect();
    let candidates: Vec<Value> = st
        .list(&pods, None)
        .into_iter()
        .filter(|p| {
            !util::is_terminating(p)
                && str_at(p, &["spec", "nodeName"]).is_some_and(|n| tainted.contains_key(n))
        })
        .cloned()
        .collect();
    let mut counting = HashSet::new();
    for pod in candidates {
        let uid = util::uid_of(&pod).to_string();
        let node = str_at(&pod, &["spec", "nodeName"]).unwrap_or("");
        let taints = tainted.get(node).cloned().unwrap_or_default();
        let due = match min_toleration(&pod, &taints) {
            None => true,
            Some(None) => false,
            Some(Some(secs)) => {
                counting.insert(uid.clone());
                let start = *lc.evictions.entry(uid.clone()).or_insert(now);
                now >= start + Duration::from_secs(secs)
            }
        };
        if due {
            delete_by_taint_manager(st, &pod);
            counting.remove(&uid);
        }
    }
    // Upstream: taint_eviction.go, cancelWorkWithEvent: a pod no longer tainted stops counting.
    lc.evictions.retain(|uid, _| counting.contains(uid));
}

// Upstream: pkg/controller/tainteviction/taint_eviction.go, addConditionAndDeletePod (DisruptionTarget
// condition, then a delete with the pod's own grace period) and the TaintManagerEviction event.
fn delete_by_taint_manager(st: &mut State, pod: &Value) {
    let pods = st.reg.pods();
    let mut np = pod.clone();
    set_condition(
        &mut np,
        "DisruptionTarget",
        "True",
        "DeletionByTaintManager",
        "Taint manager: deleting due to NoExecute taint",
    );
    let (np, _) = st.update(&pods, pod, np);
    let msg = format!(
        "Marking for deletion Pod {}/{}",
        util::namespace_of(&np),
        util::name_of(&np)
    );
    let _ = events::record(
        st,
        &np,
        "Normal",
        "TaintManagerEviction",
        &msg,
        "taint-eviction-controller",
    );
    let _ = semantics::delete(
        st,
        &pods,
        util::namespace_of(&np),
        util::name_of(&np),
        &DeleteOpts::default(),
    );
}
