//! The served mode: the same server as the in-process one, over HTTPS with the cluster PKI
//! and client-certificate authentication, the way kind runs kube-apiserver on 6443 of the
//! control-plane node.
//!
//! Why it exists: the local test cluster (`scripts/testcluster.sh up NAME --api`) runs this
//! inside `NAME-control-plane`, so that `chaos` and `kubectl` reach it exactly as they reach
//! kind: `admin.conf` read out of the container, the published port, TLS, client
//! certificates. Only the listener, the authentication and the storage (a real etcd when
//! [`ServeOptions::etcd`] is set, as kind keeps its objects in the node's etcd) differ from
//! the in-process mode; routing, semantics and controllers are shared.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::FakeApiServer;
use crate::error::StartError;
use crate::pki::{self, ADMIN_USER, PkiDir};
use crate::resources::ResourceDef;
use crate::storage::EtcdConfig;
use crate::storage::etcd::EtcdStorage;
use crate::store::State;
use crate::tls::{TlsMaterial, TlsServer};

/// Where the served API server keeps its objects: kube-apiserver's `--etcd-servers`,
/// `--etcd-cafile`, `--etcd-certfile` and `--etcd-keyfile`.
#[derive(Debug, Clone)]
pub struct EtcdFiles {
    pub servers: Vec<String>,
    pub cafile: PathBuf,
    pub certfile: PathBuf,
    pub keyfile: PathBuf,
}

impl EtcdFiles {
    /// kind's kube-apiserver manifest: etcd on loopback, the etcd CA and the API server's
    /// etcd client certificate under `pki_dir`.
    pub fn kind(pki_dir: &std::path::Path) -> EtcdFiles {
        EtcdFiles {
            servers: vec!["https://127.0.0.1:2379".into()],
            cafile: pki_dir.join("etcd/ca.crt"),
            certfile: pki_dir.join("apiserver-etcd-client.crt"),
            keyfile: pki_dir.join("apiserver-etcd-client.key"),
        }
    }

    fn read(&self) -> Result<EtcdConfig, StartError> {
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p).map_err(|source| {
                StartError::Pki(pki::PkiError::Io {
                    path: p.clone(),
                    source,
                })
            })
        };
        Ok(EtcdConfig {
            endpoints: self.servers.clone(),
            ca_pem: read(&self.cafile)?,
            cert_pem: read(&self.certfile)?,
            key_pem: read(&self.keyfile)?,
        })
    }
}

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
    /// Keep the objects in this etcd (and write kubeadm's etcd PKI into `pki_dir` first);
    /// `None`: in memory, gone when the server stops.
    pub etcd: Option<EtcdFiles>,
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
            etcd: None,
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
        Self::start_on(
            listener,
            advertise,
            Some(Arc::new(server)),
            State::new(),
            None,
        )
    }

    /// A cluster's control plane as kind has it: binds `opts.listen`, reads the cluster CA
    /// from `opts.pki_dir` (making it when missing), issues the serving certificate for the
    /// node's names and IPs, writes `admin.conf` (server `https://NAME-control-plane:<port>`,
    /// user `kubernetes-admin`, context `kubernetes-admin@NAME`), with `opts.etcd` writes
    /// kubeadm's etcd PKI and loads what that etcd holds (waiting for it to answer), and
    /// starts serving.
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
        // The kubelets' heartbeats (kube-node-lease), as upstream's coordination.k8s.io/v1.
        let lease = ResourceDef::new("coordination.k8s.io/v1", "Lease", "leases", true);
        let server = match &opts.etcd {
            None => {
                let server = Self::start_tls(listener, advertise, &material).await?;
                server.register_resource("coordination.k8s.io/v1", "Lease", "leases", true);
                server
            }
            Some(files) => {
                dir.ensure_etcd(&opts.node_name(), opts.advertise)?;
                let cfg = files.read()?;
                let (state, wake) = tokio::task::spawn_blocking(move || {
                    let storage = EtcdStorage::connect(cfg)?;
                    let wake = storage.waker();
                    let state = State::load(Box::new(storage), &[lease])?;
                    Ok::<_, crate::storage::StorageError>((state, wake))
                })
                .await
                .map_err(|e| StartError::Storage(e.to_string()))?
                .map_err(|e| StartError::Storage(e.to_string()))?;
                let tls = TlsServer::new(&material)?;
                Self::start_on(listener, advertise, Some(Arc::new(tls)), state, Some(wake))?
            }
        };
        server.simulate_kubelets(opts.simulate_kubelets);
        // kube-scheduler, kube-controller-manager's node lifecycle, and pods/log via kubelets.
        server.auto_schedule(true);
        server.node_lifecycle(Some(crate::lifecycle::NODE_MONITOR_GRACE));
        server.proxy_pod_logs(true);
        Ok(server)
    }
}
