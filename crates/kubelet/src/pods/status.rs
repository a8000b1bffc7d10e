//! The pod status the kubelet reports, computed from what containerd holds: per-container
//! state, lastState, ready, started and restartCount for app and init containers
//! (pkg/kubelet/kubelet_pods.go `convertToAPIContainerStatuses`), then the phase and the
//! Initialized condition from those (`phase`), and the PodScheduled, ContainersReady and
//! Ready conditions (pkg/kubelet/status/generate.go; with no readiness probes a running
//! container is ready).

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::init::is_sidecar;
use super::observe::{Observed, Seen};
use super::phase;
use crate::cri::container::TaskState;

/// Why a container has not started (image missing, creation failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub reason: String,
    pub message: String,
}

/// Inputs besides the pod and containerd's view.
pub struct StatusInput<'a> {
    pub observed: &'a Observed,
    pub waiting: &'a HashMap<String, Waiting>,
    /// The pod is being (or has been) terminated: its containers will not restart.
    pub terminal: bool,
    pub host_ip: Option<String>,
    /// Previous status, for lastTransitionTime of unchanged conditions.
    pub previous: Option<&'a Value>,
}

fn ts(t: &Option<Timestamp>) -> Value {
    t.map(|t| json!(t.to_string())).unwrap_or(Value::Null)
}

fn terminated(s: &Seen, code: u32, at: &Option<Timestamp>) -> Value {
    json!({ "terminated": {
        "exitCode": code,
        "reason": if code == 0 { "Completed" } else { "Error" },
        "startedAt": ts(&s.created_at),
        "finishedAt": ts(at),
        "containerID": format!("containerd://{}", s.id),
    }})
}

/// Whether a container that exited with `code` is started again under `policy`.
pub fn restarts(policy: &str, code: u32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => code != 0,
        _ => true,
    }
}

/// What kind of container a status is for: its restart policy and readiness differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    App,
    Init,
    Sidecar,
}

/// The status of one container: state, lastState, ready, started, restartCount.
// Upstream: pkg/kubelet/kubelet_pods.go, convertToAPIContainerStatuses (a container not
// started yet waits with reason PodInitializing in a pod with init containers, else
// ContainerCreating); ready and started as pkg/kubelet/prober's UpdatePodStatus sets them
// with no probes: a running app container or sidecar is ready, a regular init container
// once it completed.
fn one_status(
    pod: &Pod,
    c: &k8s_openapi::api::core::v1::Container,
    kind: Kind,
    input: &StatusInput<'_>,
) -> Value {
    let spec = pod.spec.clone().unwrap_or_default();
    let policy = match kind {
        Kind::Sidecar => "Always",
        _ => spec.restart_policy.as_deref().unwrap_or("Always"),
    };
    let has_inits = spec.init_containers.as_ref().is_some_and(|i| !i.is_empty());
    let attempts = input
        .observed
        .containers
        .get(&c.name)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let latest = attempts.first();
    let last_state = match attempts.get(1).map(|p| (p, &p.state)) {
        Some((prev, TaskState::Exited { code, at })) => terminated(prev, *code, at),
        _ => json!({}),
    };
    let (state, last_state, ready, started) = match latest.map(|s| (s, &s.state)) {
        Some((s, TaskState::Running { .. })) => (
            json!({ "running": { "startedAt": ts(&s.created_at) } }),
            last_state,
            kind != Kind::Init,
            true,
        ),
        Some((s, TaskState::Exited { code, at })) => {
            let restarting = !input.terminal
                && restarts(policy, *code)
                && !(kind == Kind::Init && *code == 0)
                && backoff_left(s.attempt, *at, Timestamp::now()).is_some();
            if restarting {
                let p = super::launch::PodRef::of(pod);
                let message = format!(
                    "back-off {}s restarting failed container={} pod={}_{}({})",
                    backoff(s.attempt).as_secs(),
                    c.name,
                    p.name,
                    p.namespace,
                    p.uid
                );
                (
                    json!({ "waiting": { "reason": "CrashLoopBackOff", "message": message } }),
                    terminated(s, *code, at),
                    false,
                    false,
                )
            } else if let Some(w) = input.waiting.get(&c.name).filter(|_| {
                !input.terminal && restarts(policy, *code) && !(kind == Kind::Init && *code == 0)
            }) {
                // Upstream convertToAPIContainerStatuses: a container that will be started
                // again and whose last start failed (reasonCache: PostStartHookError, ...)
                // waits with that reason; its exit moves to lastState.
                let mut v = json!({ "waiting": { "reason": w.reason } });
                if !w.message.is_empty() {
                    v["waiting"]["message"] = json!(w.message);
                }
                (v, terminated(s, *code, at), false, false)
            } else {
                let ready = kind == Kind::Init && *code == 0;
                (terminated(s, *code, at), last_state, ready, false)
            }
        }
        _ => {
            let w = input.waiting.get(&c.name);
            let default = if has_inits {
                "PodInitializing"
            } else {
                "ContainerCreating"
            };
            let reason = w.map(|w| w.reason.as_str()).unwrap_or(default);
            let mut v = json!({ "waiting": { "reason": reason } });
            if let Some(w) = w.filter(|w| !w.message.is_empty()) {
                v["waiting"]["message"] = json!(w.message);
            }
            (v, last_state, false, false)
        }
    };
    container_status(c, latest, state, last_state, ready, started)
}

