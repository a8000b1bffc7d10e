//! The Job controller of kube-controller-manager: runs a batch/v1 Job's pods to completion.
//! It creates pods from the template (up to `parallelism`, never more than the completions
//! still missing), counts the pods that finish through the `batch.kubernetes.io/job-tracking`
//! finalizer, backs off after failures, and finishes the Job: `SuccessCriteriaMet` then
//! `Complete` once `completions` pods succeeded, `FailureTarget` then `Failed`
//! (`BackoffLimitExceeded`, `DeadlineExceeded`) when it gives up, each terminal condition
//! only once no pod of the Job is still terminating (as 1.31 and later do).
//!
//! Why it exists: the seed's "Job with a sidecar" lab needs a Job that completes when its
//! main container exits although a native sidecar ran beside it; `kubectl wait
//! --for=condition=complete` and the playbook's conditions read what this writes.
//! Not modelled: Indexed completion mode, podFailurePolicy, successPolicy, suspend,
//! backoffLimitPerIndex, ttlSecondsAfterFinished, `managedBy`, adoption of orphan pods.

mod strategy;
#[cfg(test)]
mod tests;

pub(crate) use strategy::{defaults, prepare_for_create, validate, validate_update};

use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::events;
use crate::replicasets::{controller_ref, controller_uid, pod_active};
use crate::resources::ResourceDef;
use crate::scheduler;
use crate::semantics::{self, DeleteOpts};
use crate::store::State;
use crate::util::{self, at, str_at};

const COMPONENT: &str = "job-controller";
/// The finalizer that keeps a Job's pod until the controller has counted it.
// Upstream: staging/src/k8s.io/api/batch/v1/types.go, JobTrackingFinalizer.
pub(crate) const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// Pod re-creation back-off after failures: 10 s doubled per failure, at most 10 min.
// Upstream: pkg/controller/job/job_controller.go, DefaultJobPodFailureBackOff and
// MaxJobPodFailureBackOff; pkg/controller/job/backoff_utils.go, getRemainingTime.
const BACKOFF_BASE_SECS: i64 = 10;
const BACKOFF_MAX_SECS: i64 = 600;

fn parse_time(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn now_secs() -> i64 {
    parse_time(&util::now()).unwrap_or(0)
}

fn spec_i64(job: &Value, field: &str) -> Option<i64> {
    at(job, &["spec", field]).and_then(Value::as_i64)
}

fn status_i64(job: &Value, field: &str) -> i64 {
    at(job, &["status", field])
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn phase(pod: &Value) -> &str {
    str_at(pod, &["status", "phase"]).unwrap_or("")
}

fn has_tracking(pod: &Value) -> bool {
    util::finalizers(pod)
        .iter()
        .any(|f| f == TRACKING_FINALIZER)
}

/// Whether the Job has a condition of this type with status True.
pub(crate) fn has_condition(job: &Value, kind: &str) -> bool {
    scheduler::condition(job, kind) == Some("True")
}

/// A Job is finished once it has a `Complete` or `Failed` condition.
// Upstream: pkg/controller/job/util/utils.go, IsJobFinished.
pub(crate) fn is_finished(job: &Value) -> bool {
    has_condition(job, "Complete") || has_condition(job, "Failed")
}

/// A failed pod: phase Failed, or (with podReplacementPolicy TerminatingOrFailed) deleted
/// before it succeeded.
// Upstream: pkg/controller/job/job_controller.go, isPodFailed.
fn is_pod_failed(pod: &Value, job: &Value) -> bool {
    if phase(pod) == "Failed" {
        return true;
    }
    let only_failed = str_at(job, &["spec", "podReplacementPolicy"]) == Some("Failed");
    !only_failed && util::is_terminating(pod) && phase(pod) != "Succeeded"
}

/// A pod being deleted that has not finished.
// Upstream: pkg/controller/controller_utils.go, CountTerminatingPods.
fn is_terminating_pod(pod: &Value) -> bool {
    util::is_terminating(pod) && !matches!(phase(pod), "Succeeded" | "Failed")
}

fn pod_ready(pod: &Value) -> bool {
    scheduler::condition(pod, "Ready") == Some("True")
}

/// When a pod finished: the latest `finishedAt` of its containers, if any.
fn finished_at(pod: &Value) -> Option<i64> {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|k| at(pod, &["status", k]).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| str_at(c, &["state", "terminated", "finishedAt"]).and_then(parse_time))
        .max()
}

fn condition(kind: &str, reason: &str, message: &str) -> Value {
    let now = util::now();
    json!({
        "type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
        "reason": reason, "message": message,
    })
}

/// A pod from the Job's template: `generateName` `<job>-`, the tracking finalizer, a
/// controller reference to the Job.
// Upstream: pkg/controller/job/job_controller.go, manageJob
// (appendJobCompletionFinalizerIfNotFound, CreatePodsWithGenerateName) and
// pkg/controller/controller_utils.go, GetPodFromTemplate.
fn pod_from_template(job: &Value) -> Value {
    let template = at(job, &["spec", "template"]).cloned().unwrap_or(json!({}));
    let mut meta = json!({});
    for k in ["labels", "annotations"] {
        if let Some(v) = template["metadata"].get(k) {
            meta[k] = v.clone();
        }
    }
    let mut fins: Vec<Value> = template["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !fins.iter().any(|f| f == TRACKING_FINALIZER) {
        fins.push(json!(TRACKING_FINALIZER));
    }
    meta["finalizers"] = json!(fins);
    meta["generateName"] = json!(format!("{}-", util::name_of(job)));
    meta["namespace"] = json!(util::namespace_of(job));
    meta["ownerReferences"] = json!([controller_ref(job)]);
    json!({ "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"] })
}

