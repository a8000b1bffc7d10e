//! Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` answers a
//! GET or LIST with a `meta.k8s.io/v1` Table whose columns and cells are upstream's printers'
//! (pods, nodes, namespaces, deployments, ReplicaSets; NAME and AGE for other kinds, as a
//! custom resource without printer columns gets).
//!
//! Why it exists: `kubectl get` asks for Tables and prints only what the server puts in
//! them, so without this `kubectl get pods -o wide` shows no STATUS, READY, RESTARTS or NODE
//! and `kubectl get nodes` no STATUS or ROLES.

use std::time::SystemTime;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::resources::ResourceDef;
use crate::util::{self, at, str_at};

/// Whether the client asked for a Table (kubectl's first choice of its `Accept`).
// Upstream: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go,
// transformResponseObject and targetEncodingForTransform (as=Table, g=meta.k8s.io).
pub(crate) fn wanted(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| {
        let params: Vec<&str> = first.split(';').map(str::trim).collect();
        params.contains(&"as=Table")
            && params.contains(&"g=meta.k8s.io")
            && (params.contains(&"v=v1") || params.contains(&"v=v1beta1"))
    })
}

/// `(name, type, priority, description)`: priority 1 columns show with `-o wide` only.
type Column = (&'static str, &'static str, u8, &'static str);

const NAME: Column = (
    "Name",
    "string",
    0,
    "Name must be unique within a namespace.",
);
const AGE: Column = (
    "Age",
    "string",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

/// The Table of `objects`, each row with the object as `includeObject` asks (`Metadata`
/// by default: a PartialObjectMetadata; `Object`; `None`).
// Upstream: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go,
// asTable; the columns are pkg/printers/internalversion/printers.go's AddHandlers.
pub(crate) fn build(
    res: &ResourceDef,
    objects: &[&Value],
    resource_version: &str,
    include: Option<&str>,
) -> Value {
    let columns = columns(res);
    let now = SystemTime::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({ "cells": cells(res, o, now) });
            match include {
                Some("None") => {}
                Some("Object") => row["object"] = (*o).clone(),
                _ => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": o["metadata"],
                    })
                }
            }
            row
        })
        .collect();
    let defs: Vec<Value> = columns
        .iter()
        .map(|(name, kind, priority, description)| {
            let mut c = json!({ "name": name, "type": kind, "format": "", "description": description, "priority": priority });
            if *name == "Name" {
                c["format"] = json!("name");
            }
            c
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": { "resourceVersion": resource_version },
        "columnDefinitions": defs,
        "rows": rows,
    })
}

