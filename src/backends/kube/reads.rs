//! Reading what the API reports: pods, logs, nodes, namespaces, any object, events.
//!
//! Why it exists: assertions and waits look at the cluster many times a second; each read is
//! one request shaped like kubectl's (label selectors, the `spec.nodeName` field selector for
//! "pods on a node") and mapped to the project's views by `views`. "Absent" is an answer, not
//! an error: a namespace or object that is gone reads as `None`.

use ::kube::api::{Api, ListParams, LogParams};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};

use serde::de::DeserializeOwned;

use super::KubeBackend;
use super::views;
use crate::backends::{
    BackendError, EventView, NamespaceView, NodeView, PodKey, PodQuery, PodView,
};
use crate::playbook::model::ResourceRef;

/// The list parameters of a pod query: name and node as field selectors, labels as given.
pub(crate) fn pod_list_params(q: &PodQuery) -> ListParams {
    let mut fields = Vec::new();
    if let Some(n) = &q.name {
        fields.push(format!("metadata.name={n}"));
    }
    if let Some(n) = &q.node {
        fields.push(format!("spec.nodeName={n}"));
    }
    let mut lp = ListParams::default();
    if !fields.is_empty() {
        lp = lp.fields(&fields.join(","));
    }
    if let Some(sel) = q.selector.as_deref().filter(|s| !s.trim().is_empty()) {
        lp = lp.labels(sel);
    }
    lp
}

fn pods_what(q: &PodQuery) -> String {
    let mut s = "pods".to_string();
    if let Some(n) = &q.name {
        s = format!("pod {n}");
    }
    match &q.namespace {
        Some(ns) => s += &format!(" in namespace {ns}"),
        None => s += " in every namespace",
    }
    if let Some(sel) = &q.selector {
        s += &format!(" matching `{sel}`");
    }
    if let Some(n) = &q.node {
        s += &format!(" on node {n}");
    }
    s
}

/// How [`KubeBackend::list`] orders its views, so reports do not follow the API's order.
type Order<V> = fn(&V, &V) -> std::cmp::Ordering;

impl KubeBackend {
    pub(crate) async fn pods(&self, q: &PodQuery) -> Result<Vec<PodView>, BackendError> {
        let api: Api<Pod> = match &q.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let params = pod_list_params(q);
        let order: Order<PodView> = |a, b| a.key.cmp(&b.key);
        self.list(api, &params, &pods_what(q), views::pod_view, Some(order))
            .await
    }

    pub(crate) async fn pod_logs(
        &self,
        pod: &PodKey,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String, BackendError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
        let lp = LogParams {
            container: container.map(str::to_string),
            previous,
            ..LogParams::default()
        };
        let which = if previous { "previous " } else { "" };
        let what = match container {
            Some(c) => format!("the {which}log of container {c} of pod {pod}"),
            None => format!("the {which}log of pod {pod}"),
        };
        api.logs(&pod.name, &lp)
            .await
            .map_err(|e| self.fail("read", &what, e))
    }

    pub(crate) async fn nodes(&self) -> Result<Vec<NodeView>, BackendError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let params = ListParams::default();
        let order: Order<NodeView> = |a, b| a.name.cmp(&b.name);
        self.list(api, &params, "nodes", views::node_view, Some(order))
            .await
    }

    pub(crate) async fn namespace(
        &self,
        name: &str,
    ) -> Result<Option<NamespaceView>, BackendError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns = api
            .get_opt(name)
            .await
            .map_err(|e| self.fail("get", &format!("namespace {name}"), e))?;
        Ok(ns.as_ref().map(views::namespace_view))
    }

    pub(crate) async fn get(
        &self,
        target: &ResourceRef,
    ) -> Result<Option<serde_json::Value>, BackendError> {
        let r = self.resolve(&target.api_version, &target.kind).await?;
        let api = self.dynamic_api(&r, target.namespace.as_deref());
        let obj = api
            .get_opt(&target.name)
            .await
            .map_err(|e| self.fail("get", &target.to_string(), e))?;
        obj.map(|o| {
            serde_json::to_value(o)
                .map_err(|e| BackendError::failed(format!("cannot encode {target} as JSON: {e}")))
        })
        .transpose()
    }

    pub(crate) async fn events(&self, namespace: &str) -> Result<Vec<EventView>, BackendError> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let what = format!("events in namespace {namespace}");
        self.list(api, &ListParams::default(), &what, views::event_view, None)
            .await
    }

    /// Lists objects of one kind, each as its view, in the `order` given (else the API's).
    async fn list<K, V>(
        &self,
        api: Api<K>,
        params: &ListParams,
        what: &str,
        view: fn(&K) -> V,
        order: Option<Order<V>>,
    ) -> Result<Vec<V>, BackendError>
    where
        K: Clone + DeserializeOwned + std::fmt::Debug,
    {
        let list = api
            .list(params)
            .await
            .map_err(|e| self.fail("list", what, e))?;
        let mut items: Vec<V> = list.items.iter().map(view).collect();
        if let Some(order) = order {
            items.sort_by(order);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_queries_become_selectors() {
        let q = PodQuery {
            namespace: Some("lab".into()),
            name: Some("web".into()),
            selector: Some("app=web".into()),
            node: Some("kind-worker".into()),
        };
        let lp = pod_list_params(&q);
        assert_eq!(
            lp.field_selector.as_deref(),
            Some("metadata.name=web,spec.nodeName=kind-worker")
        );
        assert_eq!(lp.label_selector.as_deref(), Some("app=web"));
        assert_eq!(
            pods_what(&q),
            "pod web in namespace lab matching `app=web` on node kind-worker"
        );
        let lp = pod_list_params(&PodQuery::default());
        assert_eq!((lp.field_selector, lp.label_selector), (None, None));
    }
}
