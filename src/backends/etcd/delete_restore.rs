//! Delete with a backup, and restore: the two halves of the etcd fault.
//!
//! The delete does not remove a value the backup file does not hold. It reads the keys at one
//! revision and writes the backup file. For a prefix, one transaction then deletes the whole
//! range if nothing under it was written since that revision (the common case: one request
//! and one fsync in etcd for 10,000 keys). Otherwise it deletes in transactions guarded on each key's
//! `mod_revision` (with `prev_kv`): a key written in between fails its guard, is read and
//! backed up again, and is deleted in the next round. A key that still changes after three
//! rounds (a controller rewriting it every few milliseconds) is deleted without the guard on
//! the last, and the value etcd reports it removed is written to the file at once: the fault
//! does what it says, and only a crash in those milliseconds could lose that last write (the
//! file holds the version before it). Keys created under the prefix after the read are not
//! touched (they were never read), and are reported.
//!
//! The restore puts values back in transactions guarded on "the key does not exist" (version
//! 0), so a key that Kubernetes has written again (a controller recreated the object) is left
//! as it is and reported as skipped, unless `force`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use etcd_client::{Compare, CompareOp, DeleteOptions, GetOptions, Txn, TxnOp, TxnOpResponse};

use super::backup::{self, BackupFile, EntryDoc};
use super::range::{ReadEntry, prefix_end, range_start};
use super::{EtcdClient, EtcdError};
use crate::backends::{EtcdBackup, EtcdEntry, EtcdSelector, RestoreReport};

/// Operations per transaction (etcd refuses more than `--max-txn-ops`, 128 by default).
const TXN_OPS: usize = 100;
/// Bytes of keys and values per transaction (etcd refuses requests over 1.5 MiB by default).
const TXN_BYTES: usize = 1024 * 1024;
/// Guarded tries for a key that keeps changing before it is deleted without the guard.
const ROUNDS: usize = 3;

/// What a delete did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteReport {
    /// Exactly the keys and values deleted (the revision is the one they were first read at).
    pub backup: EtcdBackup,
    /// The backup file, when anything was deleted.
    pub path: Option<PathBuf>,
    /// Keys that changed on every guarded try and were deleted on the last without the guard:
    /// the values deleted went to the backup right after the delete, not before (the backup
    /// held the version read just before).
    pub unguarded: Vec<String>,
    /// Keys under the prefix after the delete: created (or written again) after the read, and
    /// left alone.
    pub appeared: u64,
}

impl EtcdClient {
    /// Deletes what `selector` names, backing every value up to `path` first (see the module
    /// docs). Nothing is written when there is nothing to delete. Refuses to overwrite an
    /// existing file.
    pub async fn delete_with_backup(
        &self,
        selector: &EtcdSelector,
        path: &Path,
    ) -> Result<DeleteReport, EtcdError> {
        let (revision, read) = self.read_at_one_revision(selector).await?;
        let mut report = DeleteReport {
            backup: EtcdBackup {
                revision,
                entries: Vec::new(),
            },
            ..DeleteReport::default()
        };
        if read.is_empty() {
            return Ok(report);
        }
        if path.exists() {
            return Err(EtcdError::backup(
                path,
                "exists already; not overwriting an earlier backup",
            ));
        }
        backup::ensure_dir(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let only = (dir != self.backup_dir.as_path()).then_some(path);
            for gone in backup::remove_stale_temporaries(dir, only) {
                tracing::info!(
                    "etcd: removed {}, left by a delete that was killed",
                    gone.display()
                );
            }
        }
        let mut file = BackupFile::new(&self.endpoint, selector, revision);
        let docs = |entries: &[ReadEntry]| -> Vec<EntryDoc> {
            entries
                .iter()
                .map(|e| EntryDoc::new(&e.entry, e.mod_revision))
                .collect()
        };
        file.entries = docs(&read);
        file.write(path)?;
        report.path = Some(path.to_path_buf());

        let mut pending = read;
        let mut deleted: Vec<ReadEntry> = Vec::new();
        if let EtcdSelector::Prefix(p) = selector
            && let Some(gone) = self
                .delete_prefix_if_unchanged(p, revision, &pending)
                .await?
        {
            deleted = gone;
            pending.clear();
        }
        for round in 1..=ROUNDS {
            let changed = self.guarded_delete(&pending, &mut deleted).await?;
            pending.clear();
            for key in changed {
                pending.extend(self.read_one(&key).await?);
            }
            if pending.is_empty() {
                break;
            }
            // Back the new values up before trying to delete them again.
            file.entries = docs(&deleted);
            file.entries.extend(docs(&pending));
            file.write(path)?;
            if round == ROUNDS {
                // Still changing: delete without the guard; etcd says what it removed, and
                // that goes to the file next (which already holds the version just read).
                report.unguarded = pending.iter().map(|e| text(&e.entry.key)).collect();
                for batch in batches(&pending, |e| e.entry.key.len()) {
                    deleted.extend(self.try_delete(batch, false).await?.unwrap_or_default());
                }
            }
        }
        file.entries = docs(&deleted);
        file.complete = true;
        file.write(path)?;

        if let EtcdSelector::Prefix(p) = selector {
            report.appeared = self.count_prefix(p.as_bytes()).await?;
        }
        report.backup.entries = deleted.into_iter().map(|e| e.entry).collect();
        Ok(report)
    }

