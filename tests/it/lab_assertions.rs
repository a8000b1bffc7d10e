//! The labs' strengthened assertions fail when the cluster behaves otherwise. Each test cuts
//! the named steps out of the real playbook in playbooks/ (as written, only the cluster name
//! `k8splayground` becomes the fake's `kind`), runs them on paused time against the in-memory
//! fake cluster in a state that contradicts the seed, and expects that step to fail; the same
//! steps against the seed's outcome pass. tests/it/local_labs.rs runs the whole playbooks on
//! the local cluster, where they pass.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kind_chaos::backends::fake::{Change, FakeCluster, Scheduled};
use kind_chaos::backends::{ContainerView, PodKey, PodView, Sandbox, Toleration};
use kind_chaos::engine::{self, PlaybookReport, RunOptions, RunStatus, StepStatus};
use kind_chaos::playbook::model::TaintEffect;
use support::{HEADER, Recorder, plan};
use tokio_util::sync::CancellationToken;

/// The step called `name` in the `steps:` list of playbooks/`playbook`.yaml, as its text: from
/// its `  - name: NAME` line to the next step (or comment before it) at the same indentation.
fn step(playbook: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("playbooks")
        .join(format!("{playbook}.yaml"));
    let text = std::fs::read_to_string(&path).expect("playbook");
    let steps = &text[text.find("\nsteps:\n").expect("a steps: list")..];
    let start = steps
        .find(&format!("\n  - name: {name}\n"))
        .unwrap_or_else(|| panic!("no step {name} in {}", path.display()))
        + 1;
    let rest = &steps[start..];
    let end = rest[1..]
        .find("\n  - ")
        .into_iter()
        .chain(rest[1..].find("\n  #"))
        .min()
        .map_or(rest.len(), |i| i + 2);
    rest[..end].replace("k8splayground", "kind")
}

