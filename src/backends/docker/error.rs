//! What can go wrong talking to Docker, and how each failure maps onto the engine's three error
//! kinds: Docker unreachable or no such cluster is "environment not ready" (exit 3), a missing
//! node is "not found", everything else is a failed operation.

use crate::backends::{BackendError, ErrorKind};

/// A Docker-side failure, with enough context to be read on its own.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot connect to the node containers of kind cluster `{cluster}`: cannot reach the Docker daemon at {socket}: {source} (is Docker running? `docker info` checks)"
    )]
    Connect {
        cluster: String,
        socket: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "cannot connect to the node containers of kind cluster `{cluster}`: no kind cluster `{cluster}` (no container carries the label io.x-k8s.kind.cluster={cluster}); {}",
        found_list(found)
    )]
    NoCluster { cluster: String, found: Vec<String> },
    #[error("no node `{node}` in kind cluster `{cluster}`; its nodes are: {}", nodes.join(", "))]
    NoNode {
        node: String,
        cluster: String,
        nodes: Vec<String>,
    },
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{0}")]
    Failed(String),
}

fn found_list(found: &[String]) -> String {
    if found.is_empty() {
        "no kind clusters found".to_string()
    } else {
        format!("clusters found: {}", found.join(", "))
    }
}

impl DockerError {
    /// A failed Docker API call, described by what it tried to do.
    pub fn api(what: impl Into<String>, source: bollard::errors::Error) -> Self {
        DockerError::Api {
            what: what.into(),
            source,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            DockerError::Connect { .. } | DockerError::NoCluster { .. } => ErrorKind::Unavailable,
            DockerError::NoNode { .. } => ErrorKind::NotFound,
            DockerError::Api { source, .. } => kind_of(source),
            DockerError::Failed(_) => ErrorKind::Failed,
        }
    }
}

/// Docker's status codes and transport errors, sorted into the engine's kinds.
pub fn kind_of(e: &bollard::errors::Error) -> ErrorKind {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code: 404, ..
        } => ErrorKind::NotFound,
        E::SocketNotFoundError(_)
        | E::HyperLegacyError { .. }
        | E::RequestTimeoutError
        | E::IOError { .. } => ErrorKind::Unavailable,
        _ => ErrorKind::Failed,
    }
}

/// The status code of a Docker error response, if it is one.
pub fn status_of(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

impl From<DockerError> for BackendError {
    fn from(e: DockerError) -> Self {
        BackendError {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}
