//! Field validation of the kinds the labs write, as the real server's registry strategies
//! run it (`422 Invalid`, field paths and messages as upstream's): label and finalizer
//! syntax, containers with a name and an image, the `restartPolicy` enum, `replicas >= 0`,
//! pod spec immutability and the immutable workload selector.
//!
//! Why it exists: a client (kubectl, the product's faults) that sends what Kubernetes
//! refuses must be refused here too, or a test would pass against the fake and fail on kind.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::resources::ResourceDef;
use crate::util::{self, at};

const NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const PREFIX_MSG: &str = "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QUALIFIED_MSG: &str = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const POD_UPDATE_MSG: &str = "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";
/// Finalizers that need no domain prefix.
// Upstream: pkg/apis/core/validation/validation.go, standardFinalizers.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// `field: Invalid value: <v>: <msg>` (422, FieldValueInvalid).
fn invalid(res: &ResourceDef, obj: &Value, field: &str, value: &Value, msg: &str) -> ApiError {
    let shown = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    ApiError::invalid(
        res,
        util::name_of(obj),
        field,
        "FieldValueInvalid",
        &format!("Invalid value: {shown}: {msg}"),
    )
}

fn name_part_ok(name: &str) -> bool {
    let b = name.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    !b.is_empty()
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// What is wrong with a qualified name (label key, finalizer), if anything.
// Upstream: staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go, IsQualifiedName.
fn qualified_name_problem(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('/').collect();
    let (prefix, part) = match parts.as_slice() {
        [part] => (None, *part),
        [prefix, part] => (Some(*prefix), *part),
        _ => return Some(QUALIFIED_MSG.into()),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Some("prefix part must be non-empty".into());
        }
        if util::name_problem(prefix).is_some() {
            return Some(PREFIX_MSG.into());
        }
    }
    if part.is_empty() {
        return Some("name part must be non-empty".into());
    }
    if part.len() > 63 {
        return Some("name part must be no more than 63 characters".into());
    }
    (!name_part_ok(part)).then(|| NAME_MSG.into())
}

/// Labels and finalizers of any object.
// Upstream: staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go,
// ValidateObjectMeta (ValidateLabels, ValidateFinalizers); finalizer names:
// pkg/apis/core/validation/validation.go, ValidateFinalizerName.
pub(crate) fn object_meta(res: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    if let Some(labels) = util::labels(obj) {
        for (k, v) in labels {
            if let Some(msg) = qualified_name_problem(k) {
                return Err(invalid(res, obj, "metadata.labels", &json!(k), &msg));
            }
            let text = v.as_str().unwrap_or("");
            if text.len() > 63 {
                let msg = "must be no more than 63 characters";
                return Err(invalid(res, obj, "metadata.labels", v, msg));
            }
            if !text.is_empty() && !name_part_ok(text) {
                return Err(invalid(res, obj, "metadata.labels", v, VALUE_MSG));
            }
        }
    }
    for f in util::finalizers(obj) {
        if let Some(msg) = qualified_name_problem(&f) {
            return Err(invalid(res, obj, "metadata.finalizers", &json!(f), &msg));
        }
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
            let msg = "name is neither a standard finalizer name nor is it fully qualified";
            return Err(invalid(res, obj, "metadata.finalizers", &json!(f), msg));
        }
    }
    Ok(())
}

/// A pod spec at `path` (`spec` or `spec.template.spec`): containers with names and
/// images, a restart policy among `allowed`.
// Upstream: pkg/apis/core/validation/validation.go, ValidatePodSpec, validateContainers
// (validateContainerCommon: name and image required), validateRestartPolicy; workload
// templates allow only Always (pkg/apis/apps/validation/validation.go,
// ValidatePodTemplateSpecForReplicaSet / ValidateDeploymentSpec).
pub(crate) fn pod_spec(
    res: &ResourceDef,
    obj: &Value,
    path: &[&str],
    allowed: &[&str],
) -> Result<(), ApiError> {
    let Some(spec) = at(obj, path) else {
        return Ok(());
    };
    let dotted = path.join(".");
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    if containers.is_empty() {
        return Err(ApiError::invalid(
            res,
            util::name_of(obj),
            &format!("{dotted}.containers"),
            "FieldValueRequired",
            "Required value",
        ));
    }
    for (i, c) in containers.iter().enumerate() {
        for field in ["name", "image"] {
            if c[field].as_str().is_none_or(|s| s.trim().is_empty()) {
                return Err(ApiError::invalid(
                    res,
                    util::name_of(obj),
                    &format!("{dotted}.containers[{i}].{field}"),
                    "FieldValueRequired",
                    "Required value",
                ));
            }
        }
    }
    if let Some(policy) = spec.get("restartPolicy").and_then(Value::as_str)
        && !allowed.contains(&policy)
    {
        let supported: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
        return Err(ApiError::invalid(
            res,
            util::name_of(obj),
            &format!("{dotted}.restartPolicy"),
            "FieldValueNotSupported",
            &format!(
                "Unsupported value: {policy:?}: supported values: {}",
                supported.join(", ")
            ),
        ));
    }
    Ok(())
}