/// The status object (for a merge patch of `.status`).
pub fn pod_status(pod: &Pod, input: &StatusInput<'_>) -> Value {
    let spec = pod.spec.clone().unwrap_or_default();
    let inits = spec.init_containers.clone().unwrap_or_default();
    let init_statuses: Vec<Value> = inits
        .iter()
        .map(|c| {
            let kind = if is_sidecar(c) {
                Kind::Sidecar
            } else {
                Kind::Init
            };
            one_status(pod, c, kind, input)
        })
        .collect();
    let statuses: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| one_status(pod, c, Kind::App, input))
        .collect();
    let phase = phase::phase(&spec, &init_statuses, &statuses, input.terminal);
    let not_initialized = phase::not_initialized(&spec, &init_statuses, &statuses);
    // Upstream GenerateContainersReadyCondition: every app container and every sidecar.
    let sidecars_ready = inits
        .iter()
        .zip(&init_statuses)
        .filter(|(c, _)| is_sidecar(c))
        .all(|(_, s)| s["ready"] == true);
    let all_ready = statuses.iter().all(|s| s["ready"] == true)
        && sidecars_ready
        && !input.terminal
        && not_initialized.is_none();
    let now = Timestamp::now().to_string();
    let prev_conds = input
        .previous
        .and_then(|p| p["conditions"].as_array().cloned())
        .unwrap_or_default();
    let cond = |ty: &str, ok: bool, reason: Option<&str>| {
        let status = if ok { "True" } else { "False" };
        let since = prev_conds
            .iter()
            .find(|c| c["type"] == ty && c["status"] == status)
            .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_string))
            .unwrap_or_else(|| now.clone());
        let mut c = json!({ "type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": since });
        if let Some(r) = reason.filter(|_| !ok) {
            c["reason"] = json!(r);
        }
        c
    };
    let sandbox_up = input.observed.running_sandbox().is_some();
    let not_ready = if phase == "Succeeded" || phase == "Failed" {
        "PodCompleted"
    } else {
        "ContainersNotReady"
    };
    let mut initialized = cond(
        "Initialized",
        not_initialized.is_none(),
        Some("ContainersNotInitialized"),
    );
    if let Some(m) = &not_initialized {
        initialized["message"] = json!(m);
    }
    let mut status = json!({
        "phase": phase,
        "conditions": [
            cond("PodReadyToStartContainers", sandbox_up, None),
            initialized,
            cond("Ready", all_ready, Some(not_ready)),
            cond("ContainersReady", all_ready, Some(not_ready)),
            cond("PodScheduled", true, None),
        ],
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    });
    if !inits.is_empty() {
        status["initContainerStatuses"] = json!(init_statuses);
    }
    if let Some(ip) = &input.host_ip {
        status["hostIP"] = json!(ip);
        status["hostIPs"] = json!([{ "ip": ip }]);
        if spec.host_network.unwrap_or(false) {
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{ "ip": ip }]);
        }
    }
    let start = input
        .previous
        .and_then(|p| p.get("startTime").cloned())
        .filter(|v| !v.is_null())
        .or_else(|| input.observed.sandboxes.last().map(|s| ts(&s.created_at)));
    if let Some(start) = start.filter(|v| !v.is_null()) {
        status["startTime"] = start;
    }
    status
}

