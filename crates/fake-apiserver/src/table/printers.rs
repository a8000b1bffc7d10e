//! The cells of the Table rows whose printers are more than a field lookup: pods (READY,
//! STATUS, RESTARTS as `printPod` works them out), nodes (STATUS, ROLES, addresses and node
//! info), workload templates, and ages as kubectl prints them.

use std::time::SystemTime;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::util::{self, at, str_at};

/// Containers, images and selector of a workload (`layoutContainerCells`, formatted
/// `metav1.FormatLabelSelector`).
pub(super) fn template_cells(o: &Value) -> Vec<Value> {
    let containers = at(o, &["spec", "template", "spec", "containers"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["image"].as_str())
        .collect();
    let mut selector: Vec<String> = at(o, &["spec", "selector", "matchLabels"])
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    selector.sort();
    let selector = if selector.is_empty() {
        "<none>".to_string()
    } else {
        selector.join(",")
    };
    vec![
        json!(names.join(",")),
        json!(images.join(",")),
        json!(selector),
    ]
}

/// The pod's READY, STATUS and RESTARTS as kubectl has always shown them.
// Upstream: pkg/printers/internalversion/printers.go, printPod: init containers first
// (`Init:N/M` while the N-th of M runs or waits, `Init:<reason>` when one failed or waits
// with a reason, native sidecars counted in READY once started), then, once initialized,
// the app containers.
pub(super) fn pod_cells(o: &Value, now: SystemTime, name: Value, age: Value) -> Vec<Value> {
    let init_specs = at(o, &["spec", "initContainers"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| c["name"] == name && c["restartPolicy"] == "Always")
    };
    let mut total = at(o, &["spec", "containers"])
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    total += init_specs
        .iter()
        .filter(|c| c["restartPolicy"] == "Always")
        .count();
    let mut reason = str_at(o, &["status", "reason"])
        .filter(|r| !r.is_empty())
        .or_else(|| str_at(o, &["status", "phase"]))
        .unwrap_or("")
        .to_string();
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut ready = 0;
    let mut has_running = false;
    let mut last_restart: Option<i64> = None;
    let mut last_sidecar_restart: Option<i64> = None;
    let later = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let init_statuses = at(o, &["status", "initContainerStatuses"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut initializing = false;
    for (i, c) in init_statuses.iter().enumerate() {
        let count = c["restartCount"].as_i64().unwrap_or(0);
        let finished = str_at(c, &["lastState", "terminated", "finishedAt"]).and_then(parse);
        restarts += count;
        last_restart = later(last_restart, finished);
        let is_sidecar = c["name"].as_str().is_some_and(sidecar);
        if is_sidecar {
            sidecar_restarts += count;
            last_sidecar_restart = later(last_sidecar_restart, finished);
        }
        let state = &c["state"];
        let terminated = &state["terminated"];
        let waiting_reason = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty() && *r != "PodInitializing");
        if terminated.is_object() && terminated["exitCode"].as_i64() == Some(0) {
            continue;
        }
        if is_sidecar && c["started"] == true {
            if c["ready"] == true {
                ready += 1;
            }
            continue;
        }
        if terminated.is_object() {
            reason = match terminated["reason"].as_str().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None => match terminated["signal"].as_i64().unwrap_or(0) {
                    0 => format!(
                        "Init:ExitCode:{}",
                        terminated["exitCode"].as_i64().unwrap_or(0)
                    ),
                    s => format!("Init:Signal:{s}"),
                },
            };
        } else if let Some(r) = waiting_reason {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }
    let initialized = crate::scheduler::condition(o, "Initialized") == Some("True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let statuses = at(o, &["status", "containerStatuses"])
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for c in statuses.iter().rev() {
            restarts += c["restartCount"].as_i64().unwrap_or(0);
            let finished = str_at(c, &["lastState", "terminated", "finishedAt"]).and_then(parse);
            last_restart = later(last_restart, finished);
            let state = &c["state"];
            let terminated = &state["terminated"];
            if let Some(r) = state["waiting"]["reason"]
                .as_str()
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            } else if let Some(r) = terminated["reason"].as_str().filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if terminated.is_object() {
                reason = match terminated["signal"].as_i64().unwrap_or(0) {
                    0 => format!("ExitCode:{}", terminated["exitCode"].as_i64().unwrap_or(0)),
                    s => format!("Signal:{s}"),
                };
            } else if c["ready"] == true && state["running"].is_object() {
                has_running = true;
                ready += 1;
            }
        }
    }
    if reason == "Completed" && has_running {
        reason = if crate::scheduler::condition(o, "Ready") == Some("True") {
            "Running".into()
        } else {
            "NotReady".into()
        };
    }
    let phase = str_at(o, &["status", "phase"]).unwrap_or("");
    if util::is_terminating(o) && str_at(o, &["status", "reason"]) == Some("NodeLost") {
        reason = "Unknown".into();
    } else if util::is_terminating(o) && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".into();
    }
    let restarts = match last_restart {
        Some(t) => format!("{restarts} ({} ago)", human_duration(secs_since(t, now))),
        None => restarts.to_string(),
    };
    let none = || "<none>".to_string();
    let ip = str_at(o, &["status", "podIP"])
        .filter(|s| !s.is_empty())
        .map_or_else(none, str::to_string);
    let node = str_at(o, &["spec", "nodeName"])
        .filter(|s| !s.is_empty())
        .map_or_else(none, str::to_string);
    let nominated = str_at(o, &["status", "nominatedNodeName"])
        .filter(|s| !s.is_empty())
        .map_or_else(none, str::to_string);
    let gates = at(o, &["spec", "readinessGates"])
        .and_then(Value::as_array)
        .filter(|g| !g.is_empty())
        .map_or_else(none, |g| {
            let met = g
                .iter()
                .filter(|gate| {
                    gate["conditionType"]
                        .as_str()
                        .is_some_and(|t| crate::scheduler::condition(o, t) == Some("True"))
                })
                .count();
            format!("{met}/{}", g.len())
        });
    vec![
        name,
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        age,
        json!(ip),
        json!(node),
        json!(nominated),
        json!(gates),
    ]
}

