//! The `etcd-delete` fault through the engine against a real etcd: the playbook deletes a key
//! and a prefix, asserts and waits on them being gone, and the engine's undo puts back the
//! exact bytes from the backups (written 0600 before anything was deleted).

use crate::support::etcd as etcd_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use etcd_support::TestEtcd;
use kind_chaos::backends::etcd::{BackupFile, EtcdClient};
use kind_chaos::backends::{BackendError, Connector, EtcdOps, KubeOps, NodeOps, Result};
use kind_chaos::engine::{self, Event, Reporter, RunOptions, RunStatus, UndoStatus};
use tokio_util::sync::CancellationToken;

/// Only etcd: the nodes and the API are "not ready", so the playbook must not need them.
struct EtcdOnly(EtcdClient);

#[async_trait]
impl Connector for EtcdOnly {
    async fn nodes(&self) -> Result<Arc<dyn NodeOps>> {
        Err(BackendError::unavailable("no nodes in this test"))
    }
    async fn kube(&self) -> Result<Arc<dyn KubeOps>> {
        Err(BackendError::unavailable("no Kubernetes API in this test"))
    }
    async fn etcd(&self) -> Result<Arc<dyn EtcdOps>> {
        Ok(Arc::new(self.0.clone()))
    }
}

struct Quiet;

impl Reporter for Quiet {
    fn event(&mut self, _: &Event<'_>) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_deletes_keys_and_its_undo_restores_the_exact_bytes() {
    let etcd = TestEtcd::start().await;
    let settings: &[u8] = b"k8s\0\x0a\x0fsome protobuf\xff\x00";
    let pods: Vec<(Vec<u8>, Vec<u8>)> = (0..3)
        .map(|i| {
            (
                format!("/registry/pods/default/p{i}").into_bytes(),
                vec![i as u8, 0, 255, b'x'],
            )
        })
        .collect();
    etcd.put(b"/registry/configmaps/default/settings", settings)
        .await;
    etcd.load(pods.clone()).await;
    etcd.put(b"/registry/pods/kube-system/other", b"stays")
        .await;

    let backups = etcd.dir.path().join("backups");
    let client = etcd.client().await.with_backup_dir(&backups);
    let plan = kind_chaos::playbook::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/etcd/delete-key.yaml"),
    )
    .unwrap_or_else(|e| panic!("invalid fixture:\n{}", e.render(false)));
    let report = engine::run(
        &plan,
        Arc::new(EtcdOnly(client.clone())),
        &mut Quiet,
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await;

    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    assert_eq!(report.undo.len(), 2, "{:#?}", report.undo);
    for u in &report.undo {
        assert_eq!(u.status, UndoStatus::Undone, "{u:#?}");
    }

    // Everything is back, byte for byte; nothing else was touched.
    assert_eq!(
        etcd.value(b"/registry/configmaps/default/settings")
            .await
            .as_deref(),
        Some(settings)
    );
    for (k, v) in &pods {
        assert_eq!(etcd.value(k).await.as_ref(), Some(v));
    }
    assert_eq!(
        etcd.value(b"/registry/pods/kube-system/other")
            .await
            .as_deref(),
        Some(&b"stays"[..])
    );

    // Each delete left a complete, private backup file holding what it deleted.
    let mut files: Vec<_> = std::fs::read_dir(&backups)
        .expect("the backup directory")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let mut held = 0;
    for f in &files {
        let mode = std::fs::metadata(f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", f.display());
        let b = BackupFile::read(f).unwrap();
        assert!(b.complete, "{}", f.display());
        held += b.entries.len();
    }
    assert_eq!(held, 4);
    let dir_mode = std::fs::metadata(&backups).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}
