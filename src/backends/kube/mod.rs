//! The Kubernetes API backend, on kube + k8s-openapi.
//!
//! Why it exists: half of what a playbook does goes through the API server — applying the lab
//! workloads, deleting pods and namespaces the way `kubectl` does, injecting and removing
//! finalizers, `/finalize`, cordons and taints — and most of what it asserts is what the API
//! reports (pods, nodes, namespaces, events). This module speaks kube's types inside and only
//! the project's own types ([`KubeOps`], [`PodView`], ...) outside, so the engine never names
//! kube (ARCHITECTURE.md, "The floors").
//!
//! How it is split, one concept per file:
//! - [`connect`](mod@connect): which kubeconfig and context (the safety rule against non-kind clusters).
//! - [`kind_config`]: kind's kubeconfig, built from the control-plane container when no
//!   kubeconfig has the cluster's context (no kind CLI needed).
//! - `error`: kube errors to [`BackendError`]s that say what was attempted, where, and why —
//!   never credentials.
//! - `discovery`: `apiVersion` + `kind` to a resource, cached.
//! - `apply`: server-side apply of manifest documents.
//! - `writes`: deletes, finalizers, `/finalize`, cordon, taints (what faults and undos change).
//! - `views` + `reads`: reading pods, logs, nodes, namespaces, objects, events.
//! - `watch`: the stream of changes that makes waits react at once.
//! - `kube_ops`: [`KubeOps`] for [`KubeBackend`], each trait method calling the inherent method
//!   of the same name in the file above that does the work.
//!
//! [`PodView`]: crate::backends::PodView
//! [`BackendError`]: crate::backends::BackendError

mod apply;
pub mod connect;
mod discovery;
mod error;
pub mod kind_config;
mod kube_ops;
mod reads;
mod views;
mod watch;
mod writes;

use std::time::Duration;

use ::kube::Client;

pub use connect::{KubeTarget, connect};

use crate::backends::KubeOps;
use discovery::Resources;

/// The field manager of every server-side apply (`kubectl get -o yaml --show-managed-fields`
/// shows it), so what kind-chaos set up can be told apart from what people did.
pub const FIELD_MANAGER: &str = "kind-chaos";

/// A connection to one cluster's API server. Cheap to share: clients are reference counted.
pub struct KubeBackend {
    /// For requests: bounded by the request timeout.
    client: Client,
    /// For watches: no read timeout (a quiet watch is not a dead server; kube-runtime's watcher
    /// has its own idle timeout), so it is a second client on the same configuration.
    watch_client: Client,
    /// The API server URL, for messages (never with credentials).
    server: String,
    /// The kubeconfig context in use.
    context: String,
    /// How long one request may take before the server counts as unreachable.
    timeout: Duration,
    resources: Resources,
}

impl KubeBackend {
    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The kubeconfig context this backend uses.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The underlying kube client, for the CLI's own needs (never for the engine).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// As a trait object, for a [`crate::backends::Connector`].
    pub fn into_ops(self) -> std::sync::Arc<dyn KubeOps> {
        std::sync::Arc::new(self)
    }
}
