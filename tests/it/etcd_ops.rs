//! The etcd delete's promise under concurrent writes, on a real etcd: a key that a "controller"
//! keeps rewriting while a prefix is deleted is deleted, and the backup holds exactly the value
//! etcd removed (checked against etcd's own history: a watch with `prev_kv`).

use crate::support::etcd as etcd_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use etcd_client::WatchOptions;
use etcd_support::{TestEtcd, deletions};
use kind_chaos::backends::EtcdSelector;
use kind_chaos::backends::etcd::{BackupFile, DeleteReport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rewritten_during_the_delete_is_backed_up_with_the_value_deleted() {
    // Every 2 ms: faster than a guarded retry, so the last try is unguarded.
    let fast = race(Duration::from_millis(2)).await;
    assert_eq!(fast.unguarded, vec!["/race/hot".to_string()]);
    // Every 40 ms: a guarded retry usually wins (either way the backup must be exact).
    let slow = race(Duration::from_millis(40)).await;
    eprintln!("slow writer: unguarded {:?}", slow.unguarded);
}

/// `n` keys `{prefix}{i:05}` with the values `value(i)`.
fn numbered(prefix: &str, n: usize, value: impl Fn(usize) -> Vec<u8>) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| (format!("{prefix}{i:05}").into_bytes(), value(i)))
        .collect()
}

/// The keys and values of a backup file, which must be complete.
fn backed_up(path: &std::path::Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let file = BackupFile::read(path).unwrap();
    assert!(file.complete);
    file.entries
        .iter()
        .map(|e| (e.entry.key.clone(), e.entry.value.clone()))
        .collect()
}

