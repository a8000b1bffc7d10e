//! Pods, and the pod template the workload kinds nest ([`super::controller_kinds`]).

use super::{T0, T0_JSON, assert_renders, meta, stored, time, zero_time};
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as metav1;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

pub fn s(v: &str) -> Option<String> {
    Some(v.into())
}

pub fn labels(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

/// A container as Go writes it: the non-pointer fields all present.
fn container() -> core::Container {
    core::Container {
        name: s("web"),
        image: s("nginx:1.27"),
        working_dir: s(""),
        ports: vec![core::ContainerPort {
            name: s(""),
            host_port: Some(0),
            container_port: Some(80),
            protocol: s("TCP"),
            host_ip: s(""),
        }],
        resources: Some(core::ResourceRequirements::default()),
        readiness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/"),
                    port: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(80),
                        str_val: s(""),
                    }),
                    host: s(""),
                    scheme: s("HTTP"),
                    http_headers: vec![],
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(0),
            timeout_seconds: Some(1),
            period_seconds: Some(10),
            success_threshold: Some(1),
            failure_threshold: Some(3),
            termination_grace_period_seconds: None,
        }),
        termination_message_path: s("/dev/termination-log"),
        termination_message_policy: s("File"),
        image_pull_policy: s("IfNotPresent"),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        ..Default::default()
    }
}

