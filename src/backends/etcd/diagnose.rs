//! Finding out why a TLS connection to etcd fails, when tonic only says "connection closed" or
//! nothing at all (a timeout).
//!
//! With TLS 1.3 the client finishes its side of the handshake before the server has checked the
//! client certificate; a rejected certificate then shows up as a dropped connection on the first
//! request, and tonic's reconnecting channel may just wait. Doing the handshake and a first
//! read by hand, with the same credentials, gets the server's alert itself ("received fatal
//! alert: BadCertificate"), which says exactly what is wrong.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect::{CONNECT_TIMEOUT, Credentials};

/// What goes wrong connecting to `url` with `creds`, or `None` when the TLS side works (or
/// cannot be checked: a plaintext URL, unparsable credentials).
pub async fn tls_problem(url: &str, creds: &Credentials) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?.to_string(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_string(),
    };
    let config = client_config(creds)?;
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(authority))
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
