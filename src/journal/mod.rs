//! The undo journal on disk: one append-only JSON-lines file per run in the state directory,
//! written ahead of every change and flushed to disk before the change happens, so that
//! `chaos recover` can undo what a run that died (or ran with `--retain`) left behind.
//!
//! Lines: `start` (who, where), `intent` (how a change will be undone, before it happens),
//! `applied` (it happened; the final undo), `cancelled` (it did not), `undone`, `undo-failed`,
//! `end`. Files and the directory are private to the user (0600/0700): etcd values backed up
//! here can hold secrets.

mod lock;
mod read;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use lock::{ClusterLock, LockError};
pub use read::{Entry, EntryState, RunJournal, process_alive, process_start_time, scan};

use crate::engine::{UndoLog, UndoRecord};

/// Where journals and locks live: `$CHAOS_STATE_DIR`, else `$XDG_STATE_HOME/kind-chaos`, else
/// `~/.local/state/kind-chaos`.
pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CHAOS_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("kind-chaos")
}

/// Creates a private directory (and its parents).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Line {
    Start {
        version: u32,
        pid: u32,
        /// The process's start time (clock ticks since boot), so a reused pid is not mistaken
        /// for the run.
        pid_start: u64,
        cluster: String,
        playbook: String,
        file: String,
        started_at: String,
    },
    Intent {
        id: u64,
        step: String,
        undo: UndoRecord,
    },
    Applied {
        id: u64,
        undo: UndoRecord,
    },
    Cancelled {
        id: u64,
    },
    Undone {
        id: u64,
    },
    UndoFailed {
        id: u64,
        message: String,
    },
    End {
        status: String,
    },
}

/// A journal being written by this process.
pub struct Journal {
    path: PathBuf,
    file: File,
    next_id: u64,
}

impl Journal {
    /// Creates this run's journal in `<state>/runs/`.
    pub fn create(
        state: &Path,
        cluster: &str,
        playbook: &str,
        file: &Path,
        started_at: &str,
    ) -> std::io::Result<Journal> {
        let dir = state.join("runs");
        private_dir(&dir)?;
        let pid = std::process::id();
        let stamp = started_at.replace([':', '-'], "");
        let path = dir.join(format!(
            "{stamp}-{cluster}-{pid}-{}.jsonl",
            sanitize(playbook)
        ));
        let f = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        let mut j = Journal {
            path,
            file: f,
            next_id: 1,
        };
        j.write(&Line::Start {
            version: 1,
            pid,
            pid_start: process_start_time(pid).unwrap_or(0),
            cluster: cluster.to_string(),
            playbook: playbook.to_string(),
            file: file.display().to_string(),
            started_at: started_at.to_string(),
        })?;
        Ok(j)
    }

    /// Opens an existing journal to append (`chaos recover` records what it undid).
    pub fn append_to(path: &Path) -> std::io::Result<Journal> {
        let f = OpenOptions::new().append(true).open(path)?;
        Ok(Journal {
            path: path.to_path_buf(),
            file: f,
            next_id: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a line and flushes it to the disk before returning.
    pub fn write(&mut self, line: &Line) -> std::io::Result<()> {
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()
    }

    /// Writes a line whose loss is not fatal to the run, warning if it cannot.
    fn note(&mut self, line: &Line) {
        if let Err(e) = self.write(line) {
            eprintln!(
                "warning: cannot write the undo journal {}: {e}",
                self.path.display()
            );
        }
    }

    pub fn end(&mut self, status: &str) {
        self.note(&Line::End {
            status: status.to_string(),
        });
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect()
}

impl UndoLog for Journal {
    fn intent(&mut self, step: &str, record: &UndoRecord) -> Result<u64, String> {
        let id = self.next_id;
        self.write(&Line::Intent {
            id,
            step: step.to_string(),
            undo: record.clone(),
        })
        .map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.next_id += 1;
        Ok(id)
    }
    fn applied(&mut self, id: u64, record: &UndoRecord) {
        self.note(&Line::Applied {
            id,
            undo: record.clone(),
        });
    }
    fn cancelled(&mut self, id: u64) {
        self.note(&Line::Cancelled { id });
    }
    fn undone(&mut self, id: u64) {
        self.note(&Line::Undone { id });
    }
    fn undo_failed(&mut self, id: u64, message: &str) {
        self.note(&Line::UndoFailed {
            id,
            message: message.to_string(),
        });
    }
}
