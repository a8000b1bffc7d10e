//! Discovery of a kind cluster's etcd through Docker, against kind-like control-plane
//! containers: the node image of `scripts/testcluster.sh`, kind's name and labels, on the
//! `kind` network, holding certificates at kind's paths (`/etc/kubernetes/pki/etcd/...`) and
//! running Debian's etcd inside with client-certificate auth. One publishes 2379 on the host
//! (found as the published port), the other does not (found by its IP on `kind`).
//!
//! Needs Docker; fails (never skips) without it.

use crate::support::etcd as etcd_support;
use crate::support::testcluster;

use std::process::Command;
use std::time::{Duration, Instant};

use etcd_support::{Ca, etcd_bin};
use kind_chaos::backends::docker::DockerNodes;
use kind_chaos::backends::etcd::{EtcdFlags, connect_for_cluster};
use kind_chaos::backends::{EtcdEntry, EtcdOps};

const IMAGE: &str = "kind-chaos-node:test";
const PKI: &str = "/etc/kubernetes/pki/etcd";

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker (these tests need Docker): {e}"));
    assert!(
        out.status.success(),
        "`docker {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The node image, made once per test binary before any test starts a container (the tests
/// run in parallel and each needs it).
fn prepare() {
    static READY: std::sync::Once = std::sync::Once::new();
    READY.call_once(|| {
        let image =
            Command::new(env!("CARGO_MANIFEST_DIR").to_string() + "/scripts/testcluster.sh")
                .arg("image")
                .output()
                .expect("scripts/testcluster.sh image");
        assert!(
            image.status.success(),
            "cannot build the node image: {}",
            String::from_utf8_lossy(&image.stderr)
        );
    });
}

/// Docker network `kind`, as kind (or `scripts/testcluster.sh`) makes it.
fn ensure_network() {
    let exists = Command::new("docker")
        .args(["network", "inspect", "kind"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        docker(&["network", "create", "kind"]);
    }
}

/// A kind-like control-plane container running etcd; removed on drop.
struct ControlPlane {
    cluster: String,
    container: String,
    _dir: tempfile::TempDir,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.container])
            .output();
    }
}

impl ControlPlane {
    fn start(cluster: &str, publish: bool) -> ControlPlane {
        prepare();
        let container = format!("{cluster}-control-plane");
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &container])
            .output();
        // etcd starts once the certificates are in place (they name the container's IP).
        let script = format!(
            "while [ ! -f {PKI}/ready ]; do sleep 0.1; done; exec /usr/local/bin/etcd --name cp \
             --data-dir /tmp/etcd --listen-client-urls https://0.0.0.0:2379 \
             --advertise-client-urls https://127.0.0.1:2379 \
             --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
             --initial-cluster cp=http://127.0.0.1:2380 --cert-file {PKI}/server.crt \
             --key-file {PKI}/server.key --trusted-ca-file {PKI}/ca.crt --client-cert-auth \
             --logger zap --log-level error"
        );
        let mut create = vec![
            "create".to_string(),
            "--name".into(),
            container.clone(),
            "--hostname".into(),
            container.clone(),
            "--label".into(),
            format!("io.x-k8s.kind.cluster={cluster}"),
            "--label".into(),
            "io.x-k8s.kind.role=control-plane".into(),
            "--network".into(),
            "kind".into(),
            "--entrypoint".into(),
            "/bin/sh".into(),
        ];
        if publish {
            create.extend(["-p".into(), "127.0.0.1::2379".into()]);
        }
        create.extend([IMAGE.into(), "-c".into(), script]);
        let create: Vec<&str> = create.iter().map(String::as_str).collect();
        {
            // Once the container is on `kind`, no cluster's `down` removes the network.
            let _lock = testcluster::lifecycle();
            ensure_network();
            docker(&create);
        }
        let bin = etcd_bin();
        docker(&[
            "cp",
            bin.to_str().unwrap(),
            &format!("{container}:/usr/local/bin/etcd"),
        ]);
        docker(&["start", &container]);
        let ip = docker(&[
            "inspect",
            "-f",
            "{{(index .NetworkSettings.Networks \"kind\").IPAddress}}",
            &container,
        ]);
        assert!(!ip.is_empty(), "{container} has no IP on network kind");

        let ca = Ca::new("etcd-ca");
        let (server_crt, server_key) = ca.leaf(&container, &["localhost", "127.0.0.1", &ip], true);
        let (client_crt, client_key) = ca.leaf("kube-etcd-healthcheck-client", &[], false);
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("kubernetes/pki/etcd");
        std::fs::create_dir_all(&pki).unwrap();
        for (name, text) in [
            ("ca.crt", ca.pem.as_str()),
            ("server.crt", &server_crt),
            ("server.key", &server_key),
            ("healthcheck-client.crt", &client_crt),
            ("healthcheck-client.key", &client_key),
        ] {
            std::fs::write(pki.join(name), text).unwrap();
        }
        let src = dir.path().join("kubernetes");
        docker(&["cp", src.to_str().unwrap(), &format!("{container}:/etc/")]);
        let ready = dir.path().join("ready");
        std::fs::write(&ready, "").unwrap();
        docker(&[
            "cp",
            ready.to_str().unwrap(),
            &format!("{container}:{PKI}/ready"),
        ]);
        ControlPlane {
            cluster: cluster.to_string(),
            container,
            _dir: dir,
        }
    }
}

