//! `etcd-delete`: deleting a raw key or every key under a prefix, behind the API server's back.
//! The values are backed up first, and the journal names the backup file before the first key
//! is deleted; the undo restores exactly what that file holds.

use std::path::Path;

use async_trait::async_trait;

use crate::backends::{BackendError, EtcdBackup, EtcdSelector, RestoreReport, Result};
use crate::playbook::model::{self, EtcdTarget};

use super::super::backends::Backends;
use super::{Fault, UndoRecord};

family! {
    EtcdDelete(model::EtcdDelete),
}

impl EtcdDelete<'_> {
    fn selector(&self) -> EtcdSelector {
        match &self.0.target {
            EtcdTarget::Key(k) => EtcdSelector::Key(k.clone()),
            EtcdTarget::Prefix(p) => EtcdSelector::Prefix(p.clone()),
        }
    }
}

#[async_trait]
impl Fault for EtcdDelete<'_> {
    fn describe(&self) -> String {
        match &self.0.target {
            EtcdTarget::Key(k) => format!("delete etcd key {k} (backed up first)"),
            EtcdTarget::Prefix(p) => format!("delete etcd keys under {p} (backed up first)"),
        }
    }

    /// Names no backup yet: [`Fault::intent`] adds the file the backend will write.
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::EtcdRestore {
            selector: self.selector(),
            file: None,
            deleted: None,
            backup: EtcdBackup::default(),
        })
    }

    fn planned(&self) -> Option<String> {
        Some(format!(
            "restore the deleted etcd values of {} from their backup",
            self.selector()
        ))
    }

    /// The backup file the backend will write before it deletes anything (the undo restores
    /// exactly what that file holds, the values at the delete's own revision), or, for a
    /// backend that keeps no file, the values read now.
    async fn intent(&self, b: &Backends) -> Result<Option<UndoRecord>> {
        let selector = self.selector();
        let etcd = b.etcd().await?;
        let (file, backup) = match etcd.backup_path(&selector) {
            Some(file) => (Some(file), EtcdBackup::default()),
            None => (None, etcd.read(&selector).await?),
        };
        Ok(Some(UndoRecord::EtcdRestore {
            selector,
            file,
            deleted: None,
            backup,
        }))
    }

    /// Writes the backup to the file the intent named (else where the backend chooses); the
    /// undo then names that file. A backend that keeps no backup file returns the values, and
    /// the undo holds them.
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let selector = self.selector();
        let named = match undo {
            Some(UndoRecord::EtcdRestore { file, .. }) => file,
            _ => None,
        };
        let etcd = b.etcd().await?;
        let file = named.or_else(|| etcd.backup_path(&selector));
        let backup = etcd.delete(&selector, file.as_deref()).await?;
        if backup.entries.is_empty() {
            return Ok(None);
        }
        let deleted = Some(backup.entries.len());
        Ok(Some(match file {
            Some(file) => UndoRecord::EtcdRestore {
                selector,
                file: Some(file),
                deleted,
                backup: EtcdBackup::default(),
            },
            None => UndoRecord::EtcdRestore {
                selector,
                file: None,
                deleted,
                backup,
            },
        }))
    }

    /// A delete that fails part way may have deleted keys. Their backup file is written before
    /// the first delete, so the undo stays owed (the restore of a file that was never written
    /// says that nothing was deleted).
    fn owed_if_failed(&self, undo: &UndoRecord) -> bool {
        matches!(undo, UndoRecord::EtcdRestore { file: Some(_), .. })
    }
}

pub fn restore_text(
    selector: &EtcdSelector,
    file: Option<&Path>,
    deleted: Option<usize>,
    backup: &EtcdBackup,
) -> String {
    match (file, deleted) {
        (Some(file), Some(n)) => format!(
            "restore {n} etcd value(s) of {selector} from {}",
            file.display()
        ),
        (Some(file), None) => format!(
            "restore the etcd values of {selector} that were deleted, from {}",
            file.display()
        ),
        (None, _) => format!(
            "restore {} etcd value(s) of {selector}",
            backup.entries.len()
        ),
    }
}

/// The undo of `etcd-delete`: the values from the backup file (or, from backends that keep
/// none, from the record); keys written again since the delete are left as they are.
pub async fn restore(
    b: &Backends,
    file: Option<&Path>,
    deleted: Option<usize>,
    backup: &EtcdBackup,
) -> Result<Option<String>> {
    let Some(file) = file else {
        let report = b.etcd().await?.restore(backup, false).await?;
        return Ok(skipped_note(&report));
    };
    match b.etcd().await?.restore_file(file, false).await? {
        Some(report) => Ok(skipped_note(&report)),
        None => match deleted {
            Some(n) if n > 0 => Err(BackendError::failed(format!(
                "the backup file {} of the {n} deleted value(s) is gone; they cannot be restored",
                file.display()
            ))),
            // The delete writes its file before it deletes anything.
            _ => Ok(Some(
                "nothing had been deleted (the delete wrote no backup file)".into(),
            )),
        },
    }
}

/// What a restore left alone, worth saying: keys written again since the delete are never
/// overwritten.
fn skipped_note(report: &RestoreReport) -> Option<String> {
    (!report.skipped.is_empty()).then(|| {
        format!(
            "{} key(s) were written again since and were left as they are: {}",
            report.skipped.len(),
            report.skipped.join(", ")
        )
    })
}
