//! Deletion as the real registry does it: preconditions, propagation finalizers, graceful
//! pod deletion (grace from the request or the pod, 0 for unscheduled or finished pods),
//! finalizers holding objects, and the two-step namespace deletion.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::resources::ResourceDef;
use crate::store::State;
use crate::util::{self, at, set_at, str_at};

/// Namespaces the NamespaceLifecycle admission plugin refuses to delete.
const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// `DeleteOptions`, from the body or the query.
#[derive(Debug, Default, Clone)]
pub(crate) struct DeleteOpts {
    pub grace: Option<i64>,
    pub propagation: Option<String>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl DeleteOpts {
    pub(crate) fn parse(body: &Value, query: &[(String, String)]) -> Self {
        let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let mut propagation = body["propagationPolicy"]
            .as_str()
            .map(str::to_string)
            .or_else(|| q("propagationPolicy"));
        let orphan = body["orphanDependents"]
            .as_bool()
            .or_else(|| q("orphanDependents").map(|v| v == "true"));
        if propagation.is_none() {
            propagation = orphan.map(|o| if o { "Orphan" } else { "Background" }.to_string());
        }
        DeleteOpts {
            grace: body["gracePeriodSeconds"]
                .as_i64()
                .or_else(|| q("gracePeriodSeconds").and_then(|v| v.parse().ok())),
            propagation,
            uid: body["preconditions"]["uid"].as_str().map(str::to_string),
            resource_version: body["preconditions"]["resourceVersion"]
                .as_str()
                .map(str::to_string),
        }
    }
}

/// The grace period a pod delete gets: 0 for unscheduled or finished pods, else the
/// request's, else the pod's `terminationGracePeriodSeconds`.
fn pod_grace(pod: &Value, requested: Option<i64>) -> i64 {
    let unscheduled = str_at(pod, &["spec", "nodeName"]).is_none_or(str::is_empty);
    let finished = matches!(
        str_at(pod, &["status", "phase"]),
        Some("Succeeded" | "Failed")
    );
    if unscheduled || finished {
        return 0;
    }
    requested
        .unwrap_or_else(|| {
            pod["spec"]["terminationGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(30)
        })
        .max(0)
}

/// What a delete answers: the object (still there, or gone for kinds that return it) or a
/// success `Status`.
fn delete_answer(res: &ResourceDef, obj: Value, gone: bool) -> Value {
    if !gone || res.returns_deleted_object() {
        return obj;
    }
    let mut details =
        json!({ "name": util::name_of(&obj), "kind": res.plural, "uid": util::uid_of(&obj) });
    if !res.group.is_empty() {
        details["group"] = json!(res.group);
    }
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details })
}

/// DELETE of one object.
pub(crate) fn delete(
    st: &mut State,
    res: &Arc<ResourceDef>,
    ns: &str,
    name: &str,
    opts: &DeleteOpts,
) -> Result<Value, ApiError> {
    let old = st
        .get(res, ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(res, name))?;
    if let Some(uid) = &opts.uid
        && uid != util::uid_of(&old)
    {
        return Err(ApiError::conflict(
            res,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                util::uid_of(&old)
            ),
        ));
    }
    if let Some(rv) = &opts.resource_version
        && Some(rv.as_str()) != str_at(&old, &["metadata", "resourceVersion"])
    {
        return Err(ApiError::modified(res, name));
    }
    if res.is("", "namespaces") {
        return delete_namespace(st, res, old);
    }
    let mut obj = old.clone();
    let mut fins = util::finalizers(&obj);
    match opts.propagation.as_deref() {
        Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => {
            fins.push("foregroundDeletion".into())
        }
        Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
        Some("Background") => fins.retain(|f| f != "orphan" && f != "foregroundDeletion"),
        // Upstream: pkg/registry/batch/job/strategy.go, DefaultGarbageCollectionPolicy:
        // batch/v1 Jobs orphan their pods unless the client asks otherwise (kubectl asks
        // for Background).
        None if res.is("batch", "jobs")
            && !util::is_terminating(&old)
            && !fins.iter().any(|f| f == "orphan") =>
        {
            fins.push("orphan".into())
        }
        _ => {}
    }
    util::set_finalizers(&mut obj, &fins);
    let grace = if res.is("", "pods") {
        pod_grace(&old, opts.grace)
    } else {
        0
    };
    if util::is_terminating(&old) {
        let current = old["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(0);
        if grace < current {
            set_at(
                &mut obj,
                &["metadata", "deletionGracePeriodSeconds"],
                json!(grace),
            );
            set_at(
                &mut obj,
                &["metadata", "deletionTimestamp"],
                json!(util::now_plus(grace)),
            );
        }
    } else if grace == 0 && fins.is_empty() {
        let gone = st.remove(res, ns, name).unwrap_or(old);
        return Ok(delete_answer(res, gone, true));
    } else {
        set_at(
            &mut obj,
            &["metadata", "deletionGracePeriodSeconds"],
            json!(grace),
        );
        set_at(
            &mut obj,
            &["metadata", "deletionTimestamp"],
            json!(util::now_plus(grace)),
        );
    }
    let (out, gone) = st.update(res, &old, obj);
    Ok(delete_answer(res, out, gone))
}

/// First delete: Terminating (the namespace controller takes it from there); later ones:
/// 409 while `spec.finalizers` is not empty, else the namespace goes.
fn delete_namespace(st: &mut State, res: &Arc<ResourceDef>, old: Value) -> Result<Value, ApiError> {
    let name = util::name_of(&old).to_string();
    if IMMORTAL_NAMESPACES.contains(&name.as_str()) {
        return Err(ApiError::forbidden(
            res,
            &name,
            "this namespace may not be deleted",
        ));
    }
    if !util::is_terminating(&old) {
        let mut obj = old.clone();
        set_at(
            &mut obj,
            &["metadata", "deletionTimestamp"],
            json!(util::now()),
        );
        set_at(
            &mut obj,
            &["metadata", "deletionGracePeriodSeconds"],
            json!(0),
        );
        set_at(&mut obj, &["status", "phase"], json!("Terminating"));
        // With `spec.finalizers` already empty this removes it at once (as the namespace
        // controller would a moment later); otherwise it stays Terminating.
        let (out, _) = st.update(res, &old, obj);
        return Ok(out);
    }
    if !spec_finalizers(&old).is_empty() {
        return Err(ApiError::conflict(
            res,
            &name,
            "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
        ));
    }
    purge_namespace(st, res, &old);
    Ok(old)
}

pub(crate) fn spec_finalizers(ns: &Value) -> Vec<String> {
    at(ns, &["spec", "finalizers"])
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Removes a terminating namespace whose `spec.finalizers` is empty (metadata finalizers
/// still hold it). Objects left in it stay stored.
pub(crate) fn purge_namespace(st: &mut State, res: &Arc<ResourceDef>, ns: &Value) {
    if util::finalizers(ns).is_empty() {
        st.remove(res, "", util::name_of(ns));
    }
}
