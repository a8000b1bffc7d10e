//! Command-line flags and environment of the stand-in kubelet.
//!
//! The names follow the real kubelet's flags where one exists (`--kubeconfig`,
//! `--hostname-override`, `--node-labels`, `--register-with-taints`, `--node-ip`,
//! `--node-status-update-frequency`, `--node-lease-duration-seconds`,
//! `--container-runtime-endpoint`), so the node image can start it the way kind starts
//! kubelet. The intervals are also what the tests shorten instead of sleeping.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::core::v1::Taint;

/// A stand-in kubelet: registers the node, renews its Lease, runs the pods bound to it on
/// the node's containerd. Test support for kind-chaos; not a real kubelet.
#[derive(Debug, Clone, Parser)]
#[command(name = "kubelet", version)]
pub struct Config {
    /// The kubeconfig used to reach the API server.
    #[arg(
        long,
        env = "KUBELET_KUBECONFIG",
        default_value = "/etc/kubernetes/kubelet.conf"
    )]
    pub kubeconfig: PathBuf,

    /// The Node's name (default: the hostname).
    #[arg(long = "hostname-override", env = "KUBELET_NODE_NAME")]
    pub node_name: Option<String>,

    /// containerd's socket (a path, or `unix://PATH`).
    #[arg(
        long = "container-runtime-endpoint",
        env = "KUBELET_CONTAINERD_SOCKET",
        default_value = "/run/containerd/containerd.sock"
    )]
    pub containerd_socket: String,

    /// containerd namespace for pods (the CRI's).
    #[arg(long, default_value = "k8s.io")]
    pub containerd_namespace: String,

    /// Snapshotter for container root file systems (default: the namespace's default
    /// snapshotter label, else `overlayfs`).
    #[arg(long, env = "KUBELET_SNAPSHOTTER")]
    pub snapshotter: Option<String>,

    /// Image of pod sandboxes.
    #[arg(long, default_value = "docker.io/library/kind-chaos-pause:test")]
    pub pod_infra_container_image: String,

    /// Labels to register the Node with: `key=value,key2=value2`.
    #[arg(long, value_delimiter = ',', value_parser = parse_label)]
    pub node_labels: Vec<(String, String)>,

    /// Taints to register the Node with: `key=value:Effect,key:Effect`.
    #[arg(long, value_delimiter = ',', value_parser = parse_taint)]
    pub register_with_taints: Vec<Taint>,

    /// The node's address (default: the hostname's address, else the default route's).
    #[arg(long)]
    pub node_ip: Option<std::net::IpAddr>,

    /// How often NodeStatus is posted.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub node_status_update_frequency: Duration,

    /// The Lease's duration; it is renewed every quarter of it (10 s for the default 40).
    #[arg(long, default_value_t = 40)]
    pub node_lease_duration_seconds: u32,

    /// Overrides the Lease renew interval (tests).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub node_lease_renew_interval: Option<Duration>,

    /// The port of the log endpoint (`/containerLogs/...`), as the real kubelet's `--port`.
    #[arg(long, default_value_t = 10250)]
    pub port: u16,

    /// Where the pods' log files are read from (they are written to `/var/log/pods` in the
    /// node; tests running the kubelet outside the node point this into its root).
    #[arg(long, default_value = "/var/log/pods")]
    pub pod_logs_dir: PathBuf,

    /// The version reported in nodeInfo.kubeletVersion.
    #[arg(long, default_value = "v1.32.0-kind-chaos")]
    pub kubelet_version: String,
}

impl Config {
    /// The Node's name: `--hostname-override`, else the hostname (lower-cased, as the
    /// kubelet does in `nodeutil.GetHostname`).
    pub fn node_name(&self) -> String {
        match &self.node_name {
            Some(n) if !n.trim().is_empty() => n.trim().to_lowercase(),
            _ => hostname(),
        }
    }

