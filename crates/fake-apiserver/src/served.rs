//! The served mode: the same server as the in-process one, over HTTPS with the cluster PKI
//! and client-certificate authentication, the way kind runs kube-apiserver on 6443 of the
//! control-plane node.
//!
//! Why it exists: the local test cluster (`scripts/testcluster.sh up NAME --api`) runs this
//! inside `NAME-control-plane`, so that `chaos` and `kubectl` reach it exactly as they reach
//! kind: `admin.conf` read out of the container, the published port, TLS, client
//! certificates. Only the listener and the authentication differ from the in-process mode;
//! storage, routing and controllers are shared.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::FakeApiServer;
use crate::error::StartError;
use crate::pki::{self, ADMIN_USER, PkiDir};
use crate::tls::{TlsMaterial, TlsServer};

/// How to serve a cluster's control plane.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The cluster name (`NAME`): names the cluster and context of `admin.conf`.
    pub cluster: String,
    /// Where to listen (`0.0.0.0:6443` in the node).
    pub listen: SocketAddr,
    /// The node's own IP (kube-apiserver's `--advertise-address`): in the serving
    /// certificate and in discovery's `serverAddressByClientCIDRs`.
    pub advertise: Option<IpAddr>,
    /// Extra names or IPs for the serving certificate.
    pub extra_sans: Vec<String>,
    /// kubeadm's PKI directory (`/etc/kubernetes/pki`).
    pub pki_dir: PathBuf,
    /// Where to write the cluster-admin kubeconfig (`/etc/kubernetes/admin.conf`).
    pub admin_conf: PathBuf,
    /// Whether the fake plays the kubelets (see [`FakeApiServer::simulate_kubelets`]). Off
    /// by default here: in the test cluster every node runs a real (stand-in) kubelet.
    pub simulate_kubelets: bool,
}

impl ServeOptions {
    /// kind's layout for cluster `cluster`: port 6443 on every address, `/etc/kubernetes`.
    pub fn kind(cluster: &str) -> ServeOptions {
        ServeOptions {
            cluster: cluster.to_string(),
            listen: SocketAddr::from(([0, 0, 0, 0], 6443)),
            advertise: None,
            extra_sans: Vec::new(),
            pki_dir: PathBuf::from("/etc/kubernetes/pki"),
            admin_conf: PathBuf::from("/etc/kubernetes/admin.conf"),
            simulate_kubelets: false,
        }
    }

    /// The control-plane node's name, `NAME-control-plane`, as the server of `admin.conf`.
    pub fn node_name(&self) -> String {
        format!("{}-control-plane", self.cluster)
    }
}

impl FakeApiServer {
    /// Serves over HTTPS on `listener`: `tls` gives the serving certificate and the CA whose
    /// client certificates authenticate users; `advertise` is what discovery names.
    pub async fn start_tls(
        listener: TcpListener,
        advertise: Option<String>,
        tls: &TlsMaterial,
    ) -> Result<FakeApiServer, StartError> {
        let server = TlsServer::new(tls)?;
        Self::start_on(listener, advertise, Some(Arc::new(server)))
    }

    /// A cluster's control plane as kind has it: binds `opts.listen`, reads the cluster CA
    /// from `opts.pki_dir` (making it when missing), issues the serving certificate for the
    /// node's names and IPs, writes `admin.conf` (server `https://NAME-control-plane:<port>`,
    /// user `kubernetes-admin`, context `kubernetes-admin@NAME`) and starts serving.
    pub async fn serve_cluster(opts: &ServeOptions) -> Result<FakeApiServer, StartError> {
        let listener = TcpListener::bind(opts.listen).await?;
        let port = listener.local_addr()?.port();
        let dir = PkiDir(opts.pki_dir.clone());
        let ca = dir.load_or_create_ca()?;
        let hosts = pki::serving_hosts(&opts.node_name(), opts.advertise, &opts.extra_sans);
        let serving = dir.issue_serving(&ca, &hosts)?;
        let admin = ca.issue_client(ADMIN_USER, &[pki::ADMIN_GROUP])?;
        let server_url = format!("https://{}:{port}", opts.node_name());
        let conf = pki::admin_conf(&opts.cluster, &server_url, ca.cert_pem(), &admin);
        pki::write(&opts.admin_conf, &conf, true)?;
        let material = TlsMaterial {
            client_ca_pem: ca.cert_pem().to_string(),
            cert_pem: serving.cert_pem,
            key_pem: serving.key_pem,
        };
        let advertise = opts
            .advertise
            .map(|ip| SocketAddr::new(ip, port).to_string());
        let server = Self::start_tls(listener, advertise, &material).await?;
        server.simulate_kubelets(opts.simulate_kubelets);
        // kube-scheduler, kube-controller-manager's node lifecycle, and pods/log via kubelets.
        server.auto_schedule(true);
        server.node_lifecycle(Some(crate::lifecycle::NODE_MONITOR_GRACE));
        server.proxy_pod_logs(true);
        // The kubelets' heartbeats (kube-node-lease), as upstream's coordination.k8s.io/v1.
        server.register_resource("coordination.k8s.io/v1", "Lease", "leases", true);
        Ok(server)
    }
}
