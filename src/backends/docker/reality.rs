//! Node reality: what really runs in each node container, read from inside it.
//!
//! One exec per node ([`scripts::SCAN`]) reads every `/proc/PID/cmdline` and the CRI's view
//! (crictl; where it is missing, containerd's task bundles), so a snapshot of N nodes costs
//! one container listing plus N parallel execs. Parsing is pure (see [`parse`]) and
//! unit-tested on captured output; which sandbox a shim serves comes from its `-id` argument,
//! which pod a sandbox belongs to from the CRI's annotations in the task's OCI spec (or its
//! labels `io.kubernetes.pod.{namespace,name,uid}`).

mod parse;

use futures::future::join_all;

pub use parse::{NodeScan, parse_tasks};

use super::{DockerNodes, scripts};
use crate::backends::{BackendError, NodeContainer, NodeReality};

/// One node container and what was found in it (or why it could not be read).
#[derive(Debug, Clone)]
pub struct NodeSnapshot {
    pub node: NodeContainer,
    pub reality: Result<NodeReality, BackendError>,
}

impl DockerNodes {
    /// Reads every node (or one), in parallel. A node that is not running reports nothing
    /// running in it; a paused node, whose processes cannot be read, reports an error.
    pub async fn snapshot(&self, node: Option<&str>) -> Result<Vec<NodeSnapshot>, BackendError> {
        let all = self.node_containers().await?;
        let chosen: Vec<NodeContainer> = match node {
            None => all,
            Some(want) => {
                let names: Vec<String> = all.iter().map(|n| n.name.clone()).collect();
                let one: Vec<NodeContainer> = all.into_iter().filter(|n| n.name == want).collect();
                if one.is_empty() {
                    return Err(self.no_node(want, names));
                }
                one
            }
        };
        let reads = chosen.into_iter().map(|n| async move {
            let reality = self.read_node(&n).await;
            NodeSnapshot { node: n, reality }
        });
        Ok(join_all(reads).await)
    }

    /// What runs on the nodes; fails if any chosen node cannot be read.
    pub(crate) async fn reality_of(
        &self,
        node: Option<&str>,
    ) -> Result<Vec<NodeReality>, BackendError> {
        self.snapshot(node)
            .await?
            .into_iter()
            .map(|s| s.reality)
            .collect()
    }

    async fn read_node(&self, n: &NodeContainer) -> Result<NodeReality, BackendError> {
        match n.state.as_str() {
            "running" => Ok(self.scan(&n.name).await?.reality(&n.name)),
            "paused" => Err(BackendError::failed(format!(
                "node `{}` is paused: its processes cannot be read until it is unpaused",
                n.name
            ))),
            _ => Ok(NodeReality {
                node: n.name.clone(),
                ..NodeReality::default()
            }),
        }
    }

    /// The raw scan of one running node: processes, sandboxes, containers, tasks.
    pub(crate) async fn scan(&self, node: &str) -> Result<NodeScan, BackendError> {
        let out = self
            .exec_script(node, "reading the node's processes", scripts::SCAN, &[])
            .await?;
        if out.exit_code != 0 || !out.stdout.contains("@@kind-chaos:end@@") {
            return Err(BackendError::failed(format!(
                "reading the processes of node `{node}` failed (exit {}): {}",
                out.exit_code,
                super::exec::first_lines(&out.stderr, &out.stdout)
            )));
        }
        parse::parse_scan(&out.stdout).map_err(|e| {
            BackendError::failed(format!("reading the processes of node `{node}`: {e}"))
        })
    }
}
