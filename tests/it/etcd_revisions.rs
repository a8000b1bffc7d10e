//! `chaos etcd` against a real etcd (TLS client certificates), for what shows etcd's own
//! bookkeeping: `get`/`ls --rev N` read the past, `-w json` is what etcdctl's `-w json` prints
//! (compared value for value with etcdctl's output, leases included), `watch` prints events from
//! a revision and live ones until `--count` or Ctrl-C, and `decode FILE` shows a saved value as
//! `get` shows it with no etcd at all.

use crate::support::etcd as etcd_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{chaos_bin, text};
use etcd_support::{TestEtcd, chaos};
use serde_json::Value;

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

/// The revision a fresh put of `key` was written at.
async fn put_rev(etcd: &TestEtcd, key: &str, value: &str) -> i64 {
    let mut raw = etcd.raw().await;
    let r = raw.put(key, value, None).await.expect("put");
    r.header().expect("a header").revision()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_ls_with_w_json_are_etcdctls_json_with_revisions_and_leases() {
    let etcd = TestEtcd::start().await;
    let first = put_rev(&etcd, "/j/a", "one").await;
    put_rev(&etcd, "/j/a", "two").await;
    put_rev(&etcd, "/j/b", "bee").await;
    let mut raw = etcd.raw().await;
    let lease = raw.lease_grant(600, None).await.expect("lease").id();
    raw.put(
        "/j/leased",
        "v",
        Some(etcd_client::PutOptions::new().with_lease(lease)),
    )
    .await
    .expect("put with a lease");

    for (ours, theirs) in [
        (
            vec!["get", "/j/a", "-w", "json"],
            vec!["get", "/j/a", "-w", "json"],
        ),
        (
            vec!["get", "/j/leased", "-w", "json"],
            vec!["get", "/j/leased", "-w", "json"],
        ),
        (
            vec!["ls", "/j/", "-w", "json"],
            vec!["get", "/j/", "--prefix", "--keys-only", "-w", "json"],
        ),
        (
            vec!["ls", "/j/", "--limit", "2", "-w", "json"],
            vec![
                "get",
                "/j/",
                "--prefix",
                "--keys-only",
                "--limit",
                "2",
                "-w",
                "json",
            ],
        ),
    ] {
        let out = chaos(&etcd, &ours).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{ours:?}: {}", text(&out));
        let ctl = etcd.etcdctl(&theirs);
        assert!(ctl.status.success(), "{}", text(&ctl));
        assert_eq!(json(&out.stdout), json(&ctl.stdout), "{ours:?}");
    }
    let leased = json(
        &chaos(&etcd, &["get", "/j/leased", "-w", "json"])
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(leased["kvs"][0]["lease"], lease);
    assert_eq!(leased["kvs"][0]["value"], "dg==");

    // The past: /j/a as it was at its first write, and the keys that existed then.
    let out = chaos(&etcd, &["get", "/j/a", "--rev", &first.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "one");
    let then = json(
        &chaos(
            &etcd,
            &["get", "/j/a", "--rev", &first.to_string(), "-w", "json"],
        )
        .output()
        .unwrap()
        .stdout,
    );
    assert_eq!(then["kvs"][0]["version"], 1);
    assert_eq!(then["kvs"][0]["mod_revision"], first);
    let out = chaos(&etcd, &["ls", "/j/", "--rev", &first.to_string()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/j/a\n");
    let out = chaos(
        &etcd,
        &["ls", "/j/", "--count", "--rev", &first.to_string()],
    )
    .output()
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
    let out = chaos(&etcd, &["get", "/j/b", "--rev", &first.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("etcd key /j/b does not exist at revision {first}")),
        "{}",
        text(&out)
    );
    // A revision etcd has not reached is etcd's error, exit 4.
    let out = chaos(&etcd, &["get", "/j/a", "--rev", "999999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("future revision"), "{}", text(&out));
}

/// Lines a child writes, handed over as they come (a test never blocks on a silent child).
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn next(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(20))
        .expect("a watch event within 20 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_past_and_live_events_until_count_or_ctrl_c() {
    let etcd = TestEtcd::start().await;
    let from = put_rev(&etcd, "/w/a", "1").await;
    put_rev(&etcd, "/w/a", "2").await;
    put_rev(&etcd, "/other", "x").await;
    etcd.raw().await.delete("/w/a", None).await.expect("delete");

    // From a revision, with --count: the history, then exit 0.
    let out = chaos(
        &etcd,
        &["watch", "/w/", "--rev", &from.to_string(), "--count", "3"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "PUT /w/a (revision {from}, version 1)\nPUT /w/a (revision {}, version 2)\nDELETE /w/a (revision {})\n",
            from + 1,
            from + 3
        )
    );
    let out = chaos(
        &etcd,
        &[
            "watch",
            "/w/a",
            "--exact",
            "--rev",
            &from.to_string(),
            "--count",
            "1",
            "-w",
            "json",
        ],
    )
    .output()
    .unwrap();
    let event = json(&out.stdout);
    assert_eq!(event["type"], "PUT");
    assert_eq!(event["kv"]["key"], "L3cvYQ==");
    assert_eq!(event["kv"]["value"], "MQ==");
    assert_eq!(event["kv"]["create_revision"], from);

    // Live: an event written after the watch started is printed as it happens; Ctrl-C ends
    // the watch with exit 0.
    let mut cmd = chaos_bin();
    cmd.env("CHAOS_STATE_DIR", etcd.dir.path().join("state"))
        .args(["etcd", "watch", "/w/", "--rev", &(from + 3).to_string()])
        .args(etcd.args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let rx = lines_of(&mut child);
    assert_eq!(next(&rx), format!("DELETE /w/a (revision {})", from + 3));
    let live = put_rev(&etcd, "/w/live", "now").await;
    assert_eq!(
        next(&rx),
        format!("PUT /w/live (revision {live}, version 1)")
    );
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));
}

fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the watch did not stop within {limit:?} of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_shows_a_saved_value_as_get_does_without_any_etcd() {
    let etcd = TestEtcd::start().await;
    let pod = crate::etcd_cli::stored_pod();
    etcd.put(b"/registry/pods/default/web", &pod).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.bin");
    let saved = chaos(&etcd, &["get", "/registry/pods/default/web", "--raw"])
        .output()
        .unwrap();
    assert_eq!(saved.stdout, pod, "--raw writes the bytes as stored");
    std::fs::write(&file, &saved.stdout).unwrap();
    for format in ["yaml", "json"] {
        let got = chaos(&etcd, &["get", "/registry/pods/default/web", "-o", format])
            .output()
            .unwrap();
        // No etcd flags, no Docker: decode never connects.
        let decoded = chaos_bin()
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args(["etcd", "decode", file.to_str().unwrap(), "-o", format])
            .output()
            .unwrap();
        assert_eq!(decoded.status.code(), Some(0), "{}", text(&decoded));
        assert_eq!(decoded.stdout, got.stdout, "{format}");
    }
    let mut stdin = chaos_bin()
        .args(["etcd", "decode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        stdin.stdin.take().unwrap().write_all(&pod).unwrap();
    }
    let out = stdin.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("name: web"),
        "{}",
        text(&out)
    );
    let out = chaos_bin()
        .args(["etcd", "decode", "/nonexistent/value.bin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("cannot read /nonexistent/value.bin"),
        "{}",
        text(&out)
    );
}
