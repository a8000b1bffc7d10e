//! [`NodeOps`] for [`DockerNodes`]: the engine's view of the node containers. Each trait
//! method calls the inherent method of the same name (`DockerNodes::kubelet`, ...), which does
//! the work in the file of its concept (`node_actions`, `exec`, `reality`); a path like
//! `DockerNodes::kubelet` picks the inherent method over the trait's.

use async_trait::async_trait;

use super::DockerNodes;
use crate::backends::{
    ContainerAction, CpuHog, ExecOutput, Fill, Held, KubeletAction, NodeContainer, NodeOps,
    NodeReality, Partition, PodSignal, Result, Shaping,
};

#[async_trait]
impl NodeOps for DockerNodes {
    async fn nodes(&self) -> Result<Vec<NodeContainer>> {
        DockerNodes::nodes(self).await
    }

    async fn kubelet(&self, node: &str, action: KubeletAction) -> Result<()> {
        DockerNodes::kubelet(self, node, action).await
    }

    async fn container(&self, node: &str, action: ContainerAction) -> Result<()> {
        DockerNodes::container(self, node, action).await
    }

    async fn kill_pod_container(&self, node: &str, kill: PodSignal<'_>) -> Result<()> {
        DockerNodes::kill_pod_container(self, node, kill).await
    }

    async fn exec(&self, node: &str, argv: &[String]) -> Result<ExecOutput> {
        DockerNodes::exec(self, node, argv).await
    }

    async fn partition(&self, node: &str, cut: &Partition) -> Result<()> {
        DockerNodes::partition(self, node, cut).await
    }

    async fn heal(&self, node: &str, chain: &str) -> Result<()> {
        DockerNodes::heal(self, node, chain).await
    }

    async fn shape(&self, node: &str, shaping: &Shaping) -> Result<()> {
        DockerNodes::shape(self, node, shaping).await
    }

    async fn unshape(&self, node: &str) -> Result<()> {
        DockerNodes::unshape(self, node).await
    }

    async fn hog(&self, node: &str, hog: &CpuHog) -> Result<()> {
        DockerNodes::hog(self, node, hog).await
    }

    async fn unhog(&self, node: &str, marker: &str) -> Result<()> {
        DockerNodes::unhog(self, node, marker).await
    }

    async fn fill(&self, node: &str, fill: &Fill) -> Result<Held> {
        DockerNodes::fill(self, node, fill).await
    }

    async fn unfill(&self, node: &str, marker: &str) -> Result<u64> {
        DockerNodes::unfill(self, node, marker).await
    }

    async fn sweep(&self, node: &str) -> Result<Vec<String>> {
        DockerNodes::sweep(self, node).await
    }

    async fn reality(&self, node: Option<&str>) -> Result<Vec<NodeReality>> {
        DockerNodes::reality(self, node).await
    }

    async fn address(&self, node: &str) -> Result<String> {
        DockerNodes::kind_address(self, node).await
    }
}
