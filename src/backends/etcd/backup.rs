//! The backup file every etcd delete writes before it deletes anything, and `chaos etcd
//! restore` reads.
//!
//! Format (JSON, one object; keys and values are base64 so any bytes round-trip exactly):
//!
//! ```text
//! {
//!   "format": "kind-chaos/etcd-backup/v1",
//!   "endpoint": "https://127.0.0.1:2379",       // where the values were read
//!   "selector": {"prefix": "/registry/pods/"},  // or {"key": "..."}
//!   "revision": 1234,                           // the etcd revision they were read at
//!   "created_at": "2025-01-01T12:00:00Z",
//!   "complete": true,     // false while the delete runs: then the file may list keys that
//!                         // were not deleted (restore skips those that still exist)
//!   "entries": [{
//!     "key": "L3JlZ2lzdHJ5L3BvZHMvZGVmYXVsdC93ZWI=",   // base64 of the key's bytes
//!     "value": "azhzAAoJCgJ2MRID...",                  // base64 of the value's bytes
//!     "mod_revision": 1200,                            // the revision the value was written at
//!     "key_text": "/registry/pods/default/web"         // for people; ignored on restore
//!   }]
//! }
//! ```
//!
//! Files are written to a temporary name (`<name>.tmp-<pid>-<process start>`, mode 0600),
//! fsync'd, renamed into place, and the directory fsync'd: a crash leaves either the old file
//! or the new one, never half of one. A temporary file is never read as a backup (refused by
//! name, and it may not even parse); the temporary files of writers that are gone (`kill -9`
//! mid-write) are removed by the next delete into the same folder and by `chaos recover`
//! ([`remove_stale_temporaries`]).
//! Without `--backup FILE` they go to `backups/` in the state directory
//! (`$CHAOS_STATE_DIR`, else `$XDG_STATE_HOME/kind-chaos`, else `~/.local/state/kind-chaos`),
//! created 0700, named `etcd-<UTC time>-<pid>.<n>-<selector>.json`.
//!
//! Reading is bounded: only a regular file is opened (never a FIFO or a device such as
//! `/dev/zero`), at most [`MAX_FILE`] bytes, and its first bytes must be a version-1 header
//! (`{"format": "kind-chaos/etcd-backup/v1", ...`) before the rest is parsed, streamed.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::EtcdError;
use crate::backends::{EtcdBackup, EtcdEntry, EtcdSelector};

/// The `format` field of version 1.
pub const FORMAT: &str = "kind-chaos/etcd-backup/v1";
/// The largest backup file read: 4 GiB (etcd's recommended largest database is 8 GiB, and a
/// kind cluster's is far smaller; the values are held in memory to be restored).
pub const MAX_FILE: u64 = 4 << 30;
/// How much of a file is read to check its header.
const HEADER: usize = 4096;
/// What separates a backup's name from a temporary file's writer.
const TMP_MARK: &str = ".tmp-";

/// A backup file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    pub format: String,
    pub endpoint: String,
    pub selector: SelectorDoc,
    pub revision: i64,
    pub created_at: String,
    pub complete: bool,
    pub entries: Vec<EntryDoc>,
}

/// What was deleted: one key or a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelectorDoc {
    Key(String),
    Prefix(String),
}

impl From<&EtcdSelector> for SelectorDoc {
    fn from(s: &EtcdSelector) -> Self {
        match s {
            EtcdSelector::Key(k) => SelectorDoc::Key(k.clone()),
            EtcdSelector::Prefix(p) => SelectorDoc::Prefix(p.clone()),
        }
    }
}

/// One entry of the file: the etcd entry itself (its `key` and `value` in base64, written as the
/// journal writes them), the revision it was read at and the key as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryDoc {
    #[serde(flatten)]
    pub entry: EtcdEntry,
    #[serde(default)]
    pub mod_revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_text: Option<String>,
}

impl EntryDoc {
    pub fn new(entry: &EtcdEntry, mod_revision: i64) -> Self {
        EntryDoc {
            entry: entry.clone(),
            mod_revision,
            key_text: Some(String::from_utf8_lossy(&entry.key).into_owned()),
        }
    }
}

impl BackupFile {
    pub fn new(endpoint: &str, selector: &EtcdSelector, revision: i64) -> Self {
        BackupFile {
            format: FORMAT.to_string(),
            endpoint: endpoint.to_string(),
            selector: selector.into(),
            revision,
            created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            complete: false,
            entries: Vec::new(),
        }
    }

