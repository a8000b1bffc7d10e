//! One task per pod, like upstream's pod workers (pkg/kubelet/pod_workers.go): it gets
//! the latest Pod from the manager (or `None` once the pod vanished from the API) and
//! drives containerd toward it: sandbox and containers started, exited containers
//! restarted per `restartPolicy`, status posted when it changes; once the pod has ended
//! its sandbox is stopped (`ended`); on a deletionTimestamp it stops the pod gracefully
//! and confirms the deletion; on vanishing it kills at once.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::events::{FAILED_POST_START_HOOK, KILLING, Kind, Recorder};
use super::hooks::{self, Hook};
use super::launch::{PodRef, start_container, start_sandbox};
use super::observe::{Observed, observe};
use super::status::{StatusInput, Waiting, backoff_left, pod_status, restarts};
use super::{ended, init, stop};
use crate::cri::container::TaskState;
use crate::cri::spec::signal_number;
use crate::cri::{CriError, Runtime};

/// How often a worker relists its pod's containers (upstream's PLEG relists every 1 s).
pub const RELIST: Duration = Duration::from_millis(250);

/// What every worker shares.
#[derive(Clone)]
pub struct Ctx {
    pub runtime: Runtime,
    pub client: kube::Client,
    pub pause_image: String,
    pub host_ip: Option<String>,
}

struct Worker {
    ctx: Ctx,
    uid: String,
    rx: watch::Receiver<Option<Pod>>,
    waiting: HashMap<String, Waiting>,
    last_status: Option<Value>,
}

/// Runs until the pod is gone (terminated and confirmed, or vanished).
pub async fn run(ctx: Ctx, uid: String, rx: watch::Receiver<Option<Pod>>) {
    let mut w = Worker {
        ctx,
        uid,
        rx,
        waiting: HashMap::new(),
        last_status: None,
    };
    loop {
        let pod = w.rx.borrow_and_update().clone();
        let Some(pod) = pod else {
            w.kill_now().await;
            return;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            w.terminate(&pod).await;
            return;
        }
        if let Err(e) = w.sync(&pod).await {
            tracing::warn!(
                "pod {}/{}: {e}",
                PodRef::of(&pod).namespace,
                PodRef::of(&pod).name
            );
        }
        tokio::select! {
            r = w.rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(RELIST) => {}
        }
    }
}

/// The pod's grace period in seconds: `deletionGracePeriodSeconds` once deleted, else the
/// spec's `terminationGracePeriodSeconds` (default 30).
// Upstream: kuberuntime_container.go, setTerminationGracePeriod.
fn grace_secs(pod: &Pod) -> i64 {
    pod.metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30)
        .max(0)
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

impl Worker {
    fn api(&self, pod: &Pod) -> Api<Pod> {
        Api::namespaced(self.ctx.client.clone(), &PodRef::of(pod).namespace)
    }

    async fn sync(&mut self, pod: &Pod) -> Result<(), CriError> {
        let rt = self.ctx.runtime.clone();
        let mut seen = observe(&rt, &uid(pod)).await?;
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if !ended::is_terminal(&phase) {
            self.start_missing(pod, &seen).await?;
            seen = observe(&rt, &uid(pod)).await?;
        } else if ended::needs_release(&seen) {
            let rec = self.recorder(pod);
            ended::release(&rt, pod, &seen, grace_secs(pod), &self.rx, &rec).await?;
            seen = observe(&rt, &uid(pod)).await?;
        }
        self.post(pod, &seen, false).await;
        Ok(())
    }

    fn recorder(&self, pod: &Pod) -> Recorder {
        Recorder::new(self.ctx.client.clone(), pod)
    }

