//! Which init containers to start next, as upstream's kuberuntime decides it
//! (pkg/kubelet/kuberuntime/kuberuntime_container.go, `computeInitContainerActions`):
//! init containers run one at a time in spec order, each to completion (exit 0) before
//! the next starts; a failed one is started again under the pod's restartPolicy (never
//! under `Never`, which fails the pod); a native sidecar (an init container with
//! `restartPolicy: Always`, pkg/kubelet/types `IsRestartableInitContainer`) only has to be
//! running for the next one to start, and is restarted whenever it exits. App containers
//! start once every init container is done. Pure: the worker feeds it what containerd
//! holds and carries the plan out.

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::jiff::Timestamp;

use super::observe::Observed;
use super::status::{backoff_left, restarts};
use crate::cri::container::TaskState;

/// Whether an init container is a native sidecar (`restartPolicy: Always`).
pub fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// What to do with the init containers at one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitPlan {
    /// (index into `initContainers`, attempt) to start now.
    pub start: Vec<(usize, u32)>,
    /// Every regular init container succeeded and every sidecar runs (or has run): the
    /// app containers may start.
    pub done: bool,
    /// A regular init container failed under restartPolicy `Never`: the pod fails.
    pub failed: bool,
}

/// The plan for `inits` given what containerd holds, at `now`.
pub fn plan(inits: &[Container], policy: &str, seen: &Observed, now: Timestamp) -> InitPlan {
    let mut out = InitPlan::default();
    for (i, c) in inits.iter().enumerate() {
        let latest = seen.latest(&c.name);
        if is_sidecar(c) {
            match latest.map(|s| (s.attempt, &s.state)) {
                // Not started yet: start it; the next one waits until it runs.
                None => {
                    out.start.push((i, 0));
                    return out;
                }
                Some((_, TaskState::Running { .. })) => {}
                // A sidecar is restarted whenever it exits (its own policy is Always),
                // after the same back-off as any container; it has started before, so the
                // containers after it are not held back.
                Some((attempt, TaskState::Exited { at, .. })) => {
                    if backoff_left(attempt, *at, now).is_none() {
                        out.start.push((i, attempt + 1));
                    }
                }
                // Created but not running: wait for it.
                Some(_) => return out,
            }
            continue;
        }
        match latest.map(|s| (s.attempt, &s.state)) {
            None => {
                out.start.push((i, 0));
                return out;
            }
            Some((_, TaskState::Exited { code: 0, .. })) => continue,
            Some((attempt, TaskState::Exited { code, at })) => {
                if !restarts(policy, *code) {
                    out.failed = true;
                } else if backoff_left(attempt, *at, now).is_none() {
                    out.start.push((i, attempt + 1));
                }
                return out;
            }
            // Running (or created): the next one waits for it to complete.
            Some(_) => return out,
        }
    }
    out.done = true;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::observe::Seen;

    fn container(name: &str, sidecar: bool) -> Container {
        Container {
            name: name.into(),
            restart_policy: sidecar.then(|| "Always".to_string()),
            ..Container::default()
        }
    }

    fn seen(list: &[(&str, u32, TaskState)]) -> Observed {
        let mut o = Observed::default();
        for (name, attempt, state) in list {
            o.containers
                .entry(name.to_string())
                .or_default()
                .push(Seen {
                    id: format!("{name}-{attempt}"),
                    attempt: *attempt,
                    state: state.clone(),
                    created_at: None,
                    stop_signal: 15,
                    image_id: String::new(),
                });
        }
        o
    }

    fn now() -> Timestamp {
        "2026-01-01T00:01:00Z".parse().unwrap()
    }

    fn exited(code: u32, at: &str) -> TaskState {
        TaskState::Exited {
            code,
            at: Some(at.parse().unwrap()),
        }
    }

    const RUNNING: TaskState = TaskState::Running { pid: 9 };

    #[test]
    fn init_containers_run_one_at_a_time_in_order() {
        let inits = [container("a", false), container("b", false)];
        let p = |o: &Observed| plan(&inits, "Always", o, now());
        assert_eq!(p(&seen(&[])).start, [(0, 0)]);
        let first_running = p(&seen(&[("a", 0, RUNNING)]));
        assert!(first_running.start.is_empty() && !first_running.done);
        let first_done = seen(&[("a", 0, exited(0, "2026-01-01T00:00:00Z"))]);
        assert_eq!(p(&first_done).start, [(1, 0)]);
        let both = seen(&[
            ("a", 0, exited(0, "2026-01-01T00:00:00Z")),
            ("b", 0, exited(0, "2026-01-01T00:00:30Z")),
        ]);
        assert_eq!(
            p(&both),
            InitPlan {
                start: vec![],
                done: true,
                failed: false
            }
        );
    }

    #[test]
    fn a_failed_init_container_fails_the_pod_under_never_and_restarts_otherwise() {
        let inits = [container("a", false), container("b", false)];
        let failed = seen(&[("a", 0, exited(1, "2026-01-01T00:00:59Z"))]);
        let never = plan(&inits, "Never", &failed, now());
        assert!(never.failed && never.start.is_empty() && !never.done);
        // The first restart comes at once; the second after the 10 s back-off.
        assert_eq!(plan(&inits, "OnFailure", &failed, now()).start, [(0, 1)]);
        let again = seen(&[("a", 1, exited(1, "2026-01-01T00:00:55Z"))]);
        assert!(plan(&inits, "Always", &again, now()).start.is_empty());
        let later = seen(&[("a", 1, exited(1, "2026-01-01T00:00:45Z"))]);
        assert_eq!(plan(&inits, "Always", &later, now()).start, [(0, 2)]);
    }

    #[test]
    fn a_sidecar_only_has_to_run_and_is_restarted_when_it_exits() {
        let inits = [container("side", true), container("b", false)];
        assert_eq!(plan(&inits, "Never", &seen(&[]), now()).start, [(0, 0)]);
        let side_up = seen(&[("side", 0, RUNNING)]);
        assert_eq!(plan(&inits, "Never", &side_up, now()).start, [(1, 0)]);
        let all = seen(&[
            ("side", 0, RUNNING),
            ("b", 0, exited(0, "2026-01-01T00:00:10Z")),
        ]);
        assert!(plan(&inits, "Never", &all, now()).done);
        // Even under the pod's Never, a sidecar that exited is started again.
        let side_exited = seen(&[
            ("side", 0, exited(0, "2026-01-01T00:00:50Z")),
            ("b", 0, exited(0, "2026-01-01T00:00:10Z")),
        ]);
        let p = plan(&inits, "Never", &side_exited, now());
        assert_eq!(p.start, [(0, 1)]);
        assert!(p.done, "a restarting sidecar does not hold back the app");
    }
}
