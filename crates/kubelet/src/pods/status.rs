//! The pod status the kubelet reports, computed from what containerd holds: phase
//! (upstream `getPhase`, pkg/kubelet/kubelet_pods.go), the PodScheduled, Initialized,
//! ContainersReady and Ready conditions (pkg/kubelet/status/generate.go; with no
//! readiness probes a running container is ready), and per-container state, lastState
//! and restartCount (pkg/kubelet/kubelet_pods.go `convertToAPIContainerStatuses`).

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::observe::{Observed, Seen};
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

/// The status object (for a merge patch of `.status`).
pub fn pod_status(pod: &Pod, input: &StatusInput<'_>) -> Value {
    let spec = pod.spec.clone().unwrap_or_default();
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let (mut running, mut stopped, mut succeeded, mut waiting) = (0, 0, 0, 0);
    let mut statuses = Vec::new();
    for c in &spec.containers {
        let attempts = input
            .observed
            .containers
            .get(&c.name)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let latest = attempts.first();
        let (state, ready) = match latest.map(|s| (s, &s.state)) {
            Some((s, TaskState::Running { .. })) => {
                running += 1;
                (
                    json!({ "running": { "startedAt": ts(&s.created_at) } }),
                    true,
                )
            }
            Some((s, TaskState::Exited { code, at })) => {
                // As upstream: an exited container, restarting or not, counts as stopped.
                stopped += 1;
                if *code == 0 {
                    succeeded += 1;
                }
                if !input.terminal
                    && restarts(policy, *code)
                    && backoff_left(s.attempt, *at, Timestamp::now()).is_some()
                {
                    let pod_ref = super::launch::PodRef::of(pod);
                    let message = format!(
                        "back-off {}s restarting failed container={} pod={}_{}({})",
                        backoff(s.attempt).as_secs(),
                        c.name,
                        pod_ref.name,
                        pod_ref.namespace,
                        pod_ref.uid
                    );
                    let st =
                        json!({ "waiting": { "reason": "CrashLoopBackOff", "message": message } });
                    statuses.push(container_status(
                        c,
                        Some(s),
                        st,
                        terminated(s, *code, at),
                        false,
                    ));
                    continue;
                }
                (terminated(s, *code, at), false)
            }
            _ => {
                waiting += 1;
                let w = input.waiting.get(&c.name);
                let reason = w.map(|w| w.reason.as_str()).unwrap_or("ContainerCreating");
                let mut v = json!({ "waiting": { "reason": reason } });
                if let Some(w) = w.filter(|w| !w.message.is_empty()) {
                    v["waiting"]["message"] = json!(w.message);
                }
                (v, false)
            }
        };
        let last_state = match attempts.get(1) {
            Some(prev) => match &prev.state {
                TaskState::Exited { code, at } => terminated(prev, *code, at),
                _ => json!({}),
            },
            None => json!({}),
        };
        statuses.push(container_status(c, latest, state, last_state, ready));
    }
    let phase = phase(policy, input.terminal, running, stopped, succeeded, waiting);
    let all_ready = running == spec.containers.len() && !input.terminal;
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
    let mut status = json!({
        "phase": phase,
        "conditions": [
            cond("PodReadyToStartContainers", sandbox_up, None),
            cond("Initialized", true, None),
            cond("Ready", all_ready, Some(if phase == "Succeeded" || phase == "Failed" { "PodCompleted" } else { "ContainersNotReady" })),
            cond("ContainersReady", all_ready, Some(if phase == "Succeeded" || phase == "Failed" { "PodCompleted" } else { "ContainersNotReady" })),
            cond("PodScheduled", true, None),
        ],
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    });
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
) -> Value {
    json!({
        "name": c.name,
        "image": c.image.clone().unwrap_or_default(),
        "imageID": latest.map(|s| s.image_id.clone()).unwrap_or_default(),
        "containerID": latest.map(|s| format!("containerd://{}", s.id)),
        "state": state,
        "lastState": last_state,
        "ready": ready,
        "started": ready,
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

/// Upstream `getPhase` for regular containers (init containers are not run yet).
fn phase(
    policy: &str,
    terminal: bool,
    running: usize,
    stopped: usize,
    succeeded: usize,
    waiting: usize,
) -> &'static str {
    if waiting > 0 && running == 0 && stopped == 0 && !terminal {
        return "Pending";
    }
    if running > 0 && !terminal {
        return "Running";
    }
    if waiting > 0 && !terminal {
        // Some exited and will restart, some not started yet.
        return "Running";
    }
    if terminal || policy == "Never" || (policy == "OnFailure" && stopped == succeeded) {
        // The pod is terminal, so its containers will not be restarted.
        return if stopped == succeeded && running == 0 && waiting == 0 {
            "Succeeded"
        } else {
            "Failed"
        };
    }
    "Running"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_get_phase() {
        assert_eq!(phase("Always", false, 0, 0, 0, 1), "Pending");
        assert_eq!(phase("Always", false, 1, 0, 0, 0), "Running");
        assert_eq!(phase("Never", false, 0, 1, 1, 0), "Succeeded");
        assert_eq!(phase("Never", false, 0, 1, 0, 0), "Failed");
        assert_eq!(phase("OnFailure", false, 0, 1, 1, 0), "Succeeded");
        assert_eq!(phase("Always", true, 0, 1, 1, 0), "Succeeded");
        assert_eq!(phase("Always", true, 0, 1, 0, 0), "Failed");
    }

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

    #[test]
    fn restart_policies() {
        assert!(restarts("Always", 0));
        assert!(restarts("OnFailure", 1));
        assert!(!restarts("OnFailure", 0));
        assert!(!restarts("Never", 1));
    }
}
