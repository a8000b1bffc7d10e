//! Turning kube's errors into [`BackendError`]s a person can act on.
//!
//! Why it exists: kube's errors say what failed in the client (`HyperError: client error
//! (Connect)`), not what we were doing, where, or what to do. Every request of this backend goes
//! through [`KubeBackend::fail`], which names the verb, the object and the API server URL, and
//! picks the kind that decides the exit code: an API server that refuses connections or does
//! not answer in time is `Unavailable` (exit 3: environment not ready); 404 is `NotFound`;
//! RBAC refusals and every other rejection are `Failed` (exit 4). Messages never carry
//! credentials: only the server URL and what the server or the network said.

use std::error::Error as StdError;
use std::time::Duration;

use crate::backends::{BackendError, ErrorKind};

use super::KubeBackend;

/// What went wrong, with what we were doing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KubeError {
    #[error("cannot reach the Kubernetes API at {server} (to {verb} {what}): {reason}")]
    Unreachable {
        server: String,
        verb: String,
        what: String,
        reason: String,
    },
    #[error(
        "the Kubernetes API at {server} did not answer within {} (to {verb} {what}); is the control plane paused or overloaded?",
        crate::playbook::values::format_duration(*timeout)
    )]
    TimedOut {
        server: String,
        verb: String,
        what: String,
        timeout: Duration,
    },
    #[error("{what} not found")]
    NotFound { what: String },
    /// A write refused because the object's namespace does not exist (NamespaceLifecycle
    /// admission); the object itself may well still be stored.
    #[error(
        "cannot {verb} {what}: namespace {namespace} does not exist (the API server refuses writes into a missing namespace)"
    )]
    NamespaceMissing {
        verb: String,
        what: String,
        namespace: String,
    },
    #[error(
        "forbidden: the API server at {server} does not allow this kubeconfig's user to {verb} {what} (RBAC): {message}"
    )]
    Forbidden {
        server: String,
        verb: String,
        what: String,
        message: String,
    },
    #[error(
        "the API server at {server} did not accept the kubeconfig's credentials (to {verb} {what}): {message}"
    )]
    Unauthorized {
        server: String,
        verb: String,
        what: String,
        message: String,
    },
    #[error("cannot {verb} {what}: the API server at {server} answered {code} {reason}: {message}")]
    Rejected {
        server: String,
        verb: String,
        what: String,
        code: u16,
        reason: String,
        message: String,
    },
    #[error("cannot {verb} {what}: {reason}")]
    Other {
        verb: String,
        what: String,
        reason: String,
    },
}

impl KubeError {
    fn kind(&self) -> ErrorKind {
        match self {
            KubeError::Unreachable { .. }
            | KubeError::TimedOut { .. }
            | KubeError::Unauthorized { .. } => ErrorKind::Unavailable,
            KubeError::NotFound { .. } | KubeError::NamespaceMissing { .. } => ErrorKind::NotFound,
            KubeError::Rejected { code, .. } if *code == 503 => ErrorKind::Unavailable,
            KubeError::Forbidden { .. } | KubeError::Rejected { .. } | KubeError::Other { .. } => {
                ErrorKind::Failed
            }
        }
    }
}

