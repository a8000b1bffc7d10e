//! The cluster PKI of the served fake API server, laid out as kubeadm lays it out in a kind
//! control-plane node: `ca.crt`/`ca.key` (the cluster CA, which signs the serving certificate
//! and every client certificate), `apiserver.crt`/`apiserver.key` (the serving certificate),
//! and `admin.conf`, the cluster-admin kubeconfig with the client certificate embedded.
//!
//! Why it exists: `chaos` finds a kind cluster's API through `/etc/kubernetes/admin.conf` in
//! the control-plane container and talks TLS with client certificates to it; the local test
//! cluster has to offer the same, or that path is never exercised. Keys are ECDSA P-256
//! (kubeadm's `encryptionAlgorithm: ECDSA-P256`; its default RSA-2048 cannot be generated with
//! the `ring` backend). Test support: nothing here ships inside `chaos`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// The CA's common name, as kubeadm names the cluster CA.
pub const CA_COMMON_NAME: &str = "kubernetes";
/// The admin user of `admin.conf`.
pub const ADMIN_USER: &str = "kubernetes-admin";
/// Its group (kubeadm >= 1.29; `system:masters` is left to `super-admin.conf`).
pub const ADMIN_GROUP: &str = "kubeadm:cluster-admins";
/// The etcd CA's common name (kubeadm's `KubeadmCertEtcdCA`).
pub const ETCD_CA_COMMON_NAME: &str = "etcd-ca";
/// The client certificate of etcd's health check (kubeadm's `KubeadmCertEtcdHealthcheck`).
pub const ETCD_HEALTHCHECK_CLIENT: &str = "kube-etcd-healthcheck-client";
/// The API server's etcd client certificate (kubeadm's `KubeadmCertEtcdAPIClient`).
pub const APISERVER_ETCD_CLIENT: &str = "kube-apiserver-etcd-client";

/// Why the PKI could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A certificate or key could not be made, or a stored one not parsed.
    #[error("{what}: {source}")]
    Cert { what: String, source: rcgen::Error },
}

