//! The in-process mode's storage: nothing outside the server's own memory. The objects
//! live in the store's cache alone; this only hands out the revisions, one per write, as a
//! single etcd would, and never sees changes made by others (there are none).

use std::time::Duration;

use super::{Outside, Snapshot, Storage, StorageError, Write};

/// Revisions counted from the store's own.
#[derive(Debug, Default)]
pub(crate) struct MemoryStorage;

impl Storage for MemoryStorage {
    fn commit(&mut self, _write: Write<'_>, last: u64) -> Result<u64, StorageError> {
        Ok(last + 1)
    }

    fn list_all(&mut self) -> Result<Snapshot, StorageError> {
        Ok(Snapshot {
            objects: Vec::new(),
            revision: 0,
        })
    }

    fn outside_changes(&mut self, _until: Option<u64>) -> Vec<Outside> {
        Vec::new()
    }

    fn current_revision(&mut self) -> Result<Option<u64>, StorageError> {
        Ok(None)
    }

    fn changes_through(&mut self, _revision: u64, _within: Duration) -> (Vec<Outside>, u64) {
        (Vec::new(), 0)
    }
}
