//! What the real API server does on create and update: defaults, server-owned metadata,
//! validation, NamespaceLifecycle admission, the status and finalize parts of an object,
//! and the finalizer rule on objects being deleted. Deletion is in [`crate::deletion`].
//! All functions work on the locked [`State`].

pub(crate) use crate::deletion::{DeleteOpts, delete, purge_namespace, spec_finalizers};

use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::resources::ResourceDef;
use crate::store::State;
use crate::util::{self, at, set_at, str_at};

/// Metadata the server owns: kept from the stored object on every update.
const SERVER_METADATA: [&str; 6] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "managedFields",
];

/// Kinds whose objects carry `metadata.generation`.
fn has_generation(res: &ResourceDef) -> bool {
    res.is_custom() || matches!(res.group.as_str(), "apps" | "batch") || res.is("", "pods")
}

/// Checks (and fills in) apiVersion, kind, name and namespace of a body sent to `res`.
pub(crate) fn check_identity(
    res: &ResourceDef,
    ns: Option<&str>,
    url_name: Option<&str>,
    obj: &mut Value,
) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    match obj.get("kind").and_then(Value::as_str) {
        Some(k) if !k.is_empty() && k != res.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind of the object ({k}) does not match the kind of the request ({})",
                res.kind
            )));
        }
        _ => obj["kind"] = json!(res.kind),
    }
    obj["apiVersion"] = json!(res.api_version());
    if let Some(url_name) = url_name {
        match str_at(obj, &["metadata", "name"]) {
            Some(n) if !n.is_empty() && n != url_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({url_name})"
                )));
            }
            _ => set_at(obj, &["metadata", "name"], json!(url_name)),
        }
    }
    if res.namespaced {
        let ns = ns.unwrap_or("default");
        match str_at(obj, &["metadata", "namespace"]) {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => set_at(obj, &["metadata", "namespace"], json!(ns)),
        }
    } else {
        util::remove_at(obj, &["metadata", "namespace"]);
    }
    Ok(())
}

/// Field validation the tests can run into (422 Invalid).
pub(crate) fn validate(res: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    let name = util::name_of(obj);
    if name.is_empty() {
        return Err(ApiError::invalid(
            res,
            name,
            "metadata.name",
            "FieldValueRequired",
            "Required value: name or generateName is required",
        ));
    }
    if let Some(problem) = util::name_problem(name) {
        return Err(ApiError::invalid(
            res,
            name,
            "metadata.name",
            "FieldValueInvalid",
            &problem,
        ));
    }
    crate::validation::object_meta(res, obj)?;
    if res.is("", "pods") {
        let policies = ["Always", "OnFailure", "Never"];
        crate::validation::pod_spec(res, obj, &["spec"], &policies)?;
    }
    if res.is("batch", "jobs") {
        crate::jobs::validate(res, obj)?;
    }
    if res.is("apps", "deployments") || res.is("apps", "replicasets") {
        crate::validation::workload(res, obj)?;
        let selector = at(obj, &["spec", "selector"]).unwrap_or(&Value::Null);
        let labels = at(obj, &["spec", "template", "metadata", "labels"])
            .cloned()
            .unwrap_or(json!({}));
        let sel = crate::select::LabelSelector::from_json(selector);
        let empty = selector.as_object().is_none_or(|m| m.is_empty());
        if empty || !sel.matches(labels.as_object()) {
            return Err(ApiError::invalid(
                res,
                name,
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                &format!("Invalid value: {labels}: `selector` does not match template `labels`"),
            ));
        }
    }
    Ok(())
}

fn default_pod_spec(spec: &mut Value) {
    let defaults = [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("securityContext", json!({})),
    ];
    let m = util::obj_mut(spec);
    for (k, v) in defaults {
        m.entry(k).or_insert(v);
    }
}

/// Kind-specific defaults and server-set status on create.
fn defaults(st: &mut State, res: &ResourceDef, obj: &mut Value) {
    let name = util::name_of(obj).to_string();
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "pods") => {
            default_pod_spec(&mut obj["spec"]);
            obj["status"] = json!({ "phase": "Pending", "qosClass": "BestEffort" });
        }
        ("", "namespaces") => {
            set_at(
                obj,
                &["metadata", "labels", "kubernetes.io/metadata.name"],
                json!(name),
            );
            set_at(obj, &["spec", "finalizers"], json!(["kubernetes"]));
            obj["status"] = json!({ "phase": "Active" });
        }
        ("apps", "deployments") => {
            let spec = util::obj_mut(&mut obj["spec"]);
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("progressDeadlineSeconds").or_insert(json!(600));
            spec.entry("strategy").or_insert(
                json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } }),
            );
            default_pod_spec(&mut obj["spec"]["template"]["spec"]);
            obj["status"] = json!({});
        }
        ("apps", "replicasets") => {
            util::obj_mut(&mut obj["spec"])
                .entry("replicas")
                .or_insert(json!(1));
            default_pod_spec(&mut obj["spec"]["template"]["spec"]);
            obj["status"] = json!({ "replicas": 0 });
        }
        ("batch", "jobs") => {
            crate::jobs::defaults(obj);
            default_pod_spec(&mut obj["spec"]["template"]["spec"]);
            crate::jobs::prepare_for_create(obj);
            // Defaulting runs again as the stored object is read back: the Job takes the
            // template's (now generated) labels when it has none of its own.
            crate::jobs::defaults(obj);
        }
        ("", "services") => {
            let ip = format!(
                "10.96.{}.{}",
                st.rng.next() % 250 + 1,
                st.rng.next() % 250 + 2
            );
            let spec = util::obj_mut(&mut obj["spec"]);
            spec.entry("type").or_insert(json!("ClusterIP"));
            spec.entry("sessionAffinity").or_insert(json!("None"));
            if !spec.contains_key("clusterIP") {
                spec.insert("clusterIP".into(), json!(ip));
                spec.insert("clusterIPs".into(), json!([ip]));
            }
            obj["status"] = json!({ "loadBalancer": {} });
        }
        _ => {}
    }
}

