//! Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` answers a
//! GET or LIST with a `meta.k8s.io/v1` Table whose columns and cells are upstream's printers'
//! (pods, nodes, namespaces, deployments, ReplicaSets, Jobs; NAME and AGE for other kinds, as a
//! custom resource without printer columns gets).
//!
//! Why it exists: `kubectl get` asks for Tables and prints only what the server puts in
//! them, so without this `kubectl get pods -o wide` shows no STATUS, READY, RESTARTS or NODE
//! and `kubectl get nodes` no STATUS or ROLES.

mod job;
mod printers;

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::resources::ResourceDef;
use crate::util::{self, at, str_at};
use job::job_cells;
use printers::{age, node_cells, pod_cells, template_cells};

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
        // jobColumnDefinitions
        ("batch", "jobs") => vec![
            NAME,
            c("Status", 0, "Status of the job."),
            c(
                "Completions",
                0,
                "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
            ),
            c("Duration", 0, "Time required to complete the job."),
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
                "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
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
        ("batch", "jobs") => {
            let mut out = vec![name];
            out.extend(job_cells(o, now));
            out.push(age);
            out.extend(template_cells(o));
            out
        }
        _ => vec![name, age],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
