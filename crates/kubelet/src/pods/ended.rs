//! A pod that has ended (phase Succeeded or Failed: its containers exited and its
//! restartPolicy starts none of them again) gives its node back, as upstream's pod worker
//! does once the pod is terminal (pkg/kubelet/pod_workers.go, then pkg/kubelet/kubelet.go
//! `SyncTerminatingPod` -> kuberuntime_manager.go `killPodWithSyncResult`, and
//! `SyncTerminatedPod`): whatever still runs (native sidecars) is stopped with the pod's
//! grace period, then the sandbox is stopped (containerd's StopPodSandbox SIGKILLs the
//! pause process). The containers are kept, for their logs and statuses, until the pod is
//! deleted; their tasks are deleted, as containerd's CRI deletes a container's task when it
//! exits (keeping the exit in the container's labels here), so the pod's shim exits and
//! nothing of the pod runs on the node: `crictl pods` lists its sandbox NotReady, and
//! `chaos reality` shows no live sandbox for it.

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::watch;
use tokio::time::Instant;

use super::events::Recorder;
use super::observe::Observed;
use super::stop;
use crate::cri::container::TaskState;
use crate::cri::{CriError, Runtime};

/// Whether a pod in `phase` has ended.
pub fn is_terminal(phase: &str) -> bool {
    phase == "Succeeded" || phase == "Failed"
}

/// Whether something of the ended pod is still to be stopped or released: a running
/// container or sandbox, or a task not yet deleted.
pub fn needs_release(seen: &Observed) -> bool {
    seen.tasks > 0
}

/// Stops what still runs of the ended pod, then its sandbox, and deletes every task of it
/// (keeping the containers). Idempotent: a kubelet restarted half way finishes the job.
pub async fn release(
    rt: &Runtime,
    pod: &Pod,
    seen: &Observed,
    grace_secs: i64,
    rx: &watch::Receiver<Option<Pod>>,
    rec: &Recorder,
) -> Result<(), CriError> {
    let groups = stop::order(pod, seen);
    if !groups.is_empty() {
        stop::stop_all(rt, &groups, grace_secs, Instant::now(), rx, rec).await;
    }
    for s in &seen.sandboxes {
        if matches!(s.state, TaskState::Running { .. } | TaskState::Created) {
            rt.kill(&s.id, 9, true).await?;
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), rt.wait(&s.id)).await;
        }
    }
    let ids = seen.all_ids();
    for id in &ids {
        if !rt.release_task(id).await? {
            tracing::warn!("{id} of an ended pod still runs; its task is kept");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_succeeded_and_failed_have_ended() {
        assert!(is_terminal("Succeeded"));
        assert!(is_terminal("Failed"));
        assert!(!is_terminal("Running"));
        assert!(!is_terminal("Pending"));
        assert!(!is_terminal(""));
        let mut seen = Observed::default();
        assert!(!needs_release(&seen));
        seen.tasks = 1;
        assert!(needs_release(&seen));
    }
}
