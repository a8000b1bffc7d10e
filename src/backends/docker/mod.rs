//! The node side of a kind cluster, reached through the Docker API (bollard).
//!
//! A kind node is a Docker container; kind finds them by the labels `io.x-k8s.kind.cluster` and
//! `io.x-k8s.kind.role` and the container name is the Kubernetes node name (kind's
//! pkg/cluster/constants). Everything this module does to a node is a Docker API call on that
//! container: exec with an argv (never a shell string built from playbook values; the few shell
//! scripts it runs are fixed strings that take their inputs as positional arguments), pause,
//! stop, kill, or the archive API to read a file. That is what lets `chaos` work without the kind
//! CLI, kubectl or anything installed in the cluster.
//!
//! [`DockerNodes`] is the public handle: the etcd backend and the CLI use its helpers (read a
//! file, find a published port, exec with stdin) and the engine uses it through [`NodeOps`].
//!
//! How it is split: `node_ops` is [`NodeOps`] for [`DockerNodes`] and nothing else, each method
//! calling the inherent method of the same name; `node_actions` is what the node faults and
//! their undos do (kubelet, container, a pod's process), `network` the network faults (iptables,
//! tc), `resource` the CPU hog, `fill`
//! the memory hog, the disk fill and the sweep of leftovers, `verify` checks an undo did it; `exec`
//! and `scripts` run commands in a node; `reality` reads what runs there; `load` loads images;
//! `tar` reads a file out of a node; `error` maps Docker's failures to the engine's kinds;
//! `version` picks the API version to speak.

mod error;
mod exec;
mod fill;
mod load;
mod network;
mod node_actions;
mod node_ops;
mod reality;
mod resource;
mod scripts;
mod tar;
mod verify;
mod version;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use bollard::Docker;
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder};

pub use error::DockerError;
pub use load::{LoadReport, NodeLoad};
pub use reality::{NodeSnapshot, ReadVia};

use crate::backends::{BackendError, NodeContainer};

/// The label kind puts on every node container, valued with the cluster name.
pub const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// The label kind puts on every node container, valued with the node's role.
pub const ROLE_LABEL: &str = "io.x-k8s.kind.role";

/// The node containers of one kind cluster, through the Docker API.
pub struct DockerNodes {
    docker: Docker,
    cluster: String,
    /// The node containers as the last listing gave them (names, roles, states); a name not
    /// in it makes [`Self::check_node`] list again.
    listed: Mutex<Vec<NodeContainer>>,
    /// The container ID of each node at the last listing.
    ids: Mutex<HashMap<String, String>>,
    /// Where each node's PID 1 is on the host, so a repeated reality read asks Docker once.
    host_pids: reality::HostPids,
    /// What reading the nodes through containerd's socket keeps between reads.
    kept: std::sync::Arc<reality::Kept>,
}

/// Where bollard connects, for error messages (it honours `DOCKER_HOST=unix://...`).
fn socket() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| h.starts_with("unix://"))
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

impl DockerNodes {
    /// Connects to the local Docker daemon and finds the cluster's node containers.
    ///
    /// Fails with an `Unavailable` error when Docker does not answer (naming the socket) or
    /// when no container carries `io.x-k8s.kind.cluster=<cluster>` (listing the clusters that
    /// do exist).
    pub async fn connect(cluster: &str) -> Result<Self, BackendError> {
        let docker = match version::connect_pinged(&socket()).await {
            Some(docker) => docker,
            None => Self::negotiated(cluster).await?,
        };
        let nodes = DockerNodes {
            docker,
            cluster: cluster.to_string(),
            listed: Mutex::new(Vec::new()),
            ids: Mutex::new(HashMap::new()),
            host_pids: reality::HostPids::default(),
            kept: std::sync::Arc::default(),
        };
        let found = nodes.nodes().await?;
        if found.is_empty() {
            let clusters = nodes.clusters().await?;
            return Err(DockerError::NoCluster {
                cluster: cluster.to_string(),
                found: clusters,
            }
            .into());
        }
        Ok(nodes)
    }

    /// A client of the local daemon at the version bollard negotiates (see [`version`] for
    /// why it is not the first choice); its errors name the socket.
    async fn negotiated(cluster: &str) -> Result<Docker, BackendError> {
        let failed = |source| DockerError::Connect {
            cluster: cluster.to_string(),
            socket: socket(),
            source,
        };
        let docker = Docker::connect_with_local_defaults().map_err(failed)?;
        Ok(docker.negotiate_version().await.map_err(failed)?)
    }

    /// The kind cluster's name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The bollard client, for the other modules of this backend.
    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Every container (running or not) matching a Docker label filter (`KEY` or `KEY=VALUE`).
    async fn labelled(
        &self,
        label: String,
        what: &str,
    ) -> Result<Vec<bollard::models::ContainerSummary>, BackendError> {
        let filters = HashMap::from([("label".to_string(), vec![label])]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        Ok(self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| DockerError::api(what, e))?)
    }

