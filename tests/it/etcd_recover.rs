//! `chaos recover` of a playbook `etcd-delete` on a real etcd, with a concurrent writer, when
//! the run died after the delete and before its `applied` record: recover must put back exactly
//! the values the delete removed (etcd's own history says which), never the older values read
//! before it, and must reconnect from the journal without being given the etcd flags again.
//! Also: a `kill -9` during `chaos etcd del` leaves a temporary backup file that is never taken
//! for a backup and that `chaos recover` removes.

use crate::support::etcd as etcd_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::wait::read_until;
use etcd_client::WatchOptions;
use etcd_support::{TestEtcd, deletions};
use kind_chaos::backends::etcd::BackupFile;

const KEYS: usize = 20;

fn chaos(etcd: &TestEtcd) -> Command {
    crate::support::chaos_in(&etcd.dir.path().join("state"))
}

fn key(i: usize) -> Vec<u8> {
    format!("/w/k{i:02}").into_bytes()
}

/// A value of about 1 KiB that says which write it was.
fn value(n: u64) -> Vec<u8> {
    let mut v = format!("write {n} ").into_bytes();
    v.resize(1024, b'.');
    v
}

/// `chaos run` of an `etcd-delete` of `/w/k` then a long sleep, with the test etcd's flags;
/// killed (`kill -9`) once the delete is done, after `until_killed` ran.
async fn run_killed_after_the_delete(etcd: &TestEtcd, until_killed: impl AsyncFnOnce()) -> PathBuf {
    let pb = etcd.dir.path().join("delete.yaml");
    std::fs::write(
        &pb,
        "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: etcd-kill\ncluster: kind\ntimeout: 10m\nsteps:\n  - etcd-delete: {prefix: /w/k}\n  - sleep: 5m\n",
    )
    .unwrap();
    let mut child = chaos(etcd)
        .arg("run")
        .arg(&pb)
        .args(etcd_flags(etcd))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    read_until(&mut child, "sleep 5m", Duration::from_secs(60));
    until_killed().await;
    child.kill().unwrap();
    child.wait().unwrap();
    let runs = etcd.dir.path().join("state/runs");
    std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap()
}

/// `chaos run`'s etcd flags for the test etcd.
fn etcd_flags(etcd: &TestEtcd) -> Vec<String> {
    vec![
        "--etcd-endpoints".into(),
        etcd.endpoint.clone(),
        "--etcd-cacert".into(),
        etcd.ca.display().to_string(),
        "--etcd-cert".into(),
        etcd.cert.display().to_string(),
        "--etcd-key".into(),
        etcd.key.display().to_string(),
    ]
}

