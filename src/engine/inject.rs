//! Changing the cluster: every fault (and every `apply`) is written ahead to the undo journal
//! before it happens, then registered for undo once it did. A fault whose intent cannot be
//! journaled is not injected.

use crate::backends::BackendError;
use crate::playbook::PlanStep;
use crate::playbook::model::{Action, EtcdDelete};

use super::{Backends, Outcome, Registered, Runner, UndoRecord, faults, undo};

impl Runner<'_> {
    pub(super) async fn inject(&mut self, s: &PlanStep, action: &Action) -> Outcome {
        let planned = match action {
            // What the undo restores from is journaled before anything is deleted.
            Action::EtcdDelete(e) => match etcd_intent(&self.b, e).await {
                Ok(record) => Some(record),
                Err(e) => return Outcome::Error(e),
            },
            other => undo::record_for(other),
        };
        let id = match &planned {
            Some(planned) => match self.log.intent(&s.id, planned) {
                Ok(id) => Some(id),
                Err(e) => return journal_failed(&e),
            },
            None => None,
        };
        // An etcd delete with a backup file named in the journal writes exactly that file; if
        // it fails part way, that record is still owed.
        let owed_on_error = planned
            .clone()
            .filter(|r| matches!(r, UndoRecord::EtcdRestore { file: Some(_), .. }));
        let result = match &owed_on_error {
            Some(UndoRecord::EtcdRestore {
                selector,
                file: Some(file),
                ..
            }) => faults::etcd_delete(&self.b, selector, Some(file)).await,
            _ => faults::inject(&self.b, action).await,
        };
        match (result, id, owed_on_error) {
            (Ok(Some(record)), id, _) => {
                let id = id.unwrap_or_default();
                self.log.applied(id, &record);
                passed(Registered {
                    step: s.id.clone(),
                    id,
                    record,
                })
            }
            (Ok(None), id, _) => {
                if let Some(id) = id {
                    self.log.cancelled(id);
                }
                Outcome::Passed {
                    undo: None,
                    verdict: None,
                }
            }
            // A delete that failed part way may have deleted keys. Their backup file is
            // written before the first delete, so the undo stays owed (the restore of a file
            // that was never written says that nothing was deleted).
            (Err(error), Some(id), Some(record)) => {
                self.log.applied(id, &record);
                Outcome::Partial {
                    error,
                    undo: Registered {
                        step: s.id.clone(),
                        id,
                        record,
                    },
                }
            }
            (Err(e), id, _) => {
                if let Some(id) = id {
                    self.log.cancelled(id);
                }
                Outcome::Error(e)
            }
        }
    }

    pub(super) async fn apply(
        &mut self,
        s: &PlanStep,
        documents: &[serde_json::Value],
        namespace: Option<&str>,
    ) -> Outcome {
        // Connect first: an API server that cannot be reached has changed nothing, so no undo
        // is owed (and the run exits 3, not 5).
        let kube = match self.b.kube().await {
            Ok(k) => k,
            Err(e) => return Outcome::Error(e),
        };
        let planned = UndoRecord::DeleteApplied {
            resources: undo::applied_refs(documents, namespace),
        };
        let id = match self.log.intent(&s.id, &planned) {
            Ok(id) => id,
            Err(e) => return journal_failed(&e),
        };
        match kube.apply(documents, namespace).await {
            Ok(resources) => {
                let record = UndoRecord::DeleteApplied { resources };
                self.log.applied(id, &record);
                passed(Registered {
                    step: s.id.clone(),
                    id,
                    record,
                })
            }
            Err(error) => {
                // Some documents may be applied already: their deletion stays owed.
                self.log.applied(id, &planned);
                Outcome::Partial {
                    error,
                    undo: Registered {
                        step: s.id.clone(),
                        id,
                        record: planned,
                    },
                }
            }
        }
    }
}

/// The intent of an `etcd-delete`: the backup file the backend will write before it deletes
/// anything (the undo restores exactly what that file holds, the values at the delete's own
/// revision), or, for a backend that keeps no file, the values read now.
async fn etcd_intent(b: &Backends, e: &EtcdDelete) -> Result<UndoRecord, BackendError> {
    let Some(UndoRecord::EtcdRestore { selector, .. }) =
        undo::record_for(&Action::EtcdDelete(e.clone()))
    else {
        return Err(BackendError::failed("etcd-delete needs a key or a prefix"));
    };
    let etcd = b.etcd().await?;
    let (file, backup) = match etcd.backup_path(&selector) {
        Some(file) => (Some(file), Default::default()),
        None => (None, etcd.read(&selector).await?),
    };
    Ok(UndoRecord::EtcdRestore {
        selector,
        file,
        deleted: None,
        backup,
    })
}

fn passed(r: Registered) -> Outcome {
    Outcome::Passed {
        undo: Some(r),
        verdict: None,
    }
}

fn journal_failed(e: &str) -> Outcome {
    Outcome::Error(BackendError::failed(format!(
        "cannot write the undo journal ({e}); not injecting a fault that could not be recovered"
    )))
}