    /// The cluster's node containers (running or not), sorted by name.
    pub async fn nodes(&self) -> Result<Vec<NodeContainer>, BackendError> {
        let list = self
            .labelled(
                format!("{CLUSTER_LABEL}={}", self.cluster),
                "listing the node containers",
            )
            .await?;
        let mut ids = HashMap::new();
        let mut nodes: Vec<NodeContainer> = list
            .into_iter()
            .filter_map(|c| {
                let name = c.names?.first()?.trim_start_matches('/').to_string();
                if let Some(id) = c.id {
                    ids.insert(name.clone(), id);
                }
                let role = c
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(ROLE_LABEL))
                    .cloned()
                    .unwrap_or_default();
                let state = c.state.map(|s| s.to_string()).unwrap_or_default();
                Some(NodeContainer { name, role, state })
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        *self.listed.lock().unwrap_or_else(|e| e.into_inner()) = nodes.clone();
        *self.ids.lock().unwrap_or_else(|e| e.into_inner()) = ids;
        Ok(nodes)
    }

    /// Every kind cluster name found on this Docker daemon, sorted.
    async fn clusters(&self) -> Result<Vec<String>, BackendError> {
        let list = self
            .labelled(CLUSTER_LABEL.to_string(), "listing kind clusters")
            .await?;
        let names: BTreeSet<String> = list
            .into_iter()
            .filter_map(|c| c.labels?.get(CLUSTER_LABEL).cloned())
            .collect();
        Ok(names.into_iter().collect())
    }

    /// The node containers as the last listing (by [`Self::connect`] or [`Self::nodes`]) gave
    /// them, listing them if none was made: for what a listing a moment old still says right
    /// (which nodes there are and their roles; not whether they run), so that a command does not
    /// ask Docker again for what it was told when it connected.
    pub async fn listed_nodes(&self) -> Result<Vec<NodeContainer>, BackendError> {
        let listed = self
            .listed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if listed.is_empty() {
            return self.nodes().await;
        }
        Ok(listed)
    }

    /// The name of the control-plane node container (the first, if there are several).
    pub async fn control_plane(&self) -> Result<String, BackendError> {
        let nodes = self.listed_nodes().await?;
        self.control_plane_of(&nodes)
    }

    /// The control-plane node among `nodes` (the first, if there are several).
    pub fn control_plane_of(&self, nodes: &[NodeContainer]) -> Result<String, BackendError> {
        nodes
            .iter()
            .find(|n| n.role == "control-plane")
            .map(|n| n.name.clone())
            .ok_or_else(|| {
                let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
                BackendError::not_found(format!(
                    "kind cluster `{}` has no control-plane node; its nodes are: {}",
                    self.cluster,
                    names.join(", ")
                ))
            })
    }

    /// Checks that `node` is a node container of this cluster (never another container).
    pub(crate) async fn check_node(&self, node: &str) -> Result<(), BackendError> {
        let cached = self
            .listed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|n| n.name == node);
        if cached {
            return Ok(());
        }
        let nodes = self.nodes().await?;
        if nodes.iter().any(|n| n.name == node) {
            return Ok(());
        }
        Err(self.no_node(node, nodes.into_iter().map(|n| n.name).collect()))
    }

    fn no_node(&self, node: &str, nodes: Vec<String>) -> BackendError {
        DockerError::NoNode {
            node: node.to_string(),
            cluster: self.cluster.clone(),
            nodes,
        }
        .into()
    }

    /// Maps a Docker error on `node` to a clear one: a 404 means the container went away.
    pub(crate) fn on_node(
        &self,
        node: &str,
        what: &str,
        e: bollard::errors::Error,
    ) -> BackendError {
        if error::status_of(&e) == Some(404) {
            return BackendError::not_found(format!(
                "node container `{node}` of kind cluster `{}` no longer exists ({what})",
                self.cluster
            ));
        }
        DockerError::api(format!("{what} on node `{node}`"), e).into()
    }

    /// The container ID of a node, as the last listing gave it.
    pub(crate) fn listed_id(&self, node: &str) -> Option<String> {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .cloned()
    }

    async fn inspect(
        &self,
        node: &str,
    ) -> Result<bollard::models::ContainerInspectResponse, BackendError> {
        self.check_node(node).await?;
        self.docker
            .inspect_container(node, None::<InspectContainerOptions>)
            .await
            .map_err(|e| self.on_node(node, "inspecting the container", e))
    }

    /// The node container's state as Docker reports it (`running`, `paused`, `exited`...).
    pub(crate) async fn state(&self, node: &str) -> Result<String, BackendError> {
        let c = self.inspect(node).await?;
        Ok(c.state
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_default())
    }

    /// The node's IP address on a Docker network (`kind` for kind clusters), if it has one.
    pub async fn container_ip(
        &self,
        node: &str,
        network: &str,
    ) -> Result<Option<String>, BackendError> {
        let c = self.inspect(node).await?;
        Ok(c.network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(network))
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty()))
    }

    /// Where a container port (like `6443/tcp`) is published on the host: (host ip, port).
    pub async fn published_port(
        &self,
        node: &str,
        container_port: &str,
    ) -> Result<Option<(String, u16)>, BackendError> {
        let c = self.inspect(node).await?;
        let bindings = c
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|mut p| p.remove(container_port))
            .flatten()
            .unwrap_or_default();
        Ok(bindings.into_iter().find_map(|b| {
            let port = b.host_port?.parse::<u16>().ok()?;
            let ip = b
                .host_ip
                .filter(|ip| !ip.is_empty())
                .unwrap_or_else(|| "0.0.0.0".to_string());
            Some((ip, port))
        }))
    }

    /// Reads one file from a node container through the archive API (what `docker cp` uses),
    /// so it works even when the node cannot exec (a paused node cannot; a stopped one can).
    pub async fn read_file(&self, node: &str, path: &str) -> Result<Vec<u8>, BackendError> {
        self.check_node(node).await?;
        tar::read_file(self, node, path).await
    }
}