    /// Starts the sandbox if none runs; then the init containers as [`init::plan`] says,
    /// and once they are done every app container that has not started or has exited and
    /// restarts under the policy once its back-off is over.
    async fn start_missing(&mut self, pod: &Pod, seen: &Observed) -> Result<(), CriError> {
        let rt = &self.ctx.runtime.clone();
        let (sandbox_id, sandbox_pid) = match seen.running_sandbox() {
            Some((s, pid)) => (s.id.clone(), pid),
            None => {
                // A dead sandbox takes its containers with it, as in the CRI.
                for id in seen.all_ids() {
                    rt.remove(&id).await?;
                }
                start_sandbox(rt, pod, &self.ctx.pause_image).await?;
                let fresh = observe(rt, &uid(pod)).await?;
                match fresh.running_sandbox() {
                    Some((s, pid)) => (s.id.clone(), pid),
                    None => return Ok(()),
                }
            }
        };
        let sandbox = (sandbox_id.as_str(), sandbox_pid);
        let spec = pod.spec.clone().unwrap_or_default();
        let policy = spec.restart_policy.as_deref().unwrap_or("Always");
        let inits = spec.init_containers.clone().unwrap_or_default();
        let plan = init::plan(&inits, policy, seen, Timestamp::now());
        for (i, attempt) in &plan.start {
            if let Some(c) = inits.get(*i) {
                self.start_one(pod, c, seen, sandbox, *attempt).await?;
            }
        }
        if plan.failed {
            // Upstream: a failed init container under Never fails the pod; what still
            // runs (its sidecars) is stopped.
            let groups = stop::order(pod, seen);
            if !groups.is_empty() {
                let rec = self.recorder(pod);
                stop::stop_all(rt, &groups, grace_secs(pod), Instant::now(), &self.rx, &rec).await;
            }
            return Ok(());
        }
        if !plan.done {
            return Ok(());
        }
        for c in &spec.containers {
            let attempt = match seen.latest(&c.name).map(|s| (s, &s.state)) {
                None => 0,
                Some((_, TaskState::Running { .. })) => continue,
                Some((s, TaskState::Exited { code, at })) if restarts(policy, *code) => {
                    if backoff_left(s.attempt, *at, Timestamp::now()).is_some() {
                        continue; // CrashLoopBackOff: reported by the status
                    }
                    s.attempt + 1
                }
                Some(_) => continue,
            };
            self.start_one(pod, c, seen, sandbox, attempt).await?;
        }
        Ok(())
    }

    /// Starts attempt `attempt` of container `c`, keeping only the newest dead attempt
    /// before it (for lastState, as the CRI's garbage collection does); a missing image or
    /// a creation that fails leaves the container waiting with the reason.
    async fn start_one(
        &mut self,
        pod: &Pod,
        c: &Container,
        seen: &Observed,
        sandbox: (&str, u32),
        attempt: u32,
    ) -> Result<(), CriError> {
        let rt = &self.ctx.runtime.clone();
        if attempt > 0 {
            for old in seen.containers.get(&c.name).into_iter().flatten().skip(1) {
                rt.remove(&old.id).await?;
            }
        }
        let image = match rt
            .image_config(c.image.as_deref().unwrap_or_default())
            .await
        {
            Ok(i) => i,
            Err(e) => {
                let never = c.image_pull_policy.as_deref() == Some("Never");
                let reason = if never {
                    "ErrImageNeverPull"
                } else {
                    "ErrImagePull"
                };
                self.waiting.insert(
                    c.name.clone(),
                    Waiting {
                        reason: reason.into(),
                        message: e.to_string(),
                    },
                );
                return Ok(());
            }
        };
        match start_container(rt, pod, c, &image, sandbox, attempt).await {
            Ok(id) => {
                if let Some(hook) = hooks::post_start(c) {
                    let stop_signal = signal_number(&image.stop_signal).unwrap_or(15);
                    if !self.post_start(pod, c, &id, &hook, stop_signal).await {
                        return Ok(());
                    }
                }
                self.waiting.remove(&c.name);
            }
            Err(e) => {
                self.waiting.insert(
                    c.name.clone(),
                    Waiting {
                        reason: "CreateContainerError".into(),
                        message: e.to_string(),
                    },
                );
            }
        }
        Ok(())
    }

