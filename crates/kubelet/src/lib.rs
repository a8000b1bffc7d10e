//! # kubelet: a stand-in kubelet for kind-chaos's test cluster
//!
//! **Test support, never shipped inside `chaos`.** The test cluster's nodes are containers
//! with a real containerd but no Kubernetes; this program is what makes them nodes: it
//! registers its Node, renews its Lease, posts NodeStatus and runs the pods bound to it as
//! real containerd sandboxes and containers, so that signals, exit codes, grace periods and
//! shims are real. What it leaves out compared with a real kubelet is listed in
//! testcluster/README.md.

pub mod config;
pub mod cri;
pub mod crictl;
pub mod heartbeat;
pub mod host;
pub mod lease;
pub mod logs;
pub mod node;
pub mod pods;

use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};

pub use config::Config;

/// A client for the API server of the kubeconfig at `path`.
pub async fn kube_client(path: &std::path::Path) -> anyhow::Result<kube::Client> {
    let kc = Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let conf = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("using kubeconfig {}", path.display()))?;
    kube::Client::try_from(conf).context("building the API client")
}

/// The node's facts for NodeStatus: host, address, versions.
pub fn node_facts(cfg: &Config, runtime_version: String) -> node::NodeFacts {
    let name = cfg.node_name();
    node::NodeFacts {
        ip: cfg.node_ip.or_else(|| host::node_ip(&config::hostname())),
        name,
        runtime_version,
        kubelet_version: cfg.kubelet_version.clone(),
        host: host::HostInfo::read(),
    }
}

/// Runs the kubelet until the process is stopped.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let client = kube_client(&cfg.kubeconfig).await?;
    let runtime = cri::Runtime::connect(
        &cfg.socket_path(),
        &cfg.containerd_namespace,
        cfg.snapshotter.as_deref(),
    )
    .await?;
    let mut runtime = runtime;
    runtime.sandbox_dirs = Some(cri::SandboxDirs::containerd());
    let version = runtime.version().await?;
    let facts = node_facts(&cfg, version);
    tracing::info!(
        "node {} ({:?}), runtime {}, snapshotter {}",
        facts.name,
        facts.ip,
        facts.runtime_version,
        runtime.snapshotter
    );
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", cfg.port))
        .await
        .with_context(|| format!("listening on port {} for container logs", cfg.port))?;
    let log_server = logs::serve(listener, runtime.clone(), cfg.pod_logs_dir.clone());
    let ctx = pods::Ctx {
        runtime,
        client: client.clone(),
        pause_image: cfg.pod_infra_container_image.clone(),
        host_ip: facts.ip.map(|ip| ip.to_string()),
    };
    let node = facts.name.clone();
    tokio::select! {
        _ = heartbeat::run(client, cfg, facts) => {}
        _ = pods::run(ctx, &node) => {}
        _ = log_server => {}
    }
    Ok(())
}
