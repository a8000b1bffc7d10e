//! containerd, spoken through its gRPC API (the containerd-client crate) rather than a
//! `ctr` process per action, in the CRI's namespace (`k8s.io`). This module holds the
//! connection and the calls that are not about one container; `image` reads image
//! configs, `spec` builds OCI runtime specs, `container` creates, signals and removes
//! sandboxes and containers.

pub mod container;
pub mod exec;
pub mod image;
pub mod spec;

use std::path::Path;

use containerd_client::services::v1::GetNamespaceRequest;
use containerd_client::services::v1::namespaces_client::NamespacesClient;
use containerd_client::services::v1::version_client::VersionClient;
use tonic::Request;
use tonic::transport::Channel;

/// Errors from containerd or from what it returned.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("connecting to containerd at {path}: {source}")]
    Connect {
        path: String,
        source: tonic::transport::Error,
    },
    #[error("containerd {call}: {status}")]
    Rpc {
        call: &'static str,
        status: tonic::Status,
    },
    #[error("image {image}: {message}")]
    Image { image: String, message: String },
    #[error("{0}")]
    Io(String),
    #[error("decoding {what}: {source}")]
    Decode {
        what: String,
        source: serde_json::Error,
    },
}

impl CriError {
    /// Whether containerd said the thing does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CriError::Rpc { status, .. } if status.code() == tonic::Code::NotFound)
    }
}

pub(crate) fn rpc(call: &'static str) -> impl FnOnce(tonic::Status) -> CriError {
    move |status| CriError::Rpc { call, status }
}

/// A connection to containerd, bound to one namespace and snapshotter.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) channel: Channel,
    pub namespace: String,
    pub snapshotter: String,
    /// Where each sandbox's `/dev/shm` directory lives, shared by the pod's containers
    /// (see [`SandboxDirs`]); `None`: every container gets a /dev/shm of its own.
    pub sandbox_dirs: Option<SandboxDirs>,
}

/// The per-sandbox directories the CRI keeps in the node
/// (`/run/containerd/io.containerd.grpc.v1.cri/sandboxes/<id>/shm`).
#[derive(Debug, Clone)]
pub struct SandboxDirs {
    /// The directory as this process reaches it (through `/proc/<pid>/root` in tests).
    pub local: std::path::PathBuf,
    /// The same directory as runc, in the node, sees it.
    pub in_node: String,
}

impl SandboxDirs {
    /// containerd's CRI root for sandboxes, seen the same from this process and runc.
    pub fn containerd() -> SandboxDirs {
        let dir = "/run/containerd/io.containerd.grpc.v1.cri/sandboxes";
        SandboxDirs {
            local: dir.into(),
            in_node: dir.into(),
        }
    }

    /// The sandbox's shm directory: (local path, path in the node).
    pub fn shm(&self, sandbox_id: &str) -> (std::path::PathBuf, String) {
        (
            self.local.join(sandbox_id).join("shm"),
            format!("{}/{sandbox_id}/shm", self.in_node),
        )
    }
}

impl Runtime {
    /// Connects to the socket. The snapshotter is `snapshotter` if given, else the
    /// namespace's default (label `containerd.io/defaults/snapshotter`, which the test
    /// nodes set), else `overlayfs`.
    pub async fn connect(
        socket: &Path,
        namespace: &str,
        snapshotter: Option<&str>,
    ) -> Result<Runtime, CriError> {
        let channel =
            containerd_client::connect(socket)
                .await
                .map_err(|source| CriError::Connect {
                    path: socket.display().to_string(),
                    source,
                })?;
        let mut rt = Runtime {
            channel,
            namespace: namespace.to_string(),
            snapshotter: snapshotter.unwrap_or("overlayfs").to_string(),
            sandbox_dirs: None,
        };
        if snapshotter.is_none()
            && let Some(s) = rt.namespace_default_snapshotter().await
        {
            rt.snapshotter = s;
        }
        Ok(rt)
    }

    /// A request carrying the namespace header.
    pub(crate) fn req<T>(&self, msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        if let Ok(v) = self.namespace.parse() {
            r.metadata_mut().insert("containerd-namespace", v);
        }
        r
    }

    /// `containerd://VERSION`, as nodeInfo.containerRuntimeVersion has it.
    pub async fn version(&self) -> Result<String, CriError> {
        let v = VersionClient::new(self.channel.clone())
            .version(self.req(()))
            .await
            .map_err(rpc("version"))?
            .into_inner();
        Ok(format!(
            "containerd://{}",
            v.version.trim_start_matches('v')
        ))
    }

    async fn namespace_default_snapshotter(&self) -> Option<String> {
        let ns = NamespacesClient::new(self.channel.clone())
            .get(Request::new(GetNamespaceRequest {
                name: self.namespace.clone(),
            }))
            .await
            .ok()?
            .into_inner()
            .namespace?;
        ns.labels
            .get("containerd.io/defaults/snapshotter")
            .filter(|s| !s.is_empty())
            .cloned()
    }
}
