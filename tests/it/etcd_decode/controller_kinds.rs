//! The workload kinds that nest a pod template: ReplicaSets, Deployments, DaemonSets,
//! StatefulSets, Jobs and CronJobs.

use super::workload_kinds::{meta_json, s, selector, template, template_json};
use super::{T0, T0_JSON, assert_renders, meta, stored, time, zero_time};
use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

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
