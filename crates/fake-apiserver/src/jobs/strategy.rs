//! What the API server does to a batch/v1 Job before the controller sees it: the defaults
//! of the batch API group, the generated selector and pod labels, and the Job's validation
//! (restart policy, non-negative counts, the selector matching the template, immutable
//! fields on update).
//!
//! Why it exists: `kubectl create job` and the lab's manifest send a bare Job; what the
//! controller ([`super`]) relies on (parallelism, completions, the `controller-uid`
//! selector) is filled in here exactly where the real server fills it in.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::resources::ResourceDef;
use crate::select::LabelSelector;
use crate::util::{self, at, set_at};

/// The label (and selector key) naming the Job's uid.
pub(crate) const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// The label naming the Job.
pub(crate) const JOB_NAME: &str = "batch.kubernetes.io/job-name";
/// The labels set before the `batch.kubernetes.io/` prefix, still added for old clients.
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";

/// Defaults of a Job on create (and on every decode, for the template).
// Upstream: pkg/apis/batch/v1/defaults.go, SetDefaults_Job: completions and parallelism 1
// when both are unset, parallelism 1 when only it is unset, backoffLimit 6, completionMode
// NonIndexed, suspend false, manualSelector left unset, podReplacementPolicy
// TerminatingOrFailed (Failed with a podFailurePolicy); the Job's labels are the
// template's when it has none.
pub(crate) fn defaults(job: &mut Value) {
    let template_labels = at(job, &["spec", "template", "metadata", "labels"]).cloned();
    if util::labels(job).is_none_or(|l| l.is_empty())
        && let Some(labels) =
            template_labels.filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
    {
        set_at(job, &["metadata", "labels"], labels);
    }
    let has_failure_policy = at(job, &["spec", "podFailurePolicy"]).is_some_and(|p| !p.is_null());
    let spec = util::obj_mut(&mut job["spec"]);
    let unset =
        |spec: &serde_json::Map<String, Value>, k: &str| spec.get(k).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    if unset(spec, "parallelism") {
        spec.insert("parallelism".into(), json!(1));
    }
    if unset(spec, "backoffLimit") {
        spec.insert("backoffLimit".into(), json!(6));
    }
    if unset(spec, "completionMode") {
        spec.insert("completionMode".into(), json!("NonIndexed"));
    }
    if unset(spec, "suspend") {
        spec.insert("suspend".into(), json!(false));
    }
    if unset(spec, "podReplacementPolicy") {
        let policy = if has_failure_policy {
            "Failed"
        } else {
            "TerminatingOrFailed"
        };
        spec.insert("podReplacementPolicy".into(), json!(policy));
    }
}

/// The selector and template labels the server generates unless `manualSelector` is true.
// Upstream: pkg/registry/batch/job/strategy.go, (jobStrategy).PrepareForCreate ->
// generateSelector: the template gets `batch.kubernetes.io/controller-uid` and
// `batch.kubernetes.io/job-name` (and the legacy unprefixed pair), the selector matches
// the controller uid alone; status starts empty.
pub(crate) fn prepare_for_create(job: &mut Value) {
    job["status"] = json!({});
    if at(job, &["spec", "manualSelector"]) == Some(&json!(true)) {
        return;
    }
    let uid = util::uid_of(job).to_string();
    let name = util::name_of(job).to_string();
    for (k, v) in [
        (CONTROLLER_UID, &uid),
        (JOB_NAME, &name),
        (LEGACY_CONTROLLER_UID, &uid),
        (LEGACY_JOB_NAME, &name),
    ] {
        set_at(
            job,
            &["spec", "template", "metadata", "labels", k],
            json!(v),
        );
    }
    set_at(
        job,
        &["spec", "selector"],
        json!({ "matchLabels": { CONTROLLER_UID: uid } }),
    );
}

fn invalid(res: &ResourceDef, job: &Value, field: &str, value: &Value, msg: &str) -> ApiError {
    ApiError::invalid(
        res,
        util::name_of(job),
        field,
        "FieldValueInvalid",
        &format!("Invalid value: {value}: {msg}"),
    )
}

/// Field validation of a Job.
// Upstream: pkg/apis/batch/validation/validation.go, ValidateJob -> validateJobSpec
// (ValidateNonnegativeField for parallelism, completions, backoffLimit and
// activeDeadlineSeconds; the selector required and matching the template's labels) and
// validatePodTemplateSpec -> validateJobSpec's restart policy rule: Always (the pod
// default) or empty is "Required value: valid values: \"OnFailure\", \"Never\"", any
// other value not supported.
pub(crate) fn validate(res: &ResourceDef, job: &Value) -> Result<(), ApiError> {
    for field in [
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
    ] {
        if let Some(n) = at(job, &["spec", field]).and_then(Value::as_i64)
            && n < 0
        {
            let msg = "must be greater than or equal to 0";
            return Err(invalid(res, job, &format!("spec.{field}"), &json!(n), msg));
        }
    }
    let name = util::name_of(job);
    let policy = at(job, &["spec", "template", "spec", "restartPolicy"])
        .and_then(Value::as_str)
        .unwrap_or("");
    let field = "spec.template.spec.restartPolicy";
    match policy {
        "OnFailure" | "Never" => {}
        "Always" | "" => {
            return Err(ApiError::invalid(
                res,
                name,
                field,
                "FieldValueRequired",
                "Required value: valid values: \"OnFailure\", \"Never\"",
            ));
        }
        other => {
            return Err(ApiError::invalid(
                res,
                name,
                field,
                "FieldValueNotSupported",
                &format!(
                    "Unsupported value: {other:?}: supported values: \"OnFailure\", \"Never\""
                ),
            ));
        }
    }
    crate::validation::pod_spec(
        res,
        job,
        &["spec", "template", "spec"],
        &["OnFailure", "Never"],
    )?;
    let selector = at(job, &["spec", "selector"]).unwrap_or(&Value::Null);
    let manual = at(job, &["spec", "manualSelector"]) == Some(&json!(true));
    if !manual && selector.is_null() {
        // The server generates it on create (prepare_for_create, after this check).
        return Ok(());
    }
    if selector.as_object().is_none_or(|m| m.is_empty()) {
        return Err(ApiError::invalid(
            res,
            name,
            "spec.selector",
            "FieldValueRequired",
            "Required value",
        ));
    }
    let labels = at(job, &["spec", "template", "metadata", "labels"])
        .cloned()
        .unwrap_or(json!({}));
    if !LabelSelector::from_json(selector).matches(labels.as_object()) {
        return Err(invalid(
            res,
            job,
            "spec.template.metadata.labels",
            &labels,
            "`selector` does not match template `labels`",
        ));
    }
    Ok(())
}

/// What an update of a Job may not change: its selector, its pod template (but while
/// suspended) and, for NonIndexed Jobs, its completions.
// Upstream: pkg/apis/batch/validation/validation.go, ValidateJobSpecUpdate
// (apivalidation.ValidateImmutableField for selector, template and completions).
pub(crate) fn validate_update(res: &ResourceDef, old: &Value, new: &Value) -> Result<(), ApiError> {
    let suspended = at(old, &["spec", "suspend"]) == Some(&json!(true));
    for (field, path, mutable) in [
        ("spec.selector", &["spec", "selector"][..], false),
        ("spec.template", &["spec", "template"][..], suspended),
        ("spec.completions", &["spec", "completions"][..], false),
    ] {
        if !mutable && at(old, path) != at(new, path) {
            let shown = at(new, path).cloned().unwrap_or(Value::Null);
            return Err(invalid(res, new, field, &shown, "field is immutable"));
        }
    }
    Ok(())
}
