use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::{Discovery, Scope, verbs};

use crate::common::start;

#[tokio::test]
async fn discovery_finds_the_built_in_kinds() {
    let (_server, client) = start().await;
    for discovery in [
        Discovery::new(client.clone())
            .run()
            .await
            .expect("discovery"),
        Discovery::new(client.clone())
            .run_aggregated()
            .await
            .expect("aggregated discovery"),
    ] {
        let apps = discovery.get("apps").expect("apps group");
        let (deploy, caps) = apps.recommended_kind("Deployment").expect("deployments");
        assert_eq!(deploy.plural, "deployments");
        assert_eq!(caps.scope, Scope::Namespaced);
        assert!(caps.supports_operation(verbs::WATCH));
        let core = discovery.get("").expect("core group");
        for kind in ["Pod", "Node", "Namespace", "Event", "ConfigMap", "Service"] {
            assert!(core.recommended_kind(kind).is_some(), "{kind}");
        }
        let (_, ns_caps) = core.recommended_kind("Namespace").expect("namespaces");
        assert_eq!(ns_caps.scope, Scope::Cluster);
    }
    assert!(client.apiserver_version().await.is_ok());
}

#[tokio::test]
async fn registered_kinds_get_generic_storage() {
    let (server, client) = start().await;
    server.register_resource("chaos.example/v1", "Widget", "widgets", true);
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (ar, _) = discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "chaos.example",
            "v1",
            "Widget",
        ))
        .expect("widget discovered");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let mut w = DynamicObject::new("w1", &ar);
    w.data = serde_json::json!({ "spec": { "size": 3 } });
    widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("create widget");
    let got = widgets.get("w1").await.expect("get widget");
    assert_eq!(got.data["spec"]["size"], 3);
    assert_eq!(got.metadata.generation, Some(1));
}
