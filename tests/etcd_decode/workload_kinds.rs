//! Pods and the workload kinds that nest a pod template.

use super::{T0, T0_JSON, assert_renders, meta, stored, time, zero_time};
use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as metav1;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

fn s(v: &str) -> Option<String> {
    Some(v.into())
}

fn labels(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
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
fn template(app: &str, restart: &str) -> Option<core::PodTemplateSpec> {
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

fn template_json(app: &str, restart: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": pod_spec_json(restart)})
}

fn selector(app: &str) -> Option<metav1::LabelSelector> {
    Some(metav1::LabelSelector {
        match_labels: labels(&[("app", app)]),
        match_expressions: vec![],
    })
}

fn meta_json(name: &str, uid: &str) -> Value {
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

#[test]
fn replica_set() {
    let rs = apps::ReplicaSet {
        metadata: meta("web-6d4cf56db6", "default", "u-rs"),
        spec: Some(apps::ReplicaSetSpec {
            replicas: Some(0),
            min_ready_seconds: Some(0),
            selector: selector("web"),
            template: template("web", "Always"),
        }),
        status: Some(apps::ReplicaSetStatus {
            replicas: Some(0),
            fully_labeled_replicas: Some(0),
            ready_replicas: Some(0),
            available_replicas: Some(0),
            terminating_replicas: Some(0),
            observed_generation: Some(2),
            conditions: vec![],
        }),
    };
    assert_renders(
        &stored(&rs),
        json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": meta_json("web-6d4cf56db6", "u-rs"),
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                "template": template_json("web", "Always")},
            "status": {"replicas": 0, "terminatingReplicas": 0, "observedGeneration": 2}
        }),
    );
}

#[test]
fn deployment() {
    let pct = |v: &str| {
        Some(IntOrString {
            r#type: Some(1),
            int_val: Some(0),
            str_val: s(v),
        })
    };
    let d = apps::Deployment {
        metadata: meta("web", "default", "u-d"),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(1),
            selector: selector("web"),
            template: template("web", "Always"),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: pct("25%"),
                    max_surge: pct("25%"),
                }),
            }),
            min_ready_seconds: Some(0),
            revision_history_limit: Some(10),
            paused: Some(false),
            progress_deadline_seconds: Some(600),
        }),
        status: Some(apps::DeploymentStatus {
            observed_generation: Some(1),
            replicas: Some(1),
            updated_replicas: Some(1),
            ready_replicas: Some(1),
            available_replicas: Some(1),
            unavailable_replicas: Some(0),
            terminating_replicas: None,
            conditions: vec![apps::DeploymentCondition {
                r#type: s("Available"),
                status: s("True"),
                last_update_time: time(T0),
                last_transition_time: time(T0),
                reason: s("MinimumReplicasAvailable"),
                message: s("Deployment has minimum availability."),
            }],
            collision_count: None,
        }),
    };
    assert_renders(
        &stored(&d),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta_json("web", "u-d"),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": template_json("web", "Always"),
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            },
            "status": {
                "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                "readyReplicas": 1, "availableReplicas": 1,
                "conditions": [{"type": "Available", "status": "True",
                    "lastUpdateTime": T0_JSON, "lastTransitionTime": T0_JSON,
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability."}]
            }
        }),
    );
}

#[test]
fn daemon_set() {
    let ds = apps::DaemonSet {
        metadata: meta("kube-proxy", "kube-system", "u-ds"),
        spec: Some(apps::DaemonSetSpec {
            selector: selector("kube-proxy"),
            template: template("kube-proxy", "Always"),
            update_strategy: Some(apps::DaemonSetUpdateStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDaemonSet {
                    max_unavailable: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(1),
                        str_val: s(""),
                    }),
                    max_surge: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(0),
                        str_val: s(""),
                    }),
                }),
            }),
            min_ready_seconds: Some(0),
            revision_history_limit: Some(10),
        }),
        status: Some(apps::DaemonSetStatus {
            current_number_scheduled: Some(3),
            number_misscheduled: Some(0),
            desired_number_scheduled: Some(3),
            number_ready: Some(3),
            observed_generation: Some(1),
            updated_number_scheduled: Some(3),
            number_available: Some(3),
            number_unavailable: Some(0),
            collision_count: None,
            conditions: vec![],
        }),
    };
    let mut meta = meta_json("kube-proxy", "u-ds");
    meta["namespace"] = json!("kube-system");
    assert_renders(
        &stored(&ds),
        json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": meta,
            "spec": {
                "selector": {"matchLabels": {"app": "kube-proxy"}},
                "template": template_json("kube-proxy", "Always"),
                "updateStrategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "revisionHistoryLimit": 10
            },
            "status": {"currentNumberScheduled": 3, "numberMisscheduled": 0,
                "desiredNumberScheduled": 3, "numberReady": 3, "observedGeneration": 1,
                "updatedNumberScheduled": 3, "numberAvailable": 3}
        }),
    );
}

