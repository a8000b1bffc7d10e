//! The served mode as a process (the `serve` binary), as kind's control plane is reached:
//! HTTPS, the cluster CA, client certificates, `admin.conf`. Clients: raw TLS (to see the
//! handshake and the status codes), the real `kubectl` (`/usr/bin/kubectl`, in the machine
//! image; the tests fail when it is missing), and kube-rs.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use fake_apiserver::pki::{Ca, CertKey};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KUBECTL: &str = "/usr/bin/kubectl";

/// A running `serve` with its PKI in a temporary directory; killed on drop.
struct Served {
    child: Child,
    port: u16,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Served {
    fn start() -> Served {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Served {
            child: spawn(&dir),
            port: 0,
            dir,
            _tmp: tmp,
        };
        s.port = wait_serving(&mut s.child);
        s
    }

    /// Stops the process (SIGTERM, as `docker stop` would) and starts it again on the same
    /// directory.
    fn restart(&mut self) {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").arg(&pid).status().expect("kill");
        assert!(st.success());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "serve exited with {status} on SIGTERM");
        self.child = spawn(&self.dir);
        self.port = wait_serving(&mut self.child);
    }

    fn admin_conf(&self) -> String {
        std::fs::read_to_string(self.dir.join("admin.conf")).expect("admin.conf written")
    }

    fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("pki/ca.crt")).expect("ca.crt written")
    }

    /// `admin.conf` rewritten as `kind get kubeconfig` does (server on 127.0.0.1:<port>).
    fn host_kubeconfig(&self) -> PathBuf {
        let text: String = self
            .admin_conf()
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("server: ") {
                    format!("    server: https://127.0.0.1:{}\n", self.port)
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let path = self.dir.join("kubeconfig");
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    fn admin_client_cert(&self) -> CertKey {
        let conf = self.admin_conf();
        let field = |key: &str| {
            let b64 = conf
                .lines()
                .find_map(|l| l.trim().strip_prefix(key))
                .unwrap_or_else(|| panic!("{key} in admin.conf"))
                .trim();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64");
            String::from_utf8(bytes).expect("pem")
        };
        CertKey {
            cert_pem: field("client-certificate-data:"),
            key_pem: field("client-key-data:"),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_serve"))
        .args(["--cluster", "served-test", "--listen", "127.0.0.1:0"])
        .args([
            "--advertise-address",
            "172.30.0.9",
            "--tls-san",
            "extra.example",
        ])
        .arg("--pki-dir")
        .arg(dir.join("pki"))
        .arg("--admin-conf")
        .arg(dir.join("admin.conf"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve")
}

/// Reads `serving on https://127.0.0.1:PORT` from the child's stdout.
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

fn client_config(trusted_ca_pem: &str, client: Option<&CertKey>) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(trusted_ca_pem.as_bytes()) {
        roots.add(c.expect("ca pem")).expect("add ca");
    }
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    match client {
        None => b.with_no_client_auth(),
        Some(ck) => {
            let chain = CertificateDer::pem_slice_iter(ck.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("client cert");
            let key = PrivateKeyDer::from_pem_slice(ck.key_pem.as_bytes()).expect("client key");
            b.with_client_auth_cert(chain, key).expect("client auth")
        }
    }
}

/// One `GET path` over TLS: (status code, JSON body), or the TLS error.
async fn get(
    port: u16,
    config: rustls::ClientConfig,
    path: &str,
) -> Result<(u16, Value), std::io::Error> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let mut tls = connector.connect(name, tcp).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let code: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((code, serde_json::from_str(body).unwrap_or(Value::Null)))
}

#[tokio::test]
async fn client_certificates_decide_who_calls() {
    let s = Served::start();
    let ca = s.ca_pem();

    // No certificate: anonymous, which may read /version and nothing else (kind's default).
    let (code, body) = get(s.port, client_config(&ca, None), "/version")
        .await
        .expect("anonymous TLS works");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["major"], "1");
    let (code, body) = get(s.port, client_config(&ca, None), "/api/v1/namespaces")
        .await
        .expect("anonymous TLS works");
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(
        body["message"],
        r#"namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" at the cluster scope"#
    );

    // A certificate from another CA: 401, even where anonymous may read.
    let other = Ca::generate("not-the-cluster-ca").expect("other CA");
    let forged = other
        .issue_client("kubernetes-admin", &["system:masters"])
        .expect("forged client cert");
    let (code, body) = get(s.port, client_config(&ca, Some(&forged)), "/version")
        .await
        .expect("the handshake takes any certificate, as upstream's does");
    assert_eq!(code, 401, "{body}");
    assert_eq!(body["reason"], "Unauthorized");
    assert_eq!(body["message"], "Unauthorized");

    // admin.conf's certificate: everything.
    let admin = s.admin_client_cert();
    let (code, body) = get(
        s.port,
        client_config(&ca, Some(&admin)),
        "/api/v1/namespaces",
    )
    .await
    .expect("admin TLS works");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["kind"], "NamespaceList");

    // A client that trusts another CA refuses the server at the handshake.
    let err = get(
        s.port,
        client_config(other.cert_pem(), Some(&admin)),
        "/version",
    )
    .await
    .expect_err("the serving certificate is not signed by that CA");
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
}

#[test]
fn pki_and_admin_conf_are_where_and_what_kubeadm_makes() {
    let s = Served::start();
    let pem = std::fs::read(s.dir.join("pki/apiserver.crt")).expect("apiserver.crt");
    let der = CertificateDer::from_pem_slice(&pem).expect("pem");
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).expect("x509");
    let sans = cert
        .subject_alternative_name()
        .expect("san ext")
        .expect("has SANs");
    let names: Vec<String> = sans
        .value
        .general_names
        .iter()
        .map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => d.to_string(),
            x509_parser::extensions::GeneralName::IPAddress(b) if b.len() == 4 => {
                std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
            }
            other => format!("{other:?}"),
        })
        .collect();
    for want in [
        "served-test-control-plane",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "127.0.0.1",
        "10.96.0.1",
        "172.30.0.9",
        "extra.example",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    for key in ["pki/ca.key", "pki/apiserver.key", "admin.conf"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(s.dir.join(key))
            .expect(key)
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{key} is readable by others: {mode:o}");
    }
    let conf = s.admin_conf();
    for line in [
        "    server: https://served-test-control-plane:",
        "  name: served-test\n",
        "    user: kubernetes-admin\n",
        "  name: kubernetes-admin@served-test\n",
        "current-context: kubernetes-admin@served-test\n",
        "- name: kubernetes-admin\n",
        "    client-certificate-data: ",
        "    client-key-data: ",
        "    certificate-authority-data: ",
    ] {
        assert!(conf.contains(line), "{line:?} not in admin.conf:\n{conf}");
    }
    let admin = s.admin_client_cert();
    let der = CertificateDer::from_pem_slice(admin.cert_pem.as_bytes()).expect("pem");
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).expect("x509");
    assert_eq!(
        cert.subject().to_string(),
        "O=kubeadm:cluster-admins, CN=kubernetes-admin"
    );
}

