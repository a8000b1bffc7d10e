//! Opening a connection to etcd with TLS client certificates, eagerly, so that a wrong
//! endpoint, a wrong CA or a rejected client certificate shows up at once with its real cause
//! and the endpoint's name (etcd-client's own `connect` builds a lazy balanced channel whose
//! failures only surface later as an opaque timeout). When the failure is vague (a dropped
//! connection, a timeout), [`super::diagnose`] repeats the TLS handshake by hand to get the
//! server's own alert.
//!
//! Credentials are PEM bytes kept in memory: discovery copies them out of the control-plane
//! container and they are never written to disk or logged (the `Debug` form redacts them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_client::{Certificate, GetOptions, Identity, TlsOptions};
use tonic::transport::Endpoint;

use super::EtcdClient;
use super::diagnose::{accepts_tcp, speaks_tls, tls_problem};
use super::error::{
    EtcdError, closed_connection_hint, explain_chain, explain_client, timed_out, tls_hint,
};

/// How long to wait for a TCP connection and TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take (a page of a range, one transaction).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to reach etcd, as given on the command line, with etcdctl's names. Anything
/// left out is discovered from the kind cluster (see [`super::connector`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdFlags {
    /// `--endpoints`: `https://host:port` (the scheme may be left out).
    pub endpoints: Vec<String>,
    /// `--cacert`: the CA that signed etcd's server certificate.
    pub cacert: Option<PathBuf>,
    /// `--cert`: the client certificate.
    pub cert: Option<PathBuf>,
    /// `--key`: the client certificate's private key.
    pub key: Option<PathBuf>,
}

impl EtcdFlags {
    /// Whether the flags alone say how to connect (no discovery needed).
    pub fn complete(&self) -> bool {
        !self.endpoints.is_empty()
            && (self.all_plaintext()
                || (self.cacert.is_some() && self.cert.is_some() && self.key.is_some()))
    }

    fn all_plaintext(&self) -> bool {
        self.endpoints.iter().all(|e| e.starts_with("http://"))
    }
}

/// TLS material in PEM form, in memory only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub ca: Option<Vec<u8>>,
    pub cert: Option<Vec<u8>>,
    pub key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<Vec<u8>>| v.as_ref().map(|b| format!("<{} bytes>", b.len()));
        f.debug_struct("Credentials")
            .field("ca", &shown(&self.ca))
            .field("cert", &shown(&self.cert))
            .field("key", &shown(&self.key).map(|_| "<redacted>"))
            .finish()
    }
}

impl Credentials {
    /// Reads the files named by `--cacert`, `--cert` and `--key` (those given).
    pub fn from_flags(flags: &EtcdFlags) -> Result<Self, EtcdError> {
        if flags.cert.is_some() != flags.key.is_some() {
            return Err(EtcdError::Credentials(
                "--cert and --key go together: give both or neither".into(),
            ));
        }
        Ok(Credentials {
            ca: flags.cacert.as_deref().map(read_pem).transpose()?,
            cert: flags.cert.as_deref().map(read_pem).transpose()?,
            key: flags.key.as_deref().map(read_pem).transpose()?,
        })
    }

