//! Building the backends a command talks to. This is the only place that picks real adapters:
//! the node containers through Docker, the API server through kube, and etcd through
//! etcd-client, each connected on first use.
//!
//! Test builds only: the hidden `--fake-cluster FILE` flag swaps in the in-memory fake
//! (`backends::fake`) so the CLI tests drive the real `chaos` binary end to end without a
//! cluster. Both exist only with the cargo feature `test-fake-cluster`, off by default, so the
//! shipped binary (`cargo build`, `cargo build --release`, `cargo install`) has neither the flag
//! (not in `--help`, not in completions) nor the fake. The feature is turned on for test builds
//! alone by the package's dev-dependency on itself (Cargo.toml): dev-dependencies are resolved
//! only when tests, benches or examples are built, so `cargo test` builds the library and the
//! `chaos` binary once, with the feature, and its integration tests run that binary
//! (`CARGO_BIN_EXE_chaos`). Rejected: `cfg(debug_assertions)` (a debug `cargo build` would ship
//! the flag), `cfg(test)` (it is not set for the binary the integration tests run), and a
//! second binary target (a second build of the CLI for every test run).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use clap::Args;
use tokio::sync::OnceCell;

use crate::backends::docker::DockerNodes;
use crate::backends::etcd::{self, EtcdFlags};
use crate::backends::kube::{self, KubeTarget};
use crate::backends::{BackendError, Connector, EtcdOps, KubeOps, NodeOps, Result};

#[derive(Args, Debug, Clone, Default)]
pub struct ConnectArgs {
    /// Kubeconfig to read (default: $KUBECONFIG, else ~/.kube/config, else the one kind keeps in the control-plane container).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Context to use (default: kind-CLUSTER).
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,
    /// Allow a context that is not the kind cluster's; must name the context used.
    #[arg(long, value_name = "NAME", global = true)]
    pub allow_context: Option<String>,
    /// etcd endpoint(s) (default: found from the control-plane container).
    #[arg(
        long = "etcd-endpoints",
        value_name = "URL",
        value_delimiter = ',',
        global = true
    )]
    pub etcd_endpoints: Vec<String>,
    /// etcd CA certificate (default: copied from the control-plane container).
    #[arg(long = "etcd-cacert", value_name = "FILE", global = true)]
    pub etcd_cacert: Option<PathBuf>,
    /// etcd client certificate.
    #[arg(long = "etcd-cert", value_name = "FILE", global = true)]
    pub etcd_cert: Option<PathBuf>,
    /// etcd client key.
    #[arg(long = "etcd-key", value_name = "FILE", global = true)]
    pub etcd_key: Option<PathBuf>,
    /// Test hook: use the in-memory fake cluster described by this JSON file (test builds
    /// only, see the module doc).
    #[cfg(feature = "test-fake-cluster")]
    #[arg(long, hide = true, value_name = "FILE", global = true)]
    pub fake_cluster: Option<PathBuf>,
}

impl ConnectArgs {
    pub fn kube_target(&self) -> KubeTarget {
        KubeTarget {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            allow_context: self.allow_context.clone(),
            timeout: None,
        }
    }

    pub fn etcd_flags(&self) -> EtcdFlags {
        EtcdFlags {
            endpoints: self.etcd_endpoints.clone(),
            cacert: self.etcd_cacert.clone(),
            cert: self.etcd_cert.clone(),
            key: self.etcd_key.clone(),
        }
    }
}

/// clap's parser for every `--cluster` flag: a kind cluster name, checked before it is used
/// anywhere (exit 2 with the rule otherwise).
pub fn cluster_arg(s: &str) -> Result<String, String> {
    crate::playbook::names::check_cluster_name(s).map(|()| s.to_string())
}

// `--cluster` of the commands that name no playbook (`reality`, `load-image`): declared once,
// with its help and its default. (A doc comment here would be the command's own help.)
#[derive(Args, Debug, Clone)]
pub struct ClusterArg {
    /// The kind cluster (default `kind`).
    #[arg(long, value_parser = cluster_arg)]
    pub cluster: Option<String>,
}

