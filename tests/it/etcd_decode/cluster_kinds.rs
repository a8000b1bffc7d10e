//! The core and cluster kinds a kind cluster stores besides workloads and RBAC.

use super::{T0, T0_JSON, assert_renders, meta, stored, stored_as, time};
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::discovery::v1 as discovery;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as metav1;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

fn s(v: &str) -> Option<String> {
    Some(v.into())
}

fn map<V: Clone>(pairs: &[(&str, V)]) -> std::collections::BTreeMap<String, V> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), v.clone()))
        .collect()
}

fn meta_json(name: &str, namespace: &str, uid: &str) -> Value {
    let mut m = json!({"name": name, "uid": uid, "creationTimestamp": T0_JSON});
    if !namespace.is_empty() {
        m["namespace"] = json!(namespace);
    }
    m
}

fn object_ref(kind: &str, ns: &str, name: &str, uid: &str, field: &str) -> core::ObjectReference {
    core::ObjectReference {
        kind: s(kind),
        namespace: s(ns),
        name: s(name),
        uid: s(uid),
        api_version: s(if kind == "Pod" { "v1" } else { "" }),
        resource_version: s(""),
        field_path: s(field),
    }
}

#[test]
fn namespace() {
    let mut m = meta("kube-system", "", "u-ns").unwrap();
    m.labels = map(&[("kubernetes.io/metadata.name", "kube-system".to_string())]);
    let ns = core::Namespace {
        metadata: Some(m),
        spec: Some(core::NamespaceSpec {
            finalizers: vec!["kubernetes".into()],
        }),
        status: Some(core::NamespaceStatus {
            phase: s("Active"),
            conditions: vec![],
        }),
    };
    let mut mj = meta_json("kube-system", "", "u-ns");
    mj["labels"] = json!({"kubernetes.io/metadata.name": "kube-system"});
    assert_renders(
        &stored(&ns),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": mj,
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
    );
}

#[test]
fn service_account() {
    let sa = core::ServiceAccount {
        metadata: meta("default", "default", "u-sa"),
        secrets: vec![],
        image_pull_secrets: vec![],
        automount_service_account_token: Some(false),
    };
    assert_renders(
        &stored(&sa),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": meta_json("default", "default", "u-sa"),
            "automountServiceAccountToken": false}),
    );
}

#[test]
fn secret() {
    let secret = core::Secret {
        metadata: meta("db-pass", "default", "u-sec"),
        immutable: None,
        data: map(&[("password", b"abc".to_vec()), ("empty", Vec::new())]),
        string_data: Default::default(),
        r#type: s("Opaque"),
    };
    assert_renders(
        &stored(&secret),
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": meta_json("db-pass", "default", "u-sec"),
            "data": {"password": "YWJj", "empty": ""}, "type": "Opaque"}),
    );
}

#[test]
fn config_map() {
    let cm = core::ConfigMap {
        metadata: meta("kube-root-ca.crt", "default", "u-cm"),
        immutable: None,
        data: map(&[("ca.crt", "-----BEGIN CERTIFICATE-----\n".to_string())]),
        binary_data: Default::default(),
    };
    assert_renders(
        &stored(&cm),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta_json("kube-root-ca.crt", "default", "u-cm"),
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}}),
    );
}

#[test]
fn service() {
    let mut m = meta("kubernetes", "default", "u-svc").unwrap();
    m.labels = map(&[
        ("component", "apiserver".to_string()),
        ("provider", "kubernetes".to_string()),
    ]);
    let svc = core::Service {
        metadata: Some(m),
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                name: s("https"),
                protocol: s("TCP"),
                app_protocol: None,
                port: Some(443),
                target_port: Some(IntOrString {
                    r#type: Some(0),
                    int_val: Some(6443),
                    str_val: s(""),
                }),
                node_port: Some(0),
            }],
            cluster_ip: s("10.96.0.1"),
            cluster_ips: vec!["10.96.0.1".into()],
            r#type: s("ClusterIP"),
            session_affinity: s("None"),
            load_balancer_ip: s(""),
            external_name: s(""),
            external_traffic_policy: s(""),
            health_check_node_port: Some(0),
            publish_not_ready_addresses: Some(false),
            ip_families: vec!["IPv4".into()],
            ip_family_policy: s("SingleStack"),
            internal_traffic_policy: s("Cluster"),
            ..Default::default()
        }),
        status: Some(core::ServiceStatus {
            load_balancer: Some(core::LoadBalancerStatus::default()),
            conditions: vec![],
        }),
    };
    let mut mj = meta_json("kubernetes", "default", "u-svc");
    mj["labels"] = json!({"component": "apiserver", "provider": "kubernetes"});
    assert_renders(
        &stored(&svc),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": mj,
            "spec": {
                "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}],
                "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "type": "ClusterIP",
                "sessionAffinity": "None", "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"
            },
            "status": {"loadBalancer": {}}}),
    );
}

