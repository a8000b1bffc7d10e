//! Roles, cluster roles and their bindings.

use super::{T0_JSON, assert_renders, meta, stored};
use k8s_pb::api::rbac::v1 as rbac;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::{Value, json};

fn s(v: &str) -> Option<String> {
    Some(v.into())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).into()).collect()
}

/// Go writes every list, empty or not; empty ones are not on the wire at all.
fn rules() -> Vec<rbac::PolicyRule> {
    vec![
        rbac::PolicyRule {
            verbs: strings(&["get", "list", "watch"]),
            api_groups: strings(&[""]),
            resources: strings(&["pods", "pods/log"]),
            resource_names: vec![],
            non_resource_ur_ls: vec![],
        },
        rbac::PolicyRule {
            verbs: strings(&["get"]),
            non_resource_ur_ls: strings(&["/healthz"]),
            ..Default::default()
        },
    ]
}

fn rules_json() -> Value {
    json!([
        {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
    ])
}

fn meta_json(name: &str, namespace: &str, uid: &str) -> Value {
    let mut m = json!({"name": name, "uid": uid, "creationTimestamp": T0_JSON});
    if !namespace.is_empty() {
        m["namespace"] = json!(namespace);
    }
    m
}

#[test]
fn role() {
    let role = rbac::Role {
        metadata: meta("pod-reader", "kube-system", "u-r"),
        rules: rules(),
    };
    assert_renders(
        &stored(&role),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": meta_json("pod-reader", "kube-system", "u-r"), "rules": rules_json()}),
    );
}

#[test]
fn cluster_role() {
    let cr = rbac::ClusterRole {
        metadata: meta("view-pods", "", "u-cr"),
        rules: rules(),
        aggregation_rule: None,
    };
    assert_renders(
        &stored(&cr),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": meta_json("view-pods", "", "u-cr"), "rules": rules_json()}),
    );
    // An aggregated role before the controller fills it: `rules` has no omitempty.
    let aggregated = rbac::ClusterRole {
        metadata: meta("view", "", "u-view"),
        rules: vec![],
        aggregation_rule: Some(rbac::AggregationRule {
            cluster_role_selectors: vec![metav1::LabelSelector {
                match_labels: [(
                    "rbac.authorization.k8s.io/aggregate-to-view".to_string(),
                    "true".to_string(),
                )]
                .into(),
                match_expressions: vec![],
            }],
        }),
    };
    assert_renders(
        &stored(&aggregated),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": meta_json("view", "", "u-view"), "rules": null,
            "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]}}),
    );
}

#[test]
fn role_binding() {
    let rb = rbac::RoleBinding {
        metadata: meta("read-pods", "kube-system", "u-rb"),
        subjects: vec![rbac::Subject {
            kind: s("ServiceAccount"),
            api_group: s(""),
            name: s("default"),
            namespace: s("kube-system"),
        }],
        role_ref: Some(rbac::RoleRef {
            api_group: s("rbac.authorization.k8s.io"),
            kind: s("Role"),
            name: s("pod-reader"),
        }),
    };
    assert_renders(
        &stored(&rb),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": meta_json("read-pods", "kube-system", "u-rb"),
            "subjects": [{"kind": "ServiceAccount", "name": "default",
                "namespace": "kube-system"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                "name": "pod-reader"}}),
    );
}

#[test]
fn cluster_role_binding() {
    let crb = rbac::ClusterRoleBinding {
        metadata: meta("cluster-admin", "", "u-crb"),
        subjects: vec![rbac::Subject {
            kind: s("Group"),
            api_group: s("rbac.authorization.k8s.io"),
            name: s("system:masters"),
            namespace: s(""),
        }],
        role_ref: Some(rbac::RoleRef {
            api_group: s("rbac.authorization.k8s.io"),
            kind: s("ClusterRole"),
            name: s("cluster-admin"),
        }),
    };
    assert_renders(
        &stored(&crb),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": meta_json("cluster-admin", "", "u-crb"),
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
                "name": "system:masters"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                "name": "cluster-admin"}}),
    );
}