fn columns(res: &ResourceDef) -> Vec<Column> {
    let c = |name, priority, description| (name, "string", priority, description);
    match (res.group.as_str(), res.plural.as_str()) {
        // podColumnDefinitions
        ("", "pods") => vec![
            NAME,
            c(
                "Ready",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            c(
                "Status",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            c(
                "Restarts",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            c(
                "IP",
                1,
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            ),
            c(
                "Node",
                1,
                "NodeName is a request to schedule this pod onto a specific node.",
            ),
            c(
                "Nominated Node",
                1,
                "nominatedNodeName is set only when this pod preempts other pods on the node.",
            ),
            c(
                "Readiness Gates",
                1,
                "If specified, all readiness gates will be evaluated for pod readiness.",
            ),
        ],
        // nodeColumnDefinitions
        ("", "nodes") => vec![
            NAME,
            c("Status", 0, "The status of the node"),
            c("Roles", 0, "The roles of the node"),
            AGE,
            c("Version", 0, "Kubelet Version reported by the node."),
            c("Internal-IP", 1, "List of internal IPs."),
            c("External-IP", 1, "List of external IPs."),
            c(
                "OS-Image",
                1,
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
            ),
            c(
                "Kernel-Version",
                1,
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
            ),
            c(
                "Container-Runtime",
                1,
                "Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            ),
        ],
        // namespaceColumnDefinitions
        ("", "namespaces") => vec![NAME, c("Status", 0, "The status of the namespace"), AGE],
        // deploymentColumnDefinitions
        ("apps", "deployments") => vec![
            NAME,
            c("Ready", 0, "Number of the pod with ready state"),
            c(
                "Up-to-date",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            c(
                "Available",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            AGE,
            c("Containers", 1, "Names of each container in the template."),
            c(
                "Images",
                1,
                "Images referenced by each container in the template.",
            ),
            c(
                "Selector",
                1,
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            ),
        ],
        // replicaSetColumnDefinitions
        ("apps", "replicasets") => vec![
            NAME,
            c("Desired", 0, "Replicas is the number of desired replicas."),
            c(
                "Current",
                0,
                "Replicas is the most recently observed number of replicas.",
            ),
            c(
                "Ready",
                0,
                "The number of ready replicas for this replica set.",
            ),
            AGE,
            c("Containers", 1, "Names of each container in the template."),
            c(
                "Images",
                1,
                "Images referenced by each container in the template.",
            ),
            c(
                "Selector",
                1,
                "Selector is a label query over pods that should match the replica count.",
            ),
        ],
        _ => vec![NAME, AGE],
    }
}

fn cells(res: &ResourceDef, o: &Value, now: SystemTime) -> Vec<Value> {
    let name = json!(util::name_of(o));
    let age = json!(age(o, now));
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "pods") => pod_cells(o, now, name, age),
        ("", "nodes") => node_cells(o, name, age),
        ("", "namespaces") => vec![
            name,
            json!(str_at(o, &["status", "phase"]).unwrap_or("")),
            age,
        ],
        ("apps", "deployments") => {
            let n = |f: &str| at(o, &["status", f]).and_then(Value::as_i64).unwrap_or(0);
            let desired = at(o, &["spec", "replicas"])
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let mut out = vec![
                name,
                json!(format!("{}/{desired}", n("readyReplicas"))),
                json!(n("updatedReplicas")),
                json!(n("availableReplicas")),
                age,
            ];
            out.extend(template_cells(o));
            out
        }
        ("apps", "replicasets") => {
            let n = |p: &[&str]| at(o, p).and_then(Value::as_i64).unwrap_or(0);
            let mut out = vec![
                name,
                json!(n(&["spec", "replicas"])),
                json!(n(&["status", "replicas"])),
                json!(n(&["status", "readyReplicas"])),
                age,
            ];
            out.extend(template_cells(o));
            out
        }
        _ => vec![name, age],
    }
}

/// Containers, images and selector of a workload (`layoutContainerCells`, formatted
/// `metav1.FormatLabelSelector`).
fn template_cells(o: &Value) -> Vec<Value> {
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
// Upstream: pkg/printers/internalversion/printers.go, printPod (init containers and
// sidecars left out: the fake runs none).
fn pod_cells(o: &Value, now: SystemTime, name: Value, age: Value) -> Vec<Value> {
    let total = at(o, &["spec", "containers"])
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut reason = str_at(o, &["status", "reason"])
        .filter(|r| !r.is_empty())
        .or_else(|| str_at(o, &["status", "phase"]))
        .unwrap_or("")
        .to_string();
    let mut restarts = 0;
    let mut ready = 0;
    let mut has_running = false;
    let mut last_restart: Option<i64> = None;
    let statuses = at(o, &["status", "containerStatuses"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in statuses.iter().rev() {
        restarts += c["restartCount"].as_i64().unwrap_or(0);
        if let Some(t) = str_at(c, &["lastState", "terminated", "finishedAt"]).and_then(parse) {
            last_restart = Some(last_restart.map_or(t, |l| l.max(t)));
        }
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
fn node_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
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
fn age(o: &Value, now: SystemTime) -> String {
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

    #[test]
    fn only_a_table_first_choice_is_a_table_request() {
        assert!(wanted(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wanted("application/json"));
        assert!(!wanted(
            "application/json, application/json;as=Table;v=v1;g=meta.k8s.io"
        ));
    }
}
