//! What the node faults and their undos do to a node, through Docker: the kubelet (inside the
//! node), the node container itself (pause, stop, kill), and a pod's container process (inside
//! the node).
//!
//! The undos (kubelet start, unpause, start) are idempotent: the engine may run one twice (a
//! retry, `chaos recover` after a crash), so undoing what is already undone succeeds. They
//! check what they claim (`verify`): "start" leaves the container running with its PID 1 not
//! stopped (it sends `SIGCONT` to a PID 1 a stop signal froze), "unpause" leaves it running.

use std::time::Duration;

use bollard::query_parameters::{
    KillContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};

use super::{DockerNodes, scripts};
use crate::backends::{BackendError, ContainerAction, KubeletAction, PodSignal};

/// How long `kubelet start` waits for the restart loop to bring the kubelet back.
pub const KUBELET_START_TIMEOUT: Duration = Duration::from_secs(15);

impl DockerNodes {
    pub(crate) async fn kubelet(
        &self,
        node: &str,
        action: KubeletAction,
    ) -> Result<(), BackendError> {
        match action {
            KubeletAction::Stop => {
                self.exec_script_ok(node, "stopping the kubelet", &scripts::kubelet_stop(), &[])
                    .await?;
            }
            KubeletAction::Start => {
                let tenths = KUBELET_START_TIMEOUT.as_millis() / 100;
                self.exec_script_ok(
                    node,
                    "starting the kubelet",
                    &scripts::kubelet_start(),
                    &[tenths.to_string()],
                )
                .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn container(
        &self,
        node: &str,
        action: ContainerAction,
    ) -> Result<(), BackendError> {
        let state = self.state(node).await?;
        let docker = self.docker();
        let refuse = |what: &str| {
            Err(BackendError::failed(format!(
                "cannot {what} node `{node}`: it is {state}"
            )))
        };
        match action {
            ContainerAction::Pause => {
                if state != "running" {
                    return refuse("pause");
                }
                docker
                    .pause_container(node)
                    .await
                    .map_err(|e| self.on_node(node, "pausing", e))
            }
            ContainerAction::Unpause => {
                // Already unpaused: nothing to do, but the result is checked either way.
                if state == "paused" {
                    docker
                        .unpause_container(node)
                        .await
                        .map_err(|e| self.on_node(node, "unpausing", e))?;
                }
                self.verify_running(node, false).await
            }
            ContainerAction::Stop { timeout_secs } => {
                if state != "running" {
                    return refuse("stop");
                }
                let mut opts = StopContainerOptionsBuilder::new();
                if let Some(t) = timeout_secs {
                    opts = opts.t(i32::try_from(t).unwrap_or(i32::MAX));
                }
                docker
                    .stop_container(node, Some(opts.build()))
                    .await
                    .map_err(|e| self.on_node(node, "stopping", e))
            }
            ContainerAction::Start => {
                match state.as_str() {
                    // Docker says running, yet a stop signal may have frozen PID 1.
                    "running" => {
                        self.resume_pid1(node).await?;
                    }
                    "paused" => docker
                        .unpause_container(node)
                        .await
                        .map_err(|e| self.on_node(node, "unpausing", e))?,
                    _ => docker
                        .start_container(node, None::<StartContainerOptions>)
                        .await
                        .map_err(|e| self.on_node(node, "starting", e))?,
                }
                self.verify_running(node, true).await
            }
            ContainerAction::Kill { signal } => {
                if state != "running" {
                    return refuse("kill");
                }
                let opts = KillContainerOptionsBuilder::new()
                    .signal(&signal.to_string())
                    .build();
                docker
                    .kill_container(node, Some(opts))
                    .await
                    .map_err(|e| self.on_node(node, &format!("sending signal {signal}"), e))
            }
        }
    }

    /// Sends `signal` to a pod's container process(es) inside `node`: pod -> sandbox (CRI
    /// labels) -> its running application containers (only `container` if given) -> their
    /// task PIDs -> `kill`. A sandbox with no application container (the test cluster's
    /// pods) is itself the target.
    pub(crate) async fn kill_pod_container(
        &self,
        node: &str,
        kill: PodSignal<'_>,
    ) -> Result<(), BackendError> {
        let PodSignal {
            pod,
            container,
            signal,
        } = kill;
        let mut scan = self.scan(node).await?;
        if scan.tasks.is_empty() {
            // crictl may have answered while `ctr tasks ls` did not: ask once more.
            let out = self
                .exec(
                    node,
                    &[
                        "ctr".into(),
                        "-n".into(),
                        "k8s.io".into(),
                        "tasks".into(),
                        "ls".into(),
                    ],
                )
                .await?;
            scan.tasks = super::reality::parse_tasks(&out.stdout);
        }
        let reality = scan.reality(node);
        let sandbox = reality
            .sandboxes
            .iter()
            .find(|s| &s.pod == pod && s.live)
            .ok_or_else(|| {
                let pods: Vec<String> = reality
                    .sandboxes
                    .iter()
                    .filter(|s| s.live)
                    .map(|s| s.pod.to_string())
                    .collect();
                BackendError::not_found(format!(
                    "pod {pod} has no live sandbox on node `{node}`; live pods there: {}",
                    if pods.is_empty() {
                        "none".to_string()
                    } else {
                        pods.join(", ")
                    }
                ))
            })?;
        let in_sandbox: Vec<_> = scan
            .containers
            .iter()
            .filter(|c| c.sandbox_id == sandbox.id && c.running)
            .collect();
        let targets: Vec<&str> = match container {
            Some(name) => {
                let found: Vec<&str> = in_sandbox
                    .iter()
                    .filter(|c| c.name == name)
                    .map(|c| c.id.as_str())
                    .collect();
                if found.is_empty() {
                    let names: Vec<&str> = in_sandbox.iter().map(|c| c.name.as_str()).collect();
                    return Err(BackendError::not_found(format!(
                        "pod {pod} on node `{node}` has no running container `{name}`; running: {}",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    )));
                }
                found
            }
            None if in_sandbox.is_empty() => vec![sandbox.id.as_str()],
            None => in_sandbox.iter().map(|c| c.id.as_str()).collect(),
        };
        let pids: Vec<u32> = targets
            .iter()
            .filter_map(|id| scan.running_pid(id))
            .collect();
        if pids.is_empty() {
            return Err(BackendError::not_found(format!(
                "pod {pod} on node `{node}`: no running task for its container(s)"
            )));
        }
        let mut args = vec![signal.0.to_string()];
        args.extend(pids.iter().map(u32::to_string));
        self.exec_script_ok(
            node,
            &format!("kill -{signal} in pod {pod}"),
            scripts::KILL,
            &args,
        )
        .await?;
        Ok(())
    }
}