/// STATUS (Ready/NotReady/Unknown, plus SchedulingDisabled when cordoned), ROLES from the
/// `node-role.kubernetes.io/*` labels and `kubernetes.io/role`, and the node's info.
// Upstream: pkg/printers/internalversion/printers.go, printNode, findNodeRoles,
// getNodeInternalIP, getNodeExternalIP.
pub(super) fn node_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let mut status: Vec<String> = match crate::scheduler::condition(o, "Ready") {
        Some("True") => vec!["Ready".into()],
        Some(_) => vec!["NotReady".into()],
        None => vec!["Unknown".into()],
    };
    if o["spec"]["unschedulable"] == true {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = util::labels(o) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.push(v.to_string());
            }
        }
    }
    roles.sort();
    roles.dedup();
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    };
    let address = |kind: &str| {
        at(o, &["status", "addresses"])
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|a| a["type"] == kind))
            .and_then(|a| a["address"].as_str())
            .unwrap_or("<none>")
            .to_string()
    };
    let info = |f: &str| {
        str_at(o, &["status", "nodeInfo", f])
            .filter(|s| !s.is_empty())
            .unwrap_or("<unknown>")
            .to_string()
    };
    vec![
        name,
        json!(status.join(",")),
        json!(roles),
        age,
        json!(str_at(o, &["status", "nodeInfo", "kubeletVersion"]).unwrap_or("")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

fn parse(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn secs_since(t: i64, now: SystemTime) -> i64 {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    now - t
}

/// The AGE cell: `<unknown>` without a creation time.
// Upstream: pkg/printers/internalversion/printers.go, translateTimestampSince.
pub(super) fn age(o: &Value, now: SystemTime) -> String {
    match str_at(o, &["metadata", "creationTimestamp"]).and_then(parse) {
        Some(t) => human_duration(secs_since(t, now)),
        None => "<unknown>".into(),
    }
}

/// `5s`, `3m20s`, `4h10m`, `2d3h`, `400d`, `2y10d` as kubectl prints ages.
// Upstream: staging/src/k8s.io/apimachinery/pkg/util/duration/duration.go, HumanDuration.
pub(crate) fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    let (m, h) = (secs / 60, secs / 3600);
    let pair = |a: i64, ua: &str, b: i64, ub: &str| {
        if b == 0 {
            format!("{a}{ua}")
        } else {
            format!("{a}{ua}{b}{ub}")
        }
    };
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        pair(m, "m", secs % 60, "s")
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        pair(h, "h", m % 60, "m")
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        pair(h / 24, "d", h % 24, "h")
    } else if h < 24 * 365 * 2 {
        format!("{}d", h / 24)
    } else if h < 24 * 365 * 8 {
        let days = h / 24;
        pair(days / 365, "y", days % 365, "d")
    } else {
        format!("{}y", h / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (5, "5s"),
            (119, "119s"),
            (200, "3m20s"),
            (240, "4m"),
            (3000, "50m"),
            (4 * 3600 + 600, "4h10m"),
            (20 * 3600, "20h"),
            (51 * 3600, "2d3h"),
            (400 * 86400, "400d"),
            (800 * 86400, "2y70d"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    fn ready_and_status(pod: Value) -> (String, String) {
        let cells = pod_cells(&pod, SystemTime::now(), json!("p"), json!("1s"));
        (
            cells[1].as_str().unwrap().to_string(),
            cells[2].as_str().unwrap().to_string(),
        )
    }

    fn pod_with(init: Value, app: Value, initialized: bool) -> Value {
        json!({
            "spec": {
                "initContainers": [
                    {"name": "init-myservice"}, {"name": "init-mydb"},
                    {"name": "logshipper", "restartPolicy": "Always"},
                ],
                "containers": [{"name": "app"}],
            },
            "status": {
                "phase": if initialized { "Running" } else { "Pending" },
                "conditions": [
                    {"type": "Initialized", "status": if initialized { "True" } else { "False" }},
                    {"type": "Ready", "status": if initialized { "True" } else { "False" }},
                ],
                "initContainerStatuses": init,
                "containerStatuses": app,
            }
        })
    }

    #[test]
    fn init_containers_show_as_init_n_of_m_then_the_app() {
        let waiting = |r: &str| json!({"waiting": {"reason": r}});
        let done = json!({"terminated": {"exitCode": 0, "reason": "Completed"}});
        let st = |name: &str, state: Value, started: bool| json!({"name": name, "state": state, "ready": started, "started": started, "restartCount": 0});
        let app_waiting = json!([st("app", waiting("PodInitializing"), false)]);
        let first = pod_with(
            json!([
                st("init-myservice", json!({"running": {}}), true),
                st("init-mydb", waiting("PodInitializing"), false),
                st("logshipper", waiting("PodInitializing"), false),
            ]),
            app_waiting.clone(),
            false,
        );
        // M counts every init container, the sidecar included, as upstream does.
        assert_eq!(ready_and_status(first), ("0/2".into(), "Init:0/3".into()));
        let second = pod_with(
            json!([
                st("init-myservice", done.clone(), false),
                st("init-mydb", json!({"running": {}}), true),
                st("logshipper", waiting("PodInitializing"), false),
            ]),
            app_waiting.clone(),
            false,
        );
        assert_eq!(ready_and_status(second).1, "Init:1/3");
        let failed = pod_with(
            json!([
                st(
                    "init-myservice",
                    json!({"terminated": {"exitCode": 1, "reason": "Error"}}),
                    false
                ),
                st("init-mydb", waiting("PodInitializing"), false),
                st("logshipper", waiting("PodInitializing"), false),
            ]),
            app_waiting.clone(),
            false,
        );
        assert_eq!(ready_and_status(failed).1, "Init:Error");
        let backoff = pod_with(
            json!([
                st("init-myservice", waiting("CrashLoopBackOff"), false),
                st("init-mydb", waiting("PodInitializing"), false),
                st("logshipper", waiting("PodInitializing"), false),
            ]),
            app_waiting,
            false,
        );
        assert_eq!(ready_and_status(backoff).1, "Init:CrashLoopBackOff");
        // Initialized: the running sidecar counts in READY beside the app.
        let running = pod_with(
            json!([
                st("init-myservice", done.clone(), false),
                st("init-mydb", done, false),
                st("logshipper", json!({"running": {}}), true),
            ]),
            json!([st("app", json!({"running": {}}), true)]),
            true,
        );
        assert_eq!(ready_and_status(running), ("2/2".into(), "Running".into()));
    }
}
