//! `chaos etcd` connection failures say what happened: a hung endpoint is a timeout (not "a
//! certificate has expired"), `http://` against a TLS etcd is a protocol mismatch (not "etcd
//! rejected the client certificate"), and `--cacert` without `--cert/--key` names the missing
//! flags (not just "no kind cluster `kind`"). Against a real etcd (tests/it/support/etcd.rs) and
//! a TCP listener that accepts connections and never answers.

use crate::support::etcd as etcd_support;

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::support::chaos_in;
use etcd_support::TestEtcd;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `chaos etcd ls /` with these flags and a private state directory.
fn ls_with(args: &[&str]) -> std::process::Output {
    let state = tempfile::tempdir().expect("tempdir");
    assert_cmd::Command::from_std(chaos_in(state.path()))
        .args(["etcd", "ls", "/"])
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("chaos runs")
}

/// A listener that accepts every connection and never writes a byte (a hung server); the
/// connections stay open as long as the test runs.
fn hung_listener() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    addr.to_string()
}

/// The test etcd's CA, client certificate and key, as flag values.
fn tls_files(etcd: &TestEtcd) -> (String, String, String) {
    (
        etcd.ca.display().to_string(),
        etcd.cert.display().to_string(),
        etcd.key.display().to_string(),
    )
}

/// A hung endpoint is reported as what it is, never as a certificate problem.
fn assert_a_timeout(err: &str) {
    assert!(!err.contains("has expired"), "{err}");
    assert!(!err.contains("rejected the client certificate"), "{err}");
    assert!(
        err.contains("accepts TCP connections but never answered"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_plain_http_endpoint_is_a_timeout_not_an_expired_certificate() {
    let etcd = TestEtcd::start().await;
    let addr = hung_listener();
    let url = format!("http://{addr}");
    let (ca, cert, key) = tls_files(&etcd);
    // Without and with TLS files (given, they are not used for an http:// URL).
    for args in [
        vec!["--endpoints", url.as_str()],
        vec![
            "--endpoints",
            url.as_str(),
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
        ],
    ] {
        let out = ls_with(&args);
        let err = stderr(&out);
        eprint!("hung plain http: {err}");
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains(&url), "{err}");
        assert_a_timeout(&err);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_tls_endpoint_is_a_timeout_not_a_certificate_problem() {
    let etcd = TestEtcd::start().await;
    let addr = hung_listener();
    let url = format!("https://{addr}");
    let (ca, cert, key) = tls_files(&etcd);
    let out = ls_with(&[
        "--endpoints",
        &url,
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
    ]);
    let err = stderr(&out);
    eprint!("hung tls: {err}");
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&url), "{err}");
    assert_a_timeout(&err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_against_a_tls_etcd_is_a_protocol_mismatch() {
    let etcd = TestEtcd::start().await;
    let plain = etcd.endpoint.replacen("https://", "http://", 1);
    let (ca, cert, key) = tls_files(&etcd);
    for args in [
        vec!["--endpoints", plain.as_str()],
        vec![
            "--endpoints",
            plain.as_str(),
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
        ],
    ] {
        let out = ls_with(&args);
        let err = stderr(&out);
        eprint!("http to tls: {err}");
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains(&plain), "{err}");
        assert!(err.contains("protocol mismatch"), "{err}");
        assert!(err.contains(&etcd.endpoint), "names the https URL: {err}");
        assert!(!err.contains("rejected the client certificate"), "{err}");
    }
    // The https URL with the same flags works: the mismatch was the only problem.
    let out = ls_with(&[
        "--endpoints",
        &etcd.endpoint,
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cacert_without_cert_and_key_names_the_missing_flags() {
    let etcd = TestEtcd::start().await;
    let ca = etcd.ca.display().to_string();
    let out = ls_with(&[
        "--endpoints",
        &etcd.endpoint,
        "--cacert",
        &ca,
        "--cluster",
        "kc-etcd-errors-no-such-cluster",
    ]);
    let err = stderr(&out);
    eprint!("cacert alone: {err}");
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("missing --cert, --key"), "{err}");
    assert!(err.contains("--endpoints, --cacert given"), "{err}");
    assert!(err.contains("Give --cert, --key too"), "{err}");
}

#[test]
fn a_run_with_etcd_cacert_alone_names_the_missing_run_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, "not used").expect("ca");
    let playbook = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/etcd/delete-key.yaml");
    let out = assert_cmd::Command::from_std(chaos_in(&dir.path().join("state")))
        .arg("run")
        .arg(&playbook)
        .args(["--cluster", "kc-etcd-errors-no-such-cluster"])
        .args(["--etcd-endpoints", "https://127.0.0.1:1"])
        .arg("--etcd-cacert")
        .arg(&ca)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("chaos runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("missing --etcd-cert, --etcd-key: --etcd-endpoints, --etcd-cacert given"),
        "{text}"
    );
}
