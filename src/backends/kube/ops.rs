//! [`KubeOps`] for [`KubeBackend`]: the engine's view of the API, delegating to the modules
//! that do the work (kept thin so each concept lives in one file).

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::KubeBackend;
use crate::backends::*;
use crate::playbook::model::{NodeTaint, ResourceRef};

#[async_trait]
impl KubeOps for KubeBackend {
    async fn apply(
        &self,
        documents: &[serde_json::Value],
        namespace: Option<&str>,
    ) -> Result<Vec<ResourceRef>> {
        self.apply_documents(documents, namespace).await
    }

    async fn delete(&self, target: &ResourceRef, opts: &DeleteOptions) -> Result<()> {
        self.delete_resource(target, opts).await
    }

    async fn pods(&self, query: &PodQuery) -> Result<Vec<PodView>> {
        self.list_pods(query).await
    }

    async fn pod_logs(
        &self,
        pod: &PodKey,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String> {
        self.logs(pod, container, previous).await
    }

    async fn nodes(&self) -> Result<Vec<NodeView>> {
        self.list_nodes().await
    }

    async fn namespace(&self, name: &str) -> Result<Option<NamespaceView>> {
        self.get_namespace(name).await
    }

    async fn get(&self, target: &ResourceRef) -> Result<Option<serde_json::Value>> {
        self.get_object(target).await
    }

    async fn events(&self, namespace: &str) -> Result<Vec<EventView>> {
        self.list_events(namespace).await
    }

    async fn finalizer(
        &self,
        target: &ResourceRef,
        finalizer: &str,
        op: FinalizerOp,
    ) -> Result<bool> {
        self.change_finalizer(target, finalizer, op).await
    }

    async fn clear_finalizers(&self, target: &ResourceRef) -> Result<Vec<String>> {
        self.clear_all_finalizers(target).await
    }

    async fn finalize_namespace(&self, name: &str) -> Result<()> {
        self.finalize(name).await
    }

    async fn cordon(&self, node: &str, cordoned: bool) -> Result<()> {
        self.set_cordon(node, cordoned).await
    }

    async fn taint(&self, taint: &NodeTaint, present: bool) -> Result<()> {
        self.set_taint(taint, present).await
    }

    fn changes(&self) -> BoxStream<'static, ()> {
        super::watch::cluster_changes(&self.watch_client)
    }
}