    /// The socket path without a `unix://` prefix.
    pub fn socket_path(&self) -> PathBuf {
        PathBuf::from(
            self.containerd_socket
                .strip_prefix("unix://")
                .unwrap_or(&self.containerd_socket),
        )
    }

    /// How often the Lease is renewed: a quarter of its duration unless overridden, as
    /// upstream's `renewIntervalFraction` (pkg/kubelet/nodelease, 0.25).
    pub fn lease_renew_interval(&self) -> Duration {
        self.node_lease_renew_interval
            .unwrap_or_else(|| Duration::from_secs(u64::from(self.node_lease_duration_seconds)) / 4)
    }

    /// Whether this is a control-plane node: it carries the role label (kubeadm adds it on
    /// kind's control-plane node, named `NAME-control-plane`).
    pub fn is_control_plane(&self) -> bool {
        self.node_labels
            .iter()
            .any(|(k, _)| k == crate::node::CONTROL_PLANE_LABEL)
    }
}

/// The hostname, as the kernel has it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_lowercase())
        .unwrap_or_else(|_| "localhost".to_string())
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').unwrap_or((s, ""));
    if k.is_empty() {
        return Err(format!("label {s:?} has no key"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// `key[=value]:Effect`, as `--register-with-taints` takes it.
fn parse_taint(s: &str) -> Result<Taint, String> {
    let (kv, effect) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("taint {s:?} has no effect (key=value:Effect)"))?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(format!("taint {s:?}: unknown effect {effect:?}"));
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (kv, None),
    };
    if key.is_empty() {
        return Err(format!("taint {s:?} has no key"));
    }
    Ok(Taint {
        key: key.to_string(),
        value: value.filter(|v| !v.is_empty()),
        effect: effect.to_string(),
        time_added: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kinds_paths() {
        let c = Config::parse_from(["kubelet", "--hostname-override", "Kc-Worker"]);
        assert_eq!(c.kubeconfig, PathBuf::from("/etc/kubernetes/kubelet.conf"));
        assert_eq!(c.node_name(), "kc-worker");
        assert_eq!(
            c.socket_path(),
            PathBuf::from("/run/containerd/containerd.sock")
        );
        assert_eq!(c.lease_renew_interval(), Duration::from_secs(10));
        assert_eq!(c.node_status_update_frequency, Duration::from_secs(10));
        assert!(!c.is_control_plane());
    }

    #[test]
    fn labels_and_taints_parse_like_the_kubelets_flags() {
        let c = Config::parse_from([
            "kubelet",
            "--container-runtime-endpoint",
            "unix:///x/containerd.sock",
            "--node-labels",
            "mock-server=true,node-role.kubernetes.io/control-plane=",
            "--register-with-taints",
            "playground_test=ensure_only_tolerations_run_here:NoSchedule,dedicated:NoExecute",
        ]);
        assert_eq!(c.socket_path(), PathBuf::from("/x/containerd.sock"));
        assert_eq!(
            c.node_labels,
            vec![
                ("mock-server".to_string(), "true".to_string()),
                (
                    "node-role.kubernetes.io/control-plane".to_string(),
                    String::new()
                )
            ]
        );
        assert!(c.is_control_plane());
        assert_eq!(c.register_with_taints.len(), 2);
        assert_eq!(c.register_with_taints[0].key, "playground_test");
        assert_eq!(
            c.register_with_taints[0].value.as_deref(),
            Some("ensure_only_tolerations_run_here")
        );
        assert_eq!(c.register_with_taints[0].effect, "NoSchedule");
        assert_eq!(c.register_with_taints[1].value, None);
        assert_eq!(c.register_with_taints[1].effect, "NoExecute");
    }

    #[test]
    fn bad_taints_are_rejected() {
        assert!(Config::try_parse_from(["kubelet", "--register-with-taints", "a=b"]).is_err());
        assert!(
            Config::try_parse_from(["kubelet", "--register-with-taints", "a:Sometimes"]).is_err()
        );
    }
}