/// Runs the named steps of a playbook, in order, against the fake.
async fn run_steps(fake: &FakeCluster, playbook: &str, names: &[&str]) -> PlaybookReport {
    let steps: String = names.iter().map(|n| step(playbook, n)).collect();
    let p = plan(&format!("{HEADER}steps:\n{steps}"));
    engine::run(
        &p,
        Arc::new(fake.clone()),
        &mut Recorder::default(),
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await
}

fn status_of(report: &PlaybookReport, name: &str) -> StepStatus {
    report
        .steps
        .iter()
        .find(|s| s.label() == name)
        .unwrap_or_else(|| panic!("no step {name}: {report:#?}"))
        .status
}

/// The run failed at that step, on its assertion (not on an error).
fn assert_failed(report: &PlaybookReport, name: &str) {
    assert_eq!(status_of(report, name), StepStatus::Failed, "{report:#?}");
    assert_eq!(report.status, RunStatus::Failed);
}

fn pod(namespace: &str, name: &str, node: &str, labels: &[(&str, &str)]) -> PodView {
    PodView {
        key: key(namespace, name),
        uid: format!("uid-{name}"),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        node: Some(node.into()),
        ip: None,
        phase: "Running".into(),
        ready: true,
        deletion_timestamp: None,
        finalizers: Vec::new(),
        containers: vec![ContainerView {
            name: "c".into(),
            restarts: 0,
            state: "running".into(),
            last_exit_code: None,
            last_reason: None,
            id: None,
        }],
        init_containers: Vec::new(),
        tolerations: Vec::new(),
    }
}

fn key(namespace: &str, name: &str) -> PodKey {
    PodKey {
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn sandbox(namespace: &str, name: &str) -> Sandbox {
    Sandbox {
        id: format!("sandbox-{name}"),
        pod: key(namespace, name),
        uid: format!("uid-{name}"),
        live: true,
        containers: vec!["c".into()],
    }
}

const DEPLOYMENT: (&str, &str) = ("app.kubernetes.io/name", "deployment");

#[tokio::test(start_paused = true)]
async fn kubelet_failure_fails_when_the_pod_is_evicted_before_its_300_s_toleration() {
    // A pod without the default 300 s toleration is evicted as soon as the node is tainted:
    // its wait ends at once, and the timing assertion sees it.
    let fake = FakeCluster::kind_like("kind");
    let mut evicted = pod("default", "deployment-1", "kind-worker", &[DEPLOYMENT]);
    evicted.deletion_timestamp = Some("2026-01-01T00:00:00Z".into());
    fake.state().pods.push(evicted);
    let steps = ["tolerations-expire", "evicted-after-the-toleration"];
    let report = run_steps(&fake, "kubelet-failure", &steps).await;
    assert_eq!(status_of(&report, "tolerations-expire"), StepStatus::Passed);
    assert_failed(&report, "evicted-after-the-toleration");
}

#[tokio::test(start_paused = true)]
async fn shell_form_fails_when_the_probe_got_sigterm() {
    // Exec form: the probe is PID 1, gets the SIGTERM and says so.
    let fake = FakeCluster::kind_like("kind");
    fake.state().logs.insert(
        "default/shell-args".into(),
        "PID 1\nImmediate exit\nReceived 15\n".into(),
    );
    let report = run_steps(&fake, "shell-form", &["no-sigterm-reached-the-probe"]).await;
    assert_failed(&report, "no-sigterm-reached-the-probe");

    // Shell form: dash is PID 1 and keeps the signal; the probe's log has no such line.
    let fake = FakeCluster::kind_like("kind");
    fake.state().logs.insert(
        "default/shell-args".into(),
        "PID 7\nImmediate exit\n".into(),
    );
    let report = run_steps(&fake, "shell-form", &["no-sigterm-reached-the-probe"]).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
}

#[tokio::test(start_paused = true)]
async fn etcd_delete_pods_fails_when_the_old_sandbox_stays_on_the_node() {
    // The replacement runs, but the deleted pod's sandbox is still live on the node: a ghost,
    // and more shims than before.
    let fake = FakeCluster::kind_like("kind");
    {
        let mut s = fake.state();
        s.pods.push(pod(
            "default",
            "deployment-new",
            "kind-worker",
            &[DEPLOYMENT],
        ));
        let node = s.nodes.get_mut("kind-worker").expect("worker");
        node.sandboxes = vec![
            sandbox("default", "deployment-old"),
            sandbox("default", "deployment-new"),
        ];
    }
    let report = run_steps(&fake, "etcd-delete-pods", &["old-sandbox-gone"]).await;
    assert_failed(&report, "old-sandbox-gone");

    fake.state()
        .nodes
        .get_mut("kind-worker")
        .expect("worker")
        .sandboxes
        .remove(0);
    let report = run_steps(&fake, "etcd-delete-pods", &["old-sandbox-gone"]).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
}

#[tokio::test(start_paused = true)]
async fn delete_pod_while_kubelet_down_fails_when_the_deletion_completes_without_the_kubelet() {
    // Were the grace period enforced by the API, the pod would be gone after 30 s.
    let fake = FakeCluster::kind_like("kind");
    let report = run_steps(
        &fake,
        "delete-pod-while-kubelet-down",
        &["deletion-not-completed"],
    )
    .await;
    assert_failed(&report, "deletion-not-completed");

    // Or still in the API but its container reported stopped (phase Failed).
    let mut stopped = pod("default", "kubelet-down", "kind-worker", &[]);
    stopped.deletion_timestamp = Some("2026-01-01T00:00:00Z".into());
    stopped.phase = "Failed".into();
    fake.state().pods.push(stopped);
    let report = run_steps(
        &fake,
        "delete-pod-while-kubelet-down",
        &["deletion-not-completed"],
    )
    .await;
    assert_failed(&report, "deletion-not-completed");

    fake.state().pods[0].phase = "Running".into();
    let report = run_steps(
        &fake,
        "delete-pod-while-kubelet-down",
        &["deletion-not-completed"],
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
}

/// The tolerations DefaultTolerationSeconds admission adds, for `seconds`.
fn default_tolerations(seconds: i64) -> Vec<Toleration> {
    [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    .into_iter()
    .map(|key| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        value: None,
        effect: Some(TaintEffect::NoExecute),
        seconds: Some(seconds),
    })
    .collect()
}

#[tokio::test(start_paused = true)]
async fn kubelet_failure_fails_when_the_pod_lacks_the_300_s_tolerations() {
    let step = ["pod-tolerates-the-node-taints-for-300s"];
    // A pod whose spec set its own 30 s (admission then adds nothing), and one with none at
    // all (created where no admission ran): neither is the seed's pod.
    for tolerations in [default_tolerations(30), Vec::new()] {
        let fake = FakeCluster::kind_like("kind");
        let mut p = pod("default", "deployment-1", "kind-worker", &[DEPLOYMENT]);
        p.tolerations = tolerations;
        fake.state().pods.push(p);
        let report = run_steps(&fake, "kubelet-failure", &step).await;
        assert_failed(&report, step[0]);
    }
    let fake = FakeCluster::kind_like("kind");
    let mut p = pod("default", "deployment-1", "kind-worker", &[DEPLOYMENT]);
    p.tolerations = default_tolerations(300);
    fake.state().pods.push(p);
    let report = run_steps(&fake, "kubelet-failure", &step).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
}

/// The Deployment's pod, running on kind-worker with its sandbox there.
fn deployment_pod(fake: &FakeCluster) {
    let mut s = fake.state();
    s.pods.push(pod(
        "default",
        "deployment-old",
        "kind-worker",
        &[DEPLOYMENT],
    ));
    s.nodes
        .get_mut("kind-worker")
        .expect("worker")
        .sandboxes
        .push(sandbox("default", "deployment-old"));
}

/// From the second observation on (the first is the step that notes what was there), the
/// fake shows `change`.
fn after_the_first_look(fake: &FakeCluster, change: Change) {
    fake.state()
        .knobs
        .schedule
        .push(Scheduled { after: 2, change });
}

fn replaced(name: &str, uid: &str) -> Change {
    Change::PodReplaced {
        pod: key("default", "deployment-old"),
        name: name.into(),
        uid: uid.into(),
    }
}

#[tokio::test(start_paused = true)]
async fn etcd_delete_pods_fails_when_the_pod_comes_back_under_its_name() {
    let steps = ["pod-before", "deployment-replaces-the-pod"];
    // The same pod (nothing replaced it), and one recreated under the old name (a new UID):
    // neither is the seed's new pod.
    for change in [None, Some(replaced("deployment-old", "uid-new"))] {
        let fake = FakeCluster::kind_like("kind");
        deployment_pod(&fake);
        if let Some(c) = change {
            after_the_first_look(&fake, c);
        }
        let report = run_steps(&fake, "etcd-delete-pods", &steps).await;
        assert_eq!(status_of(&report, "pod-before"), StepStatus::Passed);
        assert_failed(&report, "deployment-replaces-the-pod");
    }
    let fake = FakeCluster::kind_like("kind");
    deployment_pod(&fake);
    after_the_first_look(&fake, replaced("deployment-new", "uid-new"));
    let report = run_steps(&fake, "etcd-delete-pods", &steps).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
}

#[tokio::test(start_paused = true)]
async fn etcd_delete_pods_fails_when_the_shims_on_the_worker_change() {
    let steps = ["shims-before", "same-number-of-shims"];
    // The replacement went elsewhere: the old sandbox left the worker and nothing took its
    // place, one shim fewer.
    let fake = FakeCluster::kind_like("kind");
    deployment_pod(&fake);
    after_the_first_look(
        &fake,
        Change::SandboxGone {
            node: "kind-worker".into(),
            pod: key("default", "deployment-old"),
        },
    );
    let report = run_steps(&fake, "etcd-delete-pods", &steps).await;
    assert_eq!(status_of(&report, "shims-before"), StepStatus::Passed);
    assert_failed(&report, "same-number-of-shims");

    // The seed: one sandbox for the other, as many shims as before.
    let fake = FakeCluster::kind_like("kind");
    deployment_pod(&fake);
    after_the_first_look(&fake, replaced("deployment-new", "uid-new"));
    let report = run_steps(&fake, "etcd-delete-pods", &steps).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
}

/// Runs one step of a playbook against a fake whose pod `pod` logged `log`.
async fn with_log(playbook: &str, pod: &str, log: &str, step: &str) -> PlaybookReport {
    let fake = FakeCluster::kind_like("kind");
    fake.state()
        .logs
        .insert(format!("default/{pod}"), log.into());
    run_steps(&fake, playbook, &[step]).await
}

#[tokio::test(start_paused = true)]
async fn who_is_pid_1_is_a_whole_line_not_a_prefix() {
    // Exec form: the probe is PID 1. `PID 12` is another process, not the probe as PID 1.
    let step = "probe-is-pid-1";
    let report = with_log("pod-termination", "default", "SIGTERM\nPID 12\n", step).await;
    assert_failed(&report, step);
    let report = with_log("pod-termination", "default", "SIGTERM\nPID 1\n", step).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");

    // Shell form and not-pid-1: the probe is the shell's child. A `PID 1` line means it is
    // PID 1 after all (as under busybox's ash, which execs the command); `PID 12` does not.
    for (playbook, pod, step) in [
        ("shell-form", "shell-args", "probe-is-not-pid-1"),
        ("not-pid-1", "not-pid-1", "the-app-is-not-pid-1"),
    ] {
        let report = with_log(playbook, pod, "Immediate exit\nPID 1\n", step).await;
        assert_failed(&report, step);
        let report = with_log(playbook, pod, "Immediate exit\nPID 12\n", step).await;
        assert_eq!(report.status, RunStatus::Passed, "{playbook}: {report:#?}");
    }
}

#[tokio::test(start_paused = true)]
async fn dangling_resources_fails_when_the_api_accepts_an_edit_without_the_namespace() {
    let step = ["pod-cannot-be-edited"];
    let fake = FakeCluster::kind_like("kind");
    fake.state().objects.insert(
        "Pod dangling-resources/dangling-resources".into(),
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": "dangling-resources", "name": "dangling-resources"}}),
    );
    // The seed's case: the namespace is gone, the edit refused (404).
    let report = run_steps(&fake, "dangling-resources", &step).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    // An API that took writes into a namespace that does not exist (or a namespace that was
    // never gone) accepts the edit.
    fake.state()
        .namespaces
        .push(kind_chaos::backends::NamespaceView {
            name: "dangling-resources".into(),
            phase: "Active".into(),
            finalizers: Vec::new(),
        });
    let report = run_steps(&fake, "dangling-resources", &step).await;
    assert_failed(&report, step[0]);
    // And with the pod itself gone, "cannot be edited" is no finding.
    let fake = FakeCluster::kind_like("kind");
    let report = run_steps(&fake, "dangling-resources", &step).await;
    assert_failed(&report, step[0]);
}

/// The Job lab's pod as the seed says it ends: Succeeded, the main container and the
/// native sidecar both terminated with exit 0.
fn job_pod(sidecar_running: bool, phase: &str) -> PodView {
    let mut p = pod(
        "default",
        "job-sidecar-abcde",
        "kind-worker",
        &[("batch.kubernetes.io/job-name", "job-sidecar")],
    );
    p.phase = phase.into();
    p.ready = false;
    let exited = |name: &str| ContainerView {
        name: name.into(),
        restarts: 0,
        state: "terminated".into(),
        last_exit_code: Some(0),
        last_reason: Some("Completed".into()),
        id: None,
    };
    p.containers = vec![exited("myjob")];
    p.init_containers = vec![if sidecar_running {
        ContainerView {
            name: "logshipper".into(),
            state: "running".into(),
            ..Default::default()
        }
    } else {
        exited("logshipper")
    }];
    p
}

#[tokio::test(start_paused = true)]
async fn job_sidecar_fails_when_the_sidecar_keeps_running_or_the_pod_does_not_succeed() {
    let steps = [
        "pod-succeeded",
        "main-container-exited-0",
        "sidecar-stopped",
    ];
    let fake = FakeCluster::kind_like("kind");
    fake.state().pods.push(job_pod(false, "Succeeded"));
    let report = run_steps(&fake, "job-sidecar", &steps).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    // A kubelet that left the sidecar running after the main container ended.
    let fake = FakeCluster::kind_like("kind");
    fake.state().pods.push(job_pod(true, "Succeeded"));
    let report = run_steps(&fake, "job-sidecar", &steps).await;
    assert_failed(&report, "sidecar-stopped");
    // A pod the sidecar kept Running (a sidecar counted as a regular container).
    let fake = FakeCluster::kind_like("kind");
    fake.state().pods.push(job_pod(true, "Running"));
    let report = run_steps(&fake, "job-sidecar", &steps).await;
    assert_failed(&report, "pod-succeeded");
}
