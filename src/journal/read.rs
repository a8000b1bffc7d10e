//! Reading journals back: which changes a run still owes an undo, and whether the run's process
//! is still alive (a live run is never recovered behind its back).
//!
//! A damaged journal is read line by line: every line that parses counts, and each one that
//! does not is reported with its line number, because the change it recorded may still be in
//! the cluster. One case is known to be harmless: the last line cut short (no newline) by the
//! death of its writer. Every line is flushed to disk before the change it announces, so a cut
//! line announced a change that never started, or recorded an outcome (applied, undone) whose
//! entry stays owed and is undone again, which is idempotent. Recover marks such a line
//! (`torn`) before it appends to the file, so it stays known as harmless.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{Connection, Line};
use crate::engine::UndoRecord;
use crate::state_dir::{check_own, process_alive};

#[derive(Debug, Clone, PartialEq)]
pub enum EntryState {
    /// Written ahead; the process died before it knew whether the change happened.
    Pending,
    Applied,
    Cancelled,
    Undone,
    /// An undo was tried and failed: still owed.
    Failed(String),
    /// Given up on by `chaos recover --forget`: no longer owed.
    Forgotten,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    pub step: String,
    pub undo: UndoRecord,
    pub state: EntryState,
}

impl Entry {
    /// Whether the cluster may still carry this change.
    pub fn owed(&self) -> bool {
        matches!(
            self.state,
            EntryState::Pending | EntryState::Applied | EntryState::Failed(_)
        )
    }
}

/// A line of a journal that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct RunJournal {
    pub path: PathBuf,
    pub pid: u32,
    pub pid_start: u64,
    pub cluster: String,
    pub playbook: String,
    pub started_at: String,
    pub ended: Option<String>,
    pub entries: Vec<Entry>,
    /// How the run reached the cluster (flags it was given), for recover.
    pub connection: Connection,
    /// Lines that could not be read, other than a harmless torn last line.
    pub unreadable: Vec<Unreadable>,
    /// The harmless torn last line, if any (see the module docs).
    pub torn: Option<usize>,
    /// The whole run was forgotten (`chaos recover --forget RUN`).
    pub forgotten: bool,
}

impl RunJournal {
    /// Reads a journal of this user's (see [`check_own`]); lines that cannot be read are kept
    /// in [`RunJournal::unreadable`], not fatal. An error when the file is not ours, cannot be
    /// read at all, or does not start with a readable `start` line.
    pub fn read(path: &Path) -> Result<RunJournal, String> {
        check_own(path)?;
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut lines = split_lines(&bytes);
        let first = lines.next();
        let mut j = match first.map(|(_, raw, _)| serde_json::from_slice::<Line>(raw)) {
            Some(Ok(Line::Start {
                pid,
                pid_start,
                cluster,
                playbook,
                started_at,
                connection,
                ..
            })) => RunJournal {
                path: path.to_path_buf(),
                pid,
                pid_start,
                cluster,
                playbook,
                started_at,
                ended: None,
                entries: Vec::new(),
                connection,
                unreadable: Vec::new(),
                torn: None,
                forgotten: false,
            },
            other => {
                let why = match other {
                    Some(Err(e)) => format!("cannot be read ({e})"),
                    _ => "is not a start record".to_string(),
                };
                return Err(format!(
                    "{}:{}: not an undo journal: the first line {why}",
                    path.display(),
                    first.map_or(1, |(n, _, _)| n)
                ));
            }
        };
        let mut marked_torn = HashSet::new();
        for (n, raw, ends_file) in lines {
            match serde_json::from_slice::<Line>(raw) {
                Ok(Line::Torn { line }) => {
                    marked_torn.insert(line);
                }
                Ok(line) => j.apply(line),
                Err(_) if ends_file => j.torn = Some(n),
                Err(e) => j.unreadable.push(Unreadable {
                    line: n,
                    reason: reason(raw, &e),
                }),
            }
        }
        j.unreadable.retain(|u| !marked_torn.contains(&u.line));
        if let Some(first) = marked_torn.iter().min() {
            j.torn = j.torn.or(Some(*first));
        }
        Ok(j)
    }

