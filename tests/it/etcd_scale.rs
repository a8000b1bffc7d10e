//! `chaos etcd ls` over 100,000 keys on a real etcd: the same keys as etcdctl, and a peak
//! memory that does not grow with the key count (keys are streamed page by page). The peak
//! RSS comes from GNU time (`/usr/bin/time`, Debian package `time`).

use crate::support::etcd as etcd_support;

use std::process::Command;
use std::time::Instant;

use etcd_support::TestEtcd;

const KEYS: usize = 100_000;
/// The budget of issue 8 for listing 100,000 keys.
const MAX_RSS_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_streams_100k_keys_in_flat_memory() {
    let gnu_time = std::path::Path::new("/usr/bin/time");
    assert!(
        gnu_time.exists(),
        "/usr/bin/time is missing: run scripts/setup.sh (Debian package `time`)"
    );
    let etcd = TestEtcd::start().await;
    let t = Instant::now();
    etcd.load(
        (0..KEYS)
            .map(|i| {
                (
                    format!("/registry/scale/namespace-{:03}/object-{i:06}", i % 100).into_bytes(),
                    vec![b'x'; 16],
                )
            })
            .collect(),
    )
    .await;
    eprintln!("loaded {KEYS} keys in {:?}", t.elapsed());

    let t = Instant::now();
    let out = etcd_support::chaos(&etcd, &["ls", "/registry/scale/", "--count"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        KEYS.to_string()
    );
    eprintln!("chaos etcd ls --count: {:?}", t.elapsed());

    let t = Instant::now();
    let ctl = etcd.etcdctl(&["get", "/registry/scale/", "--prefix", "--keys-only"]);
    assert!(ctl.status.success());
    let ctl_keys = String::from_utf8_lossy(&ctl.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(ctl_keys, KEYS);
    eprintln!("etcdctl get --prefix --keys-only: {:?}", t.elapsed());

    let t = Instant::now();
    let mut args = vec![
        "-f".to_string(),
        "%M".into(),
        env!("CARGO_BIN_EXE_chaos").into(),
    ];
    args.extend(["etcd".into(), "ls".into(), "/registry/scale/".into()]);
    args.extend(etcd.args());
    let out = Command::new(gnu_time).args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = out.stdout.iter().filter(|b| **b == b'\n').count();
    assert_eq!(listed, KEYS);
    let rss: u64 = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time's %M");
    eprintln!(
        "chaos etcd ls of {KEYS} keys: {:?}, peak RSS {:.1} MiB",
        t.elapsed(),
        rss as f64 / 1024.0
    );
    assert!(
        rss < MAX_RSS_KIB,
        "peak RSS {rss} KiB over {MAX_RSS_KIB} KiB"
    );
}