    fn tls(&self) -> Option<TlsOptions> {
        if self.ca.is_none() && self.cert.is_none() {
            return None;
        }
        let mut tls = TlsOptions::new();
        if let Some(ca) = &self.ca {
            tls = tls.ca_certificate(Certificate::from_pem(ca));
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        Some(tls)
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, EtcdError> {
    std::fs::read(path)
        .map_err(|e| EtcdError::Credentials(format!("cannot read {}: {e}", path.display())))
}

/// `host:port` becomes `https://host:port` when there are TLS credentials, else `http://`.
pub fn endpoint_url(endpoint: &str, tls: bool) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else if tls {
        format!("https://{endpoint}")
    } else {
        format!("http://{endpoint}")
    }
}

/// Connects to the first endpoint that answers; the error names every endpoint tried.
pub async fn connect_endpoints(
    endpoints: &[String],
    creds: &Credentials,
) -> Result<EtcdClient, EtcdError> {
    let mut failures = Vec::new();
    for e in endpoints {
        match connect_one(e, creds).await {
            Ok(c) => return Ok(c),
            Err(err) => failures.push(err),
        }
    }
    match failures.len() {
        0 => Err(EtcdError::Connect {
            endpoint: "(none)".into(),
            reason: "no etcd endpoint given (--endpoints)".into(),
        }),
        1 => Err(failures.remove(0)),
        _ => Err(EtcdError::Connect {
            endpoint: endpoints.join(","),
            reason: failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}

/// Connects to one endpoint and proves the connection with a cheap read.
pub async fn connect_one(endpoint: &str, creds: &Credentials) -> Result<EtcdClient, EtcdError> {
    let tls = creds.tls();
    let url = endpoint_url(endpoint, tls.is_some());
    let fail = |reason: String| EtcdError::Connect {
        endpoint: url.clone(),
        reason,
    };
    let mut ep = Endpoint::from_shared(url.clone())
        .map_err(|e| fail(format!("not a valid endpoint URL ({e})")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        let tls = tls.ok_or_else(|| {
            fail("an https endpoint needs at least the CA certificate (--cacert)".into())
        })?;
        ep = ep
            .tls_config(tls)
            .map_err(|e| fail(format!("bad TLS settings: {}", explain_chain(&e))))?;
    }
    let reason = match tokio::time::timeout(CONNECT_TIMEOUT, ep.connect()).await {
        Err(_) => format!("no answer within {CONNECT_TIMEOUT:?}"),
        Ok(Err(e)) => explain_chain(&e),
        Ok(Ok(c)) => match probe(c).await {
            Ok(client) => return Ok(EtcdClient::new(client, url.clone())),
            Err(reason) => reason,
        },
    };
    Err(fail(explain(&url, creds, reason).await))
}

/// Makes a cheap read on a fresh connection. TLS 1.3 lets the handshake finish before the
/// server checks the client certificate, so a rejected certificate only shows here.
async fn probe(channel: tonic::transport::Channel) -> Result<etcd_client::Client, String> {
    let client = etcd_client::Client::from_channel(etcd_client::Channel::Tonic(channel), None)
        .await
        .map_err(|e| explain_client(&e).0)?;
    let mut kv = client.kv_client();
    let read = kv.get(vec![0u8], Some(GetOptions::new().with_count_only()));
    match tokio::time::timeout(CONNECT_TIMEOUT, read).await {
        Err(_) => Err(format!(
            "connected, but etcd did not answer a read within {CONNECT_TIMEOUT:?}"
        )),
        Ok(Err(e)) => Err(explain_client(&e).0),
        Ok(Ok(_)) => Ok(client),
    }
}

/// The best reason for a failed connection. For a plaintext URL: a server that speaks TLS
/// is a protocol mismatch (not a certificate problem: none was sent). For a TLS URL: the
/// server's own TLS alert when a handshake by hand gets one, else what tonic said (with a
/// hint for a connection dropped after the handshake). A timeout says whether the endpoint
/// accepted the connection and then never answered.
async fn explain(url: &str, creds: &Credentials, reason: String) -> String {
    if let Some(rest) = url.strip_prefix("http://") {
        if speaks_tls(url).await {
            return format!(
                "{reason} (protocol mismatch: the endpoint speaks TLS, so it wants https://{rest} with --cacert, and --cert/--key if it checks client certificates)"
            );
        }
        return timeout_hint(url, reason).await;
    }
    let reason = match tls_problem(url, creds).await {
        Some(p) => closed_connection_hint(tls_hint(&p), creds.cert.is_some()),
        None => closed_connection_hint(reason, creds.cert.is_some()),
    };
    timeout_hint(url, reason).await
}

/// For a timeout: whether anything accepted the TCP connection (a hung server) or not.
async fn timeout_hint(url: &str, reason: String) -> String {
    if !timed_out(&reason) {
        return reason;
    }
    if accepts_tcp(url).await {
        format!(
            "{reason} (timeout: the endpoint accepts TCP connections but never answered; etcd may be hung or overloaded, or something else listens there)"
        )
    } else {
        format!("{reason} (timeout: nothing answered the TCP connection)")
    }
}