fn container_status(
    c: &k8s_openapi::api::core::v1::Container,
    latest: Option<&Seen>,
    state: Value,
    last_state: Value,
    ready: bool,
    started: bool,
) -> Value {
    json!({
        "name": c.name,
        "image": c.image.clone().unwrap_or_default(),
        "imageID": latest.map(|s| s.image_id.clone()).unwrap_or_default(),
        "containerID": latest.map(|s| format!("containerd://{}", s.id)),
        "state": state,
        "lastState": last_state,
        "ready": ready,
        "started": started,
        "restartCount": latest.map(|s| s.attempt).unwrap_or(0),
    })
}

/// The restart back-off after attempt `attempt` exited, as upstream's (10 s doubling up
/// to 5 min, pkg/kubelet/kubelet.go `backOffPeriod`/`MaxContainerBackOff`): the first
/// exit restarts at once, the second after 10 s, then 20 s, 40 s, ...
pub fn backoff(attempt: u32) -> Duration {
    if attempt == 0 {
        return Duration::ZERO;
    }
    let secs = 10u64.saturating_mul(1 << (attempt - 1).min(10));
    Duration::from_secs(secs.min(300))
}

/// How much of the back-off is left at `now` for an attempt that exited at `exited`.
pub fn backoff_left(attempt: u32, exited: Option<Timestamp>, now: Timestamp) -> Option<Duration> {
    let wait = backoff(attempt);
    let exited = exited?;
    let elapsed = now.duration_since(exited);
    let elapsed = Duration::try_from(elapsed).unwrap_or(Duration::ZERO);
    (elapsed < wait).then(|| wait - elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(6), Duration::from_secs(300));
        assert_eq!(backoff(40), Duration::from_secs(300));
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t5: Timestamp = "2026-01-01T00:00:05Z".parse().unwrap();
        assert_eq!(backoff_left(1, Some(t0), t5), Some(Duration::from_secs(5)));
        assert_eq!(backoff_left(0, Some(t0), t5), None);
    }

    fn exited_pod(policy: &str) -> (Pod, Observed) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "main", "image": "i"}]},
        }))
        .unwrap();
        let mut seen = Observed::default();
        seen.containers.insert(
            "main".into(),
            vec![Seen {
                id: "c0".into(),
                attempt: 0,
                state: TaskState::Exited {
                    code: 137,
                    at: Some(Timestamp::now()),
                },
                created_at: None,
                stop_signal: 15,
                image_id: String::new(),
            }],
        );
        (pod, seen)
    }

    #[test]
    fn a_failed_post_start_hook_waits_with_its_reason_until_the_restart() {
        let waiting = HashMap::from([(
            "main".to_string(),
            Waiting {
                reason: "PostStartHookError".into(),
                message: "Exec lifecycle hook ([false]) ...".into(),
            },
        )]);
        let status = |policy: &str, terminal: bool| {
            let (pod, seen) = exited_pod(policy);
            pod_status(
                &pod,
                &StatusInput {
                    observed: &seen,
                    waiting: &waiting,
                    terminal,
                    host_ip: None,
                    previous: None,
                },
            )["containerStatuses"][0]
                .clone()
        };
        let always = status("Always", false);
        assert_eq!(always["state"]["waiting"]["reason"], "PostStartHookError");
        assert_eq!(
            always["state"]["waiting"]["message"],
            "Exec lifecycle hook ([false]) ..."
        );
        assert_eq!(always["lastState"]["terminated"]["exitCode"], 137);
        assert_eq!(always["ready"], false);
        // Never restarted (Never, or the pod is being stopped): the exit stays the state.
        for (policy, terminal) in [("Never", false), ("Always", true)] {
            let s = status(policy, terminal);
            assert_eq!(s["state"]["terminated"]["exitCode"], 137, "{policy}");
            assert_eq!(s["lastState"], json!({}), "{policy}");
        }
    }

    #[test]
    fn restart_policies() {
        assert!(restarts("Always", 0));
        assert!(restarts("OnFailure", 1));
        assert!(!restarts("OnFailure", 0));
        assert!(!restarts("Never", 1));
    }
}
