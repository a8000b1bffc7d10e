//! etcd, raw: the backend behind `chaos etcd ls|get|del|restore` and the playbook fault
//! `etcd-delete`, on etcd-client with TLS client certificates.
//!
//! Deleting from etcd behind Kubernetes' back is the sharpest fault this tool has, so the
//! backend's first promise is that nothing it deletes is lost: every delete reads the keys at
//! one revision, writes them to a backup file (0600, fsync'd, see [`backup`]) *before* the
//! first key goes, and then deletes each key only if it still holds the value that was backed
//! up (a transaction on its `mod_revision`, with `prev_kv` to check). A key that changed in
//! between is read again and backed up again before it is deleted (one that keeps changing
//! through three tries is deleted unguarded and its removed value written at once, see
//! [`delete_restore`]); keys created under a prefix after the read are left alone and reported. `restore` puts back exactly the backed-up
//! values and never overwrites a key that exists again unless forced.
//!
//! The second promise is that large key spaces stay cheap: ranges are read in pages at one
//! pinned revision, and `ls` streams keys page by page (see [`range`]).
//!
//! For a kind cluster the endpoint and credentials are discovered through the Docker API
//! ([`discover`]); values are decoded for people by [`decode`]; reads that show etcd's own
//! revisions, versions and leases, and watches, are in [`revisions`].

pub mod backup;
mod connect;
pub mod decode;
mod delete_restore;
mod diagnose;
pub mod discover;
mod error;
mod etcd_ops;
mod range;
pub mod revisions;

use std::path::PathBuf;

pub use backup::BackupFile;
pub use connect::{CONNECT_TIMEOUT, Credentials, EtcdFlags, REQUEST_TIMEOUT, connect_endpoints};
pub use delete_restore::DeleteReport;
pub use discover::{connect, connect_for_cluster, discovery_failed};
pub use error::EtcdError;
pub use revisions::{EtcdWatch, Header, Kv, RangeSummary, WatchEvent};

/// The largest response accepted (a page of big values); etcd's own request limit is 1.5 MiB
/// per value, so this leaves room for a full page of them.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// A connected etcd client. Cheap to clone (the connection is shared).
#[derive(Clone)]
pub struct EtcdClient {
    kv: etcd_client::KvClient,
    watch: etcd_client::WatchClient,
    endpoint: String,
    backup_dir: PathBuf,
}

impl std::fmt::Debug for EtcdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdClient")
            .field("endpoint", &self.endpoint)
            .field("backup_dir", &self.backup_dir)
            .finish()
    }
}

impl EtcdClient {
    fn new(client: etcd_client::Client, endpoint: String) -> Self {
        EtcdClient {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
            watch: client.watch_client().max_decoding_message_size(MAX_MESSAGE),
            endpoint,
            backup_dir: backup::default_dir(),
        }
    }

    /// The endpoint this client talks to (`https://host:port`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Where deletes made through [`EtcdOps::delete`](crate::backends::EtcdOps::delete) (playbook faults) write their backups;
    /// by default `backups/` in the state directory (see [`backup::default_dir`]).
    pub fn backup_dir(&self) -> &std::path::Path {
        &self.backup_dir
    }

    pub fn with_backup_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.backup_dir = dir.into();
        self
    }

    fn kv(&self) -> etcd_client::KvClient {
        self.kv.clone()
    }

    fn watcher(&self) -> etcd_client::WatchClient {
        self.watch.clone()
    }
}
