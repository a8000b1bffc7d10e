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
//! Files are written to a temporary name (mode 0600), fsync'd, renamed into place, and the
//! directory fsync'd: a crash leaves either the old file or the new one, never half of one.
//! Without `--backup FILE` they go to `backups/` in the state directory
//! (`$CHAOS_STATE_DIR`, else `$XDG_STATE_HOME/kind-chaos`, else `~/.local/state/kind-chaos`),
//! created 0700, named `etcd-<UTC time>-<pid>.<n>-<selector>.json`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::EtcdError;
use crate::backends::{EtcdBackup, EtcdEntry, EtcdSelector};

/// The `format` field of version 1.
pub const FORMAT: &str = "kind-chaos/etcd-backup/v1";

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryDoc {
    #[serde(with = "b64")]
    pub key: Vec<u8>,
    #[serde(with = "b64")]
    pub value: Vec<u8>,
    #[serde(default)]
    pub mod_revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_text: Option<String>,
}

impl EntryDoc {
    pub fn new(entry: &EtcdEntry, mod_revision: i64) -> Self {
        EntryDoc {
            key: entry.key.clone(),
            value: entry.value.clone(),
            mod_revision,
            key_text: Some(String::from_utf8_lossy(&entry.key).into_owned()),
        }
    }
}

mod b64 {
    use super::{Engine, STANDARD};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
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
            entries: self
                .entries
                .iter()
                .map(|e| EtcdEntry {
                    key: e.key.clone(),
                    value: e.value.clone(),
                })
                .collect(),
        }
    }

    /// Reads and checks a backup file.
    pub fn read(path: &Path) -> Result<BackupFile, EtcdError> {
        let text = std::fs::read(path).map_err(|e| EtcdError::backup(path, e))?;
        let file: BackupFile = serde_json::from_slice(&text)
            .map_err(|e| EtcdError::backup(path, format!("not a backup file: {e}")))?;
        if file.format != FORMAT {
            return Err(EtcdError::backup(
                path,
                format!(
                    "unknown format `{}` (this chaos reads {FORMAT})",
                    file.format
                ),
            ));
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
        tmp_name.push(format!(".tmp-{}", std::process::id()));
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

/// Where backups go by default: `backups/` in the state directory.
pub fn default_dir() -> PathBuf {
    crate::journal::state_dir().join("backups")
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
        Some(dir) => crate::journal::private_dir(dir)
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