/// Seconds to wait before the next pod may be created after failures: base doubled per
/// failure since the last success, counted from the last failure.
// Upstream: pkg/controller/job/backoff_utils.go, (backoffRecord).getRemainingTime (the
// record is kept from the pods here: failures after the last success, the last one's end).
fn backoff_remaining(pods: &[Value], job: &Value, now: i64) -> i64 {
    let last_success = pods
        .iter()
        .filter(|p| phase(p) == "Succeeded")
        .filter_map(finished_at)
        .max();
    let failures: Vec<i64> = pods
        .iter()
        .filter(|p| is_pod_failed(p, job))
        .map(|p| finished_at(p).unwrap_or(now))
        .filter(|t| last_success.is_none_or(|s| *t >= s))
        .collect();
    let Some(last) = failures.iter().max() else {
        return 0;
    };
    let exp = (failures.len() as u32).saturating_sub(1).min(16);
    let backoff = (BACKOFF_BASE_SECS << exp).min(BACKOFF_MAX_SECS);
    (last + backoff - now).max(0)
}

/// Container restarts of running and pending pods reached `backoffLimit` (OnFailure).
// Upstream: pkg/controller/job/job_controller.go, pastBackoffLimitOnFailure.
fn past_backoff_limit_on_failure(job: &Value, pods: &[Value], limit: i64) -> bool {
    if str_at(job, &["spec", "template", "spec", "restartPolicy"]) != Some("OnFailure") {
        return false;
    }
    let restarts: i64 = pods
        .iter()
        .filter(|p| matches!(phase(p), "Running" | "Pending"))
        .flat_map(|p| {
            ["initContainerStatuses", "containerStatuses"]
                .iter()
                .filter_map(|k| at(p, &["status", k]).and_then(Value::as_array))
                .flatten()
                .filter_map(|c| c["restartCount"].as_i64())
                .collect::<Vec<_>>()
        })
        .sum();
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// Removes the tracking finalizer from a pod (the pod has been counted, or its Job is gone).
fn remove_tracking(st: &mut State, pods: &Arc<ResourceDef>, pod: &Value) {
    let Some(old) = st
        .get(pods, util::namespace_of(pod), util::name_of(pod))
        .cloned()
    else {
        return;
    };
    let fins: Vec<String> = util::finalizers(&old)
        .into_iter()
        .filter(|f| f != TRACKING_FINALIZER)
        .collect();
    let mut new = old.clone();
    util::set_finalizers(&mut new, &fins);
    let _ = semantics::update(st, pods, &old, new, semantics::Part::Main);
}

/// One pass of the Job controller: every unfinished Job synced, then the tracking
/// finalizer taken off the pods whose Job is gone.
pub(crate) fn run(st: &mut State) {
    let jobres = st.reg.jobs();
    let pods = st.reg.pods();
    let jobs: Vec<Value> = st.list(&jobres, None).into_iter().cloned().collect();
    for job in &jobs {
        if !is_finished(job) {
            sync_job(st, &jobres, &pods, job);
        }
    }
    release_orphans(st, &pods);
}

/// Pods with the tracking finalizer whose controlling Job no longer exists lose it, so
/// the garbage collector's delete of them completes.
// Upstream: pkg/controller/job/job_controller.go, (*Controller).deletePod /
// cleanupPodFinalizers (orphan pods with the finalizer).
fn release_orphans(st: &mut State, pods: &Arc<ResourceDef>) {
    let jobres = st.reg.jobs();
    let orphans: Vec<Value> = st
        .list(pods, None)
        .into_iter()
        .filter(|p| has_tracking(p))
        .filter(|p| {
            let ns = util::namespace_of(p);
            match controller_uid(p) {
                None => true,
                Some(uid) => !st
                    .list(&jobres, Some(ns))
                    .iter()
                    .any(|j| util::uid_of(j) == uid && !is_finished(j)),
            }
        })
        .cloned()
        .collect();
    for pod in orphans {
        remove_tracking(st, pods, &pod);
    }
}

/// What one sync decided the Job's finish is: the interim condition, then the final one.
struct Finish {
    interim: &'static str,
    last: &'static str,
    reason: &'static str,
    message: &'static str,
}

const SUCCEEDED: Finish = Finish {
    interim: "SuccessCriteriaMet",
    last: "Complete",
    reason: "CompletionsReached",
    message: "Reached expected number of succeeded pods",
};

fn failure(reason: &'static str, message: &'static str) -> Finish {
    Finish {
        interim: "FailureTarget",
        last: "Failed",
        reason,
        message,
    }
}

fn existing_finish(job: &Value) -> Option<Finish> {
    let reason_of = |kind: &str| -> String {
        at(job, &["status", "conditions"])
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .and_then(|c| c["reason"].as_str())
            .unwrap_or("")
            .to_string()
    };
    if has_condition(job, "SuccessCriteriaMet") {
        return Some(SUCCEEDED);
    }
    if has_condition(job, "FailureTarget") {
        return Some(match reason_of("FailureTarget").as_str() {
            "DeadlineExceeded" => failure(
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ),
            _ => failure(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ),
        });
    }
    None
}

/// One Job's sync: count finished pods, decide whether the Job is done, create or delete
/// pods, write the status.
// Upstream: pkg/controller/job/job_controller.go, (*Controller).syncJob, manageJob,
// trackJobStatusAndRemoveFinalizers and enactJobFinished.
fn sync_job(st: &mut State, jobres: &Arc<ResourceDef>, pods_res: &Arc<ResourceDef>, job: &Value) {
    let (ns, uid) = (util::namespace_of(job).to_string(), util::uid_of(job));
    let now = now_secs();
    let pods: Vec<Value> = st
        .list(pods_res, Some(&ns))
        .into_iter()
        .filter(|p| controller_uid(p) == Some(uid))
        .cloned()
        .collect();
    let mut active: Vec<Value> = pods.iter().filter(|p| pod_active(p)).cloned().collect();
    let mut terminating = pods.iter().filter(|p| is_terminating_pod(p)).count() as i64;
    // Pods still carrying the finalizer are the ones not yet counted in the status.
    let new_succeeded: Vec<&Value> = pods
        .iter()
        .filter(|p| has_tracking(p) && phase(p) == "Succeeded")
        .collect();
    let new_failed: Vec<&Value> = pods
        .iter()
        .filter(|p| has_tracking(p) && phase(p) != "Succeeded" && is_pod_failed(p, job))
        .collect();
    let succeeded = status_i64(job, "succeeded") + new_succeeded.len() as i64;
    let failed = status_i64(job, "failed") + new_failed.len() as i64;
    let mut status = job.get("status").cloned().unwrap_or(json!({}));
    if !status.is_object() {
        status = json!({});
    }
    if status.get("startTime").is_none_or(Value::is_null) {
        status["startTime"] = json!(util::now());
    }
    let started = str_at(&status, &["startTime"])
        .and_then(parse_time)
        .unwrap_or(now);
    let backoff_limit = spec_i64(job, "backoffLimit").unwrap_or(6);
    let mut finish = existing_finish(job);
    if finish.is_none() {
        if failed > backoff_limit || past_backoff_limit_on_failure(job, &pods, backoff_limit) {
            finish = Some(failure(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ));
        } else if spec_i64(job, "activeDeadlineSeconds").is_some_and(|d| now - started >= d) {
            // Upstream: pastActiveDeadline.
            finish = Some(failure(
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ));
        }
    }
    if finish.is_some() {
        // Upstream: deleteActivePods: a finishing Job's active pods go.
        for p in std::mem::take(&mut active) {
            if semantics::delete(st, pods_res, &ns, util::name_of(&p), &DeleteOpts::default())
                .is_ok()
            {
                terminating += 1;
            }
        }
    } else {
        if !util::is_terminating(job) {
            terminating = manage_job(
                st,
                pods_res,
                job,
                &pods,
                &mut active,
                succeeded,
                terminating,
                now,
            );
        }
        let complete = match spec_i64(job, "completions") {
            None => succeeded > 0 && active.is_empty(),
            Some(c) => succeeded >= c && active.is_empty(),
        };
        if complete {
            finish = Some(SUCCEEDED);
        }
    }
    // Count the newly finished pods (and, once finishing, every pod) and let them go.
    for p in pods.iter().filter(|p| has_tracking(p)) {
        let counted = new_succeeded
            .iter()
            .chain(&new_failed)
            .any(|c| util::uid_of(c) == util::uid_of(p));
        if counted || finish.is_some() {
            remove_tracking(st, pods_res, p);
        }
    }
    status["active"] = json!(active.len());
    status["ready"] = json!(active.iter().filter(|p| pod_ready(p)).count());
    status["terminating"] = json!(terminating);
    status["succeeded"] = json!(succeeded);
    status["failed"] = json!(failed);
    status["uncountedTerminatedPods"] = json!({});
    for (k, n) in [("succeeded", succeeded), ("failed", failed)] {
        if n == 0 {
            util::obj_mut(&mut status).remove(k);
        }
    }
    let mut finished_now = None;
    if let Some(f) = &finish {
        let conds = util::obj_mut(&mut status)
            .entry("conditions")
            .or_insert_with(|| json!([]));
        if let Some(list) = conds.as_array_mut() {
            if !list.iter().any(|c| c["type"] == f.interim) {
                list.push(condition(f.interim, f.reason, f.message));
            }
            // Upstream: enactJobFinished: the terminal condition waits for terminating pods.
            if terminating == 0 {
                let c = condition(f.last, f.reason, f.message);
                if f.last == "Complete" {
                    status["completionTime"] = c["lastTransitionTime"].clone();
                }
                if let Some(list) = status["conditions"].as_array_mut() {
                    list.push(c);
                }
                finished_now = Some(f.last);
            }
        }
    }
    let Some(old) = st.get(jobres, &ns, util::name_of(job)).cloned() else {
        return;
    };
    if old.get("status") != Some(&status) {
        let mut new = old.clone();
        new["status"] = status;
        st.update(jobres, &old, new);
    }
    // Upstream: recordJobFinished.
    match (finished_now, &finish) {
        (Some("Complete"), _) => {
            let _ = events::record(st, job, "Normal", "Completed", "Job completed", COMPONENT);
        }
        (Some(_), Some(f)) => {
            let _ = events::record(st, job, "Warning", f.reason, f.message, COMPONENT);
        }
        _ => {}
    }
}

/// Creates or deletes pods so that `min(parallelism, completions - succeeded)` are active,
/// creating none while the failure back-off runs. Returns the terminating count.
// Upstream: pkg/controller/job/job_controller.go, manageJob (wantActive, rmAtLeast,
// activePodsForRemoval, the back-off, podReplacementPolicy's terminating pods).
#[allow(clippy::too_many_arguments)]
fn manage_job(
    st: &mut State,
    pods_res: &Arc<ResourceDef>,
    job: &Value,
    pods: &[Value],
    active: &mut Vec<Value>,
    succeeded: i64,
    mut terminating: i64,
    now: i64,
) -> i64 {
    let ns = util::namespace_of(job).to_string();
    let parallelism = spec_i64(job, "parallelism").unwrap_or(1).max(0);
    let want = match spec_i64(job, "completions") {
        None if succeeded > 0 => active.len() as i64,
        None => parallelism,
        Some(c) => (c - succeeded).clamp(0, parallelism),
    };
    let surplus = active.len() as i64 - want;
    if surplus > 0 {
        // Not ready before ready, unscheduled before scheduled, pending before running.
        active.sort_by_key(|p| {
            (
                pod_ready(p),
                str_at(p, &["spec", "nodeName"]).is_some_and(|n| !n.is_empty()),
                phase(p) == "Running",
            )
        });
        let gone: Vec<Value> = active.drain(..surplus as usize).collect();
        for p in gone {
            let name = util::name_of(&p).to_string();
            remove_tracking(st, pods_res, &p);
            if semantics::delete(st, pods_res, &ns, &name, &DeleteOpts::default()).is_ok() {
                terminating += 1;
                let msg = format!("Deleted pod: {name}");
                let _ = events::record(st, job, "Normal", "SuccessfulDelete", &msg, COMPONENT);
            }
        }
        return terminating;
    }
    let only_failed = str_at(job, &["spec", "podReplacementPolicy"]) == Some("Failed");
    let blocking = if only_failed { terminating } else { 0 };
    let diff = want - blocking - active.len() as i64;
    if diff <= 0 || backoff_remaining(pods, job, now) > 0 {
        return terminating;
    }
    for _ in 0..diff {
        match semantics::create(st, pods_res, Some(&ns), pod_from_template(job)) {
            Ok(pod) => {
                let msg = format!("Created pod: {}", util::name_of(&pod));
                let _ = events::record(st, job, "Normal", "SuccessfulCreate", &msg, COMPONENT);
                active.push(pod);
            }
            Err(_) => break,
        }
    }
    terminating
}
