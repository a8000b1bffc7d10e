//! The ground floor of kind-chaos's own files on this machine: where they live (the state
//! directory: undo journals in `runs/`, etcd backups in `backups/`), how their folders are made
//! (private, 0700), which files are trusted (this user's own, writable by no one else, see
//! [`check_own`]), and whether the process that wrote one still runs ([`process_alive`]).
//!
//! Why it is its own module at the bottom: the journal (above the engine) and the etcd backend
//! (below it) both keep files here. Neither may reach into the other's floor, so the knowledge
//! they share sits under both, and every import points down (ARCHITECTURE.md, "The floors").

mod process;
mod trust;

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub use process::{process_alive, process_start_time};
pub use trust::{check_own, cluster_file_name, current_uid};

/// Where journals and backups live: `$CHAOS_STATE_DIR`, else `$XDG_STATE_HOME/kind-chaos`,
/// else `~/.local/state/kind-chaos`. (The run lock lives elsewhere: `journal::lock_dir`.)
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
