//! The `serve` binary over a test etcd (`serve --etcd-servers`, as the control plane of
//! `scripts/testcluster.sh up --api` runs it), and a kube client for it: shared by the
//! crate's tests that need the served mode over a real etcd.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::etcd_support::TestEtcd;

pub const CLUSTER: &str = "etcd-test";

/// `serve` over `etcd`, its PKI in the etcd's pki directory; killed on drop.
pub struct Served {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Served {
    pub fn start(etcd: &TestEtcd) -> Served {
        let dir = etcd.dir.path().to_path_buf();
        let mut child = Command::new(env!("CARGO_BIN_EXE_serve"))
            .args(["--cluster", CLUSTER, "--listen", "127.0.0.1:0"])
            .arg("--pki-dir")
            .arg(etcd.pki())
            .arg("--admin-conf")
            .arg(dir.join("admin.conf"))
            .args(["--etcd-servers", &etcd.endpoint])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let port = wait_serving(&mut child);
        Served { child, port, dir }
    }

    pub fn stop(&mut self) {
        let st = Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(st.success());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "serve exited with {status} on SIGTERM");
    }

    pub async fn client(&self) -> kube::Client {
        let conf = std::fs::read_to_string(self.dir.join("admin.conf")).expect("admin.conf");
        let text: String = conf
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("server: ") {
                    format!("    server: https://127.0.0.1:{}\n", self.port)
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let kc = kube::config::Kubeconfig::from_yaml(&text).expect("kubeconfig parses");
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        kube::Client::try_from(config).expect("client")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_serving(child: &mut Child) -> u16 {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    if let Some(port) = line
        .trim()
        .strip_prefix("serving on https://127.0.0.1:")
        .and_then(|p| p.parse().ok())
    {
        return port;
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    panic!("serve did not start: stdout {line:?}, stderr {err}");
}
