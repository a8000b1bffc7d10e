//! The undo of `apply`: deleting what was applied. Applying is not a fault (it prepares the
//! experiment, see `engine/inject.rs`), but what it created is owed back like a fault's change.

use crate::backends::{BackendError, DeleteOptions, ErrorKind, KubeOps, Result};
use crate::playbook::model::{Propagation, ResourceRef};

use super::super::backends::Backends;

/// What applying these documents will create, for the journal (the namespace of a document
/// that names none is the step's, else `default`; cluster-scoped kinds are not known before
/// discovery, so the applied record, which comes from the server, replaces this one).
pub fn applied_refs(documents: &[serde_json::Value], namespace: Option<&str>) -> Vec<ResourceRef> {
    documents
        .iter()
        .map(|d| ResourceRef::of_document(d, namespace))
        .collect()
}

pub fn delete_text(resources: &[ResourceRef]) -> String {
    let names: Vec<String> = resources.iter().map(ToString::to_string).collect();
    format!("delete what was applied: {}", names.join(", "))
}

/// Deletes what was applied, newest first; every failure is reported, none stops the rest.
pub async fn delete(b: &Backends, resources: &[ResourceRef]) -> Result<Option<String>> {
    let kube = b.kube().await?;
    let mut failures = Vec::new();
    for r in resources.iter().rev() {
        if let Err(e) = delete_confirmed(kube.as_ref(), r).await {
            failures.push(format!("{r}: {e}"));
        }
    }
    if !failures.is_empty() {
        return Err(BackendError::failed(failures.join("; ")));
    }
    Ok(None)
}

/// Deletes `r`; a 404 counts as done only once a read confirms the object is gone (deletes
/// are never refused for a missing namespace, but a 404 that leaves the object stored must
/// not be reported as undone). A read that finds it after the 404 means the server answered
/// from a cache that had not yet seen it (an etcd value just restored by an earlier undo): the
/// delete is sent again, a few times, before that is reported.
async fn delete_confirmed(kube: &dyn KubeOps, r: &ResourceRef) -> Result<()> {
    const TRIES: u32 = 5;
    let mut tries = 0;
    loop {
        tries += 1;
        // Background propagation, as `kubectl delete -f` sends: an applied batch/v1 Job
        // deleted without a policy would orphan its pods (the Job's default policy).
        let opts = DeleteOptions {
            propagation: Some(Propagation::Background),
            ..DeleteOptions::default()
        };
        match kube.delete(r, &opts).await {
            Err(e) if e.kind == ErrorKind::NotFound => match kube.get(r).await {
                // Gone, or of a kind the server does not know (nothing of it can exist).
                Ok(None) => return Ok(()),
                Err(again) if again.kind == ErrorKind::NotFound => return Ok(()),
                Ok(Some(_)) if tries < TRIES => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Ok(Some(_)) => {
                    return Err(BackendError::failed(format!(
                        "{}, yet it is still stored",
                        e.message
                    )));
                }
                Err(again) => return Err(again),
            },
            other => return other,
        }
    }
}
