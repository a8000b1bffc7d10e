//! NamespaceLifecycle admission, as the real API server applies it to every namespaced write.
//!
//! Why it exists: kind-chaos's undo of a finalizer must cope with a pod that outlived its
//! namespace (`/finalize` removed the namespace, the pod is still stored): the real server
//! serves reads of that pod but refuses every write into the missing namespace with a 404
//! that names the namespace, not the pod. Without this rule the fake would accept the write
//! and hide that case from the tests. Creates are checked where objects are created
//! ([`admit_create`], called by `semantics::create`, so controllers and knobs obey it too);
//! updates, patches and subresource writes arriving over HTTP are checked by [`admit_request`]
//! before the handler runs.

use serde_json::json;

use crate::Shared;
use crate::error::ApiError;
use crate::resources::ResourceDef;
use crate::router::{Req, Target, name_of, ns_or_empty};
use crate::store::State;
use crate::util::{self, str_at};

/// Whether the namespace is on its way out (phase `Terminating`, or already marked deleted).
fn terminating(ns: &serde_json::Value) -> bool {
    util::is_terminating(ns) || str_at(ns, &["status", "phase"]) == Some("Terminating")
}

/// The 404 of a missing namespace: `namespaces "X" not found`, details `{name: X, kind:
/// namespaces}` (the error of the namespace lookup, returned as is).
fn namespace_missing(st: &State, ns: &str) -> ApiError {
    ApiError::not_found(&st.reg.namespaces(), ns)
}

// Upstream: staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go, (*Lifecycle).Admit.
/// A create of `name` (a `res`) into namespace `ns`: 404 when the namespace does not exist,
/// 403 `NamespaceTerminating` when it is being deleted.
pub(crate) fn admit_create(
    st: &State,
    res: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<(), ApiError> {
    match st.get(&st.reg.namespaces(), "", ns) {
        None => Err(namespace_missing(st, ns)),
        Some(n) if terminating(n) => Err(ApiError::forbidden(
            res,
            name,
            &format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        )
        .with_details(json!({
            "name": name,
            "kind": res.plural,
            "causes": [{
                "reason": "NamespaceTerminating",
                "message": format!("namespace {ns} is being terminated"),
                "field": "metadata.namespace",
            }],
        }))),
        Some(_) => Ok(()),
    }
}

// Upstream: staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go, (*Lifecycle).Admit.
/// An HTTP write to one named object (PUT, PATCH, POST to a subresource) of a namespaced kind:
/// deletes and writes to namespaces themselves always pass; a write to an object that is not
/// stored is left to the handler (the real server reads the object before admission, so its
/// own 404 or the create path answers); otherwise the namespace must exist, and a POST to a
/// subresource (`eviction`, `binding`: creates) must not go into a terminating namespace.
pub(crate) fn admit_request(shared: &Shared, r: &Req, t: &Target) -> Result<(), ApiError> {
    let write = matches!(r.method.as_str(), "PUT" | "PATCH" | "POST");
    if !write || !t.res.namespaced || t.name.is_none() {
        return Ok(());
    }
    let st = shared.lock();
    let (ns, name) = (ns_or_empty(t), name_of(t));
    if st.get(&t.res, ns, name).is_none() {
        return Ok(());
    }
    if r.method == "POST" {
        return admit_create(&st, &t.res, ns, name);
    }
    match st.get(&st.reg.namespaces(), "", ns) {
        None => Err(namespace_missing(&st, ns)),
        Some(_) => Ok(()),
    }
}

/// The DefaultTolerationSeconds admission plugin's default (`--default-not-ready-toleration-seconds`
/// and `--default-unreachable-toleration-seconds`).
pub(crate) const DEFAULT_TOLERATION_SECONDS: i64 = 300;

// Upstream: plugin/pkg/admission/defaulttolerationseconds/admission.go, (*Plugin).Admit.
/// A created pod that does not already tolerate the `not-ready` / `unreachable` NoExecute
/// taints (a toleration with that key or no key, and effect NoExecute or none) gets one for
/// [`DEFAULT_TOLERATION_SECONDS`].
pub(crate) fn default_toleration_seconds(pod: &mut serde_json::Value) {
    let existing = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut added = existing.clone();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = existing.iter().any(|t| {
            let k = t["key"].as_str().unwrap_or("");
            let e = t["effect"].as_str().unwrap_or("");
            (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
        });
        if !tolerated {
            added.push(json!({
                "key": key, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
    if added.len() != existing.len() {
        util::set_at(pod, &["spec", "tolerations"], json!(added));
    }
}