#[tokio::test]
async fn a_restart_keeps_the_ca_so_earlier_credentials_still_work() {
    let mut s = Served::start();
    let ca_before = s.ca_pem();
    let admin_before = s.admin_client_cert();
    s.restart();
    assert_eq!(s.ca_pem(), ca_before, "the CA was replaced");
    let (code, body) = get(
        s.port,
        client_config(&ca_before, Some(&admin_before)),
        "/api/v1/namespaces/default",
    )
    .await
    .expect("TLS with the earlier CA and certificate");
    assert_eq!(code, 200, "{body}");
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    assert!(
        Path::new(KUBECTL).exists(),
        "{KUBECTL} is missing: these tests drive the served API with the real kubectl"
    );
    let mut child = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kubectl");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        std::io::Write::write_all(&mut input, text.as_bytes()).expect("write stdin");
    }
    drop(input);
    let out = child.wait_with_output().expect("kubectl output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn kubectl_works_with_the_admin_credentials() {
    let s = Served::start();
    let kc = s.host_kubeconfig();
    let ok = |args: &[&str], stdin: Option<&str>| {
        let (ok, out, err) = kubectl(&kc, args, stdin);
        assert!(ok, "kubectl {args:?} failed: {err}");
        out
    };
    let out = ok(&["get", "namespaces", "-o", "name"], None);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(out.contains(&format!("namespace/{ns}\n")), "{out}");
    }
    ok(&["get", "nodes"], None);
    // kubectl's client-side validation downloads OpenAPI schemas, which are not served.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: served\n  namespace: default\ndata:\n  answer: \"42\"\n";
    let out = ok(&["apply", "--validate=false", "-f", "-"], Some(cm));
    assert!(out.contains("configmap/served created"), "{out}");
    let out = ok(
        &[
            "get",
            "configmap",
            "served",
            "-o",
            "jsonpath={.data.answer}",
        ],
        None,
    );
    assert_eq!(out, "42");
    let out = ok(&["apply", "--validate=false", "-f", "-"], Some(cm));
    assert!(out.contains("configmap/served unchanged"), "{out}");
}

