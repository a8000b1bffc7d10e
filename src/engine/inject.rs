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
        let (owed, error) = match fault.inject(&self.b, planned).await {
            Ok(owed) => (owed, None),
            Err(e) => (owed_on_error.filter(|_| id.is_some()), Some(e)),
        };
        if let Some(record) = owed {
            return self.owe(s, id.unwrap_or_default(), record, error);
        }
        if let Some(id) = id {
            self.log.cancelled(id);
        }
        match error {
            Some(e) => Outcome::Error(e),
            None => Outcome::Passed {
                undo: None,
                verdict: None,
            },
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
            Ok(resources) => self.owe(s, id, UndoRecord::DeleteApplied { resources }, None),
            // Some documents may be applied already: their deletion stays owed.
            Err(error) => self.owe(s, id, planned, Some(error)),
        }
    }

    /// Journals `record` as applied and registers it for undo; with `error`, the change
    /// failed part way and the record stays owed.
    fn owe(
        &mut self,
        s: &PlanStep,
        id: u64,
        record: UndoRecord,
        error: Option<BackendError>,
    ) -> Outcome {
        self.log.applied(id, &record);
        let undo = Registered {
            step: s.id.clone(),
            id,
            record,
        };
        match error {
            None => Outcome::Passed {
                undo: Some(undo),
                verdict: None,
            },
            Some(error) => Outcome::Partial { error, undo },
        }
    }
}

fn journal_failed(e: &str) -> Outcome {
    Outcome::Error(BackendError::failed(format!(
        "cannot write the undo journal ({e}); not injecting a fault that could not be recovered"
    )))
}
