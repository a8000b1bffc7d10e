//! Removing a finalizer kind-chaos added, including from an object that outlived its
//! namespace.
//!
//! Why it exists: after `namespace-delete` and `namespace-finalize` the namespace is gone but
//! an object held by our finalizer is still stored. The API server serves reads of it and
//! refuses every write into the missing namespace with a 404 (NamespaceLifecycle admission),
//! so "not found" no longer means "nothing left to undo". A 404 is therefore checked with a
//! read: the object gone is done; the object still there in a namespace that is gone is
//! undone as the seed's dangling-resources lab does it by hand — recreate the namespace,
//! remove exactly our finalizer, delete the namespace again — and each step is reported.
//! A recreated namespace carries [`RECREATED`], so a run killed half-way through leaves
//! `chaos recover` enough to delete it again.

use serde_json::json;

use crate::backends::{BackendError, DeleteOptions, ErrorKind, FinalizerOp, KubeOps};
use crate::playbook::model::ResourceRef;

/// Annotation on a namespace recreated to undo a finalizer; its value is the object.
pub(super) const RECREATED: &str = "kind-chaos.dev/recreated-to-undo";

/// `Ok(None)`: removed, or nothing to remove. `Ok(Some(steps))`: done, with what it took.
pub(super) async fn remove(
    kube: &dyn KubeOps,
    resource: &ResourceRef,
    finalizer: &str,
) -> Result<Option<String>, BackendError> {
    let first = kube
        .finalizer(resource, finalizer, FinalizerOp::Remove)
        .await;
    let e = match first {
        Ok(_) => return leftover_namespace(kube, resource).await,
        Err(e) if e.kind == ErrorKind::NotFound => e,
        Err(e) => return Err(e),
    };
    // A 404: the object, or only its namespace?
    match kube.get(resource).await {
        // Gone (or of a kind the server does not know): nothing holds it any more.
        Ok(None) => return leftover_namespace(kube, resource).await,
        Err(again) if again.kind == ErrorKind::NotFound => return Ok(None),
        Err(again) => return Err(again),
        Ok(Some(_)) => {}
    }
    let Some(ns) = resource.namespace.as_deref() else {
        return Err(e);
    };
    if kube.namespace(ns).await?.is_some() {
        // The object and its namespace are both there: the 404 is not explained.
        return Err(BackendError::failed(format!(
            "{}; yet {resource} is still stored and its namespace {ns} exists",
            e.message
        )));
    }
    through_recreated_namespace(kube, resource, finalizer, ns).await
}

/// The lab's sequence, reporting each step; the namespace is deleted again whatever
/// happened to the finalizer.
async fn through_recreated_namespace(
    kube: &dyn KubeOps,
    resource: &ResourceRef,
    finalizer: &str,
    ns: &str,
) -> Result<Option<String>, BackendError> {
    let mut steps = vec![format!(
        "namespace {ns} no longer exists, so the API server refuses changes to {resource} (still stored)"
    )];
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns, "annotations": {RECREATED: resource.to_string()}},
    });
    if let Err(e) = kube.apply(&[doc], None).await {
        steps.push(format!("recreating namespace {ns} failed: {}", e.message));
        return Err(BackendError {
            kind: e.kind,
            message: steps.join("; "),
        });
    }
    steps.push(format!("recreated namespace {ns}"));
    let removed = kube
        .finalizer(resource, finalizer, FinalizerOp::Remove)
        .await
        .map(|was_there| {
            if was_there {
                format!("removed finalizer {finalizer} from {resource}")
            } else {
                format!("finalizer {finalizer} was no longer on {resource}")
            }
        });
    let removing = format!("removing finalizer {finalizer}");
    let gone = format!("{resource} went meanwhile");
    let failure = note(&mut steps, removed, &removing, gone);
    let deleted = kube
        .delete(
            &ResourceRef::core("Namespace", None, ns),
            &DeleteOptions::default(),
        )
        .await
        .map(|()| format!("deleted namespace {ns} again"));
    let deleting = format!("deleting namespace {ns} again");
    let gone = format!("namespace {ns} was gone again");
    let failure = failure.or(note(&mut steps, deleted, &deleting, gone));
    if let Some(kind) = failure {
        return Err(BackendError {
            kind,
            message: steps.join("; "),
        });
    }
    steps.push(match kube.get(resource).await {
        Ok(None) => format!("{resource} is gone"),
        Ok(Some(obj)) => {
            let left = obj["metadata"]["finalizers"].as_array().map_or(0, Vec::len);
            format!("{resource} is still stored, held by {left} other finalizer(s)")
        }
        Err(e) => format!("could not check {resource} afterwards: {}", e.message),
    });
    Ok(Some(steps.join("; ")))
}

/// Notes how one step of the sequence went: its own words when it worked, `gone` when what
/// it would change was not found, else that `doing` failed; returns the failure's kind.
fn note(
    steps: &mut Vec<String>,
    done: Result<String, BackendError>,
    doing: &str,
    gone: String,
) -> Option<ErrorKind> {
    match done {
        Ok(text) => steps.push(text),
        Err(e) if e.kind == ErrorKind::NotFound => steps.push(gone),
        Err(e) => {
            steps.push(format!("{doing} failed: {}", e.message));
            return Some(e.kind);
        }
    }
    None
}

/// After a finalizer is off: a namespace an earlier, interrupted attempt recreated for this
/// object (and did not get to delete) is deleted now.
async fn leftover_namespace(
    kube: &dyn KubeOps,
    resource: &ResourceRef,
) -> Result<Option<String>, BackendError> {
    let Some(ns) = resource.namespace.as_deref() else {
        return Ok(None);
    };
    let ns_ref = ResourceRef::core("Namespace", None, ns);
    let obj = match kube.get(&ns_ref).await {
        Ok(Some(obj)) => obj,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Ok(Some(format!(
                "could not check whether namespace {ns} was left recreated by an interrupted undo: {}",
                e.message
            )));
        }
    };
    let ours = obj["metadata"]["annotations"][RECREATED].as_str() == Some(&resource.to_string());
    let deleting = !obj["metadata"]["deletionTimestamp"].is_null();
    if !ours || deleting {
        return Ok(None);
    }
    match kube.delete(&ns_ref, &DeleteOptions::default()).await {
        Ok(()) => Ok(Some(format!(
            "deleted namespace {ns} again (an interrupted undo had recreated it)"
        ))),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BackendError {
            kind: e.kind,
            message: format!(
                "namespace {ns}, recreated by an interrupted undo, could not be deleted again: {}",
                e.message
            ),
        }),
    }
}
