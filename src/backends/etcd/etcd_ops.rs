//! [`EtcdOps`] for [`EtcdClient`]: the engine's view of etcd, on the paged reads of
//! [`super::range`] and the backed-up delete and guarded restore of [`super::delete_restore`].

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{BackupFile, EtcdClient, EtcdError, backup, range};
use crate::backends::{EtcdBackup, EtcdOps, EtcdSelector, RestoreReport, Result};

#[async_trait]
impl EtcdOps for EtcdClient {
    async fn read(&self, selector: &EtcdSelector) -> Result<EtcdBackup> {
        let (revision, kvs) = self.read_at_one_revision(selector).await?;
        Ok(EtcdBackup {
            revision,
            entries: kvs.into_iter().map(|e| e.entry).collect(),
        })
    }

    fn backup_path(&self, selector: &EtcdSelector) -> Option<PathBuf> {
        Some(backup::default_path(&self.backup_dir, selector))
    }

    async fn delete(&self, selector: &EtcdSelector, backup: Option<&Path>) -> Result<EtcdBackup> {
        let path = backup.map_or_else(
            || backup::default_path(&self.backup_dir, selector),
            Path::to_path_buf,
        );
        let report = self.delete_with_backup(selector, &path).await?;
        if !report.backup.entries.is_empty() {
            // Logged under the etcd backend's own target, as before this impl had a file of
            // its own: `-vv` shows it as `[kind_chaos::backends::etcd]`.
            tracing::info!(
                target: "kind_chaos::backends::etcd",
                "etcd: deleted {} key(s) of {selector}; backup in {}",
                report.backup.entries.len(),
                path.display()
            );
        }
        Ok(report.backup)
    }

    async fn restore(&self, backup: &EtcdBackup, force: bool) -> Result<RestoreReport> {
        Ok(self.restore_entries(&backup.entries, force).await?)
    }

    async fn restore_file(&self, path: &Path, force: bool) -> Result<Option<RestoreReport>> {
        if std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            return Ok(None);
        }
        // Named by a journal: restored only if it is this user's own, like the journal.
        crate::state_dir::check_own(path).map_err(|e| EtcdError::backup(path, e))?;
        let file = BackupFile::read(path)?;
        Ok(Some(
            self.restore_entries(&file.to_backup().entries, force)
                .await?,
        ))
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.count_range(key.as_bytes(), &[]).await? > 0)
    }

    async fn count(&self, prefix: &str) -> Result<u64> {
        let end = range::prefix_end(prefix.as_bytes());
        Ok(self
            .count_range(&range::range_start(prefix.as_bytes()), &end)
            .await?)
    }
}