/// Cuts the journal before its `applied` record, as a death between the delete and that
/// record leaves it; returns the text before the cut.
fn cut_before_applied(journal: &Path) -> String {
    let text = std::fs::read_to_string(journal).unwrap();
    let cut: Vec<&str> = text
        .lines()
        .take_while(|l| !l.contains("\"event\":\"applied\""))
        .collect();
    assert!(
        cut.len() < text.lines().count(),
        "no applied record: {text}"
    );
    std::fs::write(journal, cut.join("\n") + "\n").unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_before_applied_is_recovered_with_exactly_the_deleted_values() {
    let etcd = TestEtcd::start().await;
    let mut raw = etcd.raw().await;
    let start = raw
        .put("/w/start", "x", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    etcd.load((0..KEYS).map(|i| (key(i), value(0))).collect())
        .await;

    // The "controller": rewrites every key, round after round, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, writes) = (stop.clone(), writes.clone());
        let mut kv = raw.kv_client();
        tokio::spawn(async move {
            let mut n = 1u64;
            while !stop.load(Ordering::Relaxed) {
                kv.put(key(n as usize % KEYS), value(n), None)
                    .await
                    .unwrap();
                writes.store(n, Ordering::Relaxed);
                n += 1;
            }
        })
    };
    while writes.load(Ordering::Relaxed) < 50 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let journal = run_killed_after_the_delete(&etcd, async || {
        stop.store(true, Ordering::Relaxed);
    })
    .await;
    writer.await.unwrap();
    let text = cut_before_applied(&journal);

    // What the delete removed, from etcd's history: the value before each key's delete.
    let now = raw
        .get("/w/start", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    let deleted: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = deletions(
        &mut raw,
        WatchOptions::new().with_prefix(),
        "/w/k",
        start,
        now,
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(deleted.len(), KEYS, "the delete removed every key");
    let mut before = std::collections::BTreeMap::new();
    for i in 0..KEYS {
        before.insert(key(i), etcd.value(&key(i)).await);
    }

    let out = chaos(&etcd)
        .arg("recover")
        .args(etcd_flags(&etcd))
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    assert!(o.contains("✔ undone (steps[0]): restore"), "{o}");

    let mut stale = Vec::new();
    for i in 0..KEYS {
        let k = key(i);
        let after = etcd.value(&k).await;
        let want = match &before[&k] {
            // Written again by the controller after the delete: left as it is.
            Some(v) => v.clone(),
            None => deleted[&k].clone(),
        };
        if after.as_ref() != Some(&want) {
            stale.push(String::from_utf8_lossy(&k).into_owned());
        }
    }
    assert!(
        stale.is_empty(),
        "restored with other values than deleted: {stale:?}"
    );

    // The journal names the backup instead of holding 20 KiB of values; that file holds
    // exactly what was deleted.
    assert!(text.len() < 4096, "{} bytes: {text}", text.len());
    assert!(!text.contains("write "), "values in the journal: {text}");
    let backups = etcd.dir.path().join("state/backups");
    let file = std::fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(text.contains(&*file.to_string_lossy()), "{text}");
    let b = BackupFile::read(&file).unwrap();
    assert!(b.complete);
    for e in &b.entries {
        assert_eq!(Some(&e.entry.value), deleted.get(&e.entry.key));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_reconnects_to_etcd_as_the_run_did_without_flags() {
    let etcd = TestEtcd::start().await;
    etcd.load((0..KEYS).map(|i| (key(i), value(0))).collect())
        .await;
    let journal = run_killed_after_the_delete(&etcd, async || {}).await;
    cut_before_applied(&journal);
    assert_eq!(etcd.value(&key(0)).await, None);
    // From another folder, with no etcd flag and no kind cluster to discover them from.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = chaos(&etcd)
        .arg("recover")
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    for i in 0..KEYS {
        assert_eq!(etcd.value(&key(i)).await, Some(value(0)));
    }
}

/// Starts `chaos etcd del` and kills it as soon as its temporary backup file appears.
fn kill_during_the_backup_write(etcd: &TestEtcd, backups: &Path) -> Option<PathBuf> {
    let mut child = chaos(etcd)
        .args(["etcd", "del", "/big/", "--prefix"])
        .args(etcd.args())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let found = loop {
        let tmp = std::fs::read_dir(backups).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.to_string_lossy().contains(".json.tmp-"))
        });
        if tmp.is_some() || Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break tmp;
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let _ = child.kill();
    child.wait().unwrap();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_killed_while_it_writes_its_backup_leaves_a_temporary_that_recover_removes() {
    let etcd = TestEtcd::start().await;
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..20_000)
        .map(|i| (format!("/big/k{i:05}").into_bytes(), vec![b'v'; 1024]))
        .collect();
    etcd.load(entries).await;
    let backups = etcd.dir.path().join("state/backups");
    let mut tmp = None;
    for _ in 0..3 {
        tmp = kill_during_the_backup_write(&etcd, &backups);
        if tmp.as_ref().is_some_and(|t| t.exists()) {
            break;
        }
    }
    let tmp = tmp.expect("the temporary backup file was never seen");
    assert!(tmp.exists(), "{}", tmp.display());
    // Never taken for a backup.
    let err = BackupFile::read(&tmp).unwrap_err().to_string();
    assert!(err.contains("a temporary file of a backup"), "{err}");
    // Nothing was deleted before the backup was on disk.
    let c = etcd.client().await;
    assert_eq!(c.count_prefix(b"/big/").await.unwrap(), 20_000);

    let out = chaos(&etcd).arg("recover").output().unwrap();
    let o = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{o}");
    assert!(o.contains(&format!("removed {}", tmp.display())), "{o}");
    assert!(!tmp.exists());
}
