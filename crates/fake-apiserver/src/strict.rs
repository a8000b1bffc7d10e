//! `fieldValidation=Strict`: a create or update whose body has fields the kind does not
//! declare is a 400, as the real server's strict decoding makes it. The fields are listed
//! here for the kinds the labs write (pods, Deployments, ReplicaSets, ConfigMaps, Secrets,
//! Namespaces: object metadata, pod spec, containers); other kinds and nested structures
//! not listed (affinity, probes, volumes, ...) are not checked.
//!
//! Why it exists: `kubectl apply --validate=strict` and clients that set the parameter
//! rely on typos being refused rather than silently dropped.

use serde_json::Value;

use crate::error::ApiError;
use crate::resources::ResourceDef;

const TOP: &[&str] = &["apiVersion", "kind", "metadata"];
const META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];
// Upstream: staging/src/k8s.io/api/core/v1/types.go, PodSpec.
const POD_SPEC: &[&str] = &[
    "volumes",
    "initContainers",
    "containers",
    "ephemeralContainers",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "nodeSelector",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "affinity",
    "schedulerName",
    "tolerations",
    "hostAliases",
    "priorityClassName",
    "priority",
    "dnsConfig",
    "readinessGates",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "overhead",
    "topologySpreadConstraints",
    "setHostnameAsFQDN",
    "os",
    "hostUsers",
    "schedulingGates",
    "resourceClaims",
    "resources",
];
// Upstream: staging/src/k8s.io/api/core/v1/types.go, Container.
const CONTAINER: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "restartPolicyRules",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
];
// Upstream: staging/src/k8s.io/api/apps/v1/types.go, DeploymentSpec and ReplicaSetSpec.
const DEPLOYMENT_SPEC: &[&str] = &[
    "replicas",
    "selector",
    "template",
    "strategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "paused",
    "progressDeadlineSeconds",
];
const REPLICASET_SPEC: &[&str] = &["replicas", "minReadySeconds", "selector", "template"];

/// Collects `path.field` for every field of `obj` not in `known`.
fn unknown(obj: &Value, path: &str, known: &[&str], out: &mut Vec<String>) {
    let Some(map) = obj.as_object() else {
        return;
    };
    for k in map.keys() {
        if !known.contains(&k.as_str()) {
            out.push(if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            });
        }
    }
}

fn pod_spec(spec: &Value, path: &str, out: &mut Vec<String>) {
    unknown(spec, path, POD_SPEC, out);
    for list in ["containers", "initContainers"] {
        for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
            unknown(c, &format!("{path}.{list}[{i}]"), CONTAINER, out);
        }
    }
}

fn template(obj: &Value, out: &mut Vec<String>) {
    let t = &obj["spec"]["template"];
    unknown(t, "spec.template", &["metadata", "spec"], out);
    unknown(&t["metadata"], "spec.template.metadata", META, out);
    pod_spec(&t["spec"], "spec.template.spec", out);
}

/// The 400 for a body with undeclared fields under `fieldValidation=Strict`.
// Upstream: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go and update.go
// (strict decoding errors become BadRequest: "<Kind> in version ... cannot be handled as a
// <Kind>: strict decoding error: unknown field ...").
pub(crate) fn check(res: &ResourceDef, body: &Value) -> Result<(), ApiError> {
    let mut out = Vec::new();
    let top: Vec<&str> = match (res.group.as_str(), res.plural.as_str()) {
        ("", "pods") => {
            pod_spec(&body["spec"], "spec", &mut out);
            vec!["spec", "status"]
        }
        ("apps", "deployments") => {
            unknown(&body["spec"], "spec", DEPLOYMENT_SPEC, &mut out);
            template(body, &mut out);
            vec!["spec", "status"]
        }
        ("apps", "replicasets") => {
            unknown(&body["spec"], "spec", REPLICASET_SPEC, &mut out);
            template(body, &mut out);
            vec!["spec", "status"]
        }
        ("", "configmaps") => vec!["data", "binaryData", "immutable"],
        ("", "secrets") => vec!["data", "stringData", "type", "immutable"],
        ("", "namespaces") => vec!["spec", "status"],
        _ => return Ok(()),
    };
    let known: Vec<&str> = TOP.iter().copied().chain(top).collect();
    unknown(body, "", &known, &mut out);
    unknown(&body["metadata"], "metadata", META, &mut out);
    if out.is_empty() {
        return Ok(());
    }
    out.sort();
    let fields: Vec<String> = out.iter().map(|f| format!("unknown field {f:?}")).collect();
    Err(ApiError::bad_request(format!(
        "{kind} in version {version:?} cannot be handled as a {kind}: strict decoding error: {}",
        fields.join(", "),
        kind = res.kind,
        version = res.version,
    )))
}