#[test]
fn stateful_set() {
    let mut claim_meta = meta("data", "", "").unwrap();
    claim_meta.namespace = s("");
    claim_meta.uid = s("");
    claim_meta.creation_timestamp = zero_time();
    let sts = apps::StatefulSet {
        metadata: meta("db", "default", "u-sts"),
        spec: Some(apps::StatefulSetSpec {
            replicas: Some(0),
            selector: selector("db"),
            template: template("db", "Always"),
            volume_claim_templates: vec![core::PersistentVolumeClaim {
                metadata: Some(claim_meta),
                spec: Some(core::PersistentVolumeClaimSpec {
                    access_modes: vec!["ReadWriteOnce".into()],
                    resources: Some(core::VolumeResourceRequirements::default()),
                    volume_name: s(""),
                    volume_mode: s("Filesystem"),
                    ..Default::default()
                }),
                status: Some(core::PersistentVolumeClaimStatus {
                    phase: s("Pending"),
                    ..Default::default()
                }),
            }],
            service_name: s("db"),
            pod_management_policy: s("OrderedReady"),
            update_strategy: Some(apps::StatefulSetUpdateStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateStatefulSetStrategy {
                    partition: Some(0),
                    max_unavailable: None,
                }),
            }),
            revision_history_limit: Some(10),
            min_ready_seconds: Some(0),
            persistent_volume_claim_retention_policy: Some(
                apps::StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: s("Retain"),
                    when_scaled: s("Retain"),
                },
            ),
            ordinals: None,
        }),
        status: Some(apps::StatefulSetStatus {
            observed_generation: Some(1),
            replicas: Some(0),
            ready_replicas: Some(0),
            current_replicas: Some(0),
            updated_replicas: Some(0),
            current_revision: s("db-7b9c"),
            update_revision: s("db-7b9c"),
            collision_count: Some(0),
            conditions: vec![],
            available_replicas: Some(0),
        }),
    };
    assert_renders(
        &stored(&sts),
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta_json("db", "u-sts"),
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "db"}},
                "template": template_json("db", "Always"),
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {},
                        "volumeMode": "Filesystem"},
                    "status": {"phase": "Pending"}
                }],
                "serviceName": "db",
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "revisionHistoryLimit": 10,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain",
                    "whenScaled": "Retain"}
            },
            "status": {"observedGeneration": 1, "replicas": 0, "currentRevision": "db-7b9c",
                "updateRevision": "db-7b9c", "collisionCount": 0, "availableReplicas": 0}
        }),
    );
}

fn job_spec() -> batch::JobSpec {
    batch::JobSpec {
        parallelism: Some(1),
        completions: Some(1),
        backoff_limit: Some(6),
        selector: selector("pi"),
        manual_selector: None,
        template: template("pi", "Never"),
        completion_mode: s("NonIndexed"),
        suspend: Some(false),
        pod_replacement_policy: s("TerminatingOrFailed"),
        ..Default::default()
    }
}

fn job_spec_json() -> Value {
    json!({"parallelism": 1, "completions": 1, "backoffLimit": 6,
        "selector": {"matchLabels": {"app": "pi"}}, "template": template_json("pi", "Never"),
        "completionMode": "NonIndexed", "suspend": false,
        "podReplacementPolicy": "TerminatingOrFailed"})
}

#[test]
fn job() {
    let job = batch::Job {
        metadata: meta("pi", "default", "u-job"),
        spec: Some(job_spec()),
        status: Some(batch::JobStatus {
            conditions: vec![batch::JobCondition {
                r#type: s("Complete"),
                status: s("True"),
                last_probe_time: time(T0 + 9),
                last_transition_time: time(T0 + 9),
                reason: s("CompletionsReached"),
                message: s("Reached expected number of succeeded pods"),
            }],
            start_time: time(T0),
            completion_time: time(T0 + 9),
            active: Some(0),
            succeeded: Some(1),
            failed: Some(0),
            terminating: Some(0),
            completed_indexes: s(""),
            failed_indexes: None,
            uncounted_terminated_pods: Some(batch::UncountedTerminatedPods::default()),
            ready: Some(0),
        }),
    };
    assert_renders(
        &stored(&job),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta_json("pi", "u-job"),
            "spec": job_spec_json(),
            "status": {
                "conditions": [{"type": "Complete", "status": "True",
                    "lastProbeTime": "2026-01-01T00:00:09Z",
                    "lastTransitionTime": "2026-01-01T00:00:09Z",
                    "reason": "CompletionsReached",
                    "message": "Reached expected number of succeeded pods"}],
                "startTime": T0_JSON,
                "completionTime": "2026-01-01T00:00:09Z",
                "succeeded": 1,
                "terminating": 0,
                "uncountedTerminatedPods": {},
                "ready": 0
            }
        }),
    );
}

#[test]
fn cron_job() {
    let mut job_meta = meta("", "", "").unwrap();
    job_meta.namespace = s("");
    job_meta.uid = s("");
    job_meta.creation_timestamp = zero_time();
    let cj = batch::CronJob {
        metadata: meta("hello", "default", "u-cj"),
        spec: Some(batch::CronJobSpec {
            schedule: s("*/5 * * * *"),
            time_zone: None,
            starting_deadline_seconds: None,
            concurrency_policy: s("Allow"),
            suspend: Some(false),
            job_template: Some(batch::JobTemplateSpec {
                metadata: Some(job_meta),
                spec: Some(job_spec()),
            }),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(1),
        }),
        status: Some(batch::CronJobStatus {
            active: vec![],
            last_schedule_time: None,
            last_successful_time: None,
        }),
    };
    assert_renders(
        &stored(&cj),
        json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta_json("hello", "u-cj"),
            "spec": {
                "schedule": "*/5 * * * *",
                "concurrencyPolicy": "Allow",
                "suspend": false,
                "jobTemplate": {"metadata": {}, "spec": job_spec_json()},
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1
            },
            "status": {}
        }),
    );
}
