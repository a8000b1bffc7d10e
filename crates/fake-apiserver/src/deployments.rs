//! The Deployment controller of kube-controller-manager: a Deployment owns one ReplicaSet
//! per pod template, named `<deployment>-<pod-template-hash>` with the `pod-template-hash`
//! label on its selector, template (and so its pods); a template change creates a new
//! ReplicaSet and rolls from the old ones to it within `maxSurge`/`maxUnavailable`
//! (`RollingUpdate`) or after the old pods are gone (`Recreate`); the status sums its
//! ReplicaSets'. The pods themselves are the ReplicaSet controller's
//! ([`crate::replicasets`]).
//!
//! Why it exists: the labs apply Deployments and observe their ReplicaSets and pods (names,
//! owners, keys under `/registry/replicasets/`), so the chain must be upstream's.
//!
//! Simplified: `minReadySeconds` and `progressDeadlineSeconds` are not honoured (a Ready pod
//! is available; a rollout never times out); a hash collision with a different template is
//! not resolved through `collisionCount`; ReplicaSets are not adopted by or released from a
//! Deployment whose selector matches them without an owner reference; a paused Deployment
//! keeps its ReplicaSets as they are (no proportional scaling).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::events;
use crate::replicasets::{controller_ref, controller_uid};
use crate::resources::ResourceDef;
use crate::scheduler::set_condition;
use crate::semantics::{self, DeleteOpts, Part};
use crate::store::State;
use crate::util::{self, at, set_at, str_at};

/// The label that ties a ReplicaSet and its pods to one template of the Deployment.
// Upstream: staging/src/k8s.io/api/apps/v1/types.go, DefaultDeploymentUniqueLabelKey.
pub(crate) const HASH_LABEL: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";

fn int_at(obj: &Value, path: &[&str]) -> i64 {
    at(obj, path).and_then(Value::as_i64).unwrap_or(0)
}

fn spec_replicas(obj: &Value) -> i64 {
    at(obj, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0)
}

fn revision(rs: &Value) -> i64 {
    str_at(rs, &["metadata", "annotations", REVISION])
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// An int-or-percent of `desired`, rounded up (surge) or down (unavailable).
// Upstream: staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr.go,
// GetScaledValueFromIntOrPercent.
fn scaled(v: Option<&Value>, default: &str, desired: i64, round_up: bool) -> i64 {
    let text = match v {
        Some(Value::Number(n)) => return n.as_i64().unwrap_or(0).max(0),
        Some(Value::String(s)) => s.as_str(),
        _ => default,
    };
    let pct: i64 = text.trim_end_matches('%').parse().unwrap_or(0);
    let num = pct * desired;
    if round_up {
        (num + 99) / 100
    } else {
        num / 100
    }
}

/// `(maxSurge, maxUnavailable)`; both zero would stall, so unavailable becomes 1.
// Upstream: pkg/controller/deployment/util/deployment_util.go, ResolveFenceposts.
fn fenceposts(d: &Value, desired: i64) -> (i64, i64) {
    let ru = at(d, &["spec", "strategy", "rollingUpdate"]);
    let surge = scaled(ru.and_then(|r| r.get("maxSurge")), "25%", desired, true);
    let unavailable = scaled(
        ru.and_then(|r| r.get("maxUnavailable")),
        "25%",
        desired,
        false,
    );
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// One pass of the Deployment controller over every Deployment.
// Upstream: pkg/controller/deployment/deployment_controller.go, (*DeploymentController).syncDeployment.
pub(crate) fn run(st: &mut State) {
    let dres = st.reg.deployments();
    let rsres = st.reg.replicasets();
    let deps: Vec<Value> = st
        .list(&dres, None)
        .into_iter()
        .filter(|d| !util::is_terminating(d))
        .cloned()
        .collect();
    for d in deps {
        let hash = util::short_hash(&d["spec"]["template"].to_string());
        let new_name = format!("{}-{hash}", util::name_of(&d));
        let paused = d["spec"]["paused"] == true;
        if !paused
            && owned(st, &rsres, &d)
                .iter()
                .all(|r| util::name_of(r) != new_name)
        {
            create_new_replicaset(st, &rsres, &d, &hash, &new_name);
        }
        if !paused {
            let all = owned(st, &rsres, &d);
            if d["spec"]["strategy"]["type"] == "Recreate" {
                recreate(st, &rsres, &d, &all, &new_name);
            } else {
                rolling(st, &rsres, &d, &all, &new_name);
            }
            cleanup(st, &rsres, &d, &new_name);
        }
        let all = owned(st, &rsres, &d);
        update_status(st, &dres, &d, &all, &new_name);
    }
}

/// The ReplicaSets the Deployment controls, oldest first.
fn owned(st: &State, rsres: &ResourceDef, d: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = st
        .list(rsres, Some(util::namespace_of(d)))
        .into_iter()
        .filter(|r| controller_uid(r) == Some(util::uid_of(d)))
        .cloned()
        .collect();
    out.sort_by_key(|r| {
        str_at(r, &["metadata", "creationTimestamp"])
            .unwrap_or_default()
            .to_string()
    });
    out
}

/// The ReplicaSet of the current template, created with no replicas (the rollout scales it).
// Upstream: pkg/controller/deployment/sync.go, (*DeploymentController).getNewReplicaSet.
fn create_new_replicaset(
    st: &mut State,
    rsres: &Arc<ResourceDef>,
    d: &Value,
    hash: &str,
    name: &str,
) {
    let ns = util::namespace_of(d).to_string();
    let next_revision = owned(st, rsres, d).iter().map(revision).max().unwrap_or(0) + 1;
    let mut template = d["spec"]["template"].clone();
    set_at(
        &mut template,
        &["metadata", "labels", HASH_LABEL],
        json!(hash),
    );
    let mut selector = d["spec"]["selector"].clone();
    set_at(&mut selector, &["matchLabels", HASH_LABEL], json!(hash));
    let mut labels = template["metadata"]["labels"].clone();
    set_at(&mut labels, &[HASH_LABEL], json!(hash));
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": name, "namespace": ns, "labels": labels,
            "annotations": {
                REVISION: next_revision.to_string(),
                "deployment.kubernetes.io/desired-replicas": spec_replicas(d).to_string(),
            },
            "ownerReferences": [controller_ref(d)],
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
            "selector": selector,
            "template": template,
        },
    });
    if semantics::create(st, rsres, Some(&ns), rs).is_ok() {
        let _ = events::record(
            st,
            d,
            "Normal",
            "ScalingReplicaSet",
            &format!("Created new replica set \"{name}\""),
            "deployment-controller",
        );
    }
}

