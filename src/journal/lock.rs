//! One run per cluster on the machine, whoever runs it and whatever its state folder.
//!
//! The lock is an advisory `flock` on `<lock folder>/<cluster>.lock`, so the kernel releases it
//! when its holder dies. The lock folder is **not** in the state folder: two users (or `sudo
//! chaos` and a user) have different state folders but share the cluster, and one's undo would
//! revert the other's fault. It is `/tmp/kind-chaos-locks` (`$CHAOS_LOCK_DIR` moves it: tests,
//! or machines whose `/tmp` is not shared by the users of a cluster). `/tmp` because it is the
//! one folder every user can write on every Linux; `/run/lock` is root's alone on some
//! distributions, and `$XDG_RUNTIME_DIR` is per user.
//!
//! Two users, root and alice: whoever comes first creates the folder with mode 1777 (everyone
//! may create a lock file, the sticky bit keeps anyone but its owner from removing or replacing
//! it) and the cluster's lock file with mode 0666, so the other can open it, `flock` it and
//! write its own holder line (`pid N (start T) uid U running WHAT`). A lock held by root blocks
//! alice's run and the other way round, and the refusal names the holder.
//!
//! Shared `/tmp` is hostile ground, so: the cluster name is checked before it becomes a file
//! name; a folder that is not a folder, or that anyone may write without the sticky bit, is
//! refused; an existing lock file is opened without `O_CREAT` (a new one with `O_EXCL`, which
//! never follows a symbolic link), and used only if it is a regular file with one link that is
//! still the file at that path (checked after opening, before anything is written to it); the
//! holder line is read bounded and shown escaped. Nothing but the holder line is ever written.
//!
//! On a clean release the holder line is cleared, so the next run takes the lock silently;
//! a holder line naming a process that is gone means that run died, and is reported.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::state_dir::{
    cluster_file_name, current_uid, private_dir, process_alive, process_start_time,
};

/// Where the lock folder is by default.
pub const DEFAULT_LOCK_DIR: &str = "/tmp/kind-chaos-locks";
/// The most of a holder line read.
const MAX_HOLDER: u64 = 1024;

/// The lock folder: `$CHAOS_LOCK_DIR`, else [`DEFAULT_LOCK_DIR`] (never the state folder).
pub fn lock_dir() -> PathBuf {
    std::env::var_os("CHAOS_LOCK_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_LOCK_DIR), PathBuf::from)
}

/// Held for the whole run; released on drop (the holder line is cleared first).
pub struct ClusterLock {
    file: File,
    writable: bool,
    /// Set when the lock file named a holder that is gone: that run died holding it.
    pub took_over: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another chaos run holds cluster `{cluster}`: {holder} (lock {path})")]
    Held {
        cluster: String,
        holder: String,
        path: String,
    },
    #[error("cannot lock cluster: {0}")]
    BadName(String),
    #[error("cannot use the lock {path}: {reason}")]
    Unsafe { path: String, reason: String },
    #[error("cannot create the lock {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        // Still locked here: the next run finds an empty holder line, not a "dead" holder.
        if self.writable {
            let _ = self.file.set_len(0);
        }
    }
}

impl ClusterLock {
    /// Takes the lock of `cluster` in [`lock_dir`], or says who holds it.
    pub fn acquire(cluster: &str, what: &str) -> Result<ClusterLock, LockError> {
        Self::acquire_in(&lock_dir(), cluster, what)
    }

