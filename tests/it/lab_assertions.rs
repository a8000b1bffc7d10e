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

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::backends::{ContainerView, PodKey, PodView, Sandbox};
use kind_chaos::engine::{self, PlaybookReport, RunOptions, RunStatus, StepStatus};
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
        }],
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