#[test]
fn endpoints() {
    let ep = core::Endpoints {
        metadata: meta("kube-dns", "kube-system", "u-ep"),
        subsets: vec![core::EndpointSubset {
            addresses: vec![core::EndpointAddress {
                ip: s("10.244.0.2"),
                hostname: s(""),
                node_name: s("kind-control-plane"),
                target_ref: Some(object_ref("Pod", "kube-system", "coredns-1", "u-p", "")),
            }],
            not_ready_addresses: vec![],
            ports: vec![core::EndpointPort {
                name: s("dns"),
                port: Some(53),
                protocol: s("UDP"),
                app_protocol: None,
            }],
        }],
    };
    assert_renders(
        &stored(&ep),
        json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": meta_json("kube-dns", "kube-system", "u-ep"),
        "subsets": [{
            "addresses": [{"ip": "10.244.0.2", "nodeName": "kind-control-plane",
                "targetRef": {"kind": "Pod", "namespace": "kube-system", "name": "coredns-1",
                    "uid": "u-p", "apiVersion": "v1"}}],
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]
        }]}),
    );
}

#[test]
fn endpoint_slice() {
    let slice = discovery::EndpointSlice {
        metadata: meta("kubernetes", "default", "u-es"),
        address_type: s("IPv4"),
        endpoints: vec![discovery::Endpoint {
            addresses: vec!["172.18.0.2".into()],
            conditions: Some(discovery::EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            ..Default::default()
        }],
        ports: vec![discovery::EndpointPort {
            name: s(""),
            protocol: s("TCP"),
            port: Some(6443),
            app_protocol: None,
        }],
    };
    assert_renders(
        &stored(&slice),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": meta_json("kubernetes", "default", "u-es"),
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["172.18.0.2"],
                "conditions": {"ready": true, "serving": true, "terminating": false}}],
            "ports": [{"name": "", "protocol": "TCP", "port": 6443}]}),
    );
    // A slice of a Service without ready pods or ports: Go's nil lists, shown as null.
    let empty = discovery::EndpointSlice {
        metadata: meta("web-abc", "default", "u-es2"),
        address_type: s("IPv4"),
        endpoints: vec![],
        ports: vec![],
    };
    assert_renders(
        &stored(&empty),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": meta_json("web-abc", "default", "u-es2"),
            "addressType": "IPv4", "endpoints": null, "ports": null}),
    );
}

#[test]
fn lease() {
    let micro = |secs: i64, nanos: i32| {
        Some(metav1::MicroTime {
            seconds: Some(secs),
            nanos: Some(nanos),
        })
    };
    let lease = coordination::Lease {
        metadata: meta("kube-scheduler", "kube-system", "u-lease"),
        spec: Some(coordination::LeaseSpec {
            holder_identity: s("kind-control-plane_0f1e"),
            lease_duration_seconds: Some(15),
            acquire_time: micro(T0, 0),
            renew_time: micro(T0 + 60, 123_456_789),
            lease_transitions: Some(0),
            strategy: None,
            preferred_holder: None,
        }),
    };
    assert_renders(
        &stored(&lease),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": meta_json("kube-scheduler", "kube-system", "u-lease"),
            "spec": {"holderIdentity": "kind-control-plane_0f1e", "leaseDurationSeconds": 15,
                "acquireTime": "2026-01-01T00:00:00.000000Z",
                "renewTime": "2026-01-01T00:01:00.123456Z", "leaseTransitions": 0}}),
    );
}

#[test]
fn event() {
    let ev = core::Event {
        metadata: meta("web.188f", "default", "u-ev"),
        involved_object: Some(object_ref(
            "Pod",
            "default",
            "web",
            "u-pod",
            "spec.containers{web}",
        )),
        reason: s("Pulled"),
        message: s("Container image \"nginx:1.27\" already present on machine"),
        source: Some(core::EventSource {
            component: s("kubelet"),
            host: s("kind-worker"),
        }),
        first_timestamp: time(T0),
        last_timestamp: time(T0),
        count: Some(1),
        r#type: s("Normal"),
        // Go's zero MicroTime: an empty message.
        event_time: Some(metav1::MicroTime::default()),
        series: None,
        action: s(""),
        related: None,
        reporting_component: s("kubelet"),
        reporting_instance: s(""),
    };
    assert_renders(
        &stored(&ev),
        json!({"apiVersion": "v1", "kind": "Event",
            "metadata": meta_json("web.188f", "default", "u-ev"),
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web",
                "uid": "u-pod", "apiVersion": "v1", "fieldPath": "spec.containers{web}"},
            "reason": "Pulled",
            "message": "Container image \"nginx:1.27\" already present on machine",
            "source": {"component": "kubelet", "host": "kind-worker"},
            "firstTimestamp": T0_JSON, "lastTimestamp": T0_JSON, "count": 1, "type": "Normal",
            "eventTime": null, "reportingComponent": "kubelet", "reportingInstance": ""}),
    );
}

