//! The etcd keys the real API server stores objects under, so that `etcdctl get
//! /registry/pods/NS/NAME` and the etcd labs (`chaos etcd del /registry/pods/...`) find
//! the served cluster's objects where they find a kind cluster's.

use std::sync::Arc;

use crate::resources::{Registry, ResourceDef};

/// The root of every key (kube-apiserver's `--etcd-prefix` default, `/registry`).
pub(crate) const ROOT: &str = "/registry/";

/// The key prefix of a resource, without [`ROOT`].
fn prefix(res: &ResourceDef) -> String {
    // pkg/kubeapiserver/default_storage_factory_builder.go, SpecialDefaultResourcePrefixes.
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "nodes") => return "minions".into(),
        ("", "services") => return "services/specs".into(),
        ("", "endpoints") => return "services/endpoints".into(),
        ("", "replicationcontrollers") => return "controllers".into(),
        _ => {}
    }
    if is_builtin_group(&res.group) {
        // staging/src/k8s.io/apiserver/pkg/server/storage/storage_factory.go,
        // DefaultStorageFactory.ResourcePrefix: the resource name alone for built-in groups.
        res.plural.clone()
    } else {
        // staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/customresource_handler.go,
        // getOrCreateServingInfoFor: custom resources live under `group/plural`.
        format!("{}/{}", res.group, res.plural)
    }
}

/// Groups compiled into kube-apiserver: the core group, dotless ones (`apps`, `batch`,
/// `policy`, `autoscaling`) and `*.k8s.io` (`coordination.k8s.io`, `events.k8s.io`, ...).
fn is_builtin_group(group: &str) -> bool {
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// The key of an object: `/registry/<prefix>/<ns>/<name>` for namespaced kinds,
/// `/registry/<prefix>/<name>` otherwise
/// (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go,
/// NamespaceKeyFunc and NoNamespaceKeyFunc).
pub(crate) fn key(res: &ResourceDef, ns: &str, name: &str) -> String {
    if res.namespaced {
        format!("{ROOT}{}/{ns}/{name}", prefix(res))
    } else {
        format!("{ROOT}{}/{name}", prefix(res))
    }
}

/// The resource, namespace ("" when cluster-scoped) and name a key stands for, if it is
/// one of a served resource.
pub(crate) fn parse(reg: &Registry, key: &str) -> Option<(Arc<ResourceDef>, String, String)> {
    let rest = key.strip_prefix(ROOT)?;
    let mut best: Option<(Arc<ResourceDef>, String, String)> = None;
    for res in reg.all() {
        let p = prefix(res);
        let Some(tail) = rest.strip_prefix(&p).and_then(|t| t.strip_prefix('/')) else {
            continue;
        };
        let parts: Vec<&str> = tail.split('/').collect();
        let found = match (res.namespaced, parts.as_slice()) {
            (true, [ns, name]) if !ns.is_empty() && !name.is_empty() => {
                Some((res.clone(), ns.to_string(), name.to_string()))
            }
            (false, [name]) if !name.is_empty() => {
                Some((res.clone(), String::new(), name.to_string()))
            }
            _ => None,
        };
        if found.is_some() {
            best = found;
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(reg: &Registry, group: &str, plural: &str) -> Arc<ResourceDef> {
        reg.all()
            .iter()
            .find(|r| r.is(group, plural))
            .cloned()
            .expect("resource")
    }

    #[test]
    fn keys_are_upstreams() {
        let mut reg = Registry::builtin();
        reg.add(ResourceDef::new(
            "coordination.k8s.io/v1",
            "Lease",
            "leases",
            true,
        ));
        reg.add(ResourceDef::new(
            "example.com/v1",
            "Widget",
            "widgets",
            true,
        ));
        let cases = [
            ("", "pods", "default", "p", "/registry/pods/default/p"),
            ("", "nodes", "", "n1", "/registry/minions/n1"),
            ("", "namespaces", "", "ns1", "/registry/namespaces/ns1"),
            ("", "services", "d", "s", "/registry/services/specs/d/s"),
            ("", "configmaps", "d", "c", "/registry/configmaps/d/c"),
            ("", "events", "d", "e", "/registry/events/d/e"),
            ("apps", "deployments", "d", "x", "/registry/deployments/d/x"),
            ("apps", "replicasets", "d", "x", "/registry/replicasets/d/x"),
            (
                "coordination.k8s.io",
                "leases",
                "kube-node-lease",
                "w",
                "/registry/leases/kube-node-lease/w",
            ),
            (
                "example.com",
                "widgets",
                "d",
                "w",
                "/registry/example.com/widgets/d/w",
            ),
        ];
        for (group, plural, ns, name, want) in cases {
            let r = res(&reg, group, plural);
            assert_eq!(key(&r, ns, name), want);
            let (back, bns, bname) = parse(&reg, want).expect(want);
            assert_eq!(
                (back.qualified(), bns.as_str(), bname.as_str()),
                (r.qualified(), ns, name)
            );
        }
        assert!(parse(&reg, "/registry/pods/default").is_none());
        assert!(parse(&reg, "/registry/unknown/x").is_none());
        assert!(parse(&reg, "/other/pods/a/b").is_none());
    }
}
