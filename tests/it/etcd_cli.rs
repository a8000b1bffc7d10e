//! `chaos etcd` against a real etcd with TLS client-certificate auth: paged listing of many
//! keys, decoded values, delete with backup and byte-exact restore, restore that never
//! clobbers, and connection failures that exit 3 naming the endpoint.

use crate::support::etcd as etcd_support;

use std::os::unix::fs::PermissionsExt;

use crate::support::free_port;
use etcd_support::{TestEtcd, chaos};
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use kind_chaos::backends::etcd::BackupFile;
use prost::Message;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_pages_through_twelve_thousand_keys_like_etcdctl() {
    let etcd = TestEtcd::start().await;
    let n = 12_000;
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| (format!("/load/k{i:06}").into_bytes(), vec![b'v'; 64]))
        .collect();
    etcd.load(entries).await;
    etcd.put(b"/loader-not-under-prefix", b"x").await;

    let out = chaos(&etcd, &["ls", "/load/"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(listed.len(), n, "every key, once (pages of 5000 keys)");
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, listed, "in key order, no duplicates across pages");
    assert_eq!(listed[0], "/load/k000000");
    assert_eq!(listed[n - 1], format!("/load/k{:06}", n - 1));

    let ctl = etcd.etcdctl(&["get", "/load/", "--prefix", "--keys-only"]);
    assert!(ctl.status.success(), "{}", stderr(&ctl));
    let ctl_keys: Vec<String> = stdout(&ctl)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    assert_eq!(ctl_keys, listed, "the same keys as etcdctl");

    let out = chaos(&etcd, &["ls", "/load/", "--count"]).output().unwrap();
    assert_eq!(stdout(&out).trim(), n.to_string());
    let out = chaos(&etcd, &["ls", "/load/", "--limit", "7"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).lines().count(), 7);
    let out = chaos(&etcd, &["ls", "", "--count"]).output().unwrap();
    assert_eq!(
        stdout(&out).trim(),
        (n + 1).to_string(),
        "empty prefix: every key"
    );
}