impl From<KubeError> for BackendError {
    fn from(e: KubeError) -> Self {
        BackendError {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// The HTTP status of an API error, if the error is one.
pub(crate) fn status_code(e: &::kube::Error) -> Option<u16> {
    match e {
        ::kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// Classifies `e`; `server` and `timeout` are for the message.
pub(crate) fn classify(
    server: &str,
    timeout: Duration,
    verb: &str,
    what: &str,
    e: &::kube::Error,
) -> KubeError {
    let (server, verb, what) = (server.to_string(), verb.to_string(), what.to_string());
    match e {
        ::kube::Error::Api(s) => match s.code {
            404 if missing_namespace(s, &what).is_some() => KubeError::NamespaceMissing {
                namespace: missing_namespace(s, &what).unwrap_or_default(),
                verb,
                what,
            },
            // A write that finds no target names what is missing in the server's message
            // (`namespaces "lab" not found` while applying a pod into it).
            404 if verb != "apply" => KubeError::NotFound { what },
            403 => KubeError::Forbidden {
                server,
                verb,
                what,
                message: s.message.clone(),
            },
            401 => KubeError::Unauthorized {
                server,
                verb,
                what,
                message: s.message.clone(),
            },
            code => KubeError::Rejected {
                server,
                verb,
                what,
                code,
                reason: s.reason.clone(),
                message: s.message.clone(),
            },
        },
        ::kube::Error::HyperError(_)
        | ::kube::Error::Service(_)
        | ::kube::Error::ReadEvents(_)
        | ::kube::Error::RustlsTls(_)
        | ::kube::Error::TlsRequired => {
            if timed_out(e) {
                KubeError::TimedOut {
                    server,
                    verb,
                    what,
                    timeout,
                }
            } else {
                KubeError::Unreachable {
                    server,
                    verb,
                    what,
                    reason: reason(e),
                }
            }
        }
        other => KubeError::Other {
            verb,
            what,
            reason: reason(other),
        },
    }
}

/// The namespace a 404 names when it is not `what` itself: the answer of NamespaceLifecycle
/// admission to a write into a namespace that does not exist (`namespaces "lab" not found`,
/// details `{kind: namespaces, name: lab}`), not the object's own 404.
fn missing_namespace(s: &::kube::core::Status, what: &str) -> Option<String> {
    let d = s.details.as_ref()?;
    let about_a_namespace = what.to_ascii_lowercase().starts_with("namespace ");
    (d.kind == "namespaces" && d.group.is_empty() && !d.name.is_empty() && !about_a_namespace)
        .then(|| d.name.clone())
}

/// Whether the error chain says a timeout fired (hyper-timeout's `TimedOut` I/O error, or a
/// tower/hyper timeout message).
fn timed_out(e: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        let text = err.to_string().to_lowercase();
        if text.contains("timed out") || text.contains("deadline has elapsed") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The most specific messages of an error chain: kube's wrappers (`HyperError: ...`) repeat
/// their source, so a message contained in the next one down is dropped, and the last two
/// distinct ones are kept (`tcp connect error: Connection refused (os error 111)`).
pub(crate) fn reason(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        cur = err.source();
    }
    let n = parts.len();
    parts
        .into_iter()
        .skip(n.saturating_sub(2))
        .collect::<Vec<_>>()
        .join(": ")
}

impl KubeBackend {
    /// The [`BackendError`] for a failed request: `verb` and `what` say what was attempted
    /// (`delete`, `Pod default/web`).
    pub(crate) fn fail(&self, verb: &str, what: &str, e: ::kube::Error) -> BackendError {
        classify(&self.server, self.timeout, verb, what, &e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str, message: &str) -> ::kube::Error {
        ::kube::Error::Api(Box::new(::kube::core::Status {
            code,
            reason: reason.into(),
            message: message.into(),
            ..Default::default()
        }))
    }

    fn kind(e: ::kube::Error) -> (ErrorKind, String) {
        let b: BackendError = classify(
            "https://127.0.0.1:6443",
            Duration::from_secs(10),
            "delete",
            "Pod default/web",
            &e,
        )
        .into();
        (b.kind, b.message)
    }

    #[test]
    fn status_codes_pick_the_exit_code() {
        assert_eq!(kind(api(404, "NotFound", "x")).0, ErrorKind::NotFound);
        let (k, m) = kind(api(
            403,
            "Forbidden",
            r#"pods "web" is forbidden: User "dev" cannot delete resource "pods""#,
        ));
        assert_eq!(k, ErrorKind::Failed);
        assert!(m.starts_with("forbidden:"), "{m}");
        assert!(m.contains("delete Pod default/web"), "{m}");
        assert!(m.contains("RBAC"), "{m}");
        assert_eq!(kind(api(401, "Unauthorized", "")).0, ErrorKind::Unavailable);
        assert_eq!(
            kind(api(503, "ServiceUnavailable", "")).0,
            ErrorKind::Unavailable
        );
        let (k, m) = kind(api(500, "InternalError", "etcd is down"));
        assert_eq!(k, ErrorKind::Failed);
        assert!(m.contains("500 InternalError: etcd is down"), "{m}");
    }

    #[test]
    fn a_404_naming_the_namespace_is_told_from_the_objects_own() {
        let gone = |what: &str| {
            let e = ::kube::Error::Api(Box::new(::kube::core::Status {
                code: 404,
                reason: "NotFound".into(),
                message: r#"namespaces "lab" not found"#.into(),
                details: serde_json::from_value(
                    serde_json::json!({"name": "lab", "kind": "namespaces"}),
                )
                .ok(),
                ..Default::default()
            }));
            let b: BackendError =
                classify("https://x", Duration::from_secs(1), "patch", what, &e).into();
            (b.kind, b.message)
        };
        let (k, m) = gone("Pod lab/web");
        assert_eq!(k, ErrorKind::NotFound);
        assert_eq!(
            m,
            "cannot patch Pod lab/web: namespace lab does not exist (the API server refuses writes into a missing namespace)"
        );
        assert_eq!(gone("namespace lab").1, "namespace lab not found");
    }

    #[test]
    fn reason_keeps_the_specific_end_of_the_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Outer(#[source] std::io::Error);
        let inner =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = Outer(inner);
        assert_eq!(reason(&e), "client error (Connect): Connection refused");
        let t = std::io::Error::new(std::io::ErrorKind::TimedOut, "whatever");
        assert!(timed_out(&t));
    }
}
