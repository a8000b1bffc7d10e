//! Stopping a pod's containers when the pod is deleted, as upstream's kuberuntime does
//! (pkg/kubelet/kuberuntime/kuberuntime_container.go, `killContainer` and
//! `killContainersWithSyncResult`):
//!
//! - each container first runs its preStop hook (`exec` in the container through
//!   containerd, or `sleep`), bounded by the grace period; the time the hook took (whole
//!   seconds, as upstream's `executePreStopHook` returns it) is taken off the grace period;
//!   a hook that fails, also one ended by the kill after the grace period, is recorded as a
//!   `FailedPreStopHook` event;
//! - then the image's stop signal, and SIGKILL once the rest of the grace period is over,
//!   never less than 2 s after the signal (`minimumGracePeriodInSeconds`);
//! - app containers (and init containers still running) are stopped together first, then
//!   the native sidecars one by one in reverse order, with what is left of the pod's grace
//!   period (sidecars outlive the app they serve).
//!
//! A pod that vanishes from the API meanwhile is SIGKILLed at once.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use tokio::sync::watch;
use tokio::time::Instant;

use super::events::{FAILED_PRE_STOP_HOOK, Kind, Recorder};
use super::hooks::{self, Hook, pre_stop};
use super::init::is_sidecar;
use super::observe::Observed;
use crate::cri::Runtime;
use crate::cri::container::TaskState;

/// Upstream `minimumGracePeriodInSeconds`.
pub const MIN_GRACE_SECS: i64 = 2;
const POLL: Duration = Duration::from_millis(50);

/// One running container to stop.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub id: String,
    pub stop_signal: u32,
    pub hook: Option<Hook>,
}

/// The running containers of the pod in the order they are stopped: first every app
/// container and running regular init container (together), then each sidecar, the last
/// declared first.
pub fn order(pod: &Pod, seen: &Observed) -> Vec<Vec<Target>> {
    let spec = pod.spec.clone().unwrap_or_default();
    let inits = spec.init_containers.unwrap_or_default();
    let running = |c: &Container| -> Vec<Target> {
        seen.containers
            .get(&c.name)
            .into_iter()
            .flatten()
            .filter(|s| matches!(s.state, TaskState::Running { .. }))
            .map(|s| Target {
                name: c.name.clone(),
                id: s.id.clone(),
                stop_signal: s.stop_signal,
                hook: pre_stop(c),
            })
            .collect()
    };
    let mut first: Vec<Target> = spec.containers.iter().flat_map(running).collect();
    first.extend(inits.iter().filter(|c| !is_sidecar(c)).flat_map(running));
    let mut groups = vec![first];
    for c in inits.iter().rev().filter(|c| is_sidecar(c)) {
        groups.push(running(c));
    }
    groups.retain(|g| !g.is_empty());
    groups
}

fn vanished(rx: &watch::Receiver<Option<Pod>>) -> bool {
    rx.borrow().is_none()
}

async fn running(rt: &Runtime, id: &str) -> bool {
    matches!(
        rt.task_state(id).await,
        Ok(TaskState::Running { .. } | TaskState::Created)
    )
}

/// Runs the preStop hook in the container, waiting at most `limit`. As upstream's
/// `executePreStopHook` (pkg/kubelet/kuberuntime/kuberuntime_container.go), the hook runs
/// in a task of its own that outlives the wait: when it fails, even after the grace
/// period (the kill ends an exec still running), a Warning `FailedPreStopHook` event
/// "PreStopHook failed" is recorded (upstream leaves the handler's message out of the
/// event so that no secret leaks; it goes to the log).
async fn run_pre_stop(rt: &Runtime, t: &Target, hook: &Hook, limit: Duration, rec: &Recorder) {
    let (rt, id, hook, name, rec) = (
        rt.clone(),
        t.id.clone(),
        hook.clone(),
        t.name.clone(),
        rec.clone(),
    );
    let task = tokio::spawn(async move {
        if let Err(msg) = hooks::run(&rt, &id, &hook, &name, rec.pod()).await {
            tracing::warn!("preStop hook failed: {msg}");
            rec.container_event(
                &name,
                Kind::Warning,
                FAILED_PRE_STOP_HOOK,
                "PreStopHook failed",
            )
            .await;
        }
    });
    if tokio::time::timeout(limit, task).await.is_err() {
        tracing::info!(
            "preStop hook of {} not completed in the grace period",
            t.name
        );
    }
}

