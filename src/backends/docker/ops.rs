//! [`NodeOps`] for [`DockerNodes`]: the engine's view of the node containers.

use async_trait::async_trait;

use super::DockerNodes;
use crate::backends::{
    ContainerAction, ExecOutput, KubeletAction, NodeContainer, NodeOps, NodeReality, PodKey, Result,
};
use crate::playbook::values::Signal;

#[async_trait]
impl NodeOps for DockerNodes {
    async fn nodes(&self) -> Result<Vec<NodeContainer>> {
        self.node_containers().await
    }

    async fn kubelet(&self, node: &str, action: KubeletAction) -> Result<()> {
        self.kubelet_action(node, action).await
    }

    async fn container(&self, node: &str, action: ContainerAction) -> Result<()> {
        self.container_action(node, action).await
    }

    async fn kill_pod_container(
        &self,
        node: &str,
        pod: &PodKey,
        container: Option<&str>,
        signal: Signal,
    ) -> Result<()> {
        self.kill_in_pod(node, pod, container, signal)
            .await
            .map(|_| ())
    }

    async fn exec(&self, node: &str, argv: &[String]) -> Result<ExecOutput> {
        self.exec_argv(node, argv).await
    }

    async fn reality(&self, node: Option<&str>) -> Result<Vec<NodeReality>> {
        self.reality_of(node).await
    }
}