/// Sets a ReplicaSet's `spec.replicas` (through the API, so its generation moves), with the
/// `ScalingReplicaSet` event upstream records.
// Upstream: pkg/controller/deployment/sync.go, (*DeploymentController).scaleReplicaSet.
fn scale(st: &mut State, rsres: &Arc<ResourceDef>, d: &Value, rs: &Value, to: i64) {
    let from = spec_replicas(rs);
    if from == to {
        return;
    }
    let Some(old) = st
        .get(rsres, util::namespace_of(rs), util::name_of(rs))
        .cloned()
    else {
        return;
    };
    let mut new = old.clone();
    set_at(&mut new, &["spec", "replicas"], json!(to));
    set_at(
        &mut new,
        &[
            "metadata",
            "annotations",
            "deployment.kubernetes.io/desired-replicas",
        ],
        json!(spec_replicas(d).to_string()),
    );
    if semantics::update(st, rsres, &old, new, Part::Main).is_ok() {
        let dir = if to > from { "up" } else { "down" };
        let _ = events::record(
            st,
            d,
            "Normal",
            "ScalingReplicaSet",
            &format!(
                "Scaled {dir} replica set {} from {from} to {to}",
                util::name_of(rs)
            ),
            "deployment-controller",
        );
    }
}

/// `RollingUpdate`: scale the new ReplicaSet up within `maxSurge`, then the old ones down
/// while at least `replicas - maxUnavailable` pods stay available.
// Upstream: pkg/controller/deployment/rolling.go, rolloutRolling, reconcileNewReplicaSet,
// reconcileOldReplicaSets, cleanupUnhealthyReplicas, scaleDownOldReplicaSetsForRollingUpdate.
fn rolling(st: &mut State, rsres: &Arc<ResourceDef>, d: &Value, all: &[Value], new_name: &str) {
    let desired = spec_replicas(d);
    let (surge, unavailable) = fenceposts(d, desired);
    let Some(new_rs) = all.iter().find(|r| util::name_of(r) == new_name) else {
        return;
    };
    let mut olds: Vec<Value> = all
        .iter()
        .filter(|r| util::name_of(r) != new_name)
        .cloned()
        .collect();
    let mut new_count = spec_replicas(new_rs);
    let total: i64 = all.iter().map(spec_replicas).sum();
    if new_count > desired {
        scale(st, rsres, d, new_rs, desired);
        new_count = desired;
    } else if new_count < desired && total < desired + surge {
        let up = (desired + surge - total).min(desired - new_count);
        scale(st, rsres, d, new_rs, new_count + up);
        new_count += up;
    }
    if olds.iter().all(|r| spec_replicas(r) == 0) {
        return;
    }
    let all_pods: i64 = olds.iter().map(spec_replicas).sum::<i64>() + new_count;
    let min_available = desired - unavailable;
    let new_unavailable = new_count - int_at(new_rs, &["status", "availableReplicas"]);
    let mut budget = all_pods - min_available - new_unavailable;
    if budget <= 0 {
        return;
    }
    // Old replicas that are not available go first, within the budget.
    for rs in olds.iter_mut() {
        let unhealthy = spec_replicas(rs) - int_at(rs, &["status", "availableReplicas"]);
        let down = unhealthy.min(budget).max(0);
        if down > 0 {
            let to = spec_replicas(rs) - down;
            scale(st, rsres, d, rs, to);
            set_at(rs, &["spec", "replicas"], json!(to));
            budget -= down;
        }
    }
    // Then available old replicas, as long as enough stay available.
    let available: i64 = all
        .iter()
        .map(|r| int_at(r, &["status", "availableReplicas"]))
        .sum();
    let mut left = available - min_available;
    for rs in &olds {
        if left <= 0 {
            break;
        }
        let down = spec_replicas(rs).min(left);
        if down > 0 {
            scale(st, rsres, d, rs, spec_replicas(rs) - down);
            left -= down;
        }
    }
}

