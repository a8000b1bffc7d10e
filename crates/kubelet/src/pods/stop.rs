//! Stopping a pod's containers when the pod is deleted, as upstream's kuberuntime does
//! (pkg/kubelet/kuberuntime/kuberuntime_container.go, `killContainer` and
//! `killContainersWithSyncResult`):
//!
//! - each container first runs its preStop hook (`exec` in the container through
//!   containerd, or `sleep`), bounded by the grace period; the time the hook took (whole
//!   seconds, as upstream's `executePreStopHook` returns it) is taken off the grace period;
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

use super::init::is_sidecar;
use super::observe::Observed;
use crate::cri::Runtime;
use crate::cri::container::TaskState;

/// Upstream `minimumGracePeriodInSeconds`.
pub const MIN_GRACE_SECS: i64 = 2;
const POLL: Duration = Duration::from_millis(50);

/// A preStop handler the kubelet can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    Exec(Vec<String>),
    Sleep(u64),
}

/// The container's preStop hook, if it has one we run (`exec` or `sleep`; an `httpGet` or
/// `tcpSocket` hook needs pod IPs, which this kubelet has not, and is skipped).
pub fn pre_stop(c: &Container) -> Option<Hook> {
    let h = c.lifecycle.as_ref()?.pre_stop.as_ref()?;
    if let Some(e) = &h.exec {
        return Some(Hook::Exec(e.command.clone().unwrap_or_default()));
    }
    if let Some(s) = &h.sleep {
        return Some(Hook::Sleep(u64::try_from(s.seconds).unwrap_or(0)));
    }
    tracing::warn!(
        "container {}: only exec and sleep preStop hooks are run",
        c.name
    );
    None
}

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

/// Runs the hook in the container, waiting at most `limit`. A hook that outlives it keeps
/// running until the container is killed, as upstream leaves it.
async fn run_hook(rt: &Runtime, t: &Target, hook: &Hook, limit: Duration) {
    match hook {
        Hook::Sleep(secs) => tokio::time::sleep(Duration::from_secs(*secs).min(limit)).await,
        Hook::Exec(args) => {
            let (rt, id, args) = (rt.clone(), t.id.clone(), args.clone());
            let run = tokio::spawn(async move { rt.exec(&id, &args).await });
            match tokio::time::timeout(limit, run).await {
                Ok(Ok(Ok(0))) => {}
                Ok(Ok(Ok(code))) => {
                    tracing::warn!("preStop hook of {} exited with {code}", t.name);
                }
                Ok(Ok(Err(e))) => tracing::warn!("preStop hook of {}: {e}", t.name),
                Ok(Err(e)) => tracing::warn!("preStop hook of {}: {e}", t.name),
                Err(_) => tracing::warn!(
                    "preStop hook of {} still runs after the grace period",
                    t.name
                ),
            }
        }
    }
}

/// Stops one container with `grace_secs` (upstream `killContainer`); returns once it has
/// exited.
pub async fn kill_container(
    rt: &Runtime,
    t: &Target,
    grace_secs: i64,
    rx: &watch::Receiver<Option<Pod>>,
) {
    let mut grace = grace_secs;
    if let Some(hook) = &t.hook
        && grace > 0
        && !vanished(rx)
    {
        let began = Instant::now();
        let limit = Duration::from_secs(u64::try_from(grace).unwrap_or(0));
        tokio::select! {
            _ = run_hook(rt, t, hook, limit) => {}
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

async fn wait_vanished(mut rx: watch::Receiver<Option<Pod>>) {
    loop {
        if rx.borrow_and_update().is_none() {
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
) {
    for group in groups {
        let spent = i64::try_from(began.elapsed().as_secs()).unwrap_or(i64::MAX);
        let left = grace_secs.saturating_sub(spent);
        futures::future::join_all(group.iter().map(|t| kill_container(rt, t, left, rx))).await;
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
