//! A real etcd for tests: Debian's `etcd` binary on loopback, TLS with client-certificate
//! authentication, certificates made here with rcgen, random free ports, data in a temporary
//! directory (on /dev/shm when there is one: etcd fsyncs every write), killed on drop.
//!
//! Nothing skips: a missing `etcd` binary fails the test and says how to install it
//! (`scripts/setup.sh`). `ETCD_BIN` overrides the binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kind_chaos::backends::etcd::{self, EtcdClient, EtcdFlags};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::free_port;

/// A certificate authority made for a test.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key).expect("ca cert");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `names` (DNS names or IP addresses): (cert PEM, key PEM).
    pub fn leaf(&self, cn: &str, names: &[&str], server: bool) -> (String, String) {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = if server {
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ]
        } else {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        };
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        (cert.pem(), key.serialize_pem())
    }
}

/// The etcd binary; panics (never skips) when it is missing.
pub fn etcd_bin() -> PathBuf {
    if let Some(b) = std::env::var_os("ETCD_BIN") {
        return PathBuf::from(b);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("etcd");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "the etcd tests need a real etcd and `etcd` is not on PATH: run scripts/setup.sh \
         (Debian: apt-get install etcd-server etcd-client), or set ETCD_BIN"
    );
}

/// A running etcd; every file a test needs is in `dir`.
pub struct TestEtcd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A CA that signed nothing etcd knows.
    pub other_ca: PathBuf,
    /// A client certificate signed by `other_ca`, which etcd must reject.
    pub rogue_cert: PathBuf,
    pub rogue_key: PathBuf,
}

impl Drop for TestEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write a test file");
    p
}