/// A Pod as the API server stores it: `k8s\0` + runtime.Unknown{v1, Pod, raw}.
pub(crate) fn stored_pod() -> Vec<u8> {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("0b5f0c2e-1111-2222-3333-444455556666".into()),
            generate_name: Some(String::new()),
            labels: [("app".to_string(), "web".to_string())].into(),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_700_000_000),
                nanos: Some(0),
            }),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: Some("app".into()),
                image: Some("busybox:1.36".into()),
                args: vec!["--timed".into()],
                ..Default::default()
            }],
            volumes: vec![core::Volume {
                name: Some("scratch".into()),
                volume_source: Some(core::VolumeSource {
                    empty_dir: Some(core::EmptyDirVolumeSource::default()),
                    ..Default::default()
                }),
            }],
            termination_grace_period_seconds: Some(5),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some("10.244.1.7".into()),
            host_ips: vec![core::HostIp {
                ip: Some("172.18.0.3".into()),
            }],
            ..Default::default()
        }),
    };
    let envelope = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
        }),
        raw: Some(pod.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut value = b"k8s\0".to_vec();
    value.extend(envelope.encode_to_vec());
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_decodes_kubernetes_protobuf_and_shows_other_values_safely() {
    let etcd = TestEtcd::start().await;
    let pod = stored_pod();
    etcd.put(b"/registry/pods/default/web", &pod).await;
    etcd.put(b"/registry/crd/x", br#"{"apiVersion":"x/v1","kind":"X"}"#)
        .await;
    etcd.put(b"/bin", b"a\x00b\x1b[31m\xff").await;

    let out = chaos(&etcd, &["get", "/registry/pods/default/web"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let yaml = stdout(&out);
    for line in [
        "apiVersion: v1\n",
        "kind: Pod\n",
        "  name: web\n",
        "  creationTimestamp: \"2023-11-14T22:13:20Z\"\n",
        "    app: web\n",
        "  - emptyDir: {}\n",
        "    name: scratch\n",
        // Quoted: by the YAML 1.1 float rule (`[0-9][0-9_]*\.[0-9.]*`) a dotted quad is a
        // number, so serde-saphyr quotes it where kubectl's go-yaml does not.
        "  podIP: \"10.244.1.7\"\n",
        "  hostIPs:\n  - ip: \"172.18.0.3\"\n",
        "  terminationGracePeriodSeconds: 5\n",
        "    image: busybox:1.36\n",
    ] {
        assert!(yaml.contains(line), "missing {line:?} in:\n{yaml}");
    }
    assert!(
        !yaml.contains("generateName"),
        "empty strings are left out:\n{yaml}"
    );

    let out = chaos(&etcd, &["get", "/registry/pods/default/web", "-o", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let from_yaml: serde_json::Value = serde_saphyr::from_str(&yaml).expect("YAML output");
    assert_eq!(from_yaml, json, "the YAML and the JSON say the same");
    assert_eq!(json["kind"], "Pod");
    assert_eq!(json["metadata"]["namespace"], "default");
    assert_eq!(json["spec"]["containers"][0]["args"][0], "--timed");
    assert_eq!(json["status"]["phase"], "Running");

    let out = chaos(&etcd, &["get", "/registry/pods/default/web", "--raw"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, pod, "--raw writes the bytes as stored");

    let out = chaos(&etcd, &["get", "/registry/crd/x"]).output().unwrap();
    assert_eq!(stdout(&out), "{\"apiVersion\":\"x/v1\",\"kind\":\"X\"}\n");

    let out = chaos(&etcd, &["get", "/bin"]).output().unwrap();
    assert_eq!(stdout(&out), "a\\x00b\\x1b[31m\\xff\n");

    let out = chaos(&etcd, &["get", "/nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nope does not exist"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn del_backs_up_every_value_and_restore_puts_back_identical_bytes() {
    let etcd = TestEtcd::start().await;
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = (0..600u32)
        .map(|i| {
            let value: Vec<u8> = (0..(i % 300)).map(|j| (i * 7 + j * 13) as u8).collect();
            (format!("/registry/things/t{i:04}").into_bytes(), value)
        })
        .collect();
    entries.push((
        b"/registry/things/\xffbinary-key".to_vec(),
        b"k8s\0\x00\x01".to_vec(),
    ));
    entries.push((b"/registry/things/big".to_vec(), vec![0xab; 900 * 1024]));
    etcd.load(entries.clone()).await;
    etcd.put(b"/registry/thingsX", b"not under the prefix")
        .await;

    let backup = etcd.dir.path().join("del.json");
    let out = chaos(
        &etcd,
        &[
            "del",
            "/registry/things/",
            "--prefix",
            "--backup",
            backup.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("deleted 602 key(s)"), "{text}");
    assert!(
        text.contains(&format!("backup: {}", backup.display())),
        "{text}"
    );
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the backup is private");

    let file = BackupFile::read(&backup).unwrap();
    assert!(file.complete);
    assert_eq!(file.endpoint, etcd.endpoint);
    let mut in_file: Vec<(Vec<u8>, Vec<u8>)> = file
        .entries
        .iter()
        .map(|e| (e.entry.key.clone(), e.entry.value.clone()))
        .collect();
    in_file.sort();
    let mut expected = entries.clone();
    expected.sort();
    assert_eq!(
        in_file, expected,
        "the file holds every deleted key and value"
    );

    let client = etcd.client().await;
    assert_eq!(client.count_prefix(b"/registry/things/").await.unwrap(), 0);
    assert!(
        etcd.value(b"/registry/thingsX").await.is_some(),
        "only the prefix"
    );

    // A second delete refuses to overwrite the first backup.
    etcd.put(b"/registry/things/again", b"1").await;
    let out = chaos(
        &etcd,
        &[
            "del",
            "/registry/things/",
            "--prefix",
            "--backup",
            backup.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
    assert_eq!(
        etcd.value(b"/registry/things/again").await.as_deref(),
        Some(&b"1"[..])
    );

    let out = chaos(&etcd, &["restore", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("restored 602 key(s)"),
        "{}",
        stdout(&out)
    );
    for (k, v) in &entries {
        assert_eq!(
            etcd.value(k).await.as_ref(),
            Some(v),
            "{}",
            String::from_utf8_lossy(k)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_leaves_keys_written_again_unless_forced() {
    let etcd = TestEtcd::start().await;
    etcd.put(b"/registry/pods/default/a", b"old-a").await;
    etcd.put(b"/registry/pods/default/b", b"old-b").await;
    let out = chaos(&etcd, &["del", "/registry/pods/default/", "--prefix"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("backup: "))
        .unwrap_or_else(|| panic!("no backup path in:\n{text}"))
        .to_string();
    assert!(
        path.starts_with(etcd.dir.path().join("state/backups").to_str().unwrap()),
        "default backups go to the state directory: {path}"
    );

    // A controller writes `a` again.
    etcd.put(b"/registry/pods/default/a", b"new-a").await;
    let out = chaos(&etcd, &["restore", &path]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("restored 1 key(s)"), "{text}");
    assert!(text.contains("skipped 1 key(s) that exist again"), "{text}");
    assert!(text.contains("\n  /registry/pods/default/a\n"), "{text}");
    assert_eq!(
        etcd.value(b"/registry/pods/default/a").await.unwrap(),
        b"new-a"
    );
    assert_eq!(
        etcd.value(b"/registry/pods/default/b").await.unwrap(),
        b"old-b"
    );

    let out = chaos(&etcd, &["restore", &path, "--force"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("restored 2 key(s)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        etcd.value(b"/registry/pods/default/a").await.unwrap(),
        b"old-a"
    );

    let out = chaos(&etcd, &["del", "/registry/none", "--prefix"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let out = chaos(&etcd, &["del", "", "--prefix"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "never every key");
}

/// `chaos etcd ls` with the given connection flags (not the good ones).
fn ls_with(args: &[String]) -> std::process::Output {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["etcd", "ls", "/"])
        .args(args)
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ca_bad_client_cert_and_no_server_exit_3_naming_the_endpoint() {
    let etcd = TestEtcd::start().await;
    let s = |p: &std::path::Path| p.display().to_string();
    let with = |ca: &str, cert: &str, key: &str, ep: &str| {
        vec![
            "--endpoints".to_string(),
            ep.to_string(),
            "--cacert".into(),
            ca.to_string(),
            "--cert".into(),
            cert.to_string(),
            "--key".into(),
            key.to_string(),
        ]
    };

    let out = ls_with(&with(
        &s(&etcd.other_ca),
        &s(&etcd.cert),
        &s(&etcd.key),
        &etcd.endpoint,
    ));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&etcd.endpoint), "{err}");
    assert!(err.contains("not signed by the CA given"), "{err}");
    eprint!("wrong CA: {err}");

    let out = ls_with(&with(
        &s(&etcd.ca),
        &s(&etcd.rogue_cert),
        &s(&etcd.rogue_key),
        &etcd.endpoint,
    ));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&etcd.endpoint), "{err}");
    assert!(err.contains("rejected the client certificate"), "{err}");
    eprint!("wrong client certificate: {err}");

    let nobody = format!("https://127.0.0.1:{}", free_port());
    let out = ls_with(&with(&s(&etcd.ca), &s(&etcd.cert), &s(&etcd.key), &nobody));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&nobody), "{err}");
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
    eprint!("nothing listening: {err}");
}

/// `chaos etcd restore FILE` with flags to an endpoint nothing listens on: the file is checked
/// before anything connects.
fn restore_file(path: &std::path::Path) -> (std::process::Output, std::time::Duration) {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = assert_cmd::Command::from_std(crate::support::chaos_in(dir.path()))
        .args(["etcd", "restore"])
        .arg(path)
        .args(["--endpoints", &format!("https://127.0.0.1:{}", free_port())])
        .args(["--cacert", "/nonexistent/ca.crt"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    (out, started.elapsed())
}

#[test]
fn restore_refuses_what_is_not_a_backup_without_reading_it_whole() {
    // Not a regular file: /dev/zero (once grew chaos to 22 GB), a FIFO (would hang).
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for p in [std::path::Path::new("/dev/zero"), fifo.as_path()] {
        let (out, took) = restore_file(p);
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
        assert!(took.as_secs() < 10, "{took:?}");
    }
    // A large regular file that is not a backup: refused from its first bytes.
    let zeros = dir.path().join("zeros.json");
    let f = std::fs::File::create(&zeros).unwrap();
    f.set_len(256 << 20).unwrap();
    let (out, took) = restore_file(&zeros);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a kind-chaos etcd backup"),
        "{}",
        stderr(&out)
    );
    assert!(took.as_secs() < 5, "{took:?}");
    // The temporary file of an unfinished backup is never taken for the backup.
    let tmp = dir.path().join("etcd-x.json.tmp-123-456");
    std::fs::write(&tmp, "{\"format\": \"kind-chaos/etcd-backup/v1\"}").unwrap();
    let (out, _) = restore_file(&tmp);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "a temporary file of a backup being written (or cut short by a crash), not a backup; the backup is {}",
            dir.path().join("etcd-x.json").display()
        )),
        "{}",
        stderr(&out)
    );
}
