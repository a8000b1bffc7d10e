//! The hook through which the engine writes ahead what it is about to change, so that a run
//! that dies (`kill -9`, a crash, a lost terminal) can be finished by `chaos recover`. The
//! engine only speaks this trait; the file format lives in `crate::journal`.

use super::UndoRecord;

/// A write-ahead log of faults and their undo.
pub trait UndoLog: Send {
    /// Before a mutation: how it would be undone. An error stops the fault from being injected.
    fn intent(&mut self, step: &str, record: &UndoRecord) -> Result<u64, String>;
    /// The mutation happened; `record` is the final undo (e.g. with the etcd values read).
    fn applied(&mut self, id: u64, record: &UndoRecord);
    /// The mutation did not happen (it failed, or changed nothing).
    fn cancelled(&mut self, id: u64);
    fn undone(&mut self, id: u64);
    fn undo_failed(&mut self, id: u64, message: &str);
}

/// No journal (tests, `--dry-run`).
pub struct NoJournal;

impl UndoLog for NoJournal {
    fn intent(&mut self, _: &str, _: &UndoRecord) -> Result<u64, String> {
        Ok(0)
    }
    fn applied(&mut self, _: u64, _: &UndoRecord) {}
    fn cancelled(&mut self, _: u64) {}
    fn undone(&mut self, _: u64) {}
    fn undo_failed(&mut self, _: u64, _: &str) {}
}
