//! The kubeconfig of a kind cluster, built the way `kind get kubeconfig` builds it.
//!
//! Why it exists: the tool must work without the kind CLI and when `~/.kube/config` was never
//! written (a cluster created on another account, a CI job that lost the file). kind's own
//! recipe (kind's pkg/cluster/internal/kubeconfig) is: read `/etc/kubernetes/admin.conf` from the control-plane
//! container (or the external load balancer's, with several control planes), rename its
//! cluster, user and context to `kind-<cluster>`, and point its server at the host port Docker
//! publishes for the container's 6443. The credentials stay in memory; they are never written
//! anywhere or put in a message.

use ::kube::config::Kubeconfig;

use crate::backends::BackendError;
use crate::backends::docker::DockerNodes;

/// Where kubeadm writes the cluster-admin kubeconfig in a kind node.
pub const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";

/// Reads the kubeconfig from the cluster's node containers; returns it and the node read.
pub(crate) async fn from_node(
    cluster: &str,
    docker: &DockerNodes,
) -> Result<(Kubeconfig, String), BackendError> {
    // Names and roles, as the listing made when Docker was connected gave them.
    let nodes = docker.listed_nodes().await?;
    let control_plane = docker.control_plane_of(&nodes)?;
    // With several control planes kind's kubeconfig points at the load balancer.
    let entry = nodes
        .iter()
        .find(|n| n.role == "external-load-balancer")
        .map(|n| n.name.clone())
        .unwrap_or_else(|| control_plane.clone());
    let (ip, port) = docker
        .published_port(&entry, "6443/tcp")
        .await?
        .ok_or_else(|| {
            BackendError::unavailable(format!(
                "node container {entry} publishes no port for 6443/tcp, so the API server cannot be reached from this machine"
            ))
        })?;
    let bytes = docker.read_file(&control_plane, ADMIN_CONF).await?;
    let text = String::from_utf8(bytes).map_err(|_| {
        BackendError::unavailable(format!("{ADMIN_CONF} in {control_plane} is not UTF-8 text"))
    })?;
    let kc = kind_kubeconfig(&text, cluster, &host_for(&ip), port)?;
    Ok((kc, control_plane))
}

/// The host to dial for a published port: kind publishes on `127.0.0.1` by default; a
/// binding on every address is reached on loopback too.
fn host_for(ip: &str) -> String {
    match ip {
        "" | "0.0.0.0" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        v6 if v6.contains(':') => format!("[{v6}]"),
        other => other.to_string(),
    }
}

/// kind's rewrite of `admin.conf`: one cluster, user and context, all named `kind-<cluster>`,
/// the context current, the server `https://<host>:<port>`.
pub fn kind_kubeconfig(
    admin_conf: &str,
    cluster: &str,
    host: &str,
    port: u16,
) -> Result<Kubeconfig, BackendError> {
    let invalid = |why: &str| {
        BackendError::unavailable(format!(
            "{ADMIN_CONF} of kind cluster `{cluster}` is not a kubeconfig kind-chaos can use: {why}"
        ))
    };
    let mut kc = Kubeconfig::from_yaml(admin_conf).map_err(|_| invalid("it does not parse"))?;
    let name = format!("kind-{cluster}");
    let (Some(c), Some(u), Some(x)) = (
        kc.clusters.first_mut(),
        kc.auth_infos.first_mut(),
        kc.contexts.first_mut(),
    ) else {
        return Err(invalid("it lacks a cluster, a user or a context"));
    };
    c.name = name.clone();
    u.name = name.clone();
    x.name = name.clone();
    let cluster_entry = c
        .cluster
        .as_mut()
        .ok_or_else(|| invalid("its cluster has no details"))?;
    cluster_entry.server = Some(format!("https://{host}:{port}"));
    let context = x
        .context
        .as_mut()
        .ok_or_else(|| invalid("its context has no details"))?;
    context.cluster = name.clone();
    context.user = Some(name.clone());
    kc.clusters.truncate(1);
    kc.auth_infos.truncate(1);
    kc.contexts.truncate(1);
    kc.current_context = Some(name);
    Ok(kc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = include_str!("../../../tests/fixtures/kube/admin.conf");

    #[test]
    fn renames_everything_to_kind_cluster_and_points_at_the_published_port() {
        let kc = kind_kubeconfig(ADMIN, "lab", "127.0.0.1", 40123).unwrap();
        assert_eq!(kc.current_context.as_deref(), Some("kind-lab"));
        assert_eq!(kc.contexts[0].name, "kind-lab");
        let ctx = kc.contexts[0].context.as_ref().unwrap();
        assert_eq!(ctx.cluster, "kind-lab");
        assert_eq!(ctx.user.as_deref(), Some("kind-lab"));
        assert_eq!(kc.clusters[0].name, "kind-lab");
        let cl = kc.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cl.server.as_deref(), Some("https://127.0.0.1:40123"));
        assert!(cl.certificate_authority_data.is_some());
        assert_eq!(kc.auth_infos[0].name, "kind-lab");
    }

    #[test]
    fn garbage_is_refused_without_echoing_it() {
        let e =
            kind_kubeconfig("client-key-data: SECRET\n: : :", "lab", "127.0.0.1", 1).unwrap_err();
        assert!(!e.message.contains("SECRET"), "{}", e.message);
        let e =
            kind_kubeconfig("apiVersion: v1\nkind: Config\n", "lab", "127.0.0.1", 1).unwrap_err();
        assert!(e.message.contains("lacks"), "{}", e.message);
    }

    #[test]
    fn hosts() {
        assert_eq!(host_for("0.0.0.0"), "127.0.0.1");
        assert_eq!(host_for("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_for("::"), "[::1]");
        assert_eq!(host_for("::1"), "[::1]");
    }
}