    /// The run's id for `chaos recover --forget`: the journal's file name without `.jsonl`.
    pub fn id(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn apply(&mut self, line: Line) {
        match line {
            Line::Intent { id, step, undo } => self.entries.push(Entry {
                id,
                step,
                undo,
                state: EntryState::Pending,
            }),
            Line::Applied { id, undo } => {
                if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
                    e.undo = undo;
                    if e.state != EntryState::Forgotten {
                        e.state = EntryState::Applied;
                    }
                }
            }
            Line::Cancelled { id } => self.set(id, EntryState::Cancelled),
            Line::Undone { id } => self.set(id, EntryState::Undone),
            Line::UndoFailed { id, message } => self.set(id, EntryState::Failed(message)),
            Line::Forgotten { id: Some(id), .. } => self.set(id, EntryState::Forgotten),
            Line::Forgotten { id: None, .. } => {
                self.forgotten = true;
                for e in &mut self.entries {
                    if e.owed() {
                        e.state = EntryState::Forgotten;
                    }
                }
            }
            Line::End { status } => self.ended = Some(status),
            Line::Start { .. } | Line::Torn { .. } => {}
        }
    }

    fn set(&mut self, id: u64, state: EntryState) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
            e.state = state;
        }
    }

    /// Changes still owed an undo, newest first (the order to undo them in).
    pub fn owed(&self) -> Vec<&Entry> {
        self.entries.iter().rev().filter(|e| e.owed()).collect()
    }

    /// Unreadable lines that still matter: none once the whole run was forgotten.
    pub fn unresolved(&self) -> &[Unreadable] {
        if self.forgotten {
            &[]
        } else {
            &self.unreadable
        }
    }

    /// Whether recover has anything to do or to say about this run.
    pub fn needs_attention(&self) -> bool {
        !self.owed().is_empty() || !self.unresolved().is_empty()
    }

    pub fn alive(&self) -> bool {
        process_alive(self.pid, self.pid_start)
    }
}

/// The non-empty lines of `bytes`: (1-based line number, bytes, whether it is the last line
/// and has no newline, i.e. was cut short).
fn split_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8], bool)> {
    let ends_with_newline = bytes.last().is_none_or(|b| *b == b'\n');
    let count = bytes.split(|b| *b == b'\n').count();
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.trim_ascii().is_empty())
        .map(move |(i, l)| (i + 1, l, i + 1 == count && !ends_with_newline))
}

/// Why a line did not parse, without repeating its content (it may be megabytes, or secrets).
fn reason(raw: &[u8], e: &serde_json::Error) -> String {
    if std::str::from_utf8(raw).is_err() {
        return format!("not UTF-8 text ({} bytes)", raw.len());
    }
    format!("not a journal record ({e}; {} bytes)", raw.len())
}

/// The line number a torn tail of `bytes` would have, if the file does not end in a newline
/// and its last line is not a journal record.
pub(super) fn torn_tail(bytes: &[u8]) -> Option<usize> {
    if bytes.last().is_none_or(|b| *b == b'\n') {
        return None;
    }
    let (n, raw, _) = split_lines(bytes).last()?;
    serde_json::from_slice::<Line>(raw).is_err().then_some(n)
}

/// What [`scan`] found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Readable journals, oldest first.
    pub runs: Vec<RunJournal>,
    /// Journals not read because they are not this user's own, each with why.
    pub refused: Vec<String>,
    /// Journals of ours that could not be read at all (no readable `start` line), each with
    /// why: what they recorded is unknown.
    pub unreadable: Vec<String>,
}

/// Every journal in `<state>/runs`, oldest first. An error when the state folder or its
/// `runs/` folder is not this user's own (see [`check_own`]): then no journal is read.
pub fn scan(state: &Path) -> Result<Scan, String> {
    let dir = state.join("runs");
    if std::fs::symlink_metadata(&dir).is_err() {
        return Ok(Scan::default());
    }
    check_own(state).map_err(|e| format!("not reading journals from {}: {e}", state.display()))?;
    check_own(&dir).map_err(|e| format!("not reading journals from {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    let mut out = Scan::default();
    for p in paths {
        if let Err(e) = check_own(&p) {
            out.refused.push(e);
            continue;
        }
        match RunJournal::read(&p) {
            Ok(j) => out.runs.push(j),
            Err(e) => out.unreadable.push(e),
        }
    }
    Ok(out)
}
