use std::collections::BTreeSet;
use std::fs::{self, File};
use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::backends::docker::reality::host::{BUNDLES, bundle_tasks};

/// The fingerprint with the tasks read from the bundles under `root`, `live` the node's PIDs.
fn fingerprint_of(root: &str, live: &BTreeSet<u32>, now: SystemTime) -> Option<Fingerprint> {
    fingerprint(root, &bundle_tasks(root, live).unwrap(), now)
}

/// A node's files as the host sees them: metadata database, two task bundles, runc state.
fn node_root(dir: &std::path::Path, old: SystemTime) -> String {
    let root = dir.to_string_lossy().to_string();
    let meta = format!("{root}{META_DB}");
    fs::create_dir_all(std::path::Path::new(&meta).parent().unwrap()).unwrap();
    fs::write(&meta, b"bolt").unwrap();
    File::options()
        .write(true)
        .open(&meta)
        .unwrap()
        .set_modified(old)
        .unwrap();
    for (id, pid) in [("aaa", "101"), ("bbb", "102")] {
        let bundle = format!("{root}{BUNDLES}/{id}");
        fs::create_dir_all(&bundle).unwrap();
        fs::write(format!("{bundle}/init.pid"), pid).unwrap();
        let state = format!("{root}{RUNC_STATE}/{id}");
        fs::create_dir_all(&state).unwrap();
        fs::write(format!("{state}/state.json"), b"{}").unwrap();
        File::options()
            .write(true)
            .open(format!("{state}/state.json"))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    root
}

fn set_modified(path: &str, t: SystemTime) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn the_fingerprint_moves_with_every_change_a_listing_could_show() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let old = now - Duration::from_secs(60);
    let root = node_root(dir.path(), old);
    let live = BTreeSet::from([1, 101, 102]);
    let first = fingerprint_of(&root, &live, now).unwrap();
    assert_eq!(
        fingerprint_of(&root, &live, now),
        Some(first.clone()),
        "nothing changed"
    );
    assert_eq!(first.tasks.len(), 2);

    // A task's init process died.
    let fewer = BTreeSet::from([1, 101]);
    assert_ne!(fingerprint_of(&root, &fewer, now).unwrap(), first);

    // A new task (its bundle has its init process's PID).
    let bundle = format!("{root}{BUNDLES}/ccc");
    fs::create_dir_all(&bundle).unwrap();
    fs::write(format!("{bundle}/init.pid"), "103").unwrap();
    let more = fingerprint_of(&root, &live, now).unwrap();
    assert_ne!(more, first);
    fs::remove_dir_all(&bundle).unwrap();
    assert_eq!(fingerprint_of(&root, &live, now).unwrap(), first);

    // runc wrote a task's state.
    let state = format!("{root}{RUNC_STATE}/aaa/state.json");
    set_modified(&state, old + Duration::from_secs(5));
    let restated = fingerprint_of(&root, &live, now).unwrap();
    assert_ne!(restated, first);

    // containerd wrote its metadata (a container created, relabelled or removed).
    let meta = format!("{root}{META_DB}");
    set_modified(&meta, old + Duration::from_secs(7));
    assert_ne!(fingerprint_of(&root, &live, now).unwrap(), restated);
}

#[test]
fn no_fingerprint_for_what_changed_within_the_settle_time_or_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let root = node_root(dir.path(), now - Duration::from_secs(60));
    let live = BTreeSet::from([101, 102]);
    assert!(fingerprint_of(&root, &live, now).is_some());

    // A file written within the settle time leaves no fingerprint.
    let fresh = |path: &str, why: &str| {
        set_modified(path, now - SETTLE / 2);
        assert_eq!(fingerprint_of(&root, &live, now), None, "{why}");
    };
    let state = format!("{root}{RUNC_STATE}/bbb/state.json");
    fresh(&state, "a task's state just written");
    set_modified(&state, now - SETTLE * 2);
    assert!(fingerprint_of(&root, &live, now).is_some());

    let meta = format!("{root}{META_DB}");
    fresh(&meta, "metadata just written");
    fs::remove_file(&meta).unwrap();
    assert_eq!(
        fingerprint_of(&root, &live, now),
        None,
        "no metadata database"
    );
}