#[tokio::test]
async fn kube_rs_connects_with_the_admin_credentials() {
    use k8s_openapi::api::core::v1::Namespace;
    let s = Served::start();
    let text = std::fs::read_to_string(s.host_kubeconfig()).expect("kubeconfig");
    let kc = kube::config::Kubeconfig::from_yaml(&text).expect("parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let api: kube::Api<Namespace> = kube::Api::all(client);
    let list = api.list(&Default::default()).await.expect("list over TLS");
    assert!(
        list.items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some("kube-system"))
    );
}

/// `serve issue-kubeconfig` as the test cluster's script runs it for each node's
/// `/etc/kubernetes/kubelet.conf`.
fn issue_kubeconfig(dir: &Path, cn: &str, orgs: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_serve"));
    cmd.args(["issue-kubeconfig", "--cluster", "served-test", "--cn", cn])
        .arg("--pki-dir")
        .arg(dir.join("pki"));
    for o in orgs {
        cmd.args(["--org", o]);
    }
    let out = cmd.output().expect("run serve issue-kubeconfig");
    assert!(
        out.status.success(),
        "issue-kubeconfig failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn issued_node_kubeconfig_is_kubeadms_kubelet_conf_and_is_accepted() {
    let s = Served::start();
    let conf = issue_kubeconfig(&s.dir, "system:node:n1", &["system:nodes"]);
    for want in [
        "    server: https://served-test-control-plane:6443\n",
        "  name: served-test\n",
        "- name: system:node:n1\n",
        "current-context: system:node:n1@served-test\n",
    ] {
        assert!(conf.contains(want), "{want:?} missing in\n{conf}");
    }
    let field = |key: &str| {
        let b64 = conf
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap_or_else(|| panic!("{key}"))
            .trim()
            .to_string();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64")
    };
    assert_eq!(
        String::from_utf8(field("certificate-authority-data:")).expect("pem"),
        s.ca_pem(),
        "the cluster CA"
    );
    let cert = s.dir.join("node.crt");
    std::fs::write(&cert, field("client-certificate-data:")).expect("write");
    let subject = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl (in the machine image)");
    let subject = String::from_utf8_lossy(&subject.stdout).to_string();
    assert!(
        subject.contains("CN=system:node:n1") && subject.contains("O=system:nodes"),
        "{subject}"
    );
    // The server accepts it; and in served mode nothing plays the kubelet, so a graceful
    // delete of a pod bound to a node waits for that node's (real) kubelet.
    let kc = s.dir.join("node.conf");
    let local = conf.replace(
        "https://served-test-control-plane:6443",
        &format!("https://127.0.0.1:{}", s.port),
    );
    std::fs::write(&kc, local).expect("write");
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bound","namespace":"default"},
        "spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}"#;
    let (ok, _, err) = kubectl(&kc, &["create", "--validate=false", "-f", "-"], Some(pod));
    assert!(ok, "create with the node's credentials: {err}");
    let (ok, _, err) = kubectl(&kc, &["delete", "pod", "bound", "--wait=false"], None);
    assert!(ok, "delete: {err}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (ok, out, err) = kubectl(
        &kc,
        &[
            "get",
            "pod",
            "bound",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
        None,
    );
    assert!(ok && !out.is_empty(), "still Terminating: {out} {err}");
    // The kubelets' Leases are served.
    let (ok, _, err) = kubectl(&kc, &["get", "leases", "-n", "kube-node-lease"], None);
    assert!(ok, "leases: {err}");
}
