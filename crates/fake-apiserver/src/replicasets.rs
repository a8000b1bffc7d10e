//! The ReplicaSet controller of kube-controller-manager: keeps `spec.replicas` active pods
//! per ReplicaSet, named `<replicaset>-<5 random chars>`, labelled from the template and
//! owned by the ReplicaSet (a controller `ownerReference`), replaces pods that vanish (an API
//! delete, an eviction, a raw etcd delete) and reports the counts in the status.
//!
//! Why it exists: the labs kill pods of a Deployment and watch them come back under a new
//! name, and the etcd labs delete ReplicaSet keys; both need the ReplicaSet between the
//! Deployment ([`crate::deployments`]) and its pods, with upstream's names and owners.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::events;
use crate::resources::ResourceDef;
use crate::scheduler;
use crate::select::LabelSelector;
use crate::semantics::{self, DeleteOpts};
use crate::store::State;
use crate::util::{self, at, set_at, str_at};

const COMPONENT: &str = "replicaset-controller";

/// The uid of the object's controller (the `ownerReference` with `controller: true`).
// Upstream: staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/controller_ref.go,
// GetControllerOf.
pub(crate) fn controller_uid(obj: &Value) -> Option<&str> {
    at(obj, &["metadata", "ownerReferences"])?
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)?["uid"]
        .as_str()
}

/// A controller `ownerReference` to `owner`, as `metav1.NewControllerRef` builds it.
pub(crate) fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"],
        "name": util::name_of(owner), "uid": util::uid_of(owner),
        "controller": true, "blockOwnerDeletion": true,
    })
}

/// Whether a pod counts towards its ReplicaSet: not being deleted and not finished.
// Upstream: pkg/controller/controller_utils.go, IsPodActive.
pub(crate) fn pod_active(pod: &Value) -> bool {
    !util::is_terminating(pod)
        && !matches!(
            str_at(pod, &["status", "phase"]),
            Some("Succeeded" | "Failed")
        )
}

/// Ready pods count as available: `minReadySeconds` is not honoured (a simplification of
/// pkg/api/v1/pod/util.go, IsPodAvailable).
pub(crate) fn pod_available(pod: &Value) -> bool {
    scheduler::condition(pod, "Ready") == Some("True")
}

fn replicas(obj: &Value) -> usize {
    at(obj, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0) as usize
}

/// The active pods the ReplicaSet controls, after adopting orphans its selector matches.
fn claim_pods(st: &mut State, pods: &Arc<ResourceDef>, rs: &Value) -> Vec<Value> {
    let (ns, uid) = (util::namespace_of(rs), util::uid_of(rs));
    let selector = LabelSelector::from_json(at(rs, &["spec", "selector"]).unwrap_or(&Value::Null));
    // Upstream: pkg/controller/controller_ref_manager.go, (*PodControllerRefManager).ClaimPods:
    // an active pod with no controller whose labels the selector matches is adopted.
    let orphans: Vec<Value> = st
        .list(pods, Some(ns))
        .into_iter()
        .filter(|p| {
            pod_active(p) && controller_uid(p).is_none() && selector.matches(util::labels(p))
        })
        .cloned()
        .collect();
    for pod in orphans {
        let mut new = pod.clone();
        let refs = util::obj_mut(&mut new["metadata"])
            .entry("ownerReferences")
            .or_insert_with(|| json!([]));
        if let Some(list) = refs.as_array_mut() {
            list.push(controller_ref(rs));
        }
        st.update(pods, &pod, new);
    }
    st.list(pods, Some(ns))
        .into_iter()
        .filter(|p| pod_active(p) && controller_uid(p) == Some(uid))
        .cloned()
        .collect()
}

/// The order in which surplus pods go: unscheduled before scheduled, pending before
/// running, not ready before ready, newer before older.
// Upstream: pkg/controller/controller_utils.go, ActivePods.Less (the ranks used by
// getPodsToDelete in pkg/controller/replicaset/replica_set.go).
fn deletion_rank(pod: &Value) -> (bool, bool, bool, std::cmp::Reverse<String>) {
    let created = str_at(pod, &["metadata", "creationTimestamp"])
        .unwrap_or_default()
        .to_string();
    (
        str_at(pod, &["spec", "nodeName"]).is_some_and(|n| !n.is_empty()),
        str_at(pod, &["status", "phase"]) == Some("Running"),
        pod_available(pod),
        std::cmp::Reverse(created),
    )
}