    /// Runs the container's postStart hook right after its start, as upstream's
    /// `startContainer` does (pkg/kubelet/kuberuntime/kuberuntime_container.go, step 4):
    /// the worker waits for it, so the container is reported running only once it has
    /// returned. A failed hook records a Warning `FailedPostStartHook` event ("PostStartHook
    /// failed": upstream keeps the handler's message out of events), kills the container
    /// (`killContainer` with the message "FailedPostStartHook": a `Killing` event, its
    /// preStop hook, the pod's grace period), and leaves it waiting with reason
    /// `PostStartHookError` and the handler's message until it is started again under the
    /// restartPolicy. A pod deleted meanwhile stops waiting for the hook (upstream cancels
    /// the sync). Returns whether the hook succeeded.
    async fn post_start(
        &mut self,
        pod: &Pod,
        c: &Container,
        id: &str,
        hook: &Hook,
        stop_signal: u32,
    ) -> bool {
        let rt = self.ctx.runtime.clone();
        let p = PodRef::of(pod);
        let result = tokio::select! {
            r = hooks::run(&rt, id, hook, &c.name, &p) => r,
            _ = stop::wait_stopping(self.rx.clone()) => return false,
        };
        let Err(message) = result else {
            return true;
        };
        tracing::warn!("postStart hook failed: {message}");
        let rec = self.recorder(pod);
        let failed = "PostStartHook failed";
        rec.container_event(&c.name, Kind::Warning, FAILED_POST_START_HOOK, failed)
            .await;
        rec.container_event(&c.name, Kind::Normal, KILLING, FAILED_POST_START_HOOK)
            .await;
        let target = stop::Target {
            name: c.name.clone(),
            id: id.to_string(),
            stop_signal,
            hook: hooks::pre_stop(c),
        };
        stop::kill_container(&rt, &target, grace_secs(pod), &self.rx, &rec).await;
        self.waiting.insert(
            c.name.clone(),
            Waiting {
                reason: "PostStartHookError".into(),
                message,
            },
        );
        false
    }

    /// Posts the status if it differs from the last one posted.
    async fn post(&mut self, pod: &Pod, seen: &Observed, terminal: bool) {
        let previous = pod
            .status
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok());
        let status = pod_status(
            pod,
            &StatusInput {
                observed: seen,
                waiting: &self.waiting,
                terminal,
                host_ip: self.ctx.host_ip.clone(),
                previous: previous.as_ref(),
            },
        );
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        let patch = json!({ "status": status });
        let name = PodRef::of(pod).name;
        match self
            .api(pod)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => self.last_status = Some(status),
            Err(e) => tracing::warn!("posting the status of pod {name}: {e}"),
        }
    }

    /// Graceful stop (upstream: kuberuntime's killContainer for each container, in the
    /// order of [`stop::order`]): preStop hook, the image's stop signal, SIGKILL once the
    /// grace period (`deletionGracePeriodSeconds`) is over; the sandbox goes; the final
    /// status is written; the deletion is confirmed with grace 0 (the status manager's
    /// deletion of a terminal pod).
    async fn terminate(&mut self, pod: &Pod) {
        let rt = self.ctx.runtime.clone();
        let uid = uid(pod);
        let began = Instant::now();
        let grace = grace_secs(pod);
        let seen = match observe(&rt, &uid).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("terminating pod {}: {e}", PodRef::of(pod).name);
                Observed::default()
            }
        };
        let groups = stop::order(pod, &seen);
        let rec = self.recorder(pod);
        // Upstream: killContainer records "Stopping container NAME".
        for t in groups.iter().flatten() {
            let message = format!("Stopping container {}", t.name);
            rec.container_event(&t.name, Kind::Normal, KILLING, &message)
                .await;
        }
        stop::stop_all(&rt, &groups, grace, began, &self.rx, &rec).await;
        for s in &seen.sandboxes {
            let _ = rt.kill(&s.id, 9, true).await;
        }
        let final_seen = observe(&rt, &uid).await.unwrap_or_default();
        self.post(pod, &final_seen, true).await;
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let name = PodRef::of(pod).name;
        match self.api(pod).delete(&name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => tracing::warn!("confirming the deletion of pod {name}: {e}"),
        }
        self.remove_all(&final_seen).await;
    }

    /// The pod vanished from the API: everything is killed at once and removed.
    async fn kill_now(&mut self) {
        tracing::info!(
            "pod {} is gone from the API; killing its containers",
            self.uid
        );
        let seen = observe(&self.ctx.runtime, &self.uid)
            .await
            .unwrap_or_default();
        self.remove_all(&seen).await;
    }

    async fn remove_all(&self, seen: &Observed) {
        for id in seen.all_ids() {
            if let Err(e) = self.ctx.runtime.remove(&id).await {
                tracing::warn!("removing {id}: {e}");
            }
        }
    }
}