async fn race(every: Duration) -> DeleteReport {
    let etcd = TestEtcd::start().await;
    let cold = numbered("/race/c", 3000, |i| format!("cold{i}").into_bytes());
    etcd.load(cold.clone()).await;
    let mut raw = etcd.raw().await;
    let start = raw
        .put("/race/hot", "v0", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();

    // The "controller": rewrites the hot key until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut kv = raw.kv_client();
        tokio::spawn(async move {
            let mut i = 1u64;
            while !stop.load(Ordering::Relaxed) {
                kv.put("/race/hot", format!("v{i}"), None).await.unwrap();
                i += 1;
                tokio::time::sleep(every).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;

    let client = etcd.client().await;
    let path = etcd.dir.path().join("race.json");
    let report = client
        .delete_with_backup(&EtcdSelector::Prefix("/race/".into()), &path)
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    let backed = backed_up(&path);
    let deleted: Vec<(Vec<u8>, Vec<u8>)> = report
        .backup
        .entries
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    assert_eq!(backed, deleted, "the file holds exactly what was deleted");
    for c in &cold {
        assert!(deleted.contains(c), "{}", String::from_utf8_lossy(&c.0));
    }

    // etcd's own history of the hot key: the value each delete removed.
    let end = raw
        .get("/race/hot", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    let removed: Vec<Vec<u8>> = deletions(&mut raw, WatchOptions::new(), "/race/hot", start, end)
        .await
        .into_iter()
        .map(|(_, value)| value)
        .collect();
    let hot_backup: Vec<&Vec<u8>> = deleted
        .iter()
        .filter(|(k, _)| k == b"/race/hot")
        .map(|(_, v)| v)
        .collect();
    match (removed.as_slice(), hot_backup.as_slice()) {
        ([gone], [kept]) => assert_eq!(gone, *kept, "the backup holds the value deleted"),
        other => panic!("deleted and backed up do not match: {other:?}"),
    }
    report
}

/// Someone else deletes keys under the prefix while ours runs: the one-transaction delete
/// must not claim (and later restore) a key it did not delete. Every key ends up deleted by
/// exactly one of the two, and the backup holds exactly ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_deleted_by_someone_else_meanwhile_are_not_in_the_backup() {
    let etcd = TestEtcd::start().await;
    let all = numbered("/gone/c", 3000, |i| format!("value{i}").into_bytes());
    etcd.load(all.clone()).await;
    let raw = etcd.raw().await;

    // The other deleter: key after key, in the order our read pages through them.
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let stop = stop.clone();
        let mut kv = raw.kv_client();
        let keys: Vec<Vec<u8>> = all.iter().map(|(k, _)| k.clone()).collect();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            for k in keys {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if kv.delete(k.clone(), None).await.unwrap().deleted() == 1 {
                    mine.push(k);
                }
            }
            mine
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;

    let client = etcd.client().await;
    let path = etcd.dir.path().join("gone.json");
    let report = client
        .delete_with_backup(&EtcdSelector::Prefix("/gone/".into()), &path)
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let theirs = other.await.unwrap();

    let backed = backed_up(&path);
    let ours: Vec<Vec<u8>> = backed.iter().map(|(k, _)| k.clone()).collect();
    let reported: Vec<Vec<u8>> = report
        .backup
        .entries
        .iter()
        .map(|e| e.key.clone())
        .collect();
    assert_eq!(ours, reported, "the file holds exactly what was deleted");
    eprintln!(
        "ours {}, theirs {} (of {})",
        ours.len(),
        theirs.len(),
        all.len()
    );
    assert!(!theirs.is_empty() && !ours.is_empty(), "no race happened");
    for k in &theirs {
        assert!(
            !ours.contains(k),
            "{} was deleted by the other client but is in our backup",
            String::from_utf8_lossy(k)
        );
    }
    assert_eq!(
        ours.len() + theirs.len(),
        all.len(),
        "every key deleted once"
    );
    for (key, value) in &backed {
        let want = all.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        assert_eq!(Some(value), want, "the backup holds the value deleted");
    }
    assert_eq!(etcd.value(b"/gone/c00000").await, None);
    assert_eq!(client.count_prefix(b"/gone/").await.unwrap(), 0);
}

/// Values as big as Kubernetes objects get: pages are sized by bytes after the first (6 MiB of
/// 12 KiB values), and every value is backed up, in order, and deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_values_are_paged_by_bytes_and_all_backed_up() {
    let etcd = TestEtcd::start().await;
    let big = numbered("/big/k", 700, |i| vec![b'a' + (i % 26) as u8; 12 * 1024]);
    etcd.load(big.clone()).await;
    let client = etcd.client().await;
    let path = etcd.dir.path().join("big.json");
    let report = client
        .delete_with_backup(&EtcdSelector::Prefix("/big/".into()), &path)
        .await
        .unwrap();
    assert_eq!(backed_up(&path), big);
    assert_eq!(report.backup.entries.len(), 700);
    assert_eq!(client.count_prefix(b"/big/").await.unwrap(), 0);
}

/// A delete killed while it wrote its backup leaves `*.json.tmp-<pid>-<start>`: the next delete
/// into the same folder removes those of writers that are gone and keeps a live writer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_delete_removes_temporaries_of_killed_writers() {
    let etcd = TestEtcd::start().await;
    etcd.put(b"/tmpcase/a", b"1").await;
    let client = etcd.client().await;
    let backups = client.backup_dir().to_path_buf();
    std::fs::create_dir_all(&backups).unwrap();
    let dead = backups.join("etcd-old.json.tmp-999999-1");
    std::fs::write(&dead, vec![b'x'; 4096]).unwrap();
    let me = std::process::id();
    let live = backups.join(format!(
        "etcd-live.json.tmp-{me}-{}",
        kind_chaos::state_dir::process_start_time(me).unwrap()
    ));
    std::fs::write(&live, "x").unwrap();
    let path = backups.join("now.json");
    client
        .delete_with_backup(&EtcdSelector::Key("/tmpcase/a".into()), &path)
        .await
        .unwrap();
    assert!(!dead.exists(), "a dead writer's temporary is removed");
    assert!(live.exists(), "a live writer's temporary is kept");
    assert_eq!(backed_up(&path).len(), 1);
}