/// A pod from the ReplicaSet's template, with `generateName` `<replicaset>-`.
// Upstream: pkg/controller/controller_utils.go, GetPodFromTemplate and getPodsPrefix.
fn pod_from_template(rs: &Value) -> Value {
    let template = at(rs, &["spec", "template"]).cloned().unwrap_or(json!({}));
    let mut meta = json!({});
    for k in ["labels", "annotations", "finalizers"] {
        if let Some(v) = template["metadata"].get(k) {
            meta[k] = v.clone();
        }
    }
    set_at(
        &mut meta,
        &["generateName"],
        json!(format!("{}-", util::name_of(rs))),
    );
    set_at(&mut meta, &["namespace"], json!(util::namespace_of(rs)));
    set_at(&mut meta, &["ownerReferences"], json!([controller_ref(rs)]));
    json!({ "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"] })
}

/// One pass of the ReplicaSet controller over every ReplicaSet.
// Upstream: pkg/controller/replicaset/replica_set.go, (*ReplicaSetController).syncReplicaSet
// and manageReplicas.
pub(crate) fn run(st: &mut State) {
    let rsres = st.reg.replicasets();
    let pods = st.reg.pods();
    let sets: Vec<Value> = st
        .list(&rsres, None)
        .into_iter()
        .filter(|r| !util::is_terminating(r))
        .cloned()
        .collect();
    for rs in sets {
        let ns = util::namespace_of(&rs).to_string();
        let want = replicas(&rs);
        let mut active = claim_pods(st, &pods, &rs);
        if active.len() > want {
            active.sort_by_key(deletion_rank);
            for p in &active[..active.len() - want] {
                let name = util::name_of(p);
                if semantics::delete(st, &pods, &ns, name, &DeleteOpts::default()).is_ok() {
                    let msg = format!("Deleted pod: {name}");
                    let _ = events::record(st, &rs, "Normal", "SuccessfulDelete", &msg, COMPONENT);
                }
            }
        }
        for _ in active.len()..want {
            let Ok(pod) = semantics::create(st, &pods, Some(&ns), pod_from_template(&rs)) else {
                break;
            };
            let msg = format!("Created pod: {}", util::name_of(&pod));
            let _ = events::record(st, &rs, "Normal", "SuccessfulCreate", &msg, COMPONENT);
        }
        update_status(st, &rsres, &pods, &rs);
    }
}

/// `status` from the pods the ReplicaSet now controls.
// Upstream: pkg/controller/replicaset/replica_set_utils.go, calculateStatus.
fn update_status(st: &mut State, rsres: &Arc<ResourceDef>, pods: &ResourceDef, rs: &Value) {
    let (ns, name, uid) = (util::namespace_of(rs), util::name_of(rs), util::uid_of(rs));
    let template_labels = at(rs, &["spec", "template", "metadata", "labels"])
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let active: Vec<&Value> = st
        .list(pods, Some(ns))
        .into_iter()
        .filter(|p| pod_active(p) && controller_uid(p) == Some(uid))
        .collect();
    let fully_labeled = active
        .iter()
        .filter(|p| {
            let labels = util::labels(p);
            template_labels
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .count();
    let ready = active.iter().filter(|p| pod_available(p)).count();
    // The counts but `replicas` are `omitempty` in apps/v1 ReplicaSetStatus.
    let mut status = json!({
        "replicas": active.len(),
        "observedGeneration": rs["metadata"]["generation"],
    });
    for (k, n) in [
        ("fullyLabeledReplicas", fully_labeled),
        ("readyReplicas", ready),
        ("availableReplicas", ready),
    ] {
        if n > 0 {
            status[k] = json!(n);
        }
    }
    let Some(old) = st.get(rsres, ns, name).cloned() else {
        return;
    };
    if old.get("status") == Some(&status) {
        return;
    }
    let mut new = old.clone();
    new["status"] = status;
    st.update(rsres, &old, new);
}
