//! What reading nodes through containerd's socket keeps from one read to the next, so that a
//! timeline sampling every node once a second does not pay, each second and for each node, a
//! new connection to containerd, a listing of every task (containerd asks each task's shim for
//! its state) and of every container (with its OCI spec, parsed again as JSON).
//!
//! Kept per node socket (its path names the node's host PID, so a restarted node starts anew):
//! the gRPC channel, left open; and the last listing, interpreted ([`ApiView`]), with a
//! [`Fingerprint`] of what any change to it would also change, read from the host's view of
//! the node's files: containerd's metadata database (containers, their labels and specs live
//! there; every write to it moves its modification time) and the task bundles (one directory
//! per task, with its init process's PID; runc's state file of each task). The listing is used
//! again only while the fingerprint is the same, none of its times is within [`SETTLE`] of
//! now (a write in the same clock tick as the read would not move them), and it is younger
//! than [`MAX_AGE`] (a bound on what the fingerprint might miss, such as a task paused inside
//! the node). Whatever cannot be read makes no fingerprint, and the node is listed each time.

use std::collections::HashMap;
use std::fs;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tonic::transport::Channel;

use super::host::RUNNING;
use super::metadata::META_DB;
use super::parse::{ApiView, Task};

/// runc's state directories of namespace k8s.io inside the node (one per task).
const RUNC_STATE: &str = "/run/containerd/runc/k8s.io";
/// A listing is used again at most this long after it was taken.
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// A file changed this recently may change again within the same clock tick unseen.
pub const SETTLE: Duration = Duration::from_secs(1);

/// What a new listing of the node's containers and tasks could differ by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The metadata database: modification time, size, inode.
    meta: (SystemTime, u64, u64),
    /// Per task, sorted: its id, its init PID (in the node), whether that process runs, and
    /// when runc last wrote the task's state.
    tasks: Vec<(String, u32, bool, Option<SystemTime>)>,
}

/// The fingerprint of the node whose files are under `root` (`/proc/PID/root`), `tasks`
/// being its tasks as just read from their bundles ([`super::host::bundle_tasks`]: id, init
/// PID, whether that process runs); `None` when it cannot be taken or a part of it changed
/// within [`SETTLE`] of `now`.
pub fn fingerprint(root: &str, tasks: &[Task], now: SystemTime) -> Option<Fingerprint> {
    use std::os::unix::fs::MetadataExt;
    let settled = |t: SystemTime| now.duration_since(t).is_ok_and(|d| d >= SETTLE);
    let meta = fs::metadata(format!("{root}{META_DB}")).ok()?;
    let mtime = meta.modified().ok().filter(|t| settled(*t))?;
    let mut seen = Vec::with_capacity(tasks.len());
    for t in tasks {
        let state = match fs::metadata(format!("{root}{RUNC_STATE}/{}/state.json", t.id)) {
            Ok(m) => Some(m.modified().ok().filter(|t| settled(*t))?),
            Err(_) => None,
        };
        seen.push((t.id.clone(), t.pid, t.status == RUNNING, state));
    }
    seen.sort();
    Some(Fingerprint {
        meta: (mtime, meta.len(), meta.ino()),
        tasks: seen,
    })
}

/// Channels and listings kept, by where the listing came from: a node's containerd socket or
/// its metadata database (either path names the node's host PID). Turned off
/// ([`Kept::turn_off`]) for a command that reads the nodes once: nothing is kept, and no
/// fingerprint is taken for a later read that will not come.
#[derive(Debug, Default)]
pub struct Kept {
    nodes: Mutex<HashMap<String, KeptNode>>,
    off: AtomicBool,
}

#[derive(Debug)]
struct KeptNode {
    /// The open channel, for a socket.
    channel: Option<Channel>,
    listed: Option<Listed>,
}

#[derive(Debug)]
struct Listed {
    at: Fingerprint,
    taken: Instant,
    view: ApiView,
}

impl Kept {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeptNode>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps nothing from now on (and drops what was kept).
    pub fn turn_off(&self) {
        self.off.store(true, Ordering::Relaxed);
        self.clear();
    }

    /// Whether reads keep what they read (else they need no fingerprint either).
    pub fn on(&self) -> bool {
        !self.off.load(Ordering::Relaxed)
    }

    /// The open channel to this socket, if one is kept.
    pub fn channel(&self, socket: &str) -> Option<Channel> {
        self.lock().get(socket).and_then(|n| n.channel.clone())
    }

    /// Keeps a newly opened channel (and forgets sockets that are gone: nodes stopped or
    /// restarted under another PID).
    pub fn keep_channel(&self, socket: &str, channel: Channel) {
        if !self.on() {
            return;
        }
        let mut all = self.lock();
        all.retain(|s, _| std::path::Path::new(s).exists());
        all.insert(
            socket.to_string(),
            KeptNode {
                channel: Some(channel),
                listed: None,
            },
        );
    }

    /// The listing kept for this socket, if it was taken at this fingerprint less than
    /// [`MAX_AGE`] before `now`.
    pub fn view(&self, socket: &str, at: &Fingerprint, now: Instant) -> Option<ApiView> {
        let all = self.lock();
        let listed = all.get(socket)?.listed.as_ref()?;
        (listed.at == *at && now.saturating_duration_since(listed.taken) < MAX_AGE)
            .then(|| listed.view.clone())
    }

    /// Keeps a listing taken at `at` (`None`: it will not be used again).
    /// A source without a channel (the metadata database) gets its entry here, and sources
    /// that are gone are forgotten then.
    pub fn keep_view(&self, socket: &str, at: Option<Fingerprint>, taken: Instant, view: ApiView) {
        if !self.on() {
            return;
        }
        let mut all = self.lock();
        if !all.contains_key(socket) {
            all.retain(|s, _| std::path::Path::new(s).exists());
        }
        let node = all.entry(socket.to_string()).or_insert(KeptNode {
            channel: None,
            listed: None,
        });
        node.listed = at.map(|at| Listed { at, taken, view });
    }

    /// Drops everything kept.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Drops what is kept for this socket (its channel failed).
    pub fn forget(&self, socket: &str) {
        self.lock().remove(socket);
    }
}

#[cfg(test)]
mod tests;