impl ClusterArg {
    /// The cluster named, else `kind`.
    pub fn name(&self) -> String {
        cluster_name(self.cluster.as_deref(), None)
    }
}

/// The backends of cluster `cluster`.
pub fn connector(cluster: &str, args: &ConnectArgs) -> Result<Arc<dyn Connector>, String> {
    kind_connector(cluster, args, None)
}

/// [`connector`] for a command already connected to the cluster's Docker: the backends use
/// that connection (and what it listed) instead of connecting again.
pub fn connector_with(
    cluster: &str,
    args: &ConnectArgs,
    docker: Arc<DockerNodes>,
) -> Result<Arc<dyn Connector>, String> {
    kind_connector(cluster, args, Some(docker))
}

fn kind_connector(
    cluster: &str,
    args: &ConnectArgs,
    docker: Option<Arc<DockerNodes>>,
) -> Result<Arc<dyn Connector>, String> {
    crate::playbook::names::check_cluster_name(cluster)?;
    #[cfg(feature = "test-fake-cluster")]
    if let Some(f) = &args.fake_cluster {
        return fake_connector(f);
    }
    Ok(Arc::new(KindConnector {
        cluster: cluster.to_string(),
        kube: args.kube_target(),
        etcd: args.etcd_flags(),
        docker: OnceCell::new_with(docker.map(Ok)),
    }))
}

/// The in-memory fake cluster of a `--fake-cluster` JSON file (test builds only).
#[cfg(feature = "test-fake-cluster")]
fn fake_connector(file: &std::path::Path) -> Result<Arc<dyn Connector>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let fake = crate::backends::fake::FakeCluster::from_json(&text)
        .map_err(|e| format!("invalid fake cluster {}: {e}", file.display()))?;
    Ok(Arc::new(fake))
}

/// The cluster a command works on: the flag, else the playbook's, else `kind`.
pub fn cluster_name(flag: Option<&str>, playbook: Option<&str>) -> String {
    flag.or(playbook).unwrap_or("kind").to_string()
}

/// A kind cluster's backends. Docker is connected once and shared: the node backend uses it,
/// and the API and etcd backends read their credentials out of the control-plane container
/// through it when no kubeconfig context or etcd flags say otherwise.
struct KindConnector {
    cluster: String,
    kube: KubeTarget,
    etcd: EtcdFlags,
    docker: OnceCell<Result<Arc<DockerNodes>, BackendError>>,
}

impl KindConnector {
    async fn docker(&self) -> Result<Arc<DockerNodes>> {
        self.docker
            .get_or_init(|| async { DockerNodes::connect(&self.cluster).await.map(Arc::new) })
            .await
            .clone()
    }
}

#[async_trait]
impl Connector for KindConnector {
    async fn nodes(&self) -> Result<Arc<dyn NodeOps>> {
        let d: Arc<dyn NodeOps> = self.docker().await?;
        Ok(d)
    }

    async fn kube(&self) -> Result<Arc<dyn KubeOps>> {
        // Docker is also the fallback source of the kubeconfig, so connect it first; whether it
        // worked is judged after the context's own safety rule.
        let docker = self.docker().await;
        let backend = kube::connect(&self.cluster, &self.kube, docker.as_deref().ok()).await?;
        // A context is trusted as the kind cluster only if the cluster's node containers exist
        // too (a `kind-NAME` context on loopback can outlive its cluster, or be something else).
        if self.kube.allow_context.is_none()
            && let Err(e) = docker
        {
            return Err(BackendError::unavailable(format!(
                "refusing to use the Kubernetes API at {} as kind cluster `{}`: {}; pass --allow-context {} to run against it anyway",
                backend.server(),
                self.cluster,
                e.message,
                backend.context()
            )));
        }
        Ok(Arc::new(backend))
    }

    async fn etcd(&self) -> Result<Arc<dyn EtcdOps>> {
        let client = if self.etcd.complete() {
            etcd::connect(&self.etcd).await?
        } else {
            let docker = self
                .docker()
                .await
                .map_err(|e| etcd::discovery_failed(&self.etcd, "--etcd-", &self.cluster, e))?;
            etcd::connect_for_cluster(&docker, &self.etcd).await?
        };
        Ok(Arc::new(client))
    }
}
