//! Errors: the one a test sees when the server cannot start, and the `Status`
//! failures the fake returns to clients (shaped as the real API server shapes them,
//! so `kube::Error::Api` parses reason and code).

use serde_json::{Value, json};

use crate::resources::ResourceDef;

/// Why the fake API server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Binding or inspecting the listener failed.
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    /// The served mode's certificates or keys are unusable.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The cluster PKI or `admin.conf` could not be read or written.
    #[error("cluster PKI: {0}")]
    Pki(#[from] crate::pki::PkiError),
    /// The storage (the served mode's etcd) could not be reached or read.
    #[error("storage: {0}")]
    Storage(String),
}

/// Why a call of the Rust test API (`insert`, `register_resource`, ...) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code (404, 409, 422, ...).
    pub code: u16,
    /// Kubernetes `Status.reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...).
    pub reason: String,
    /// Human-readable message, worded like the real server's.
    pub message: String,
    details: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: None,
        }
    }

    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn named(res: &ResourceDef, name: &str) -> Value {
        let mut d = json!({ "name": name, "kind": res.plural });
        if !res.group.is_empty() {
            d["group"] = json!(res.group);
        }
        d
    }

    pub(crate) fn not_found(res: &ResourceDef, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", res.qualified()),
        )
        .with_details(Self::named(res, name))
    }

    pub(crate) fn already_exists(res: &ResourceDef, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", res.qualified()),
        )
        .with_details(Self::named(res, name))
    }

    pub(crate) fn conflict(res: &ResourceDef, name: &str, why: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                res.qualified()
            ),
        )
        .with_details(Self::named(res, name))
    }

    pub(crate) fn modified(res: &ResourceDef, name: &str) -> Self {
        Self::conflict(
            res,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with one field cause, worded `Kind "name" is invalid: field: message`.
    pub(crate) fn invalid(
        res: &ResourceDef,
        name: &str,
        field: &str,
        cause: &str,
        message: &str,
    ) -> Self {
        let kind = if res.group.is_empty() {
            res.kind.clone()
        } else {
            format!("{}.{}", res.kind, res.group)
        };
        let mut details = json!({
            "name": name,
            "kind": res.kind,
            "causes": [{ "reason": cause, "message": message, "field": field }],
        });
        if !res.group.is_empty() {
            details["group"] = json!(res.group);
        }
        ApiError::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {field}: {message}"),
        )
        .with_details(details)
    }

    pub(crate) fn forbidden(res: &ResourceDef, name: &str, why: &str) -> Self {
        ApiError::new(
            403,
            "Forbidden",
            format!("{} \"{name}\" is forbidden: {why}", res.qualified()),
        )
        .with_details(Self::named(res, name))
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    pub(crate) fn gone(message: impl Into<String>) -> Self {
        ApiError::new(410, "Expired", message)
    }

    pub(crate) fn method_not_allowed() -> Self {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub(crate) fn unsupported_media(content_type: &str) -> Self {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
            ),
        )
    }

    pub(crate) fn path_not_found() -> Self {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// The `Status` object as JSON.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}
