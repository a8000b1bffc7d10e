//! The pod's phase and its Initialized condition, worked out from the container statuses
//! the kubelet is about to post, as upstream works them out from the same statuses:
//! `getPhase` (pkg/kubelet/kubelet_pods.go) and `GeneratePodInitializedCondition`
//! (pkg/kubelet/status/generate.go). Pure functions of the pod spec and the statuses.

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::Value;

use super::init::is_sidecar;

fn status_of<'a>(statuses: &'a [Value], name: &str) -> Option<&'a Value> {
    statuses.iter().find(|s| s["name"] == name)
}

fn has_last_termination(s: &Value) -> bool {
    s["lastState"]["terminated"].is_object()
}

/// Upstream `HasAnyRegularContainerStarted`: an app container runs or has run.
pub fn any_app_container_started(spec: &PodSpec, app: &[Value]) -> bool {
    spec.containers.iter().any(|c| {
        status_of(app, &c.name).is_some_and(|s| {
            s["state"]["running"].is_object()
                || s["state"]["terminated"].is_object()
                || has_last_termination(s)
        })
    })
}

/// Upstream `getPhase`. `terminal`: the pod is being stopped for good (deleted), so its
/// containers will not be started again whatever the restartPolicy.
pub fn phase(spec: &PodSpec, init: &[Value], app: &[Value], terminal: bool) -> &'static str {
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let (mut pending_sidecars, mut pending_inits, mut failed_init) = (0, 0, 0);
    for c in spec.init_containers.iter().flatten() {
        let Some(s) = status_of(init, &c.name) else {
            if is_sidecar(c) {
                pending_sidecars += 1;
            } else {
                pending_inits += 1;
            }
            continue;
        };
        let state = &s["state"];
        if is_sidecar(c) {
            let pending = if state["running"].is_object() {
                s["started"] != true
            } else if state["terminated"].is_object() {
                false
            } else {
                !has_last_termination(s)
            };
            pending_sidecars += usize::from(pending);
        } else if state["running"].is_object() {
            pending_inits += 1;
        } else if state["terminated"].is_object() {
            failed_init += usize::from(state["terminated"]["exitCode"] != 0);
        } else if has_last_termination(s) {
            failed_init += usize::from(s["lastState"]["terminated"]["exitCode"] != 0);
        } else {
            pending_inits += 1;
        }
    }
    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for c in &spec.containers {
        let Some(s) = status_of(app, &c.name) else {
            unknown += 1;
            continue;
        };
        let state = &s["state"];
        if state["running"].is_object() {
            running += 1;
        } else if state["terminated"].is_object() {
            stopped += 1;
            succeeded += usize::from(state["terminated"]["exitCode"] == 0);
        } else if state["waiting"].is_object() {
            if has_last_termination(s) {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }
    if failed_init > 0 && policy == "Never" {
        return "Failed";
    }
    if terminal && running == 0 {
        // Nothing will start again: the pod ends here.
        return if stopped > 0 && stopped == succeeded && waiting == 0 && unknown == 0 {
            "Succeeded"
        } else {
            "Failed"
        };
    }
    let initializing =
        pending_inits > 0 || (pending_sidecars > 0 && !any_app_container_started(spec, app));
    if initializing || (waiting > 0 && running == 0 && stopped == 0 && unknown == 0) {
        return "Pending";
    }
    if running > 0 && unknown == 0 {
        return "Running";
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if policy == "Always" {
            return "Running"; // all of them restarting
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if policy == "Never" {
            return "Failed";
        }
        return "Running"; // OnFailure: the failed ones restart
    }
    "Pending"
}

/// Upstream `GeneratePodInitializedCondition`: `None` when initialized, else the message
/// of the False condition (reason `ContainersNotInitialized`).
pub fn not_initialized(spec: &PodSpec, init: &[Value], app: &[Value]) -> Option<String> {
    let inits = spec.init_containers.as_deref().unwrap_or_default();
    if inits.is_empty() || any_app_container_started(spec, app) {
        return None;
    }
    let (mut unknown, mut incomplete) = (Vec::new(), Vec::new());
    for c in inits {
        let Some(s) = status_of(init, &c.name) else {
            unknown.push(c.name.as_str());
            continue;
        };
        let done = if is_sidecar(c) {
            s["started"] == true
        } else {
            s["state"]["terminated"]["exitCode"] == 0
        };
        if !done {
            incomplete.push(c.name.as_str());
        }
    }
    let mut parts = Vec::new();
    if !unknown.is_empty() {
        parts.push(format!(
            "containers with unknown status: [{}]",
            unknown.join(" ")
        ));
    }
    if !incomplete.is_empty() {
        parts.push(format!(
            "containers with incomplete status: [{}]",
            incomplete.join(" ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    fn st(name: &str, state: Value) -> Value {
        json!({"name": name, "state": state, "lastState": {}, "started": state["running"].is_object()})
    }

    fn running() -> Value {
        json!({"running": {}})
    }

    fn waiting(reason: &str) -> Value {
        json!({"waiting": {"reason": reason}})
    }

    fn done(code: i32) -> Value {
        json!({"terminated": {"exitCode": code}})
    }

    #[test]
    fn phases_follow_get_phase() {
        let one = spec(json!({"containers": [{"name": "a"}]}));
        let never = spec(json!({"restartPolicy": "Never", "containers": [{"name": "a"}]}));
        let on_failure = spec(json!({"restartPolicy": "OnFailure", "containers": [{"name": "a"}]}));
        let app = |s: Value| vec![st("a", s)];
        assert_eq!(
            phase(&one, &[], &app(waiting("ContainerCreating")), false),
            "Pending"
        );
        assert_eq!(phase(&one, &[], &app(running()), false), "Running");
        assert_eq!(phase(&never, &[], &app(done(0)), false), "Succeeded");
        assert_eq!(phase(&never, &[], &app(done(1)), false), "Failed");
        assert_eq!(phase(&on_failure, &[], &app(done(0)), false), "Succeeded");
        assert_eq!(phase(&on_failure, &[], &app(done(1)), false), "Running");
        assert_eq!(phase(&one, &[], &app(done(0)), false), "Running");
        assert_eq!(phase(&one, &[], &app(done(0)), true), "Succeeded");
        assert_eq!(phase(&one, &[], &app(done(137)), true), "Failed");
    }

    #[test]
    fn init_containers_keep_the_pod_pending_and_a_failed_one_fails_it_under_never() {
        let two = |policy: &str| {
            spec(
                json!({"restartPolicy": policy, "containers": [{"name": "app"}],
                "initContainers": [{"name": "i1"}, {"name": "i2"}]}),
            )
        };
        let app = vec![st("app", waiting("PodInitializing"))];
        let first_running = vec![st("i1", running()), st("i2", waiting("PodInitializing"))];
        assert_eq!(
            phase(&two("Always"), &first_running, &app, false),
            "Pending"
        );
        assert_eq!(
            not_initialized(&two("Always"), &first_running, &app).as_deref(),
            Some("containers with incomplete status: [i1 i2]")
        );
        let first_failed = vec![st("i1", done(1)), st("i2", waiting("PodInitializing"))];
        assert_eq!(phase(&two("Never"), &first_failed, &app, false), "Failed");
        assert_eq!(phase(&two("Always"), &first_failed, &app, false), "Pending");
        let both = vec![st("i1", done(0)), st("i2", done(0))];
        let app_running = vec![st("app", running())];
        assert_eq!(phase(&two("Always"), &both, &app_running, false), "Running");
        assert_eq!(not_initialized(&two("Always"), &both, &app_running), None);
        assert_eq!(not_initialized(&two("Always"), &both, &app), None);
    }

    #[test]
    fn a_running_sidecar_initializes_and_does_not_keep_a_job_like_pod_running() {
        let s = spec(
            json!({"restartPolicy": "Never", "containers": [{"name": "app"}],
            "initContainers": [{"name": "side", "restartPolicy": "Always"}]}),
        );
        let side = vec![st("side", running())];
        assert_eq!(
            not_initialized(&s, &side, &[st("app", waiting("PodInitializing"))]),
            None
        );
        assert_eq!(phase(&s, &side, &[st("app", running())], false), "Running");
        // The app completed: a sidecar does not keep a Never pod from succeeding.
        assert_eq!(phase(&s, &side, &[st("app", done(0))], false), "Succeeded");
        let not_yet = vec![st("side", waiting("PodInitializing"))];
        assert_eq!(
            phase(
                &s,
                &not_yet,
                &[st("app", waiting("PodInitializing"))],
                false
            ),
            "Pending"
        );
    }
}