/// Stops one container with `grace_secs` (upstream `killContainer`); returns once it has
/// exited.
pub async fn kill_container(
    rt: &Runtime,
    t: &Target,
    grace_secs: i64,
    rx: &watch::Receiver<Option<Pod>>,
    rec: &Recorder,
) {
    let mut grace = grace_secs;
    if let Some(hook) = &t.hook
        && grace > 0
        && !vanished(rx)
    {
        let began = Instant::now();
        let limit = Duration::from_secs(u64::try_from(grace).unwrap_or(0));
        tokio::select! {
            _ = run_pre_stop(rt, t, hook, limit, rec) => {}
            _ = wait_vanished(rx.clone()) => {}
        }
        grace -= i64::try_from(began.elapsed().as_secs()).unwrap_or(i64::MAX);
    }
    let grace = grace.max(MIN_GRACE_SECS);
    if let Err(e) = rt.kill(&t.id, t.stop_signal, false).await {
        tracing::warn!("stop signal to {}: {e}", t.id);
    }
    let deadline = Instant::now() + Duration::from_secs(u64::try_from(grace).unwrap_or(0));
    let mut killed = false;
    while running(rt, &t.id).await {
        if !killed && (Instant::now() >= deadline || vanished(rx)) {
            if let Err(e) = rt.kill(&t.id, 9, true).await {
                tracing::warn!("SIGKILL to {}: {e}", t.id);
            }
            killed = true;
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn wait_vanished(rx: watch::Receiver<Option<Pod>>) {
    wait_for(rx, Option::is_none).await;
}

/// Resolves once the pod is being deleted or has vanished from the API (upstream's pod
/// worker cancels a sync in progress then).
pub async fn wait_stopping(rx: watch::Receiver<Option<Pod>>) {
    wait_for(rx, |p| {
        p.as_ref()
            .is_none_or(|p| p.metadata.deletion_timestamp.is_some())
    })
    .await;
}

async fn wait_for(mut rx: watch::Receiver<Option<Pod>>, done: impl Fn(&Option<Pod>) -> bool) {
    loop {
        if done(&rx.borrow_and_update()) {
            return;
        }
        if rx.changed().await.is_err() {
            // The manager is gone: nothing will say the pod vanished.
            std::future::pending::<()>().await;
        }
    }
}

/// Stops the groups of [`order`] one after the other within the pod's grace period,
/// which began at `began`.
pub async fn stop_all(
    rt: &Runtime,
    groups: &[Vec<Target>],
    grace_secs: i64,
    began: Instant,
    rx: &watch::Receiver<Option<Pod>>,
    rec: &Recorder,
) {
    for group in groups {
        let spent = i64::try_from(began.elapsed().as_secs()).unwrap_or(i64::MAX);
        let left = grace_secs.saturating_sub(spent);
        futures::future::join_all(group.iter().map(|t| kill_container(rt, t, left, rx, rec))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::observe::Seen;
    use serde_json::json;

    fn seen(names: &[&str]) -> Observed {
        let mut o = Observed::default();
        for n in names {
            o.containers.entry(n.to_string()).or_default().push(Seen {
                id: format!("id-{n}"),
                attempt: 0,
                state: TaskState::Running { pid: 1 },
                created_at: None,
                stop_signal: 15,
                image_id: String::new(),
            });
        }
        o
    }

    #[test]
    fn apps_stop_first_then_sidecars_in_reverse_order() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {
                "initContainers": [
                    {"name": "s1", "restartPolicy": "Always"},
                    {"name": "s2", "restartPolicy": "Always"},
                ],
                "containers": [
                    {"name": "app", "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "x"]}}}},
                    {"name": "other", "lifecycle": {"preStop": {"sleep": {"seconds": 3}}}},
                ],
            }
        }))
        .unwrap();
        let groups = order(&pod, &seen(&["s1", "s2", "app", "other"]));
        let names: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|t| t.name.as_str()).collect())
            .collect();
        assert_eq!(names, [vec!["app", "other"], vec!["s2"], vec!["s1"]]);
        assert_eq!(
            groups[0][0].hook,
            Some(Hook::Exec(vec!["sh".into(), "-c".into(), "x".into()]))
        );
        assert_eq!(groups[0][1].hook, Some(Hook::Sleep(3)));
        assert_eq!(groups[1][0].hook, None);
        // Containers that do not run are not stopped.
        let only_app = order(&pod, &seen(&["app"]));
        assert_eq!(only_app.len(), 1);
    }
}
