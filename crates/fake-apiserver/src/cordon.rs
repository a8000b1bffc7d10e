//! Cordon as the node lifecycle controller carries it out: a node with
//! `spec.unschedulable: true` gets the `node.kubernetes.io/unschedulable:NoSchedule` taint,
//! and loses it once uncordoned.
//!
//! Why it exists: `kubectl cordon` only sets `spec.unschedulable`; what a client then sees
//! on the node (and what the labs' taint checks read) is this taint, which upstream's
//! controller adds, not the API server.

use serde_json::{Value, json};

use crate::store::State;
use crate::util;

/// The taint key a cordoned node carries.
// Upstream: staging/src/k8s.io/api/core/v1/well_known_taints.go, TaintNodeUnschedulable.
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Adds or removes the unschedulable taint to match `spec.unschedulable` on every node
/// (other taints kept, in order).
// Upstream: pkg/controller/nodelifecycle/node_lifecycle_controller.go,
// (*Controller).doNoScheduleTaintingPass (the `node.Spec.Unschedulable` part).
pub(crate) fn run(st: &mut State) {
    let nodes = st.reg.nodes();
    let all: Vec<Value> = st.list(&nodes, None).into_iter().cloned().collect();
    for old in all {
        let wanted = old["spec"]["unschedulable"] == true;
        let taints: Vec<Value> = old["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has = taints
            .iter()
            .any(|t| t["key"] == UNSCHEDULABLE && t["effect"] == "NoSchedule");
        if wanted == has {
            continue;
        }
        let mut new = old.clone();
        let mut kept: Vec<Value> = taints
            .into_iter()
            .filter(|t| !(t["key"] == UNSCHEDULABLE && t["effect"] == "NoSchedule"))
            .collect();
        if wanted {
            kept.push(json!({ "key": UNSCHEDULABLE, "effect": "NoSchedule" }));
        }
        if kept.is_empty() {
            util::remove_at(&mut new, &["spec", "taints"]);
        } else {
            new["spec"]["taints"] = json!(kept);
        }
        st.update(&nodes, &old, new);
    }
}
