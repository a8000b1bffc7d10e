//! `chaos etcd` and an `etcd-delete` playbook against a real etcd, for what they print: with
//! stdout gone every command still does its work and exits 0 (never 101); keys and values with
//! control bytes are escaped on the terminal; the backup of a playbook's delete is named on
//! stderr by default, and `RUST_LOG` decides what is logged.

use crate::support::etcd as etcd_support;

use std::process::{Output, Stdio};

use crate::support::{assert_no_controls, chaos_in};
use etcd_support::{TestEtcd, chaos};

fn closed() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `chaos etcd SUB...` with stdout closed; asserts exit 0 and no panic.
fn quietly(etcd: &TestEtcd, sub: &[&str]) -> Output {
    let out = chaos_in(&etcd.dir.path().join("state"))
        .arg("etcd")
        .args(sub)
        .args(etcd.args())
        .stdin(Stdio::null())
        .stdout(closed())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{sub:?}: {err}");
    assert_eq!(out.status.code(), Some(0), "{sub:?}: {err}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_etcd_command_finishes_its_work_with_stdout_gone() {
    let etcd = TestEtcd::start().await;
    let keys: Vec<(Vec<u8>, Vec<u8>)> = (0..300)
        .map(|i| (format!("/out/k{i:04}").into_bytes(), vec![b'v'; 32]))
        .collect();
    etcd.load(keys).await;
    quietly(&etcd, &["ls", "/out/", "--count"]);
    quietly(&etcd, &["ls", "/out/"]);
    quietly(&etcd, &["get", "/out/k0001"]);
    let backup = etcd.dir.path().join("out-backup.json");
    quietly(
        &etcd,
        &[
            "del",
            "/out/",
            "--prefix",
            "--backup",
            backup.to_str().unwrap(),
        ],
    );
    assert_eq!(etcd.value(b"/out/k0001").await, None, "del did its work");
    quietly(&etcd, &["restore", backup.to_str().unwrap()]);
    assert_eq!(etcd.value(b"/out/k0299").await, Some(vec![b'v'; 32]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_bytes_in_keys_and_values_are_escaped_on_the_terminal() {
    let etcd = TestEtcd::start().await;
    let key = b"/evil/a\x1b]0;pwned\x07b";
    etcd.put(key, b"{\"x\": 1}\r\n").await;
    etcd.put(b"/evil/json", b"{\"a\": \"\\u001b[2J\"}").await;
    etcd.put(b"/evil/bytes", b"\x1b[2Jhi\x9b").await;

    let out = chaos(&etcd, &["ls", "/evil/"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_no_controls("ls", &out.stdout);
    assert!(
        text(&out.stdout).contains("/evil/a\\x1b]0;pwned\\x07b"),
        "{}",
        text(&out.stdout)
    );

    for k in ["/evil/json", "/evil/bytes", "/evil/a\x1b]0;pwned\x07b"] {
        let out = chaos(&etcd, &["get", k]).output().unwrap();
        assert!(out.status.success(), "{k:?}: {}", text(&out.stderr));
        assert_no_controls("get", &out.stdout);
    }
    // --raw is raw on purpose.
    let out = chaos(&etcd, &["get", "/evil/bytes", "--raw"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"\x1b[2Jhi\x9b");

    // An error naming such a key is escaped too.
    let out = chaos(&etcd, &["get", "/evil/none\x1b[2J"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_no_controls("the error", &out.stderr);
    assert!(
        text(&out.stderr).contains("/evil/none\\x1b[2J"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_etcd_delete_names_its_backup_and_rust_log_decides_the_logs() {
    let etcd = TestEtcd::start().await;
    etcd.put(b"/out/victim", b"value").await;
    let dir = etcd.dir.path();
    let pb = dir.join("p.yaml");
    std::fs::write(
        &pb,
        "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: del\ncluster: kind\nsteps:\n  - etcd-delete: {key: /out/victim}\n  - assert: {etcd-key: {key: /out/victim, exists: false}}\n",
    )
    .unwrap();
    let run = |env: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = assert_cmd::Command::from_std(chaos_in(&dir.join("state")));
        cmd.env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .args(extra)
            .arg("run")
            .arg(&pb)
            .args(["--etcd-endpoints", &etcd.endpoint])
            .arg("--etcd-cacert")
            .arg(&etcd.ca)
            .arg("--etcd-cert")
            .arg(&etcd.cert)
            .arg("--etcd-key")
            .arg(&etcd.key);
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stderr)
    };
    let backups = dir.join("state/backups");
    let err = run(&[], &[]);
    assert!(
        err.contains("info: etcd: deleted 1 key(s) of key /out/victim; backup in ")
            && err.contains(&backups.display().to_string()),
        "the backup is named by default: {err}"
    );
    let err = run(&[], &["-vv"]);
    assert!(
        err.contains("[kind_chaos::backends::etcd] etcd: deleted 1 key(s)"),
        "{err}"
    );
    let err = run(&[("RUST_LOG", "warn")], &[]);
    assert!(!err.contains("backup in"), "RUST_LOG=warn hides it: {err}");
    // Whatever the logs, the JSON report's step names the backup file, and it exists.
    let report = dir.join("report.json");
    let mut cmd = assert_cmd::Command::from_std(chaos_in(&dir.join("state")));
    let out = cmd
        .env("RUST_LOG", "off")
        .arg("run")
        .arg(&pb)
        .arg("--json")
        .arg(&report)
        .args(["--etcd-endpoints", &etcd.endpoint])
        .arg("--etcd-cacert")
        .arg(&etcd.ca)
        .arg("--etcd-cert")
        .arg(&etcd.cert)
        .arg("--etcd-key")
        .arg(&etcd.key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("backup: ")
            && text(&out.stdout).contains(&backups.display().to_string()),
        "the human output names the backup: {}",
        text(&out.stdout)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let step = &json["playbooks"][0]["steps"][0];
    let file = step["backup"]
        .as_str()
        .unwrap_or_else(|| panic!("no backup in {step}"));
    assert!(file.starts_with(&backups.display().to_string()), "{file}");
    assert!(std::path::Path::new(file).is_file(), "{file}");
    assert_eq!(etcd.value(b"/out/victim").await, Some(b"value".to_vec()));
}
