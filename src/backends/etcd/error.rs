//! Why an etcd operation failed, said so a person can act on it: which endpoint, and the root
//! cause dug out of tonic's error chain (a refused connection, an unknown certificate
//! authority, a client certificate the server rejected), not just "transport error".
//!
//! Connection problems map to [`ErrorKind::Unavailable`] (exit 3), everything else to
//! [`ErrorKind::Failed`] (exit 4).

use std::error::Error as StdError;
use std::path::PathBuf;

use crate::backends::{BackendError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No connection could be made (or it was refused at the TLS layer).
    #[error("cannot connect to etcd at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    /// The credentials given could not be used at all (a bad PEM file, a missing file).
    #[error("etcd credentials: {0}")]
    Credentials(String),
    /// A request failed after the connection was made.
    #[error("etcd at {endpoint}: {what} failed: {reason}")]
    Request {
        endpoint: String,
        what: String,
        reason: String,
        /// Whether the failure means etcd is not reachable (timeout, connection lost).
        unreachable: bool,
    },
    /// The backup file could not be written or read.
    #[error("etcd backup {}: {reason}", path.display())]
    Backup { path: PathBuf, reason: String },
}

impl EtcdError {
    /// A request that failed: classified as unreachable when the transport broke.
    pub fn request(endpoint: &str, what: impl Into<String>, e: &etcd_client::Error) -> Self {
        let (reason, unreachable) = explain_client(e);
        EtcdError::Request {
            endpoint: endpoint.to_string(),
            what: what.into(),
            reason,
            unreachable,
        }
    }

    pub fn backup(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        EtcdError::Backup {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

impl From<EtcdError> for BackendError {
    fn from(e: EtcdError) -> Self {
        let kind = match &e {
            EtcdError::Connect { .. } | EtcdError::Credentials(_) => ErrorKind::Unavailable,
            EtcdError::Request { unreachable, .. } if *unreachable => ErrorKind::Unavailable,
            EtcdError::Request { .. } | EtcdError::Backup { .. } => ErrorKind::Failed,
        };
        BackendError {
            kind,
            message: e.to_string(),
        }
    }
}

/// The root cause of an etcd-client error and whether it means "not reachable".
pub fn explain_client(e: &etcd_client::Error) -> (String, bool) {
    match e {
        etcd_client::Error::GRpcStatus(s) => explain_status(s),
        etcd_client::Error::TransportError(t) => (explain_chain(t), true),
        etcd_client::Error::IoError(io) => (io.to_string(), true),
        other => (explain_chain(other), false),
    }
}

/// A gRPC status: `Unavailable`/`DeadlineExceeded`/`Unknown` from the transport mean the
/// server is out of reach; anything else is the server's answer.
fn explain_status(s: &tonic::Status) -> (String, bool) {
    use tonic::Code;
    let mut reason = s.message().to_string();
    if let Some(src) = s.source() {
        let chain = explain_chain(src);
        if !chain.is_empty() && !reason.contains(&chain) {
            reason = if reason.is_empty() {
                chain
            } else {
                format!("{reason}: {chain}")
            };
        }
    }
    let reason = tls_hint(&reason);
    match s.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled => {
            let reason = if reason.is_empty() {
                format!("{:?}", s.code())
            } else {
                reason
            };
            (reason, true)
        }
        Code::PermissionDenied | Code::Unauthenticated => (
            format!("{reason} (the client certificate is not allowed to do this)"),
            false,
        ),
        code => (format!("{code:?}: {reason}"), false),
    }
}

/// Joins the distinct, informative messages of an error's source chain: "tcp connect error:
/// Connection refused (os error 111)", not "transport error: transport error: ...".
pub fn explain_chain(e: &(dyn StdError + 'static)) -> String {
    const GENERIC: [&str; 4] = [
        "transport error",
        "operation was canceled",
        "error trying to connect",
        "client error (connect)",
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let mut msg = err.to_string();
        if let Some(next) = err.source() {
            // Some errors repeat their source in their own message.
            msg = msg.replace(&format!(": {next}"), "");
        }
        let msg = msg.trim().to_string();
        if !msg.is_empty() && !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        cur = err.source();
    }
    let informative: Vec<String> = parts
        .iter()
        .filter(|p| !GENERIC.contains(&p.to_ascii_lowercase().as_str()))
        .cloned()
        .collect();
    let parts = if informative.is_empty() {
        parts
    } else {
        informative
    };
    tls_hint(&parts.join(": "))
}

/// When etcd drops the connection right after the TLS handshake, the usual cause is a client
/// certificate it does not accept: TLS 1.3 finishes the handshake before the server checks it,
/// so the client only sees a closed connection, not the server's alert.
pub fn closed_connection_hint(reason: String, presented_cert: bool) -> String {
    let lower = reason.to_ascii_lowercase();
    let closed = [
        "broken pipe",
        "connection reset",
        "stream closed",
        "unexpected eof",
        "early eof",
        "connection closed",
    ]
    .iter()
    .any(|w| lower.contains(w));
    if presented_cert && closed && !lower.contains("client certificate") {
        format!(
            "{reason} (etcd closed the connection after the TLS handshake: it most likely \
             rejected the client certificate (--cert/--key))"
        )
    } else {
        reason
    }
}

/// rustls's `invalid peer certificate: Expired` and the `CertificateExpired` alert; not
/// "Timeout expired" (tonic's timeout), which says nothing about certificates.
fn certificate_expired(lower: &str) -> bool {
    lower.contains("certificateexpired")
        || lower.contains("certificate expired")
        || lower.contains("invalid peer certificate: expired")
        || (lower.contains("certificate") && lower.contains("has expired"))
}

/// Whether a reason says a timeout fired (tonic's "Timeout expired", ours "no answer within").
pub fn timed_out(reason: &str) -> bool {
    let lower = reason.to_ascii_lowercase();
    [
        "timeout expired",
        "timed out",
        "no answer within",
        "did not answer",
        "did not finish",
        "deadline",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// Adds what a TLS failure most likely means to its message.
pub fn tls_hint(reason: &str) -> String {
    let lower = reason.to_ascii_lowercase();
    let hint = if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        Some("the server's certificate is not signed by the CA given (--cacert)")
    } else if lower.contains("badcertificate")
        || lower.contains("bad certificate")
        || lower.contains("unknownca")
        || lower.contains("unknown ca")
        || lower.contains("certificaterequired")
        || lower.contains("certificate required")
    {
        Some("the server rejected the client certificate (--cert/--key)")
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        Some("the server's certificate does not name this endpoint's host")
    } else if certificate_expired(&lower) {
        Some("a certificate has expired")
    } else {
        None
    };
    match hint {
        Some(h) => format!("{reason} ({h})"),
        None => reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_is_not_an_expired_certificate() {
        // tonic's timeouts say "Timeout expired": nothing about certificates.
        assert_eq!(
            tls_hint("transport error: Timeout expired"),
            "transport error: Timeout expired"
        );
        let status = etcd_client::Error::GRpcStatus(tonic::Status::cancelled("Timeout expired"));
        let (reason, unreachable) = explain_client(&status);
        assert!(unreachable);
        assert!(!reason.contains("certificate"), "{reason}");
        assert!(timed_out(&reason), "{reason}");
        // The real expiry still is one, from rustls's error or the server's alert.
        for real in [
            "invalid peer certificate: Expired",
            "received fatal alert: CertificateExpired",
        ] {
            assert!(
                tls_hint(real).ends_with("(a certificate has expired)"),
                "{real}"
            );
        }
    }
}