    /// The common case in one transaction: when no key under `prefix` was created or written
    /// since `revision` (one range compare on `mod_revision`), one DeleteRange removes exactly
    /// keys of `read` (a key that exists now and was not written since `revision` existed then,
    /// unchanged). When etcd deleted fewer than were read, someone deleted the others in
    /// between; the keys present just before our transaction tell which were ours. `None` when
    /// the compare failed: the per-key guarded rounds take over.
    async fn delete_prefix_if_unchanged(
        &self,
        prefix: &str,
        revision: i64,
        read: &[ReadEntry],
    ) -> Result<Option<Vec<ReadEntry>>, EtcdError> {
        let start = range_start(prefix.as_bytes());
        let end = prefix_end(prefix.as_bytes());
        let txn = Txn::new()
            .when(vec![
                Compare::mod_revision(start.clone(), CompareOp::Less, revision + 1)
                    .with_range(end.clone()),
            ])
            .and_then(vec![TxnOp::delete(
                start.clone(),
                Some(DeleteOptions::new().with_range(end.clone())),
            )]);
        let resp = self
            .kv()
            .txn(txn)
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "deleting keys", &e))?;
        if !resp.succeeded() {
            return Ok(None);
        }
        let count: i64 = resp
            .op_responses()
            .iter()
            .map(|r| match r {
                TxnOpResponse::Delete(d) => d.deleted(),
                _ => 0,
            })
            .sum();
        if usize::try_from(count).is_ok_and(|n| n == read.len()) {
            return Ok(Some(read.to_vec()));
        }
        let before = resp.header().map(|h| h.revision() - 1).unwrap_or(revision);
        let mut pages = self.pages(start, end, true, None).at_revision(before);
        let mut present = HashSet::new();
        while let Some(page) = pages.next_page().await? {
            present.extend(page.into_iter().map(|kv| kv.key().to_vec()));
        }
        tracing::warn!(
            "etcd: {} of {} keys under {prefix} were deleted by someone else before our delete",
            read.len().saturating_sub(present.len()),
            read.len()
        );
        Ok(Some(
            read.iter()
                .filter(|e| present.contains(&e.entry.key))
                .cloned()
                .collect(),
        ))
    }

    /// Deletes each entry if it still has the `mod_revision` read; returns the keys that did
    /// not (changed or gone). Deleted entries are added to `deleted` with the value etcd
    /// reports it removed.
    async fn guarded_delete(
        &self,
        pending: &[ReadEntry],
        deleted: &mut Vec<ReadEntry>,
    ) -> Result<Vec<Vec<u8>>, EtcdError> {
        let mut changed = Vec::new();
        for batch in batches(pending, |e| e.entry.key.len()) {
            if let Some(gone) = self.try_delete(batch, true).await? {
                deleted.extend(gone);
                continue;
            }
            if batch.len() == 1 {
                changed.push(batch[0].entry.key.clone());
                continue;
            }
            for one in batch {
                match self.try_delete(std::slice::from_ref(one), true).await? {
                    Some(gone) => deleted.extend(gone),
                    None => changed.push(one.entry.key.clone()),
                }
            }
        }
        Ok(changed)
    }

    /// One transaction of deletes, guarded on each key's `mod_revision` when `guarded`:
    /// `Some(deleted)` when every guard held, `None` when one failed (then nothing was deleted).
    async fn try_delete(
        &self,
        batch: &[ReadEntry],
        guarded: bool,
    ) -> Result<Option<Vec<ReadEntry>>, EtcdError> {
        let guards: Vec<Compare> = batch
            .iter()
            .map(|e| Compare::mod_revision(e.entry.key.clone(), CompareOp::Equal, e.mod_revision))
            .collect();
        let ops: Vec<TxnOp> = batch
            .iter()
            .map(|e| {
                TxnOp::delete(
                    e.entry.key.clone(),
                    Some(DeleteOptions::new().with_prev_key()),
                )
            })
            .collect();
        let resp = self
            .kv()
            .txn(if guarded {
                Txn::new().when(guards).and_then(ops)
            } else {
                Txn::new().and_then(ops)
            })
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "deleting keys", &e))?;
        if !resp.succeeded() {
            return Ok(None);
        }
        let mut gone = Vec::with_capacity(batch.len());
        for (r, asked) in resp.op_responses().into_iter().zip(batch) {
            if let TxnOpResponse::Delete(d) = r {
                for kv in d.prev_kvs() {
                    // The guard makes this the value backed up; should etcd ever say
                    // otherwise, its word is what was deleted and what the backup keeps.
                    gone.push(ReadEntry {
                        entry: EtcdEntry {
                            key: kv.key().to_vec(),
                            value: kv.value().to_vec(),
                        },
                        mod_revision: kv.mod_revision(),
                    });
                }
                if d.prev_kvs().is_empty() {
                    tracing::warn!("etcd: {} was not there to delete", text(&asked.entry.key));
                }
            }
        }
        Ok(Some(gone))
    }

    async fn read_one(&self, key: &[u8]) -> Result<Option<ReadEntry>, EtcdError> {
        let mut resp = self
            .kv()
            .get(key.to_vec(), None)
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "reading a key", &e))?;
        Ok(resp.take_kvs().into_iter().next().map(ReadEntry::from))
    }

    /// Puts the entries back. Keys that exist are skipped unless `force`. A key listed twice
    /// is restored with its last value.
    pub async fn restore_entries(
        &self,
        entries: &[EtcdEntry],
        force: bool,
    ) -> Result<RestoreReport, EtcdError> {
        let mut seen = HashSet::new();
        let mut unique: Vec<&EtcdEntry> = entries
            .iter()
            .rev()
            .filter(|e| seen.insert(e.key.as_slice()))
            .collect();
        unique.reverse();
        let mut report = RestoreReport::default();
        for batch in batches(&unique, |e| e.key.len() + e.value.len()) {
            if self.try_put(batch, force).await? {
                report.restored.extend(batch.iter().map(|e| text(&e.key)));
                continue;
            }
            // Some keys exist again: find which in one read, put the others back together.
            let existing = self.existing(batch).await?;
            let absent: Vec<&EtcdEntry> = batch
                .iter()
                .filter(|e| !existing.contains(e.key.as_slice()))
                .copied()
                .collect();
            report.skipped.extend(
                batch
                    .iter()
                    .filter(|e| existing.contains(e.key.as_slice()))
                    .map(|e| text(&e.key)),
            );
            if absent.is_empty() {
                continue;
            }
            if self.try_put(&absent, false).await? {
                report.restored.extend(absent.iter().map(|e| text(&e.key)));
                continue;
            }
            // Written again while we looked: key by key.
            for one in &absent {
                if self.try_put(std::slice::from_ref(one), force).await? {
                    report.restored.push(text(&one.key));
                } else {
                    report.skipped.push(text(&one.key));
                }
            }
        }
        Ok(report)
    }

    /// Which of the batch's keys exist, read in one transaction.
    async fn existing(&self, batch: &[&EtcdEntry]) -> Result<HashSet<Vec<u8>>, EtcdError> {
        let ops: Vec<TxnOp> = batch
            .iter()
            .map(|e| TxnOp::get(e.key.clone(), Some(GetOptions::new().with_count_only())))
            .collect();
        let resp = self
            .kv()
            .txn(Txn::new().and_then(ops))
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "reading keys", &e))?;
        Ok(resp
            .op_responses()
            .into_iter()
            .zip(batch)
            .filter_map(|(r, e)| match r {
                TxnOpResponse::Get(g) if g.count() > 0 => Some(e.key.clone()),
                _ => None,
            })
            .collect())
    }

    /// One transaction of puts, guarded (unless `force`) on none of the keys existing.
    async fn try_put(&self, batch: &[&EtcdEntry], force: bool) -> Result<bool, EtcdError> {
        let ops: Vec<TxnOp> = batch
            .iter()
            .map(|e| TxnOp::put(e.key.clone(), e.value.clone(), None))
            .collect();
        let mut txn = Txn::new();
        if !force {
            let guards: Vec<Compare> = batch
                .iter()
                .map(|e| Compare::version(e.key.clone(), CompareOp::Equal, 0))
                .collect();
            txn = txn.when(guards);
        }
        let resp = self
            .kv()
            .txn(txn.and_then(ops))
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "restoring keys", &e))?;
        Ok(resp.succeeded())
    }
}

/// Splits `items` into transactions of at most [`TXN_OPS`] items and about [`TXN_BYTES`].
fn batches<T>(items: &[T], size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, item) in items.iter().enumerate() {
        let n = size(item);
        if i > start && (i - start >= TXN_OPS || bytes + n > TXN_BYTES) {
            out.push(&items[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += n;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// A key for people (etcd keys are bytes; Kubernetes' are UTF-8).
pub fn text(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_count_and_bytes() {
        let items: Vec<usize> = vec![1; 250];
        let b = batches(&items, |n| *n);
        assert_eq!(
            b.iter().map(|s| s.len()).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        let big = vec![TXN_BYTES / 2 + 1, TXN_BYTES / 2 + 1, TXN_BYTES * 2, 1];
        let b = batches(&big, |n| *n);
        assert_eq!(
            b.iter().map(|s| s.len()).collect::<Vec<_>>(),
            vec![1, 1, 1, 1]
        );
        assert!(batches::<usize>(&[], |n| *n).is_empty());
    }
}
