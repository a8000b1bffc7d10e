//! Finding out why a TLS connection to etcd fails, when tonic only says "connection closed" or
//! nothing at all (a timeout).
//!
//! With TLS 1.3 the client finishes its side of the handshake before the server has checked the
//! client certificate; a rejected certificate then shows up as a dropped connection on the first
//! request, and tonic's reconnecting channel may just wait. Doing the handshake and a first
//! read by hand, with the same credentials, gets the server's alert itself ("received fatal
//! alert: BadCertificate"), which says exactly what is wrong.
//!
//! Two more questions are answered by hand for the failures that are not about credentials:
//! does a plaintext (`http://`) endpoint in fact speak TLS (a protocol mismatch, which would
//! otherwise look like a dropped connection), and does an endpoint that timed out accept TCP
//! connections at all (a hung server, not a missing one).

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect::{CONNECT_TIMEOUT, Credentials};

/// What goes wrong connecting to `url` with `creds`, or `None` when the TLS side works (or
/// cannot be checked: a plaintext URL, unparsable credentials).
pub async fn tls_problem(url: &str, creds: &Credentials) -> Option<String> {
    if !url.starts_with("https://") {
        return None;
    }
    let (authority, host) = authority_and_host(url)?;
    let config = client_config(creds)?;
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&authority))
        .await
        .ok()?
        .ok()?;
    let name = ServerName::try_from(host).ok()?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Err(_) => return Some("the TLS handshake did not finish".into()),
        Ok(Err(e)) => return Some(e.to_string()),
        Ok(Ok(s)) => s,
    };
    // The HTTP/2 preface and an empty SETTINGS frame: a server that accepted the client
    // answers with its SETTINGS; one that did not sends its alert instead.
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    if let Err(e) = tls.write_all(&hello).await {
        return Some(e.to_string());
    }
    let mut buf = [0u8; 64];
    match tokio::time::timeout(Duration::from_secs(3), tls.read(&mut buf)).await {
        Err(_) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Ok(Ok(0)) => Some("etcd closed the connection right after the TLS handshake".into()),
        Ok(Ok(_)) => None,
    }
}

/// `host:port` of a URL and its host (without brackets).
fn authority_and_host(url: &str) -> Option<(String, String)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?.to_string(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_string(),
    };
    Some((authority.to_string(), host))
}

/// Whether something at `url` completes a TCP connection within the connect timeout.
pub async fn accepts_tcp(url: &str) -> bool {
    let Some((authority, _)) = authority_and_host(url) else {
        return false;
    };
    matches!(
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(authority)).await,
        Ok(Ok(_))
    )
}

/// Whether the server at `url` answers a TLS ClientHello like a TLS server: it sends its
/// certificate (which this check, trusting no CA, refuses) or a TLS alert. A plaintext
/// server, a hung one or nothing at all is `false`.
pub async fn speaks_tls(url: &str) -> bool {
    let Some((authority, host)) = authority_and_host(url) else {
        return false;
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(builder) =
        rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()
    else {
        return false;
    };
    let mut config = builder
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let Ok(name) = ServerName::try_from(host) else {
        return false;
    };
    let Ok(Ok(tcp)) =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(authority)).await
    else {
        return false;
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(Duration::from_secs(3), connector.connect(name, tcp)).await {
        Ok(Err(e)) => e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(|r| {
                matches!(
                    r,
                    rustls::Error::InvalidCertificate(_) | rustls::Error::AlertReceived(_)
                )
            }),
        // A handshake that succeeds trusting no CA cannot happen; a timeout is no TLS server.
        _ => false,
    }
}

fn client_config(creds: &Credentials) -> Option<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(creds.ca.as_deref()?) {
        roots.add(cert.ok()?).ok()?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots);
    let mut config = match (&creds.cert, &creds.key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<_, _>>()
                .ok()?;
            let key = PrivateKeyDer::from_pem_slice(key).ok()?;
            builder.with_client_auth_cert(chain, key).ok()?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Some(config)
}
