//! Lazy backend connections: each backend is connected on first use and the connection (or its
//! failure) is reused, so a playbook that never touches the API never needs it.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::backends::{BackendError, Connector, EtcdOps, KubeOps, NodeOps};

/// Cheap to clone: clones share the connections (a probe samples from its own task).
#[derive(Clone)]
pub struct Backends {
    connector: Arc<dyn Connector>,
    nodes: Arc<OnceCell<Result<Arc<dyn NodeOps>, BackendError>>>,
    kube: Arc<OnceCell<Result<Arc<dyn KubeOps>, BackendError>>>,
    etcd: Arc<OnceCell<Result<Arc<dyn EtcdOps>, BackendError>>>,
}

impl Backends {
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        Backends {
            connector,
            nodes: Arc::new(OnceCell::new()),
            kube: Arc::new(OnceCell::new()),
            etcd: Arc::new(OnceCell::new()),
        }
    }

    pub async fn nodes(&self) -> Result<Arc<dyn NodeOps>, BackendError> {
        self.nodes
            .get_or_init(|| self.connector.nodes())
            .await
            .clone()
    }

    pub async fn kube(&self) -> Result<Arc<dyn KubeOps>, BackendError> {
        self.kube
            .get_or_init(|| self.connector.kube())
            .await
            .clone()
    }

    /// The API, only if a step already connected it (never connects, never caches a failure).
    pub fn kube_if_connected(&self) -> Option<Arc<dyn KubeOps>> {
        self.kube.get().and_then(|r| r.as_ref().ok().cloned())
    }

    pub async fn etcd(&self) -> Result<Arc<dyn EtcdOps>, BackendError> {
        self.etcd
            .get_or_init(|| self.connector.etcd())
            .await
            .clone()
    }
}