    /// The in-memory form the engine journals and restores from.
    pub fn to_backup(&self) -> EtcdBackup {
        EtcdBackup {
            revision: self.revision,
            entries: self.entries.iter().map(|e| e.entry.clone()).collect(),
        }
    }

    /// Reads and checks a backup file: a regular file of at most [`MAX_FILE`] bytes whose
    /// header says it is one, parsed as it streams in.
    pub fn read(path: &Path) -> Result<BackupFile, EtcdError> {
        let fail = |reason: String| EtcdError::backup(path, reason);
        if let Some(name) = path.file_name().map(|n| n.to_string_lossy())
            && let Some(at) = name.find(TMP_MARK)
        {
            return Err(fail(format!(
                "a temporary file of a backup being written (or cut short by a crash), not a \
                 backup; the backup is {}",
                path.with_file_name(&name[..at]).display()
            )));
        }
        // Checked before opening: opening a FIFO would wait for a writer.
        let meta = std::fs::metadata(path).map_err(|e| EtcdError::backup(path, e))?;
        if !meta.is_file() {
            return Err(fail("not a regular file".to_string()));
        }
        let f = std::fs::File::open(path).map_err(|e| EtcdError::backup(path, e))?;
        let meta = f.metadata().map_err(|e| EtcdError::backup(path, e))?;
        if !meta.is_file() {
            return Err(fail("not a regular file".to_string()));
        }
        if meta.len() > MAX_FILE {
            return Err(fail(format!(
                "{} bytes, more than the {MAX_FILE} a backup may have",
                meta.len()
            )));
        }
        let mut r = std::io::BufReader::with_capacity(1 << 20, f.take(MAX_FILE + 1));
        let mut head = vec![0u8; HEADER];
        let n = read_up_to(&mut r, &mut head).map_err(|e| EtcdError::backup(path, e))?;
        head.truncate(n);
        check_header(&head).map_err(fail)?;
        let file: BackupFile = serde_json::from_reader(head.as_slice().chain(r))
            .map_err(|e| fail(format!("not a backup file: {e}")))?;
        if file.format != FORMAT {
            return Err(fail(format!(
                "unknown format `{}` (this chaos reads {FORMAT})",
                file.format
            )));
        }
        Ok(file)
    }

    /// Writes the file atomically and durably, readable by its owner only.
    pub fn write(&self, path: &Path) -> Result<(), EtcdError> {
        let fail = |e: &dyn std::fmt::Display| EtcdError::backup(path, e);
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        let pid = std::process::id();
        tmp_name.push(format!(
            "{TMP_MARK}{pid}-{}",
            crate::state_dir::process_start_time(pid).unwrap_or(0)
        ));
        let tmp = dir.join(tmp_name);
        let written = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            // Streamed: a backup of 100,000 values is never held twice in memory.
            let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut f);
            serde_json::to_writer_pretty(&mut w, self)?;
            w.write_all(b"\n")?;
            w.flush()?;
            drop(w);
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(&e));
        }
        Ok(())
    }
}

/// Fills `buf` as far as the reader goes; how many bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether the first bytes of a file are a backup's: `{`, then `"format"` with a value naming
/// the kind-chaos backup format (any version: the version is checked once parsed).
fn check_header(head: &[u8]) -> Result<(), String> {
    let not = || {
        format!(
            "not a kind-chaos etcd backup: it does not start with {{\"format\": \"{FORMAT}\", ...}}"
        )
    };
    let text = String::from_utf8_lossy(head);
    let rest = text.trim_start().strip_prefix('{').ok_or_else(not)?;
    let rest = rest
        .trim_start()
        .strip_prefix("\"format\"")
        .ok_or_else(not)?;
    let rest = rest.trim_start().strip_prefix(':').ok_or_else(not)?;
    rest.trim_start()
        .starts_with("\"kind-chaos/etcd-backup/")
        .then_some(())
        .ok_or_else(not)
}