/// Create: POST to a collection (and the create half of server-side apply).
pub(crate) fn create(
    st: &mut State,
    res: &Arc<ResourceDef>,
    ns: Option<&str>,
    mut obj: Value,
) -> Result<Value, ApiError> {
    check_identity(res, ns, None, &mut obj)?;
    if util::name_of(&obj).is_empty()
        && let Some(prefix) = str_at(&obj, &["metadata", "generateName"]).map(str::to_string)
    {
        let name = format!("{prefix}{}", st.rng.suffix(5));
        set_at(&mut obj, &["metadata", "name"], json!(name));
    }
    validate(res, &obj)?;
    let name = util::name_of(&obj).to_string();
    if res.namespaced {
        crate::admission::admit_create(st, res, util::namespace_of(&obj), &name)?;
    }
    if res.is("", "pods") {
        crate::admission::default_toleration_seconds(&mut obj);
    }
    if st.get(res, util::namespace_of(&obj), &name).is_some() {
        return Err(ApiError::already_exists(res, &name));
    }
    for k in SERVER_METADATA
        .iter()
        .chain(&["resourceVersion", "selfLink"])
    {
        util::remove_at(&mut obj, &["metadata", k]);
    }
    st.stamp_new(&mut obj);
    if has_generation(res) {
        set_at(&mut obj, &["metadata", "generation"], json!(1));
    }
    defaults(st, res, &mut obj);
    st.try_create(res, obj).map_err(|(api, _)| api)
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The main resource: status is kept (for kinds with a status subresource).
    Main,
    /// `/status`: only status changes.
    Status,
    /// `/finalize` (namespaces): only `spec.finalizers` changes.
    Finalize,
}

/// Update (PUT, and the end of every PATCH): `new` replaces `old` under the real rules.
pub(crate) fn update(
    st: &mut State,
    res: &Arc<ResourceDef>,
    old: &Value,
    mut new: Value,
    part: Part,
) -> Result<(Value, bool), ApiError> {
    let name = util::name_of(old).to_string();
    let ns = util::namespace_of(old).to_string();
    check_identity(
        res,
        res.namespaced.then_some(ns.as_str()),
        Some(&name),
        &mut new,
    )?;
    match str_at(&new, &["metadata", "resourceVersion"]) {
        Some(rv) if !rv.is_empty() && Some(rv) != str_at(old, &["metadata", "resourceVersion"]) => {
            return Err(ApiError::modified(res, &name));
        }
        _ => {}
    }
    if let Some(uid) = str_at(&new, &["metadata", "uid"])
        && !uid.is_empty()
        && uid != util::uid_of(old)
    {
        return Err(ApiError::conflict(
            res,
            &name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                util::uid_of(old)
            ),
        ));
    }
    let new = match part {
        Part::Status => {
            let mut out = old.clone();
            out["status"] = new.get("status").cloned().unwrap_or(Value::Null);
            out
        }
        Part::Finalize => {
            let mut out = old.clone();
            let fins = at(&new, &["spec", "finalizers"])
                .cloned()
                .unwrap_or(json!([]));
            set_at(&mut out, &["spec", "finalizers"], fins);
            out
        }
        Part::Main => {
            for k in SERVER_METADATA {
                match old["metadata"].get(k) {
                    Some(v) => set_at(&mut new, &["metadata", k], v.clone()),
                    None => {
                        util::remove_at(&mut new, &["metadata", k]);
                    }
                }
            }
            if res.has_status() {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        util::remove_at(&mut new, &["status"]);
                    }
                }
            }
            if res.is("", "namespaces") {
                set_at(
                    &mut new,
                    &["spec", "finalizers"],
                    at(old, &["spec", "finalizers"])
                        .cloned()
                        .unwrap_or(json!([])),
                );
            }
            if matches!(res.group.as_str(), "apps" | "batch")
                && new["spec"]["template"]["spec"].is_object()
            {
                // Defaults apply to every decoded object, updates too
                // (pkg/apis/apps/v1/zz_generated.defaults.go, SetObjectDefaults_Deployment and
                // friends), so a PUT without them does not change the template's hash.
                default_pod_spec(&mut new["spec"]["template"]["spec"]);
            }
            if res.is("", "pods") && new["spec"].is_object() {
                default_pod_spec(&mut new["spec"]);
            }
            validate(res, &new)?;
            // The stored object is defaulted as it is read too (upstream decodes it with
            // defaults), so only what the client changed counts.
            let mut stored = old.clone();
            if res.is("", "pods") && stored["spec"].is_object() {
                default_pod_spec(&mut stored["spec"]);
            }
            crate::validation::update(res, &stored, &new)?;
            if has_generation(res) && spec_changed(old, &new) {
                let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                set_at(&mut new, &["metadata", "generation"], json!(g));
            }
            new
        }
    };
    if util::is_terminating(old) {
        let before = util::finalizers(old);
        let added: Vec<String> = util::finalizers(&new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            return Err(ApiError::invalid(
                res,
                &name,
                "metadata.finalizers",
                "FieldValueForbidden",
                &format!(
                    "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                ),
            ));
        }
    }
    st.try_update(res, old, new).map_err(|(api, _)| api)
}

fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}
