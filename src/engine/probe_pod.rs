//! An `exec` probe in a pod: at each sample the pod is looked up through the API (its node
//! and its container's ID in `status.containerStatuses`), then the command runs in that
//! container from its node, `ctr -n k8s.io task exec` through the node exec the node probes
//! use. No streaming API is needed, so it works alike on kind and on the local cluster (both
//! run containerd with the CRI's namespace `k8s.io`). A pod that is gone, not running or has
//! no container ID yet is a failed sample saying so, not an error of the run.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::backends::{BackendError, ExecOutput, PodQuery, PodView};
use crate::playbook::model::{PodExec, PodLookup};

use super::backends::Backends;

/// containerd's namespace for the CRI's containers (kind's and the local cluster's).
const CRI_NAMESPACE: &str = "k8s.io";

/// Numbers the execs, so that two never share an exec ID in one container.
static NEXT_EXEC: AtomicU64 = AtomicU64::new(1);

/// The container a pod exec runs in, as found at one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InPod {
    pub node: String,
    /// containerd's container ID (without `containerd://`).
    pub container_id: String,
}

/// The pod and container `p` names among `pods` (those the query for `p` listed), or why
/// there is none now: the pod is missing or not Running, the container is missing, not
/// running or has no ID. A selector takes the first Running pod that is not being deleted,
/// by name.
pub(super) fn locate(p: &PodExec, pods: &[PodView]) -> Result<InPod, String> {
    let pod = match &p.pod {
        PodLookup::Name(name) => {
            let Some(pod) = pods
                .iter()
                .find(|v| &v.key.name == name && v.key.namespace == p.namespace)
            else {
                return Err(format!("pod {}/{name} not found", p.namespace));
            };
            if pod.phase != "Running" {
                return Err(format!("pod {} is {}", pod.key, pod.phase));
            }
            pod
        }
        PodLookup::Selector(sel) => {
            let mut running: Vec<&PodView> = pods
                .iter()
                .filter(|v| v.phase == "Running" && v.deletion_timestamp.is_none())
                .collect();
            running.sort_by(|a, b| a.key.name.cmp(&b.key.name));
            let Some(pod) = running.first().copied() else {
                return Err(format!(
                    "no Running pod matches `{sel}` in {} ({} matching)",
                    p.namespace,
                    pods.len()
                ));
            };
            pod
        }
    };
    let Some(node) = pod.node.clone() else {
        return Err(format!("pod {} has no node", pod.key));
    };
    let container = match &p.container {
        Some(c) => pod.containers.iter().find(|v| &v.name == c),
        None => pod.containers.first(),
    };
    let Some(container) = container else {
        return Err(match &p.container {
            Some(c) => format!("pod {} has no container `{c}`", pod.key),
            None => format!("pod {} has no containers", pod.key),
        });
    };
    let what = format!("container {} of pod {}", container.name, pod.key);
    if container.state != "running" {
        return Err(format!("{what} is {}", container.state));
    }
    let Some(id) = container.id.as_deref() else {
        return Err(format!("{what} has no container ID yet"));
    };
    let Some(id) = id.strip_prefix("containerd://").filter(|i| !i.is_empty()) else {
        return Err(format!("{what} is `{id}`, not a containerd container"));
    };
    Ok(InPod {
        node,
        container_id: id.to_string(),
    })
}

/// `ctr` running `command` in the container, with a fresh exec ID.
pub(super) fn ctr_argv(container_id: &str, exec_id: &str, command: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = ["ctr", "-n", CRI_NAMESPACE, "task", "exec", "--exec-id"]
        .into_iter()
        .map(String::from)
        .collect();
    argv.push(exec_id.to_string());
    argv.push(container_id.to_string());
    argv.extend(command.iter().cloned());
    argv
}

/// The exec ID of the next sample: unique in this process, and apart from other processes'
/// (a probe of another run in the same container).
fn next_exec_id() -> String {
    let n = NEXT_EXEC.fetch_add(1, Ordering::Relaxed);
    format!("chaos-probe-{}-{n}", std::process::id())
}

/// Finds the container `p` names now: `Ok(Err(reason))` when there is none to run in.
pub(super) async fn find(b: &Backends, p: &PodExec) -> Result<Result<InPod, String>, BackendError> {
    let query = match &p.pod {
        PodLookup::Name(n) => PodQuery {
            namespace: Some(p.namespace.clone()),
            name: Some(n.clone()),
            ..Default::default()
        },
        PodLookup::Selector(s) => PodQuery {
            namespace: Some(p.namespace.clone()),
            selector: Some(s.clone()),
            ..Default::default()
        },
    };
    let pods = b.kube().await?.pods(&query).await?;
    Ok(locate(p, &pods))
}