/// Removes the temporary backup files in `dir` whose writer is gone (killed while it wrote a
/// backup); returns them. Only the temporary files of `backup` when given (a folder chosen
/// with `--backup` may hold other programs' files), else those of every `*.json` backup (the
/// private default folder). A temporary file of a live writer is left alone; those of earlier
/// versions (`.tmp-<pid>`) count as gone when no process has that pid.
pub fn remove_stale_temporaries(dir: &Path, backup: Option<&Path>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let only = backup
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned());
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(at) = name.find(TMP_MARK) else {
            continue;
        };
        let ours = match &only {
            Some(only) => name[..at] == **only,
            None => name[..at].ends_with(".json"),
        };
        if !ours {
            continue;
        }
        let mut writer = name[at + TMP_MARK.len()..].splitn(2, '-');
        let Some(Ok(pid)) = writer.next().map(str::parse::<u32>) else {
            continue;
        };
        let start = writer
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        if is_file
            && !crate::state_dir::process_alive(pid, start)
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed.push(e.path());
        }
    }
    removed
}

/// Where backups go by default: `backups/` in the state directory.
pub fn default_dir() -> PathBuf {
    crate::state_dir::state_dir().join("backups")
}

/// A fresh file name in `dir` for a backup of `selector` (the directory is created 0700).
pub fn default_path(dir: &Path, selector: &EtcdSelector) -> PathBuf {
    let raw = match selector {
        EtcdSelector::Key(k) | EtcdSelector::Prefix(k) => k.as_str(),
    };
    let mut slug: String = raw
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if slug.is_empty() {
        slug.push_str("all");
    }
    // Unique within the process too: two deletes of the same prefix in one millisecond.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let now = humantime::format_rfc3339_millis(SystemTime::now())
        .to_string()
        .replace(':', "");
    dir.join(format!(
        "etcd-{now}-{}.{seq}-{slug}.json",
        std::process::id()
    ))
}

/// Creates the backup directory (0700) if it does not exist.
pub fn ensure_dir(path: &Path) -> Result<(), EtcdError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => crate::state_dir::private_dir(dir)
            .map_err(|e| EtcdError::backup(path, format!("cannot create {}: {e}", dir.display()))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_round_trip_through_the_file() {
        let dir = std::env::temp_dir().join(format!("chaos-backup-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("b.json");
        let mut f = BackupFile::new("https://x:2379", &EtcdSelector::Prefix("/a/".into()), 7);
        let entry = EtcdEntry {
            key: b"/a/\xff\x00k".to_vec(),
            value: (0u8..=255).collect(),
        };
        f.entries.push(EntryDoc::new(&entry, 5));
        f.write(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
        let back = BackupFile::read(&path).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.to_backup().entries, vec![entry]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_a_backup_header_is_read_on() {
        assert!(check_header(b"{\n  \"format\": \"kind-chaos/etcd-backup/v1\",\n").is_ok());
        assert!(check_header(b"{\"format\":\"kind-chaos/etcd-backup/v2\"}").is_ok());
        for bad in [
            &b""[..],
            b"\0\0\0\0",
            b"[1,2]",
            b"{\"entries\": []}",
            b"{\"format\": 1}",
        ] {
            let e = check_header(bad).unwrap_err();
            assert!(e.contains("not a kind-chaos etcd backup"), "{e}");
        }
    }

    #[test]
    fn a_chosen_folder_loses_only_the_temporaries_of_its_backup() {
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().join("b.json.tmp-999999-1");
        let other = dir.path().join("c.json.tmp-999999-1");
        let foreign = dir.path().join("notes.tmp-999999");
        for p in [&mine, &other, &foreign] {
            std::fs::write(p, "x").unwrap();
        }
        let removed = remove_stale_temporaries(dir.path(), Some(&dir.path().join("b.json")));
        assert_eq!(removed, vec![mine.clone()]);
        assert!(other.exists() && foreign.exists());
        let removed = remove_stale_temporaries(dir.path(), None);
        assert_eq!(removed, vec![other]);
        assert!(foreign.exists(), "not a backup's temporary");
    }

    #[test]
    fn default_names_are_safe_file_names() {
        let p = default_path(
            Path::new("/s"),
            &EtcdSelector::Prefix("/registry/pods/default/".into()),
        );
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with("etcd-"), "{name}");
        assert!(name.ends_with("-registry_pods_default.json"), "{name}");
        assert!(!name.contains(':'), "{name}");
        let again = default_path(
            Path::new("/s"),
            &EtcdSelector::Prefix("/registry/pods/default/".into()),
        );
        assert_ne!(p, again, "unique even within one millisecond");
    }
}