    /// Takes the lock of `cluster` in `dir`.
    pub fn acquire_in(dir: &Path, cluster: &str, what: &str) -> Result<ClusterLock, LockError> {
        let name = cluster_file_name(cluster).map_err(LockError::BadName)?;
        let path = dir.join(format!("{name}.lock"));
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let unsafe_ = |reason: String| LockError::Unsafe {
            path: path.display().to_string(),
            reason,
        };
        shared_dir(dir).map_err(unsafe_)?;
        // A lock file removed by someone between our open and our flock is not the lock any
        // more; a few tries settle that race.
        for _ in 0..5 {
            let (mut f, writable) = open_lock_file(&path).map_err(unsafe_)?;
            let previous = read_holder(&mut f);
            match f.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = if previous.is_empty() {
                        "a process that just started".to_string()
                    } else {
                        previous
                    };
                    return Err(LockError::Held {
                        cluster: cluster.to_string(),
                        holder,
                        path: path.display().to_string(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
            if !same_file(&f, &path) {
                continue;
            }
            let took_over = stale_holder(&previous);
            if writable {
                let pid = std::process::id();
                let me = format!(
                    "pid {pid} (start {}) uid {} running {what}",
                    process_start_time(pid).unwrap_or(0),
                    current_uid().map_or_else(|| "?".to_string(), |u| u.to_string())
                );
                f.set_len(0).map_err(io)?;
                f.rewind().map_err(io)?;
                f.write_all(me.as_bytes()).map_err(io)?;
                f.sync_data().map_err(io)?;
            }
            return Ok(ClusterLock {
                file: f,
                writable,
                took_over,
            });
        }
        Err(unsafe_(
            "the lock file keeps being replaced while we take it".to_string(),
        ))
    }
}

/// Creates the lock folder (1777 when it is the shared default, 0700 when `$CHAOS_LOCK_DIR`
/// names one) or checks the one there: a real folder, and sticky if everyone may write it.
fn shared_dir(dir: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir != Path::new(DEFAULT_LOCK_DIR) {
                private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            } else {
                match std::fs::create_dir(dir) {
                    // Not left to the umask: every user of the machine must be able to lock.
                    Ok(()) => {
                        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))
                            .map_err(|e| format!("cannot make {} mode 1777: {e}", dir.display()))?
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
                }
            }
        }
        Err(e) => return Err(format!("{}: {e}", dir.display())),
        Ok(_) => {}
    }
    let m = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !m.file_type().is_dir() {
        return Err(format!(
            "{} is not a folder (a symbolic link or a file); remove it",
            dir.display()
        ));
    }
    if m.mode() & 0o002 != 0 && m.mode() & 0o1000 == 0 {
        return Err(format!(
            "{} can be written by everyone without the sticky bit (mode {:o}), so anyone could \
             remove a lock that is held; `chmod +t` it or remove it",
            dir.display(),
            m.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Opens the lock file: an existing one without `O_CREAT`, a new one with `O_EXCL` (mode
/// 0666, so every user can take it). Read-only when this user may not write it (a flock works
/// on any open file; the holder line is then not written). Checked to be a regular file with
/// one link before it is used.
fn open_lock_file(path: &Path) -> Result<(File, bool), String> {
    let err = |e: std::io::Error| format!("{e}");
    let (f, writable) = loop {
        match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => break (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                break (File::open(path).map_err(err)?, false);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(path)
        {
            Ok(f) => {
                // Not left to the umask: the other users of the machine must be able to open it.
                f.set_permissions(std::fs::Permissions::from_mode(0o666))
                    .map_err(err)?;
                break (f, true);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(err(e)),
        }
    };
    let m = f.metadata().map_err(err)?;
    if !m.file_type().is_file() || m.nlink() != 1 || !same_file(&f, path) {
        return Err("not a plain lock file (a link, a device or a folder); remove it".to_string());
    }
    Ok((f, writable))
}

/// Whether the open file is still the one at `path` (not a symbolic link to it).
fn same_file(f: &File, path: &Path) -> bool {
    match (f.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The holder line of a lock file: at most [`MAX_HOLDER`] bytes, control characters escaped
/// (another user may have written it).
fn read_holder(f: &mut File) -> String {
    let mut raw = Vec::new();
    let _ = Read::by_ref(f).take(MAX_HOLDER).read_to_end(&mut raw);
    let _ = f.rewind();
    let mut out = String::new();
    for c in String::from_utf8_lossy(&raw).trim().chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
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
        let first = ClusterLock::acquire_in(dir.path(), "kind", "playbook a").unwrap();
        assert!(first.took_over.is_none());
        match ClusterLock::acquire_in(dir.path(), "kind", "playbook b") {
            Err(LockError::Held { holder, .. }) => {
                assert!(holder.contains("running playbook a"), "{holder}");
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("{:?}", other.err()),
        }
        drop(first);
        assert!(ClusterLock::acquire_in(dir.path(), "kind", "playbook b").is_ok());
    }

    #[test]
    fn the_lock_of_a_dead_process_is_taken_over_with_a_message() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kind.lock"),
            "pid 999999 (start 1) uid 0 running old",
        )
        .unwrap();
        let l = ClusterLock::acquire_in(dir.path(), "kind", "new").unwrap();
        assert_eq!(
            l.took_over.as_deref(),
            Some("pid 999999 (start 1) uid 0 running old")
        );
    }

    #[test]
    fn a_clean_release_leaves_no_false_crash_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kind.lock");
        // A finished holder: a pid that is surely gone, as every earlier clean run's is.
        let first = ClusterLock::acquire_in(dir.path(), "kind", "first").unwrap();
        drop(first);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        let second = ClusterLock::acquire_in(dir.path(), "kind", "second").unwrap();
        assert_eq!(second.took_over, None);
    }

    #[test]
    fn cluster_names_that_are_not_kind_names_never_reach_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("locks");
        for bad in ["../x", "a/b", "..", ""] {
            match ClusterLock::acquire_in(&inner, bad, "x") {
                Err(LockError::BadName(m)) => assert!(m.contains("not a kind cluster name"), "{m}"),
                other => panic!("{bad:?}: {:?}", other.err()),
            }
        }
        assert!(!dir.path().join("x.lock").exists());
    }

    #[test]
    fn a_symbolic_link_or_an_open_folder_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, "precious").unwrap();
        let locks = dir.path().join("locks");
        std::fs::create_dir(&locks).unwrap();
        std::os::unix::fs::symlink(&target, locks.join("kind.lock")).unwrap();
        match ClusterLock::acquire_in(&locks, "kind", "x") {
            Err(LockError::Unsafe { reason, .. }) => {
                assert!(reason.contains("not a plain lock file"), "{reason}")
            }
            other => panic!("{:?}", other.err()),
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");

        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        match ClusterLock::acquire_in(&open, "kind", "x") {
            Err(LockError::Unsafe { reason, .. }) => {
                assert!(reason.contains("without the sticky bit"), "{reason}")
            }
            other => panic!("{:?}", other.err()),
        }
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let l = ClusterLock::acquire_in(&open, "kind", "x").unwrap();
        let mode = std::fs::metadata(open.join("kind.lock")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o666, "every user can take it");
        drop(l);
    }

    #[test]
    fn the_default_lock_folder_does_not_follow_the_state_folder() {
        // Whatever CHAOS_STATE_DIR says (this test does not set CHAOS_LOCK_DIR).
        if std::env::var_os("CHAOS_LOCK_DIR").is_none() {
            assert_eq!(lock_dir(), PathBuf::from(DEFAULT_LOCK_DIR));
        }
        assert!(!lock_dir().starts_with(crate::state_dir::state_dir()));
    }
}