async fn connect_with_retry(cp: &ControlPlane) -> kind_chaos::backends::etcd::EtcdClient {
    let docker = DockerNodes::connect(&cp.cluster).await.expect("docker");
    let start = Instant::now();
    loop {
        match connect_for_cluster(&docker, &EtcdFlags::default()).await {
            Ok(c) => return c,
            Err(e) if start.elapsed() > Duration::from_secs(20) => {
                let logs = Command::new("docker")
                    .args(["logs", &cp.container])
                    .output();
                panic!(
                    "etcd in {} not reachable by discovery: {e}\n{}",
                    cp.container,
                    logs.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                        .unwrap_or_default()
                );
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn chaos(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_chaos"))
        .arg("etcd")
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_etcd_and_its_credentials_in_the_control_plane() {
    let pid = std::process::id();
    let published = ControlPlane::start(&format!("etcdpub{pid}"), true);
    let by_ip = ControlPlane::start(&format!("etcdip{pid}"), false);

    // Published 2379: the host port on 127.0.0.1.
    let c = connect_with_retry(&published).await;
    let port = docker(&["port", &published.container, "2379/tcp"]);
    let port = port
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(c.endpoint(), format!("https://127.0.0.1:{port}"));

    // No published port: the container's IP on `kind`.
    let c2 = connect_with_retry(&by_ip).await;
    let ip = docker(&[
        "inspect",
        "-f",
        "{{(index .NetworkSettings.Networks \"kind\").IPAddress}}",
        &by_ip.container,
    ]);
    assert_eq!(c2.endpoint(), format!("https://{ip}:2379"));

    // The discovered client works, and so does the CLI with no flags at all.
    let entry = EtcdEntry {
        key: b"/registry/namespaces/default".to_vec(),
        value: b"k8s\0-not-really".to_vec(),
    };
    c2.restore(
        &kind_chaos::backends::EtcdBackup {
            revision: 0,
            entries: vec![entry],
        },
        false,
    )
    .await
    .unwrap();
    let out = chaos(&["ls", "/registry/", "--cluster", &by_ip.cluster]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "/registry/namespaces/default\n"
    );
    let out = chaos(&["ls", "/", "--count", "--cluster", &published.cluster]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n");

    // Each flag overrides its part of discovery: a wrong endpoint...
    let nobody = format!("https://127.0.0.1:{}", crate::support::free_port());
    let out = chaos(&[
        "ls",
        "/",
        "--cluster",
        &by_ip.cluster,
        "--endpoints",
        &nobody,
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&nobody));
    // ...or a CA that is not the cluster's.
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(other.path(), Ca::new("not the cluster's").pem).unwrap();
    let out = chaos(&[
        "ls",
        "/",
        "--cluster",
        &by_ip.cluster,
        "--cacert",
        other.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("https://{ip}:2379")), "{err}");
    assert!(err.contains("not signed by the CA given"), "{err}");
    assert!(err.contains("IP on Docker network `kind`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_plane_without_etcd_certificates_is_exit_3_naming_the_file() {
    let cluster = format!("etcdnocert{}", std::process::id());
    prepare();
    let container = format!("{cluster}-control-plane");
    let _ = Command::new("docker")
        .args(["rm", "-f", &container])
        .output();
    let lock = testcluster::lifecycle();
    ensure_network();
    docker(&[
        "run",
        "-d",
        "--name",
        &container,
        "--label",
        &format!("io.x-k8s.kind.cluster={cluster}"),
        "--label",
        "io.x-k8s.kind.role=control-plane",
        "--network",
        "kind",
        "--entrypoint",
        "/bin/sleep",
        IMAGE,
        "300",
    ]);
    drop(lock);
    let out = chaos(&["ls", "/", "--cluster", &cluster]);
    let _ = Command::new("docker")
        .args(["rm", "-f", &container])
        .output();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/etc/kubernetes/pki/etcd/ca.crt"), "{err}");
    assert!(err.contains(&container), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_such_cluster_is_exit_3() {
    let out = chaos(&["ls", "/", "--cluster", "no-such-cluster-for-etcd"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-cluster-for-etcd"));
}