fn container_json() -> Value {
    json!({
        "name": "web",
        "image": "nginx:1.27",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "resources": {},
        "readinessProbe": {
            "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent"
    })
}

/// A pod spec as Go writes it (`hostNetwork: false`, `priority: 0`...).
fn pod_spec(restart: &str) -> core::PodSpec {
    core::PodSpec {
        containers: vec![container()],
        restart_policy: s(restart),
        termination_grace_period_seconds: Some(30),
        dns_policy: s("ClusterFirst"),
        service_account_name: s(""),
        service_account: s(""),
        node_name: s(""),
        host_network: Some(false),
        host_pid: Some(false),
        host_ipc: Some(false),
        security_context: Some(core::PodSecurityContext::default()),
        hostname: s(""),
        subdomain: s(""),
        scheduler_name: s("default-scheduler"),
        priority_class_name: s(""),
        ..Default::default()
    }
}

fn pod_spec_json(restart: &str) -> Value {
    json!({
        "containers": [container_json()],
        "restartPolicy": restart,
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
        "schedulerName": "default-scheduler"
    })
}

/// A pod template: its metadata's zero creationTimestamp is an empty Time message.
pub fn template(app: &str, restart: &str) -> Option<core::PodTemplateSpec> {
    Some(core::PodTemplateSpec {
        metadata: Some(metav1::ObjectMeta {
            name: s(""),
            generate_name: s(""),
            namespace: s(""),
            self_link: s(""),
            uid: s(""),
            resource_version: s(""),
            generation: Some(0),
            creation_timestamp: zero_time(),
            labels: labels(&[("app", app)]),
            ..Default::default()
        }),
        spec: Some(pod_spec(restart)),
    })
}

pub fn template_json(app: &str, restart: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": pod_spec_json(restart)})
}

pub fn selector(app: &str) -> Option<metav1::LabelSelector> {
    Some(metav1::LabelSelector {
        match_labels: labels(&[("app", app)]),
        match_expressions: vec![],
    })
}

pub fn meta_json(name: &str, uid: &str) -> Value {
    json!({"name": name, "namespace": "default", "uid": uid, "creationTimestamp": T0_JSON})
}

#[test]
fn pod() {
    let mut pod_meta = meta("web-6d4cf56db6-x2x4q", "default", "u-pod").unwrap();
    pod_meta.generate_name = s("web-6d4cf56db6-");
    pod_meta.labels = labels(&[("app", "web"), ("pod-template-hash", "6d4cf56db6")]);
    pod_meta.owner_references = vec![metav1::OwnerReference {
        api_version: s("apps/v1"),
        kind: s("ReplicaSet"),
        name: s("web-6d4cf56db6"),
        uid: s("u-rs"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }];
    pod_meta.managed_fields = vec![metav1::ManagedFieldsEntry {
        manager: s("kube-controller-manager"),
        operation: s("Update"),
        api_version: s("v1"),
        time: time(T0),
        fields_type: s("FieldsV1"),
        fields_v1: Some(metav1::FieldsV1 {
            raw: Some(br#"{"f:metadata":{"f:labels":{".":{}}}}"#.to_vec()),
        }),
        subresource: s(""),
    }];
    let mut spec = pod_spec("Always");
    spec.node_name = s("kind-worker");
    spec.service_account_name = s("default");
    spec.service_account = s("default");
    spec.priority = Some(0);
    spec.enable_service_links = Some(true);
    spec.preemption_policy = s("PreemptLowerPriority");
    spec.tolerations = vec![core::Toleration {
        key: s("node.kubernetes.io/not-ready"),
        operator: s("Exists"),
        value: s(""),
        effect: s("NoExecute"),
        toleration_seconds: Some(300),
    }];
    spec.volumes = vec![
        core::Volume {
            name: s("kube-api-access-abcde"),
            volume_source: Some(core::VolumeSource {
                projected: Some(core::ProjectedVolumeSource {
                    sources: vec![
                        core::VolumeProjection {
                            service_account_token: Some(core::ServiceAccountTokenProjection {
                                audience: s(""),
                                expiration_seconds: Some(3607),
                                path: s("token"),
                            }),
                            ..Default::default()
                        },
                        core::VolumeProjection {
                            config_map: Some(core::ConfigMapProjection {
                                local_object_reference: Some(core::LocalObjectReference {
                                    name: s("kube-root-ca.crt"),
                                }),
                                items: vec![core::KeyToPath {
                                    key: s("ca.crt"),
                                    path: s("ca.crt"),
                                    mode: None,
                                }],
                                optional: None,
                            }),
                            ..Default::default()
                        },
                    ],
                    default_mode: Some(420),
                }),
                ..Default::default()
            }),
        },
        core::Volume {
            name: s("modules"),
            volume_source: Some(core::VolumeSource {
                host_path: Some(core::HostPathVolumeSource {
                    path: s("/lib/modules"),
                    r#type: s(""),
                }),
                ..Default::default()
            }),
        },
    ];
    spec.containers[0].volume_mounts = vec![core::VolumeMount {
        name: s("kube-api-access-abcde"),
        read_only: Some(true),
        mount_path: s("/var/run/secrets/kubernetes.io/serviceaccount"),
        sub_path: s(""),
        sub_path_expr: s(""),
        ..Default::default()
    }];
    let pod = core::Pod {
        metadata: Some(pod_meta),
        spec: Some(spec),
        status: Some(core::PodStatus {
            observed_generation: Some(0),
            phase: s("Running"),
            conditions: vec![core::PodCondition {
                r#type: s("Ready"),
                observed_generation: Some(0),
                status: s("True"),
                last_probe_time: zero_time(),
                last_transition_time: time(T0 + 5),
                reason: s(""),
                message: s(""),
            }],
            message: s(""),
            reason: s(""),
            nominated_node_name: s(""),
            host_ip: s("172.18.0.3"),
            host_ips: vec![core::HostIp {
                ip: s("172.18.0.3"),
            }],
            pod_ip: s("10.244.1.5"),
            pod_ips: vec![core::PodIp {
                ip: s("10.244.1.5"),
            }],
            start_time: time(T0),
            container_statuses: vec![core::ContainerStatus {
                name: s("web"),
                state: Some(core::ContainerState {
                    running: Some(core::ContainerStateRunning {
                        started_at: time(T0 + 2),
                    }),
                    ..Default::default()
                }),
                last_state: Some(core::ContainerState::default()),
                ready: Some(true),
                restart_count: Some(0),
                image: s("docker.io/library/nginx:1.27"),
                image_id: s("docker.io/library/nginx@sha256:0123"),
                container_id: s("containerd://abc"),
                started: Some(true),
                ..Default::default()
            }],
            qos_class: s("BestEffort"),
            ..Default::default()
        }),
    };
    let mut expected_meta = meta_json("web-6d4cf56db6-x2x4q", "u-pod");
    let m = expected_meta.as_object_mut().unwrap();
    m.insert("generateName".into(), json!("web-6d4cf56db6-"));
    m.insert(
        "labels".into(),
        json!({"app": "web", "pod-template-hash": "6d4cf56db6"}),
    );
    m.insert(
        "ownerReferences".into(),
        json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": "web-6d4cf56db6", "uid": "u-rs", "controller": true, "blockOwnerDeletion": true}]),
    );
    m.insert(
        "managedFields".into(),
        json!([{"manager": "kube-controller-manager",
        "operation": "Update", "apiVersion": "v1", "time": T0_JSON, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}}]),
    );
    let mut expected_spec = pod_spec_json("Always");
    let sp = expected_spec.as_object_mut().unwrap();
    sp.insert("nodeName".into(), json!("kind-worker"));
    sp.insert("serviceAccountName".into(), json!("default"));
    sp.insert("serviceAccount".into(), json!("default"));
    sp.insert("priority".into(), json!(0));
    sp.insert("enableServiceLinks".into(), json!(true));
    sp.insert("preemptionPolicy".into(), json!("PreemptLowerPriority"));
    sp.insert(
        "tolerations".into(),
        json!([{"key": "node.kubernetes.io/not-ready",
        "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]),
    );
    sp.insert("volumes".into(), json!([
        {"name": "kube-api-access-abcde", "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}
        ], "defaultMode": 420}},
        {"name": "modules", "hostPath": {"path": "/lib/modules", "type": ""}}
    ]));
    sp["containers"][0].as_object_mut().unwrap().insert(
        "volumeMounts".into(),
        json!([{
        "name": "kube-api-access-abcde", "readOnly": true,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]),
    );
    assert_renders(
        &stored(&pod),
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": expected_meta,
            "spec": expected_spec,
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null,
                    "lastTransitionTime": "2026-01-01T00:00:05Z"}],
                "hostIP": "172.18.0.3",
                "hostIPs": [{"ip": "172.18.0.3"}],
                "podIP": "10.244.1.5",
                "podIPs": [{"ip": "10.244.1.5"}],
                "startTime": T0_JSON,
                "containerStatuses": [{
                    "name": "web",
                    "state": {"running": {"startedAt": "2026-01-01T00:00:02Z"}},
                    "lastState": {},
                    "ready": true,
                    "restartCount": 0,
                    "image": "docker.io/library/nginx:1.27",
                    "imageID": "docker.io/library/nginx@sha256:0123",
                    "containerID": "containerd://abc",
                    "started": true
                }],
                "qosClass": "BestEffort"
            }
        }),
    );
}
