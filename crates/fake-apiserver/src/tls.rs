//! TLS of the served mode, with client certificates handled the way kube-apiserver handles them.
//!
//! Why it exists: kind-chaos connects to kind clusters over HTTPS with the client certificate
//! of `admin.conf`; the served fake must accept exactly what a real API server accepts.
//! Upstream asks for a client certificate but does not require one at the handshake
//! (`tls.RequestClientCert`, staging/src/k8s.io/apiserver/pkg/server/secure_serving.go,
//! `tlsConfig`), then verifies it in the x509 authenticator. So here the handshake takes any
//! certificate (its handshake signature is still checked), and the chain is verified against
//! the cluster CA afterwards: a valid one names the user ([`Caller::User`]), an invalid one
//! makes every request 401, none is anonymous (see `auth`).

use std::sync::Arc;
use std::time::Duration;

use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::auth::Caller;
use crate::error::StartError;

/// How long a client may take over the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server needs: the cluster CA (trusted for client certificates) and the serving
/// certificate chain and key, all PEM.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// The CA whose client certificates authenticate users.
    pub client_ca_pem: String,
    /// The serving certificate (chain), leaf first.
    pub cert_pem: String,
    /// The serving certificate's private key.
    pub key_pem: String,
}

/// The acceptor and the verifier used after the handshake.
pub(crate) struct TlsServer {
    acceptor: TlsAcceptor,
    clients: Arc<dyn ClientCertVerifier>,
}

fn tls_err(what: &str, e: impl std::fmt::Display) -> StartError {
    StartError::Tls(format!("{what}: {e}"))
}

impl TlsServer {
    pub(crate) fn new(m: &TlsMaterial) -> Result<TlsServer, StartError> {
        let provider = Arc::new(default_provider());
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(m.client_ca_pem.as_bytes()) {
            let c = c.map_err(|e| tls_err("the client CA", e))?;
            roots.add(c).map_err(|e| tls_err("the client CA", e))?;
        }
        if roots.is_empty() {
            return Err(StartError::Tls("the client CA holds no certificate".into()));
        }
        let clients =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| tls_err("the client certificate verifier", e))?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(m.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| tls_err("the serving certificate", e))?;
        let key = PrivateKeyDer::from_pem_slice(m.key_pem.as_bytes())
            .map_err(|e| tls_err("the serving key", e))?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err("TLS versions", e))?
            .with_client_cert_verifier(Arc::new(RequestClientCert(clients.clone())))
            .with_single_cert(chain, key)
            .map_err(|e| tls_err("the serving certificate", e))?;
        // HTTP/2 is not served; clients (kubectl, kube-rs) fall back to HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsServer {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            clients,
        })
    }

    /// The handshake, and who the client is; `None` when the handshake fails.
    pub(crate) async fn accept(&self, stream: TcpStream) -> Option<(TlsStream<TcpStream>, Caller)> {
        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream))
            .await
            .ok()?
            .ok()?;
        let caller = match tls.get_ref().1.peer_certificates() {
            Some([leaf, intermediates @ ..]) => {
                match self
                    .clients
                    .verify_client_cert(leaf, intermediates, UnixTime::now())
                {
                    Ok(_) => user_of(leaf),
                    Err(_) => Caller::Rejected,
                }
            }
            _ => Caller::Anonymous,
        };
        Some((tls, caller))
    }
}

/// User from `CN`, groups from `O`: upstream's `x509.CommonNameUserConversion`
/// (staging/src/k8s.io/apiserver/pkg/authentication/request/x509/x509.go), where an empty
/// common name authenticates no one (the request then counts as anonymous).
fn user_of(leaf: &CertificateDer<'_>) -> Caller {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
        return Caller::Rejected;
    };
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default();
    if name.is_empty() {
        return Caller::Anonymous;
    }
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Caller::User {
        name: name.to_string(),
        groups,
    }
}

/// Asks for a client certificate, accepts any at the handshake (upstream's
/// `tls.RequestClientCert`); the chain is verified after the handshake.
#[derive(Debug)]
struct RequestClientCert(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
