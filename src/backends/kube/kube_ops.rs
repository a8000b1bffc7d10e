//! [`KubeOps`] for [`KubeBackend`]: the engine's view of the API. Each trait method calls the
//! inherent method of the same name (`KubeBackend::pods`, ...), which does the work in the file
//! of its concept (`apply`, `reads`, `writes`); a path like `KubeBackend::pods` picks the
//! inherent method over the trait's. Kept thin so each concept lives in one file.

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
        KubeBackend::apply(self, documents, namespace).await
    }

    async fn delete(&self, target: &ResourceRef, opts: &DeleteOptions) -> Result<()> {
        KubeBackend::delete(self, target, opts).await
    }

    async fn pods(&self, query: &PodQuery) -> Result<Vec<PodView>> {
        KubeBackend::pods(self, query).await
    }

    async fn pod_logs(
        &self,
        pod: &PodKey,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String> {
        KubeBackend::pod_logs(self, pod, container, previous).await
    }

    async fn nodes(&self) -> Result<Vec<NodeView>> {
        KubeBackend::nodes(self).await
    }

    async fn namespace(&self, name: &str) -> Result<Option<NamespaceView>> {
        KubeBackend::namespace(self, name).await
    }

    async fn write_check(&self, target: &ResourceRef) -> Result<WriteCheck> {
        KubeBackend::write_check(self, target).await
    }

    async fn get(&self, target: &ResourceRef) -> Result<Option<serde_json::Value>> {
        KubeBackend::get(self, target).await
    }

    async fn events(&self, namespace: &str) -> Result<Vec<EventView>> {
        KubeBackend::events(self, namespace).await
    }

    async fn finalizer(
        &self,
        target: &ResourceRef,
        finalizer: &str,
        op: FinalizerOp,
    ) -> Result<bool> {
        KubeBackend::finalizer(self, target, finalizer, op).await
    }

    async fn clear_finalizers(&self, target: &ResourceRef) -> Result<Vec<String>> {
        KubeBackend::clear_finalizers(self, target).await
    }

    async fn finalize_namespace(&self, name: &str) -> Result<()> {
        KubeBackend::finalize_namespace(self, name).await
    }

    async fn cordon(&self, node: &str, cordoned: bool) -> Result<()> {
        KubeBackend::cordon(self, node, cordoned).await
    }

    async fn taint(&self, taint: &NodeTaint, present: bool) -> Result<()> {
        KubeBackend::taint(self, taint, present).await
    }

    fn changes(&self) -> BoxStream<'static, ()> {
        super::watch::cluster_changes(&self.watch_client)
    }
    fn watch(&self, scope: &WatchScope) -> BoxStream<'static, ApiChange> {
        super::watch::scope_changes(&self.watch_client, scope)
    }
}
