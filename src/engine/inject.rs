//! Changing the cluster: every fault (and every `apply`) is written ahead to the undo journal
//! before it happens, then registered for undo once it did. A fault whose intent cannot be
//! journaled is not injected.

use crate::backends::BackendError;
use crate::playbook::PlanStep;
use crate::playbook::model::Action;

use super::faults;
use super::{Outcome, Registered, Runner, UndoRecord};

impl Runner<'_> {
    /// Injects a fault: its undo is built once ([`faults::Fault::intent`]), journaled, handed to
    /// [`faults::Fault::inject`], and what that returns is the undo owed.
    pub(super) async fn inject(&mut self, s: &PlanStep, action: &Action) -> Outcome {
        let Some(fault) = faults::of(action) else {
            return Outcome::Passed {
                undo: None,
                verdict: None,
            };
        };
        let planned = match fault.intent(&self.b).await {
            Ok(planned) => planned,
            Err(e) => return Outcome::Error(e),
        };
        let id = match &planned {
            Some(planned) => match self.log.intent(&s.id, planned) {
                Ok(id) => Some(id),
                Err(e) => return journal_failed(&e),
            },
            None => None,
        };
        // Owed even if injecting fails part way (an etcd delete whose backup file the journal
        // names).
        let owed_on_error = planned.clone().filter(|r| fault.owed_if_failed(r));
        match (fault.inject(&self.b, planned).await, id, owed_on_error) {
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
            resources: faults::applied_refs(documents, namespace),
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