fn cert_err(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> PkiError {
    let what = what.into();
    move |source| PkiError::Cert { what, source }
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct CertKey {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The cluster CA: its certificate (PEM) and signing key.
pub struct Ca {
    cert_pem: String,
    key: KeyPair,
}

impl Ca {
    /// A fresh self-signed CA (`CN=kubernetes`, 10 years, like kubeadm's).
    pub fn generate(common_name: &str) -> Result<Ca, PkiError> {
        let key = KeyPair::generate().map_err(cert_err("generating the CA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(common_name, &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
        ];
        valid_for(&mut params, 3650);
        let cert = params
            .self_signed(&key)
            .map_err(cert_err("signing the CA certificate"))?;
        Ok(Ca {
            cert_pem: cert.pem(),
            key,
        })
    }

    /// A CA from its PEM certificate and key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let key = KeyPair::from_pem(key_pem).map_err(cert_err("parsing the CA key"))?;
        // Parse once now so that a broken file fails here, not at the first signature.
        Issuer::from_ca_cert_pem(cert_pem, &key).map_err(cert_err("parsing the CA certificate"))?;
        Ok(Ca {
            cert_pem: cert_pem.to_string(),
            key,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA key, PEM (PKCS#8).
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    fn sign(&self, params: &CertificateParams, key: &KeyPair) -> Result<String, PkiError> {
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)
            .map_err(cert_err("parsing the CA certificate"))?;
        let cert = params
            .signed_by(key, &issuer)
            .map_err(cert_err("signing a certificate"))?;
        Ok(cert.pem())
    }

    /// A serving certificate (`CN=kube-apiserver`, 1 year) for `hosts` (DNS names or IPs),
    /// with `key` when given (so a restart keeps the key), else a new one.
    pub fn issue_serving(
        &self,
        hosts: &[String],
        key: Option<KeyPair>,
    ) -> Result<CertKey, PkiError> {
        let key = match key {
            Some(k) => k,
            None => KeyPair::generate().map_err(cert_err("generating the serving key"))?,
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("kube-apiserver", &[]);
        params.subject_alt_names = sans(hosts)?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        valid_for(&mut params, 365);
        Ok(CertKey {
            cert_pem: self.sign(&params, &key)?,
            key_pem: key.serialize_pem(),
        })
    }

    /// An etcd member's certificate (`server.crt` or `peer.crt`): `CN` = the node name, both
    /// server and client auth, the node's names and IPs, as kubeadm's `KubeadmCertEtcdServer`
    /// and `KubeadmCertEtcdPeer` (cmd/kubeadm/app/phases/certs/certlist.go).
    pub fn issue_etcd_member(
        &self,
        node_name: &str,
        hosts: &[String],
        key: Option<KeyPair>,
    ) -> Result<CertKey, PkiError> {
        let key = match key {
            Some(k) => k,
            None => KeyPair::generate().map_err(cert_err("generating an etcd member key"))?,
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(node_name, &[]);
        params.subject_alt_names = sans(hosts)?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        valid_for(&mut params, 365);
        Ok(CertKey {
            cert_pem: self.sign(&params, &key)?,
            key_pem: key.serialize_pem(),
        })
    }

    /// A client certificate: the API server takes the user from `CN` and the groups from `O`,
    /// as upstream's x509 authenticator does.
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<CertKey, PkiError> {
        let key = KeyPair::generate().map_err(cert_err("generating a client key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(user, groups);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        valid_for(&mut params, 365);
        Ok(CertKey {
            cert_pem: self.sign(&params, &key)?,
            key_pem: key.serialize_pem(),
        })
    }
}

fn dn(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for o in organizations {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn sans(hosts: &[String]) -> Result<Vec<SanType>, PkiError> {
    hosts
        .iter()
        .map(|h| match h.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => h
                .as_str()
                .try_into()
                .map(SanType::DnsName)
                .map_err(cert_err(format!("the host name {h:?}"))),
        })
        .collect()
}

/// From 5 minutes ago (clock skew between host and container) for `days`.
fn valid_for(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(days);
}

/// The hosts the serving certificate covers, as kubeadm's `apiserver.crt` in a kind node:
/// the node's name, the in-cluster names of the `kubernetes` Service and its ClusterIP,
/// `localhost`, `127.0.0.1`, the advertise address and any `extra`.
pub fn serving_hosts(node_name: &str, advertise: Option<IpAddr>, extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = [
        node_name,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "10.96.0.1",
        "127.0.0.1",
    ]
    .iter()
    .filter(|h| !h.is_empty())
    .map(|h| h.to_string())
    .collect();
    if let Some(ip) = advertise {
        hosts.push(ip.to_string());
    }
    for h in extra {
        if !hosts.contains(h) {
            hosts.push(h.clone());
        }
    }
    hosts
}

/// kubeadm's `admin.conf` for cluster `cluster`: cluster `cluster` at `server`, user
/// `kubernetes-admin` with embedded client certificate and key, context
/// `kubernetes-admin@<cluster>` (current).
pub fn admin_conf(cluster: &str, server: &str, ca_pem: &str, client: &CertKey) -> String {
    kubeconfig(cluster, server, ca_pem, ADMIN_USER, client)
}

/// A kubeconfig for `user` (its certificate and key inline) in cluster `cluster` at
/// `server`, context `USER@CLUSTER`: the layout of kubeadm's `admin.conf` and
/// `kubelet.conf`.
pub fn kubeconfig(
    cluster: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    client: &CertKey,
) -> String {
    let b64 = |s: &str| STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster}\ncontexts:\n- context:\n    cluster: {cluster}\n    user: {user}\n  name: {user}@{cluster}\ncurrent-context: {user}@{cluster}\nkind: Config\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = b64(ca_pem),
        cert = b64(&client.cert_pem),
        key = b64(&client.key_pem),
    )
}

/// Where kubeadm keeps the files, under one directory (`/etc/kubernetes/pki` in a node).
#[derive(Debug, Clone)]
pub struct PkiDir(pub PathBuf);

impl PkiDir {
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The CA in `ca.crt`/`ca.key`, made and written there when either file is missing.
    pub fn load_or_create_ca(&self) -> Result<Ca, PkiError> {
        let (crt, key) = (self.file("ca.crt"), self.file("ca.key"));
        if crt.exists() && key.exists() {
            return Ca::from_pem(&read(&crt)?, &read(&key)?);
        }
        let ca = Ca::generate(CA_COMMON_NAME)?;
        write(&key, &ca.key_pem(), true)?;
        write(&crt, ca.cert_pem(), false)?;
        Ok(ca)
    }

    /// Issues `apiserver.crt` for `hosts` (every start: the node's IP can change across
    /// restarts), keeping the key in `apiserver.key` if there is one; writes both.
    pub fn issue_serving(&self, ca: &Ca, hosts: &[String]) -> Result<CertKey, PkiError> {
        let key_path = self.file("apiserver.key");
        let key = if key_path.exists() {
            Some(
                KeyPair::from_pem(&read(&key_path)?)
                    .map_err(cert_err(format!("parsing {}", key_path.display())))?,
            )
        } else {
            None
        };
        let ck = ca.issue_serving(hosts, key)?;
        write(&key_path, &ck.key_pem, true)?;
        write(&self.file("apiserver.crt"), &ck.cert_pem, false)?;
        Ok(ck)
    }
}

/// The hosts of etcd's `server.crt` and `peer.crt` in a kind node, as kubeadm's
/// `getEtcdAltNames`/`getEtcdPeerAltNames` (cmd/kubeadm/app/util/pkiutil): the node name,
/// `localhost`, `127.0.0.1`, `::1` and the node's IP.
pub fn etcd_hosts(node_name: &str, advertise: Option<IpAddr>) -> Vec<String> {
    let mut hosts: Vec<String> = [node_name, "localhost", "127.0.0.1", "::1"]
        .iter()
        .filter(|h| !h.is_empty())
        .map(|h| h.to_string())
        .collect();
    if let Some(ip) = advertise {
        hosts.push(ip.to_string());
    }
    hosts
}

impl PkiDir {
    /// kubeadm's etcd PKI, at kind's paths under this directory: `etcd/ca.{crt,key}` (the
    /// etcd CA, made once), `etcd/server.{crt,key}` and `etcd/peer.{crt,key}` (reissued for
    /// the node's names and IP at every start, keys kept), `etcd/healthcheck-client.{crt,key}`
    /// and `apiserver-etcd-client.{crt,key}` (made once). Returns the etcd CA.
    pub fn ensure_etcd(&self, node_name: &str, advertise: Option<IpAddr>) -> Result<Ca, PkiError> {
        let ca = self.load_or_create_named_ca("etcd/ca", ETCD_CA_COMMON_NAME)?;
        let hosts = etcd_hosts(node_name, advertise);
        for member in ["etcd/server", "etcd/peer"] {
            let key = self.existing_key(&format!("{member}.key"))?;
            let ck = ca.issue_etcd_member(node_name, &hosts, key)?;
            self.write_pair(member, &ck)?;
        }
        for (stem, cn) in [
            ("etcd/healthcheck-client", ETCD_HEALTHCHECK_CLIENT),
            ("apiserver-etcd-client", APISERVER_ETCD_CLIENT),
        ] {
            if !(self.file(&format!("{stem}.crt")).exists()
                && self.file(&format!("{stem}.key")).exists())
            {
                let ck = ca.issue_client(cn, &[])?;
                self.write_pair(stem, &ck)?;
            }
        }
        Ok(ca)
    }

    fn load_or_create_named_ca(&self, stem: &str, cn: &str) -> Result<Ca, PkiError> {
        let (crt, key) = (
            self.file(&format!("{stem}.crt")),
            self.file(&format!("{stem}.key")),
        );
        if crt.exists() && key.exists() {
            return Ca::from_pem(&read(&crt)?, &read(&key)?);
        }
        let ca = Ca::generate(cn)?;
        write(&key, &ca.key_pem(), true)?;
        write(&crt, ca.cert_pem(), false)?;
        Ok(ca)
    }

    fn existing_key(&self, name: &str) -> Result<Option<KeyPair>, PkiError> {
        let path = self.file(name);
        if !path.exists() {
            return Ok(None);
        }
        KeyPair::from_pem(&read(&path)?)
            .map(Some)
            .map_err(cert_err(format!("parsing {}", path.display())))
    }

    fn write_pair(&self, stem: &str, ck: &CertKey) -> Result<(), PkiError> {
        write(&self.file(&format!("{stem}.key")), &ck.key_pem, true)?;
        write(&self.file(&format!("{stem}.crt")), &ck.cert_pem, false)
    }
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `text` to `path` (parents created), owner-only when `secret`.
pub fn write(path: &Path, text: &str, secret: bool) -> Result<(), PkiError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(&tmp)
        .map_err(io)?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}