/// `Recreate`: every old ReplicaSet to zero; the new one scales up once no pod of an old
/// one is left, Terminating pods included (upstream's `oldPodsRunning`).
// Upstream: pkg/controller/deployment/recreate.go, rolloutRecreate and oldPodsRunning.
fn recreate(st: &mut State, rsres: &Arc<ResourceDef>, d: &Value, all: &[Value], new_name: &str) {
    let olds: Vec<&Value> = all
        .iter()
        .filter(|r| util::name_of(r) != new_name)
        .collect();
    for rs in &olds {
        scale(st, rsres, d, rs, 0);
    }
    let pods = st.reg.pods();
    let old_running = st
        .list(&pods, Some(util::namespace_of(d)))
        .into_iter()
        .any(|p| {
            !matches!(
                str_at(p, &["status", "phase"]),
                Some("Succeeded" | "Failed")
            ) && olds
                .iter()
                .any(|r| controller_uid(p) == Some(util::uid_of(r)))
        });
    if !old_running && let Some(new_rs) = all.iter().find(|r| util::name_of(r) == new_name) {
        scale(st, rsres, d, new_rs, spec_replicas(d));
    }
}

/// Old ReplicaSets with no replicas beyond `revisionHistoryLimit` (default 10) are deleted,
/// oldest revision first.
// Upstream: pkg/controller/deployment/sync.go, (*DeploymentController).cleanupDeployment.
fn cleanup(st: &mut State, rsres: &Arc<ResourceDef>, d: &Value, new_name: &str) {
    let limit = d["spec"]["revisionHistoryLimit"]
        .as_i64()
        .unwrap_or(10)
        .max(0) as usize;
    let mut idle: Vec<Value> = owned(st, rsres, d)
        .into_iter()
        .filter(|r| {
            util::name_of(r) != new_name
                && !util::is_terminating(r)
                && spec_replicas(r) == 0
                && int_at(r, &["status", "replicas"]) == 0
        })
        .collect();
    if idle.len() <= limit {
        return;
    }
    idle.sort_by_key(revision);
    let excess = idle.len() - limit;
    for rs in &idle[..excess] {
        let _ = semantics::delete(
            st,
            rsres,
            util::namespace_of(rs),
            util::name_of(rs),
            &DeleteOpts::default(),
        );
    }
}

/// The Deployment's status from its ReplicaSets, and its revision annotation.
// Upstream: pkg/controller/deployment/sync.go, calculateStatus and syncRolloutStatus
// (progress.go) for the Progressing condition.
fn update_status(
    st: &mut State,
    dres: &Arc<ResourceDef>,
    d: &Value,
    all: &[Value],
    new_name: &str,
) {
    let desired = spec_replicas(d);
    let (_, unavailable) = fenceposts(d, desired);
    let sum = |f: &str| -> i64 { all.iter().map(|r| int_at(r, &["status", f])).sum() };
    let new_rs = all.iter().find(|r| util::name_of(r) == new_name);
    let updated = new_rs.map_or(0, |r| int_at(r, &["status", "replicas"]));
    let replicas = sum("replicas");
    let available = sum("availableReplicas");
    let total_spec: i64 = all.iter().map(spec_replicas).sum();
    let Some(old) = st
        .get(dres, util::namespace_of(d), util::name_of(d))
        .cloned()
    else {
        return;
    };
    let mut new = old.clone();
    let mut status = json!({ "observedGeneration": old["metadata"]["generation"] });
    // Every count is `omitempty` in apps/v1 DeploymentStatus.
    for (k, n) in [
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", sum("readyReplicas")),
        ("availableReplicas", available),
        ("unavailableReplicas", (total_spec - available).max(0)),
    ] {
        if n > 0 {
            status[k] = json!(n);
        }
    }
    if let Some(conds) = old["status"].get("conditions") {
        status["conditions"] = conds.clone();
    }
    new["status"] = status;
    if available >= desired - unavailable {
        let msg = "Deployment has minimum availability.";
        set_condition(
            &mut new,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            msg,
        );
    } else {
        let msg = "Deployment does not have minimum availability.";
        set_condition(
            &mut new,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            msg,
        );
    }
    let complete = updated == desired && replicas == desired && available == desired;
    let (reason, message) = if complete {
        (
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{new_name}\" has successfully progressed."),
        )
    } else {
        (
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{new_name}\" is progressing."),
        )
    };
    set_condition(&mut new, "Progressing", "True", reason, &message);
    if let Some(rev) = new_rs.and_then(|r| str_at(r, &["metadata", "annotations", REVISION])) {
        set_at(&mut new, &["metadata", "annotations", REVISION], json!(rev));
    }
    if new != old {
        st.update(dres, &old, new);
    }
}