#[tokio::test]
async fn a_listing_is_used_again_only_at_the_same_fingerprint_and_while_young() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let root = node_root(dir.path(), now - Duration::from_secs(60));
    let socket = format!("{root}/containerd.sock");
    fs::write(&socket, b"").unwrap();
    let at = fingerprint_of(&root, &BTreeSet::from([101, 102]), now).unwrap();
    let other = fingerprint_of(&root, &BTreeSet::from([101]), now).unwrap();

    let kept = Kept::default();
    let t0 = Instant::now();
    assert!(kept.view(&socket, &at, t0).is_none(), "nothing kept yet");
    let channel = tonic::transport::Endpoint::from_static("http://[::1]:1").connect_lazy();
    kept.keep_channel(&socket, channel);
    assert!(kept.channel(&socket).is_some());
    kept.keep_view(&socket, Some(at.clone()), t0, ApiView::default());

    assert_eq!(
        kept.view(&socket, &at, t0 + MAX_AGE / 2),
        Some(ApiView::default())
    );
    assert!(
        kept.view(&socket, &other, t0).is_none(),
        "another fingerprint"
    );
    assert!(kept.view(&socket, &at, t0 + MAX_AGE).is_none(), "too old");

    kept.keep_view(&socket, None, t0, ApiView::default());
    assert!(
        kept.view(&socket, &at, t0).is_none(),
        "kept without a fingerprint"
    );

    kept.forget(&socket);
    assert!(kept.channel(&socket).is_none());
}

#[tokio::test]
async fn channels_of_sockets_that_are_gone_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone.sock").to_string_lossy().to_string();
    let here = dir.path().join("here.sock").to_string_lossy().to_string();
    fs::write(&gone, b"").unwrap();
    fs::write(&here, b"").unwrap();
    let kept = Kept::default();
    let lazy = || tonic::transport::Endpoint::from_static("http://[::1]:1").connect_lazy();
    kept.keep_channel(&gone, lazy());
    fs::remove_file(&gone).unwrap();
    kept.keep_channel(&here, lazy());
    assert!(kept.channel(&gone).is_none());
    assert!(kept.channel(&here).is_some());
}

/// A node's files under `dir` (see [`node_root`]): its metadata database's path and the
/// fingerprint of a listing read from it.
fn database_listing(dir: &std::path::Path) -> (String, Fingerprint) {
    let now = SystemTime::now();
    let root = node_root(dir, now - Duration::from_secs(60));
    let at = fingerprint_of(&root, &BTreeSet::from([101, 102]), now).unwrap();
    (format!("{root}{META_DB}"), at)
}

/// A listing read from the metadata database is kept with no channel, and forgotten once the
/// database is gone (the node restarted under another PID).
#[test]
fn a_listing_without_a_channel_is_kept_until_its_source_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let (db, at) = database_listing(dir.path());
    let (kept, t0) = (Kept::default(), Instant::now());
    kept.keep_view(&db, Some(at.clone()), t0, ApiView::default());
    assert_eq!(kept.view(&db, &at, t0), Some(ApiView::default()));
    assert!(kept.channel(&db).is_none());
    fs::remove_file(&db).unwrap();
    let other = dir.path().join("other.db").to_string_lossy().to_string();
    fs::write(&other, b"").unwrap();
    kept.keep_view(&other, Some(at.clone()), t0, ApiView::default());
    assert!(kept.view(&db, &at, t0).is_none(), "its database is gone");
    assert!(kept.view(&other, &at, t0).is_some());
}

/// Turned off (a command that reads once), nothing is kept and what was kept is dropped.
#[test]
fn turned_off_it_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, at) = database_listing(dir.path());
    let (kept, t0) = (Kept::default(), Instant::now());
    assert!(kept.on());
    kept.keep_view(&db, Some(at.clone()), t0, ApiView::default());
    assert!(kept.view(&db, &at, t0).is_some());
    kept.turn_off();
    assert!(!kept.on());
    assert!(kept.view(&db, &at, t0).is_none(), "dropped");
    kept.keep_view(&db, Some(at.clone()), t0, ApiView::default());
    assert!(kept.view(&db, &at, t0).is_none(), "not kept");
}