/// `spec.replicas` of a workload: not negative.
// Upstream: pkg/apis/apps/validation/validation.go, ValidateDeploymentSpec and
// ValidateReplicaSetSpec (ValidateNonnegativeField).
pub(crate) fn replicas(res: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    match at(obj, &["spec", "replicas"]).and_then(Value::as_i64) {
        Some(n) if n < 0 => Err(invalid(
            res,
            obj,
            "spec.replicas",
            &json!(n),
            "must be greater than or equal to 0",
        )),
        _ => Ok(()),
    }
}

/// What an update may not change: a pod's spec beyond images, tolerations added,
/// `activeDeadlineSeconds` and a negative grace period; a workload's selector.
// Upstream: pkg/apis/core/validation/validation.go, ValidatePodUpdate; and
// pkg/apis/apps/validation/validation.go, ValidateDeploymentUpdate,
// ValidateReplicaSetUpdate (apps/v1: "field is immutable").
pub(crate) fn update(res: &ResourceDef, old: &Value, new: &Value) -> Result<(), ApiError> {
    if res.is("", "pods") {
        let mut munged = new["spec"].clone();
        let old_spec = &old["spec"];
        for list in ["containers", "initContainers"] {
            let olds = old_spec[list].as_array();
            if let (Some(olds), Some(news)) = (olds, munged[list].as_array_mut())
                && olds.len() == news.len()
            {
                for (n, o) in news.iter_mut().zip(olds) {
                    n["image"] = o["image"].clone();
                }
            }
        }
        let old_tolerations = old_spec["tolerations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let new_tolerations = munged["tolerations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if old_tolerations.iter().all(|t| new_tolerations.contains(t)) {
            munged["tolerations"] = old_spec["tolerations"].clone();
        }
        munged["activeDeadlineSeconds"] = old_spec["activeDeadlineSeconds"].clone();
        if old_spec["terminationGracePeriodSeconds"]
            .as_i64()
            .is_some_and(|g| g < 0)
            && munged["terminationGracePeriodSeconds"] == 1
        {
            munged["terminationGracePeriodSeconds"] =
                old_spec["terminationGracePeriodSeconds"].clone();
        }
        let strip = |v: &Value| -> Value {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                m.retain(|_, x| !x.is_null());
            }
            v
        };
        if strip(&munged) != strip(old_spec) {
            return Err(ApiError::invalid(
                res,
                util::name_of(old),
                "spec",
                "FieldValueForbidden",
                POD_UPDATE_MSG,
            ));
        }
    }
    if res.is("batch", "jobs") {
        crate::jobs::validate_update(res, old, new)?;
    }
    if res.group == "apps" && at(old, &["spec", "selector"]) != at(new, &["spec", "selector"]) {
        let shown = go_selector(at(new, &["spec", "selector"]).unwrap_or(&Value::Null));
        return Err(ApiError::invalid(
            res,
            util::name_of(old),
            "spec.selector",
            "FieldValueInvalid",
            &format!("Invalid value: {shown}: field is immutable"),
        ));
    }
    Ok(())
}

/// A label selector as Go's `%#v` prints a `v1.LabelSelector` (match labels in key order).
fn go_selector(sel: &Value) -> String {
    let labels: Vec<String> = sel["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    let labels = if labels.is_empty() {
        "map[string]string(nil)".to_string()
    } else {
        format!("map[string]string{{{}}}", labels.join(", "))
    };
    let exprs = match sel["matchExpressions"].as_array() {
        Some(e) if !e.is_empty() => format!("[]v1.LabelSelectorRequirement{{/* {} */}}", e.len()),
        _ => "[]v1.LabelSelectorRequirement(nil)".to_string(),
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}")
}

/// The pod template of a workload kind, for [`pod_spec`] (only `Always` may restart it).
pub(crate) fn workload(res: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    replicas(res, obj)?;
    pod_spec(res, obj, &["spec", "template", "spec"], &["Always"])
}
