//! [`EtcdOps`] over the fake's key-value map: no backup files (the engine journals the values).

use async_trait::async_trait;

use super::FakeCluster;
use crate::backends::*;

#[async_trait]
impl EtcdOps for FakeCluster {
    async fn read(&self, sel: &EtcdSelector) -> Result<EtcdBackup> {
        self.gate("etcd-read").await?;
        let s = self.state();
        let entries = s
            .etcd
            .iter()
            .filter(|(k, _)| match sel {
                EtcdSelector::Key(x) => *k == x,
                EtcdSelector::Prefix(p) => k.starts_with(p.as_str()),
            })
            .map(|(k, v)| EtcdEntry {
                key: k.clone().into_bytes(),
                value: v.clone().into_bytes(),
            })
            .collect();
        Ok(EtcdBackup {
            revision: 1,
            entries,
        })
    }

    async fn delete(&self, sel: &EtcdSelector, _: Option<&std::path::Path>) -> Result<EtcdBackup> {
        self.gate("etcd-delete").await?;
        self.record(format!("etcd-delete {sel}"));
        let mut s = self.state();
        let keys: Vec<String> = s
            .etcd
            .keys()
            .filter(|k| match sel {
                EtcdSelector::Key(x) => *k == x,
                EtcdSelector::Prefix(p) => k.starts_with(p.as_str()),
            })
            .cloned()
            .collect();
        let mut entries = Vec::new();
        for k in keys {
            if let Some(v) = s.etcd.remove(&k) {
                entries.push(EtcdEntry {
                    key: k.into_bytes(),
                    value: v.into_bytes(),
                });
            }
        }
        Ok(EtcdBackup {
            revision: 1,
            entries,
        })
    }

    async fn restore(&self, backup: &EtcdBackup, force: bool) -> Result<RestoreReport> {
        self.gate("etcd-restore").await?;
        self.record(format!("etcd-restore {} keys", backup.entries.len()));
        let mut s = self.state();
        let mut report = RestoreReport::default();
        if s.knobs.undo_noop {
            return Ok(report);
        }
        for e in &backup.entries {
            let k = String::from_utf8_lossy(&e.key).to_string();
            if s.etcd.contains_key(&k) && !force {
                report.skipped.push(k);
            } else {
                s.etcd
                    .insert(k.clone(), String::from_utf8_lossy(&e.value).to_string());
                report.restored.push(k);
            }
        }
        Ok(report)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        self.read("etcd-get", |s| s.etcd.contains_key(key)).await
    }

    async fn count(&self, prefix: &str) -> Result<u64> {
        self.read("etcd-count", |s| {
            s.etcd.keys().filter(|k| k.starts_with(prefix)).count() as u64
        })
        .await
    }
}
