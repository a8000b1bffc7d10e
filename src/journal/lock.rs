//! One run per cluster at a time. The lock is an advisory `flock` on `<state>/locks/<cluster>`,
//! so the kernel releases it when its holder dies; the file names the holder for the message a
//! second run gets, and a holder that died is reported when its lock is taken over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{private_dir, process_alive, process_start_time};

/// Held for the whole run; released on drop.
pub struct ClusterLock {
    _file: File,
    /// Set when the lock file named a holder that is gone.
    pub took_over: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another chaos run holds cluster `{cluster}`: {holder}")]
    Held { cluster: String, holder: String },
    #[error("cannot create the lock {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl ClusterLock {
    pub fn acquire(state: &Path, cluster: &str, what: &str) -> Result<ClusterLock, LockError> {
        let dir = state.join("locks");
        let path = dir.join(format!("{cluster}.lock"));
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        private_dir(&dir).map_err(io)?;
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        let mut previous = String::new();
        let _ = f.read_to_string(&mut previous);
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = if previous.trim().is_empty() {
                    "a process that just started".to_string()
                } else {
                    previous.trim().to_string()
                };
                return Err(LockError::Held {
                    cluster: cluster.to_string(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let took_over = stale_holder(&previous);
        let pid = std::process::id();
        let me = format!(
            "pid {pid} (start {}) running {what}",
            process_start_time(pid).unwrap_or(0)
        );
        f.set_len(0).map_err(io)?;
        f.rewind().map_err(io)?;
        f.write_all(me.as_bytes()).map_err(io)?;
        f.sync_data().map_err(io)?;
        Ok(ClusterLock {
            _file: f,
            took_over,
        })
    }
}

/// The holder a lock file names, if that process is gone.
fn stale_holder(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    if words.next() != Some("pid") {
        return None;
    }
    let pid: u32 = words.next()?.parse().ok()?;
    let start: u64 = text
        .split("(start ")
        .nth(1)?
        .split(')')
        .next()?
        .parse()
        .ok()?;
    (!process_alive(pid, start)).then(|| text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = ClusterLock::acquire(dir.path(), "kind", "playbook a").unwrap();
        assert!(first.took_over.is_none());
        match ClusterLock::acquire(dir.path(), "kind", "playbook b") {
            Err(LockError::Held { holder, .. }) => {
                assert!(holder.contains("running playbook a"), "{holder}")
            }
            other => panic!("{:?}", other.err()),
        }
        drop(first);
        assert!(ClusterLock::acquire(dir.path(), "kind", "playbook b").is_ok());
    }

    #[test]
    fn the_lock_of_a_dead_process_is_taken_over_with_a_message() {
        let dir = tempfile::tempdir().unwrap();
        private_dir(&dir.path().join("locks")).unwrap();
        std::fs::write(
            dir.path().join("locks/kind.lock"),
            "pid 999999 (start 1) running old",
        )
        .unwrap();
        let l = ClusterLock::acquire(dir.path(), "kind", "new").unwrap();
        assert_eq!(
            l.took_over.as_deref(),
            Some("pid 999999 (start 1) running old")
        );
    }
}