impl TestEtcd {
    /// Starts etcd and waits until it answers through the project's own client.
    pub async fn start() -> TestEtcd {
        let bin = etcd_bin();
        let base = Path::new("/dev/shm");
        let dir = if base.is_dir() {
            tempfile::Builder::new()
                .prefix("chaos-etcd-")
                .tempdir_in(base)
        } else {
            tempfile::Builder::new().prefix("chaos-etcd-").tempdir()
        }
        .expect("a temporary directory");
        let ca = Ca::new("test etcd ca");
        let other = Ca::new("some other ca");
        let (server_cert, server_key) = ca.leaf("etcd", &["localhost", "127.0.0.1"], true);
        let (client_cert, client_key) = ca.leaf("healthcheck-client", &[], false);
        let (rogue_cert, rogue_key) = other.leaf("rogue", &[], false);
        let d = dir.path();
        let ca_path = write(d, "ca.crt", &ca.pem);
        let server_crt = write(d, "server.crt", &server_cert);
        let server_key = write(d, "server.key", &server_key);
        let cert = write(d, "client.crt", &client_cert);
        let key = write(d, "client.key", &client_key);
        let other_ca = write(d, "other-ca.crt", &other.pem);
        let rogue_cert = write(d, "rogue.crt", &rogue_cert);
        let rogue_key = write(d, "rogue.key", &rogue_key);
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let (client_port, peer_port) = (free_port(), free_port());
            let endpoint = format!("https://127.0.0.1:{client_port}");
            let peer = format!("http://127.0.0.1:{peer_port}");
            let _ = std::fs::remove_dir_all(d.join("data"));
            let log = std::fs::File::create(d.join("etcd.log")).expect("log file");
            let mut child = Command::new(&bin)
                .args(["--name", "test"])
                .arg("--data-dir")
                .arg(d.join("data"))
                .args(["--listen-client-urls", &endpoint])
                .args(["--advertise-client-urls", &endpoint])
                .args(["--listen-peer-urls", &peer])
                .args(["--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &format!("test={peer}")])
                .arg("--cert-file")
                .arg(&server_crt)
                .arg("--key-file")
                .arg(&server_key)
                .arg("--trusted-ca-file")
                .arg(&ca_path)
                .arg("--client-cert-auth")
                .args(["--logger", "zap", "--log-level", "error"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let flags = EtcdFlags {
                endpoints: vec![endpoint.clone()],
                cacert: Some(ca_path.clone()),
                cert: Some(cert.clone()),
                key: Some(key.clone()),
            };
            let started = Instant::now();
            let up = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!(
                        "etcd exited with {status}: {}",
                        std::fs::read_to_string(d.join("etcd.log")).unwrap_or_default()
                    );
                    break false;
                }
                match etcd::connect(&flags).await {
                    Ok(_) => break true,
                    Err(e) if started.elapsed() > Duration::from_secs(20) => {
                        last_err = format!("etcd did not answer within 20s: {e}");
                        let _ = child.kill();
                        let _ = child.wait();
                        break false;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            };
            if up {
                return TestEtcd {
                    child,
                    dir,
                    endpoint,
                    ca: ca_path,
                    cert,
                    key,
                    other_ca,
                    rogue_cert,
                    rogue_key,
                };
            }
        }
        panic!("cannot start a test etcd: {last_err}");
    }

    /// The flags that reach this etcd with the good client certificate.
    pub fn flags(&self) -> EtcdFlags {
        EtcdFlags {
            endpoints: vec![self.endpoint.clone()],
            cacert: Some(self.ca.clone()),
            cert: Some(self.cert.clone()),
            key: Some(self.key.clone()),
        }
    }

    /// The same flags as command-line arguments of `chaos etcd ...`.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--endpoints".into(),
            self.endpoint.clone(),
            "--cacert".into(),
            self.ca.display().to_string(),
            "--cert".into(),
            self.cert.display().to_string(),
            "--key".into(),
            self.key.display().to_string(),
        ]
    }

    pub async fn client(&self) -> EtcdClient {
        etcd::connect(&self.flags())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test etcd: {e}"))
            .with_backup_dir(self.dir.path().join("backups"))
    }

    /// A raw etcd-client connection for setting up data (not the code under test).
    pub async fn raw(&self) -> etcd_client::Client {
        let read = |p: &Path| std::fs::read(p).expect("read a cert");
        let tls = etcd_client::TlsOptions::new()
            .ca_certificate(etcd_client::Certificate::from_pem(read(&self.ca)))
            .identity(etcd_client::Identity::from_pem(
                read(&self.cert),
                read(&self.key),
            ));
        etcd_client::Client::connect(
            [self.endpoint.as_str()],
            Some(etcd_client::ConnectOptions::new().with_tls(tls)),
        )
        .await
        .expect("raw etcd client")
    }

    /// Puts many keys fast: transactions of 100 puts, 8 in flight.
    pub async fn load(&self, entries: Vec<(Vec<u8>, Vec<u8>)>) {
        use futures::StreamExt;
        let client = self.raw().await;
        let chunks: Vec<Vec<(Vec<u8>, Vec<u8>)>> = entries.chunks(100).map(<[_]>::to_vec).collect();
        futures::stream::iter(chunks)
            .map(|chunk| {
                let mut kv = client.kv_client();
                async move {
                    let ops: Vec<etcd_client::TxnOp> = chunk
                        .into_iter()
                        .map(|(k, v)| etcd_client::TxnOp::put(k, v, None))
                        .collect();
                    kv.txn(etcd_client::Txn::new().and_then(ops))
                        .await
                        .expect("load txn");
                }
            })
            .buffer_unordered(8)
            .collect::<Vec<()>>()
            .await;
    }

    pub async fn put(&self, key: &[u8], value: &[u8]) {
        self.raw().await.put(key, value, None).await.expect("put");
    }

    pub async fn value(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut r = self.raw().await.get(key, None).await.expect("get");
        r.take_kvs()
            .into_iter()
            .next()
            .map(|kv| kv.into_key_value().1)
    }

    /// etcdctl against this etcd (for cross-checks).
    pub fn etcdctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint))
            .arg(format!("--cacert={}", self.ca.display()))
            .arg(format!("--cert={}", self.cert.display()))
            .arg(format!("--key={}", self.key.display()))
            .args(args)
            .output()
            .expect("etcdctl (Debian: apt-get install etcd-client)")
    }
}

/// `chaos` with the etcd flags of `etcd` and a private state directory.
pub fn chaos(etcd: &TestEtcd, sub: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::from_std(super::chaos_in(&etcd.dir.path().join("state")));
    cmd.arg("etcd")
        .args(sub)
        .args(etcd.args())
        .timeout(Duration::from_secs(60));
    cmd
}

/// etcd's own history of `key` (with `options`, e.g. a prefix) from revision `from` until an
/// event at revision `to` or later: (key, value before the delete) of each delete, in order.
pub async fn deletions(
    raw: &mut etcd_client::Client,
    options: etcd_client::WatchOptions,
    key: &str,
    from: i64,
    to: i64,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let options = options.with_start_revision(from).with_prev_key();
    let mut watch = raw.watch(key, Some(options)).await.expect("watch");
    let mut deleted = Vec::new();
    let mut seen = 0;
    while seen < to {
        let msg = tokio::time::timeout(Duration::from_secs(5), watch.message())
            .await
            .expect("the watch replays history")
            .expect("a watch message")
            .expect("a watch response");
        for ev in msg.events() {
            let kv = ev.kv().expect("an event's key");
            seen = seen.max(kv.mod_revision());
            if ev.event_type() == etcd_client::EventType::Delete {
                let prev = ev.prev_kv().expect("prev_kv");
                deleted.push((prev.key().to_vec(), prev.value().to_vec()));
            }
        }
    }
    deleted
}