/// Runs `command` in the container found, from its node.
pub(super) async fn exec(
    b: &Backends,
    at: &InPod,
    command: &[String],
) -> Result<ExecOutput, BackendError> {
    let argv = ctr_argv(&at.container_id, &next_exec_id(), command);
    b.nodes().await?.exec(&at.node, &argv).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::{ContainerView, PodKey};

    fn pod(name: &str, phase: &str, containers: &[(&str, &str, Option<&str>)]) -> PodView {
        PodView {
            key: PodKey {
                namespace: "default".into(),
                name: name.into(),
            },
            node: Some("kind-worker".into()),
            phase: phase.into(),
            containers: containers
                .iter()
                .map(|(n, state, id)| ContainerView {
                    name: (*n).into(),
                    state: (*state).into(),
                    id: id.map(String::from),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn target(pod: PodLookup, container: Option<&str>) -> PodExec {
        PodExec {
            namespace: "default".into(),
            pod,
            container: container.map(String::from),
        }
    }

    #[test]
    fn a_named_pod_runs_in_its_first_container_unless_one_is_named() {
        let p = pod(
            "web",
            "Running",
            &[
                ("app", "running", Some("containerd://aaa")),
                ("side", "running", Some("containerd://bbb")),
            ],
        );
        let by_name = target(PodLookup::Name("web".into()), None);
        assert_eq!(
            locate(&by_name, std::slice::from_ref(&p)),
            Ok(InPod {
                node: "kind-worker".into(),
                container_id: "aaa".into()
            })
        );
        let side = target(PodLookup::Name("web".into()), Some("side"));
        assert_eq!(
            locate(&side, std::slice::from_ref(&p)).map(|i| i.container_id),
            Ok("bbb".into())
        );
        let none = target(PodLookup::Name("web".into()), Some("db"));
        assert_eq!(
            locate(&none, &[p]),
            Err("pod default/web has no container `db`".into())
        );
    }

    #[test]
    fn a_pod_that_cannot_run_the_command_says_why() {
        let t = target(PodLookup::Name("web".into()), None);
        assert_eq!(locate(&t, &[]), Err("pod default/web not found".into()));
        let pending = pod("web", "Pending", &[("app", "waiting", None)]);
        assert_eq!(
            locate(&t, &[pending]),
            Err("pod default/web is Pending".into())
        );
        let waiting = pod("web", "Running", &[("app", "waiting", None)]);
        assert_eq!(
            locate(&t, &[waiting]),
            Err("container app of pod default/web is waiting".into())
        );
        let no_id = pod("web", "Running", &[("app", "running", None)]);
        assert_eq!(
            locate(&t, &[no_id]),
            Err("container app of pod default/web has no container ID yet".into())
        );
        let docker = pod("web", "Running", &[("app", "running", Some("docker://x"))]);
        assert_eq!(
            locate(&t, &[docker]),
            Err(
                "container app of pod default/web is `docker://x`, not a containerd container"
                    .into()
            )
        );
    }

    #[test]
    fn a_selector_takes_the_first_running_pod_by_name() {
        let t = target(PodLookup::Selector("app=web".into()), None);
        let mut gone = pod(
            "web-a",
            "Running",
            &[("app", "running", Some("containerd://a"))],
        );
        gone.deletion_timestamp = Some("2026-01-01T00:00:00Z".into());
        let pods = [
            pod(
                "web-d",
                "Running",
                &[("app", "running", Some("containerd://d"))],
            ),
            pod("web-b", "Pending", &[("app", "waiting", None)]),
            gone,
            pod(
                "web-c",
                "Running",
                &[("app", "running", Some("containerd://c"))],
            ),
        ];
        assert_eq!(locate(&t, &pods).map(|i| i.container_id), Ok("c".into()));
        assert_eq!(
            locate(&t, &pods[1..2]),
            Err("no Running pod matches `app=web` in default (1 matching)".into())
        );
    }

    #[test]
    fn the_command_runs_through_ctr_in_the_cri_namespace() {
        let cmd = vec!["test".to_string(), "-e".into(), "/tmp/x".into()];
        assert_eq!(
            ctr_argv("abc", "chaos-probe-1", &cmd),
            [
                "ctr",
                "-n",
                "k8s.io",
                "task",
                "exec",
                "--exec-id",
                "chaos-probe-1",
                "abc",
                "test",
                "-e",
                "/tmp/x"
            ]
        );
        assert_ne!(next_exec_id(), next_exec_id());
    }
}
