//! A real etcd for the storage tests: Debian's `etcd` binary on loopback with kubeadm's etcd
//! PKI (made by the crate's own `pki` module, as the served API server makes it in a kind
//! node), random free ports, data in a temporary directory (on /dev/shm when there is one),
//! killed on drop. The minimal start logic of the root package's tests/support/etcd.rs.
//!
//! Nothing skips: a missing `etcd` binary fails the test and says how to install it.
//! `ETCD_BIN` overrides the binary.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_apiserver::pki::PkiDir;

/// The etcd binary; panics (never skips) when it is missing.
pub fn etcd_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ETCD_BIN") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join("etcd");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "the etcd storage tests need a real etcd and `etcd` is not on PATH: run scripts/setup.sh \
         (Debian: apt-get install etcd-server etcd-client), or set ETCD_BIN"
    );
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running etcd whose PKI lives in `pki` (kubeadm's layout).
pub struct TestEtcd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub endpoint: String,
}

impl TestEtcd {
    /// The PKI directory (`/etc/kubernetes/pki` of a node): give it to `serve --pki-dir`.
    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// Starts etcd with the etcd PKI of node `node` and waits until it answers.
    pub async fn start(node: &str) -> TestEtcd {
        let bin = etcd_bin();
        let base = Path::new("/dev/shm");
        let dir = if base.is_dir() {
            tempfile::Builder::new()
                .prefix("fake-etcd-")
                .tempdir_in(base)
        } else {
            tempfile::Builder::new().prefix("fake-etcd-").tempdir()
        }
        .expect("a temporary directory");
        let pki = dir.path().join("pki");
        PkiDir(pki.clone())
            .ensure_etcd(node, None)
            .expect("etcd PKI");
        let e = pki.join("etcd");
        let mut last_err = String::new();
        for _ in 0..3 {
            let (client_port, peer_port) = (free_port(), free_port());
            let endpoint = format!("https://127.0.0.1:{client_port}");
            let peer = format!("http://127.0.0.1:{peer_port}");
            let data = dir.path().join("data");
            let _ = std::fs::remove_dir_all(&data);
            let log = std::fs::File::create(dir.path().join("etcd.log")).expect("log");
            let mut child = Command::new(&bin)
                .args(["--name", node])
                .arg("--data-dir")
                .arg(&data)
                .args(["--listen-client-urls", &endpoint])
                .args(["--advertise-client-urls", &endpoint])
                .args(["--listen-peer-urls", &peer])
                .args(["--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &format!("{node}={peer}")])
                .arg("--cert-file")
                .arg(e.join("server.crt"))
                .arg("--key-file")
                .arg(e.join("server.key"))
                .arg("--trusted-ca-file")
                .arg(e.join("ca.crt"))
                .arg("--client-cert-auth")
                .args(["--logger", "zap", "--log-level", "error"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|err| panic!("cannot start {}: {err}", bin.display()));
            let t0 = Instant::now();
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!(
                        "etcd exited with {status}: {}",
                        std::fs::read_to_string(dir.path().join("etcd.log")).unwrap_or_default()
                    );
                    break;
                }
                match raw_client(&pki, &endpoint).await {
                    Ok(_) => {
                        return TestEtcd {
                            child,
                            dir,
                            endpoint,
                        };
                    }
                    Err(err) if t0.elapsed() > Duration::from_secs(20) => {
                        last_err = format!("etcd did not answer within 20s: {err}");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
        panic!("cannot start a test etcd: {last_err}");
    }

    /// A raw client with the health-check certificate (as `chaos etcd` uses it in kind).
    pub async fn client(&self) -> etcd_client::Client {
        raw_client(&self.pki(), &self.endpoint)
            .await
            .expect("a raw etcd client")
    }
}

async fn raw_client(pki: &Path, endpoint: &str) -> Result<etcd_client::Client, etcd_client::Error> {
    let read = |f: &str| std::fs::read(pki.join(f)).expect("etcd PKI file");
    let tls = etcd_client::TlsOptions::new()
        .ca_certificate(etcd_client::Certificate::from_pem(read("etcd/ca.crt")))
        .identity(etcd_client::Identity::from_pem(
            read("etcd/healthcheck-client.crt"),
            read("etcd/healthcheck-client.key"),
        ));
    let mut c = etcd_client::Client::connect(
        [endpoint],
        Some(
            etcd_client::ConnectOptions::new()
                .with_tls(tls)
                .with_connect_timeout(Duration::from_secs(2)),
        ),
    )
    .await?;
    c.status().await?;
    Ok(c)
}

impl Drop for TestEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
