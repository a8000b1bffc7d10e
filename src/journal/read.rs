//! Reading journals back: which changes a run still owes an undo, and whether the run's process
//! is still alive (a live run is never recovered behind its back).

use std::path::{Path, PathBuf};

use super::Line;
use crate::engine::UndoRecord;

#[derive(Debug, Clone, PartialEq)]
pub enum EntryState {
    /// Written ahead; the process died before it knew whether the change happened.
    Pending,
    Applied,
    Cancelled,
    Undone,
    /// An undo was tried and failed: still owed.
    Failed(String),
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
}

impl RunJournal {
    pub fn read(path: &Path) -> Result<RunJournal, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
        let mut j = match lines.next().map(serde_json::from_str::<Line>) {
            Some(Ok(Line::Start {
                pid,
                pid_start,
                cluster,
                playbook,
                started_at,
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
            },
            _ => return Err(format!("{}: not an undo journal", path.display())),
        };
        while let Some(raw) = lines.next() {
            let line = match serde_json::from_str::<Line>(raw) {
                Ok(l) => l,
                // A torn last line: the process died while writing it.
                Err(_) if lines.peek().is_none() => break,
                Err(e) => return Err(format!("{}: corrupt line: {e}", path.display())),
            };
            j.apply(line);
        }
        Ok(j)
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
                    e.state = EntryState::Applied;
                }
            }
            Line::Cancelled { id } => self.set(id, EntryState::Cancelled),
            Line::Undone { id } => self.set(id, EntryState::Undone),
            Line::UndoFailed { id, message } => self.set(id, EntryState::Failed(message)),
            Line::End { status } => self.ended = Some(status),
            Line::Start { .. } => {}
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

    pub fn alive(&self) -> bool {
        process_alive(self.pid, self.pid_start)
    }
}

/// Every journal in `<state>/runs`, oldest first; unreadable ones are reported, not fatal.
pub fn scan(state: &Path) -> (Vec<RunJournal>, Vec<String>) {
    let dir = state.join("runs");
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect(),
        Err(_) => Vec::new(),
    };
    paths.sort();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match RunJournal::read(&p) {
            Ok(j) => out.push(j),
            Err(e) => problems.push(e),
        }
    }
    (out, problems)
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that wrote a journal still runs (same pid, same start time).
pub fn process_alive(pid: u32, start: u64) -> bool {
    match process_start_time(pid) {
        Some(t) => start == 0 || t == start,
        None => false,
    }
}