#[test]
fn node() {
    let q = |v: &str| Quantity { string: s(v) };
    let mut m = meta("kind-control-plane", "", "u-node").unwrap();
    m.labels = map(&[("kubernetes.io/os", "linux".to_string())]);
    let node = core::Node {
        metadata: Some(m),
        spec: Some(core::NodeSpec {
            pod_cidr: s("10.244.0.0/24"),
            pod_cid_rs: vec!["10.244.0.0/24".into()],
            provider_id: s("kind://docker/kind/kind-control-plane"),
            unschedulable: Some(false),
            taints: vec![core::Taint {
                key: s("node-role.kubernetes.io/control-plane"),
                value: s(""),
                effect: s("NoSchedule"),
                time_added: None,
            }],
            config_source: None,
            external_id: s(""),
        }),
        status: Some(core::NodeStatus {
            capacity: map(&[("cpu", q("8")), ("memory", q("16Gi"))]),
            allocatable: map(&[("cpu", q("8")), ("memory", q("16Gi"))]),
            phase: s(""),
            conditions: vec![core::NodeCondition {
                r#type: s("Ready"),
                status: s("True"),
                last_heartbeat_time: time(T0 + 30),
                last_transition_time: time(T0),
                reason: s("KubeletReady"),
                message: s("kubelet is posting ready status"),
            }],
            addresses: vec![core::NodeAddress {
                r#type: s("InternalIP"),
                address: s("172.18.0.2"),
            }],
            daemon_endpoints: Some(core::NodeDaemonEndpoints {
                kubelet_endpoint: Some(core::DaemonEndpoint { port: Some(10250) }),
            }),
            node_info: Some(core::NodeSystemInfo {
                machine_id: s("m1"),
                system_uuid: s("s1"),
                boot_id: s("b1"),
                kernel_version: s("6.8.0"),
                os_image: s("Debian GNU/Linux 12 (bookworm)"),
                container_runtime_version: s("containerd://2.1.1"),
                kubelet_version: s("v1.35.0"),
                kube_proxy_version: s(""),
                operating_system: s("linux"),
                architecture: s("amd64"),
                swap: None,
            }),
            images: vec![core::ContainerImage {
                names: vec!["registry.k8s.io/pause:3.10".into()],
                size_bytes: Some(320_368),
            }],
            runtime_handlers: vec![core::NodeRuntimeHandler {
                name: s(""),
                features: Some(core::NodeRuntimeHandlerFeatures {
                    recursive_read_only_mounts: Some(true),
                    user_namespaces: Some(false),
                }),
            }],
            features: Some(core::NodeFeatures {
                supplemental_groups_policy: Some(true),
            }),
            ..Default::default()
        }),
    };
    let mut mj = meta_json("kind-control-plane", "", "u-node");
    mj["labels"] = json!({"kubernetes.io/os": "linux"});
    assert_renders(
        &stored(&node),
        json!({"apiVersion": "v1", "kind": "Node", "metadata": mj,
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"],
            "providerID": "kind://docker/kind/kind-control-plane",
            "taints": [{"key": "node-role.kubernetes.io/control-plane",
                "effect": "NoSchedule"}]},
        "status": {
            "capacity": {"cpu": "8", "memory": "16Gi"},
            "allocatable": {"cpu": "8", "memory": "16Gi"},
            "conditions": [{"type": "Ready", "status": "True",
                "lastHeartbeatTime": "2026-01-01T00:00:30Z", "lastTransitionTime": T0_JSON,
                "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": "m1", "systemUUID": "s1", "bootID": "b1",
                "kernelVersion": "6.8.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://2.1.1", "kubeletVersion": "v1.35.0",
                "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
            "images": [{"names": ["registry.k8s.io/pause:3.10"], "sizeBytes": 320_368}],
            "runtimeHandlers": [{"name": "",
                "features": {"recursiveReadOnlyMounts": true, "userNamespaces": false}}],
            "features": {"supplementalGroupsPolicy": true}
        }}),
    );
}

#[test]
fn range_allocation() {
    // /registry/ranges/servicenodeports: a bitmap, written by the API server only.
    let mut m = meta("", "", "").unwrap();
    m.uid = s("");
    let ranges = core::RangeAllocation {
        metadata: Some(m),
        range: s("30000-32767"),
        data: Some(vec![0, 4]),
    };
    assert_renders(
        &stored_as("v1", "RangeAllocation", &ranges),
        json!({"apiVersion": "v1", "kind": "RangeAllocation",
            "metadata": {"creationTimestamp": T0_JSON}, "range": "30000-32767", "data": "AAQ="}),
    );
}
