//! Where the server's objects are persisted, behind one small trait, so that the
//! in-process mode (memory, fast tests) and the served mode (a real etcd, as kind's
//! control plane keeps its objects) share every other line of the server.
//!
//! The store ([`crate::store::State`]) keeps every object in memory in both modes, as the
//! real API server's watch cache does; a [`Storage`] decides each write's revision (the
//! object's `resourceVersion`) and may refuse it (a conflict), and reports the changes
//! others made behind the server's back (a raw `etcdctl del`), which the store then follows.
//! Before a consistent read or a write the store asks the storage for its current revision
//! and waits until it has followed the storage that far (see `store/fresh.rs`).

pub(crate) mod etcd;
#[cfg(test)]
mod etcd_tests;
pub(crate) mod keys;
pub(crate) mod memory;

use std::time::Duration;

use serde_json::Value;

pub use etcd::EtcdConfig;

/// One write, as the storage sees it.
#[derive(Debug)]
pub(crate) enum Write<'a> {
    /// Create `key` (absent) with `value`.
    Create { key: &'a str, value: &'a Value },
    /// Replace `key`, last written at revision `expect`, with `value`.
    Update {
        key: &'a str,
        expect: u64,
        value: &'a Value,
    },
    /// Delete `key`, last written at revision `expect`.
    Delete { key: &'a str, expect: u64 },
}

/// Why a write was not made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StorageError {
    /// The key was changed (or created, or deleted) by someone else since it was read:
    /// the write's precondition failed.
    #[error("the object was changed in storage since it was read (revision {found})")]
    Conflict { found: u64 },
    /// The storage did not answer or refused.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// A change made in the storage by someone other than this server.
#[derive(Debug, Clone)]
pub(crate) enum Outside {
    /// `key` now holds `value` (stored without `resourceVersion`) since `revision`.
    Put {
        key: String,
        value: Value,
        revision: u64,
    },
    /// `key` was deleted at `revision`.
    Delete { key: String, revision: u64 },
}

/// What is stored at start: every object with its key and `mod_revision`, and the
/// storage's current revision.
pub(crate) struct Snapshot {
    pub objects: Vec<(String, Value, u64)>,
    pub revision: u64,
}

/// Persistence of the server's objects.
pub(crate) trait Storage: Send {
    /// Makes one write; returns its revision, above `last` (the store's latest). Revisions
    /// only grow.
    fn commit(&mut self, write: Write<'_>, last: u64) -> Result<u64, StorageError>;
    /// Everything stored now (the server loads it at start).
    fn list_all(&mut self) -> Result<Snapshot, StorageError>;
    /// Changes others made, oldest first, that have arrived since the last call. With
    /// `until`, waits (bounded) until the change at that revision (this server's own
    /// write) has arrived, so that what others did before it is applied first; it is
    /// itself not returned.
    fn outside_changes(&mut self, until: Option<u64>) -> Vec<Outside>;
    /// The storage's current revision, read with a quorum (upstream:
    /// staging/src/k8s.io/apiserver/pkg/storage/util.go GetCurrentResourceVersionFromStorage,
    /// a list with limit 1 whose header carries etcd's revision). `None` when the store's
    /// cache is the whole storage (memory): there is nothing to catch up with.
    fn current_revision(&mut self) -> Result<Option<u64>, StorageError>;
    /// Changes others made, oldest first, once every change up to `revision` has arrived,
    /// waiting at most `within`; and the revision up to which everything has arrived (at
    /// least `revision`, or less when the wait ran out). That revision also moves on when
    /// the storage says nothing happened up to it (etcd's watch progress notification).
    fn changes_through(&mut self, revision: u64, within: Duration) -> (Vec<Outside>, u64);
}
