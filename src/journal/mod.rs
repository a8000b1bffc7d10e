//! The undo journal on disk: one append-only JSON-lines file per run in the state directory,
//! written ahead of every change and flushed to disk before the change happens, so that
//! `chaos recover` can undo what a run that died (or ran with `--retain`) left behind.
//!
//! Lines: `start` (who, where, and the connection flags recover needs to reconnect),
//! `intent` (how a change will be undone, before it happens), `applied` (it happened; the final
//! undo), `cancelled` (it did not), `undone`, `undo-failed`, `forgotten` (`chaos recover
//! --forget`: an undo given up on), `torn` (recover marking a last line cut short by a crash
//! before it appends), `end`. Files and the directory are private to the user (0600/0700).
//! etcd values are not in the journal: an `etcd-delete` names its backup file (written and
//! fsync'd before anything is deleted, see `backends::etcd::backup`), and the undo restores
//! what that file holds.
//!
//! Journal file names are `<start time>-<cluster>-<pid>-<playbook>.jsonl`, with `-2`, `-3`...
//! when one run starts two playbooks of the same name in the same second; the name without
//! `.jsonl` is the run's id for `chaos recover --forget`.

mod lock;
mod read;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use lock::{ClusterLock, DEFAULT_LOCK_DIR, LockError, lock_dir};
pub use read::{Entry, EntryState, RunJournal, Scan, Unreadable, scan};

use crate::engine::{UndoLog, UndoRecord};
use crate::state_dir::{check_own, private_dir, process_start_time};

/// The version of the journal format written (1: etcd values inline, read still).
pub const VERSION: u32 = 2;

/// How a run reached the cluster: the connection flags it was given (file paths made absolute;
/// never the content of a credential), so `chaos recover` reconnects the same way without
/// being told again. Empty fields were discovered from the kind cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub etcd_endpoints: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_cacert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_key: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_context: Option<String>,
}

impl Connection {
    pub fn is_empty(&self) -> bool {
        *self == Connection::default()
    }
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
        #[serde(default, skip_serializing_if = "Connection::is_empty")]
        connection: Connection,
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
    /// `chaos recover --forget`: entry `id` (or, without one, the whole run, unreadable lines
    /// included) is no longer owed.
    Forgotten {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        at: String,
        uid: Option<u32>,
    },
    /// Line `line` was cut short by a crash (written by recover before it appends).
    Torn {
        line: usize,
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
    /// Creates this run's journal in `<state>/runs/`: a new file, never one that exists (a
    /// second playbook of the same name started in the same second gets `-2`). Refuses a
    /// state folder recover would not trust (see [`check_own`]).
    pub fn create(
        state: &Path,
        cluster: &str,
        playbook: &str,
        file: &Path,
        started_at: &str,
        connection: &Connection,
    ) -> std::io::Result<Journal> {
        let dir = state.join("runs");
        private_dir(&dir)?;
        for d in [state, dir.as_path()] {
            check_own(d).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("recover would not trust journals there: {e}"),
                )
            })?;
        }
        let pid = std::process::id();
        let stamp = sanitize(&started_at.replace([':', '-'], ""));
        let base = format!("{stamp}-{}-{pid}-{}", sanitize(cluster), sanitize(playbook));
        let mut n = 1;
        let (path, f) = loop {
            let path = match n {
                1 => dir.join(format!("{base}.jsonl")),
                n => dir.join(format!("{base}-{n}.jsonl")),
            };
            match OpenOptions::new()
                .create_new(true)
                .append(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(f) => break (path, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        };
        let mut j = Journal {
            path,
            file: f,
            next_id: 1,
        };
        j.write(&Line::Start {
            version: VERSION,
            pid,
            pid_start: process_start_time(pid).unwrap_or(0),
            cluster: cluster.to_string(),
            playbook: playbook.to_string(),
            file: file.display().to_string(),
            started_at: started_at.to_string(),
            connection: connection.clone(),
        })?;
        Ok(j)
    }

    /// Opens an existing journal to append (`chaos recover` records what it undid). A last
    /// line cut short by a crash is ended first, and marked `torn`, so what is appended starts
    /// on a line of its own and the cut line is known to be harmless.
    pub fn append_to(path: &Path) -> std::io::Result<Journal> {
        let bytes = std::fs::read(path)?;
        let f = OpenOptions::new().append(true).open(path)?;
        let mut j = Journal {
            path: path.to_path_buf(),
            file: f,
            next_id: 0,
        };
        if bytes.last().is_some_and(|b| *b != b'\n') {
            j.file.write_all(b"\n")?;
            if let Some(line) = read::torn_tail(&bytes) {
                j.write(&Line::Torn { line })?;
            }
            j.file.sync_data()?;
        }
        Ok(j)
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
            tracing::warn!("cannot write the undo journal {}: {e}", self.path.display());
        }
    }

    pub fn end(&mut self, status: &str) {
        self.note(&Line::End {
            status: status.to_string(),
        });
    }
}

/// A name as a file-name part: letters, digits, `-` and `_`, at most 60 characters.
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

#[cfg(test)]
mod tests;
