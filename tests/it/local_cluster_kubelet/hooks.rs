//! Lifecycle hooks, the kubelet's events about them, and what an ended pod leaves on its
//! node, on real containerd through kubectl and `chaos reality`: a postStart hook runs
//! before the container is reported running (the app reads what the hook wrote); a
//! failing postStart hook kills the container, which restarts under its policy, with a
//! `FailedPostStartHook` event; a failing preStop hook, or one still running when the
//! grace period ends, gives `FailedPreStopHook`; a pod that completed under `Never` keeps
//! its containers (logs, status) but no running sandbox, task or shim. Shares the module's
//! cluster.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{CLUSTER, RUNS, chaos, get_json, kubectl, kubectl_ok, watch_pod};
use crate::support::testcluster::docker;
use crate::support::wait::eventually;

fn create(pod: &Value) {
    kubectl_ok(
        &["create", "--validate=false", "-f", "-"],
        Some(&pod.to_string()),
    );
}

fn sh(name: &str, script: &str) -> Value {
    json!({ "name": name, "image": RUNS, "imagePullPolicy": "Never", "command": ["sh", "-c", script] })
}

fn pod(name: &str, node: &str, policy: &str, grace: u32, containers: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default" },
        "spec": {
            "nodeName": node,
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": grace,
            "containers": containers,
        }
    })
}

fn delete_and_wait_gone(name: &str) {
    kubectl_ok(&["delete", "pod", name, "--wait=false"], None);
    eventually(&format!("pod {name} gone"), Duration::from_secs(40), || {
        (!kubectl(&["get", "pod", name], None).status.success()).then_some(())
    });
}

/// The events about pod `name` (every event, filtered here: no reliance on field selectors).
fn events_of(name: &str) -> Vec<Value> {
    let list = get_json(&["get", "events", "-n", "default"]);
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|e| {
                    e["involvedObject"]["name"] == name && e["involvedObject"]["kind"] == "Pod"
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// `kubectl get events` for the pod, with the columns kubectl prints for events (the test
/// cluster's API server prints only NAME and AGE for them): one `TYPE REASON OBJECT
/// MESSAGE` line each.
fn kubectl_events(name: &str) -> String {
    kubectl_ok(
        &[
            "get",
            "events",
            "-n",
            "default",
            "--field-selector",
            &format!("involvedObject.name={name}"),
            "-o",
            "custom-columns=TYPE:.type,REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message",
        ],
        None,
    )
}

fn event<'a>(events: &'a [Value], reason: &str, container: &str) -> Option<&'a Value> {
    let path = format!("spec.containers{{{container}}}");
    events
        .iter()
        .find(|e| e["reason"] == reason && e["involvedObject"]["fieldPath"] == path.as_str())
}

#[test]
fn a_post_start_hook_runs_before_the_container_counts_as_running() {
    super::kubeconfig();
    let name = "poststart-writes";
    let mut app = sh(
        "app",
        "until [ -f /dev/shm/hook ]; do sleep 0.1; done; cat /dev/shm/hook; exec sleep 3600",
    );
    app["lifecycle"] = json!({ "postStart": { "exec": { "command": ["sh", "-c",
        "sleep 3; echo written by postStart > /dev/shm/hook"] } } });
    let t0 = Instant::now();
    create(&pod(name, "kl-kubelets-worker", "Always", 2, json!([app])));
    // While the hook runs (3 s) the container is not reported running, nor the pod Ready.
    let running_at = eventually("app running", Duration::from_secs(30), || {
        let pod = get_json(&["get", "pod", name]);
        let state = &pod["status"]["containerStatuses"][0]["state"];
        if state["running"].is_object() {
            return Some((t0.elapsed(), pod));
        }
        assert_ne!(pod["status"]["phase"], "Running", "{pod}");
        None
    });
    let (took, pod) = running_at;
    assert!(
        took >= Duration::from_secs(3),
        "reported running {took:?} after the create, before the 3 s hook returned: {pod}"
    );
    assert_eq!(
        pod["status"]["containerStatuses"][0]["ready"], true,
        "{pod}"
    );
    assert_eq!(pod["status"]["containerStatuses"][0]["restartCount"], 0);
    let log = eventually("the app's log", Duration::from_secs(10), || {
        let out = kubectl(&["logs", name, "-c", "app"], None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (!text.is_empty()).then_some(text)
    });
    assert_eq!(log, "written by postStart\n");
    assert!(
        event(&events_of(name), "FailedPostStartHook", "app").is_none(),
        "a hook that succeeded is no failure"
    );
    delete_and_wait_gone(name);
}

#[test]
fn a_failing_post_start_hook_kills_the_container_which_restarts_with_an_event() {
    super::kubeconfig();
    let name = "poststart-fails";
    let mut app = sh(
        "main",
        "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.2; done",
    );
    app["lifecycle"] = json!({ "postStart": { "exec": { "command": ["sh", "-c", "exit 3"] } } });
    create(&pod(name, "kl-kubelets-worker2", "Always", 5, json!([app])));
    // Every status the kubelet posts, through a watch: the waiting reason after the first
    // failure lasts only until the restart.
    let (mut watcher, updates) = watch_pod(name);
    let mut hook_error: Option<Value> = None;
    let mut ever_running = false;
    let deadline = Instant::now() + Duration::from_secs(40);
    let pod = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (_, pod) = updates
            .recv_timeout(left)
            .expect("the container restarted after its hook failed");
        let s = &pod["status"]["containerStatuses"][0];
        ever_running |= s["state"]["running"].is_object();
        if s["state"]["waiting"]["reason"] == "PostStartHookError" {
            hook_error = Some(s.clone());
        }
        if hook_error.is_some() && s["restartCount"].as_u64() >= Some(1) {
            break pod;
        }
    };
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert!(
        !ever_running,
        "a container whose postStart hook failed was reported running"
    );
    let first = hook_error.expect("waiting PostStartHookError");
    // Killed by its stop signal (the app's trap exits 0); the hook's message in upstream's
    // words is the waiting message.
    assert_eq!(first["lastState"]["terminated"]["exitCode"], 0, "{first}");
    assert_eq!(first["ready"], false, "{first}");
    let message = first["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with(
            "Exec lifecycle hook ([sh -c exit 3]) for Container \"main\" in Pod \"poststart-fails_default("
        ) && message.contains("failed - error: command 'sh -c exit 3' exited with 3"),
        "{message}"
    );
    let s = &pod["status"]["containerStatuses"][0];
    assert!(s["lastState"]["terminated"].is_object(), "{pod}");
    let events = events_of(name);
    let failed = event(&events, "FailedPostStartHook", "main")
        .unwrap_or_else(|| panic!("no FailedPostStartHook event: {events:?}"));
    assert_eq!(failed["type"], "Warning");
    assert_eq!(failed["message"], "PostStartHook failed");
    assert_eq!(failed["source"]["component"], "kubelet");
    let killing = event(&events, "Killing", "main").expect("a Killing event");
    assert_eq!(killing["message"], "FailedPostStartHook");
    let out = kubectl_events(name);
    assert!(
        out.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.starts_with(&["Warning", "FailedPostStartHook", "poststart-fails"])
                && l.ends_with("PostStartHook failed")
        }),
        "kubectl get events:\n{out}"
    );
    delete_and_wait_gone(name);
}

#[test]
fn failing_and_overlong_pre_stop_hooks_are_failed_pre_stop_hook_events() {
    super::kubeconfig();
    let name = "prestop-fails";
    let mut fails = sh("fails", "exec sleep 3600");
    fails["lifecycle"] = json!({ "preStop": { "exec": { "command": ["sh", "-c", "exit 1"] } } });
    let mut slow = sh("slow", "exec sleep 3600");
    slow["lifecycle"] = json!({ "preStop": { "exec": { "command": ["sh", "-c", "sleep 60"] } } });
    let mut fine = sh("fine", "exec sleep 3600");
    fine["lifecycle"] = json!({ "preStop": { "exec": { "command": ["true"] } } });
    create(&pod(
        name,
        "kl-kubelets-worker",
        "Always",
        3,
        json!([fails, slow, fine]),
    ));
    eventually("all three running", Duration::from_secs(30), || {
        let pod = get_json(&["get", "pod", name]);
        let all = pod["status"]["containerStatuses"]
            .as_array()
            .map(|s| s.len() == 3 && s.iter().all(|c| c["state"]["running"].is_object()));
        (all == Some(true)).then_some(())
    });
    kubectl_ok(&["delete", "pod", name, "--wait=false"], None);
    // `fails` at once; `slow` once its exec is killed with the container after the 3 s.
    let events = eventually(
        "both FailedPreStopHook events",
        Duration::from_secs(30),
        || {
            let ev = events_of(name);
            (event(&ev, "FailedPreStopHook", "fails").is_some()
                && event(&ev, "FailedPreStopHook", "slow").is_some())
            .then_some(ev)
        },
    );
    for c in ["fails", "slow"] {
        let e = event(&events, "FailedPreStopHook", c).expect("event");
        assert_eq!(e["type"], "Warning", "{e}");
        assert_eq!(e["message"], "PreStopHook failed", "{e}");
    }
    assert!(
        event(&events, "FailedPreStopHook", "fine").is_none(),
        "a hook that exits 0 is no failure: {events:?}"
    );
    let out = kubectl_events(name);
    let lines = out
        .lines()
        .filter(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.starts_with(&["Warning", "FailedPreStopHook", "prestop-fails"])
        })
        .filter(|l| l.ends_with("PreStopHook failed"))
        .count();
    assert_eq!(lines, 2, "kubectl get events:\n{out}");
    eventually(&format!("pod {name} gone"), Duration::from_secs(40), || {
        (!kubectl(&["get", "pod", name], None).status.success()).then_some(())
    });
}

/// Processes of the node whose command line mentions `id` (a shim serving it has `-id ID`).
fn processes_naming(node: &str, id: &str) -> String {
    docker(&[
        "exec",
        node,
        "sh",
        "-c",
        &format!(
            "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <$f 2>/dev/null | grep -F -- '{id}' || true; done"
        ),
    ])
}

#[test]
fn a_completed_never_pod_keeps_its_containers_but_no_sandbox_runs() {
    super::kubeconfig();
    let name = "completes";
    let node = "kl-kubelets-worker2";
    create(&pod(
        name,
        node,
        "Never",
        2,
        json!([sh("main", "echo done; exit 0")]),
    ));
    let pod = eventually("Succeeded", Duration::from_secs(30), || {
        let pod = get_json(&["get", "pod", name]);
        (pod["status"]["phase"] == "Succeeded").then_some(pod)
    });
    let uid = pod["metadata"]["uid"].as_str().expect("uid").to_string();
    let crictl_pods = || -> Value {
        let out = docker(&[
            "exec",
            node,
            "crictl",
            "pods",
            "--label",
            &format!("io.kubernetes.pod.uid={uid}"),
            "-o",
            "json",
        ]);
        serde_json::from_str(&out).expect("crictl pods json")
    };
    let sandbox = eventually("the sandbox NotReady", Duration::from_secs(20), || {
        let pods = crictl_pods();
        let sb = pods["items"].as_array()?.first()?.clone();
        (sb["state"] == "SANDBOX_NOTREADY").then_some(sb)
    });
    let sandbox_id = sandbox["id"].as_str().expect("sandbox id").to_string();
    // No task of the pod is left in containerd, no shim serves its sandbox.
    let tasks = eventually("no task of the pod", Duration::from_secs(20), || {
        let tasks = docker(&["exec", node, "ctr", "-n", "k8s.io", "tasks", "ls"]);
        (!tasks.contains(&sandbox_id)).then_some(tasks)
    });
    let ps = docker(&[
        "exec",
        node,
        "crictl",
        "ps",
        "-a",
        "--pod",
        &sandbox_id,
        "-o",
        "json",
    ]);
    let ps: Value = serde_json::from_str(&ps).expect("crictl ps json");
    let containers = ps["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "the container is kept: {ps}");
    assert_eq!(containers[0]["state"], "CONTAINER_EXITED", "{ps}");
    let cid = containers[0]["id"].as_str().expect("id");
    assert!(
        !tasks.contains(cid),
        "the container's task is gone:\n{tasks}"
    );
    let shim = processes_naming(node, &sandbox_id);
    assert!(
        !shim.contains("containerd-shim"),
        "a shim still serves the sandbox: {shim}"
    );
    // chaos reality: the sandbox is there but not live, and nothing drifts.
    let out = chaos(&["reality", "--cluster", CLUSTER, "--output", "json"]);
    assert!(
        out.status.success(),
        "chaos reality: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: Value = serde_json::from_slice(&out.stdout).expect("json");
    let on_node = view["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["name"] == node))
        .expect("the node in chaos reality");
    let mine: Vec<&Value> = on_node["sandboxes"]
        .as_array()
        .map(|s| s.iter().filter(|s| s["uid"] == uid.as_str()).collect())
        .unwrap_or_default();
    assert!(
        mine.iter().all(|s| s["live"] == false),
        "a live sandbox of the completed pod: {mine:?}"
    );
    assert!(
        !on_node["shims"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["sandbox_id"] == sandbox_id.as_str())),
        "{on_node}"
    );
    let drift = view["drift"].as_array().expect("drift");
    assert!(
        !drift.iter().any(|d| d["name"] == name),
        "the completed pod drifts: {drift:?}"
    );
    // The API still tells the exit, and the log is still served.
    let pod = get_json(&["get", "pod", name]);
    assert_eq!(pod["status"]["phase"], "Succeeded", "{pod}");
    let term = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 0, "{pod}");
    assert_eq!(term["reason"], "Completed", "{pod}");
    assert_eq!(kubectl_ok(&["logs", name], None), "done\n");
    delete_and_wait_gone(name);
    // Deleting it removes the containers too.
    eventually("the sandbox removed", Duration::from_secs(20), || {
        crictl_pods()["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
            .then_some(())
    });
}

#[test]
fn a_never_pod_whose_app_completed_has_its_sidecar_stopped_and_its_sandbox_too() {
    super::kubeconfig();
    let name = "completes-with-sidecar";
    let node = "kl-kubelets-worker";
    let mut sidecar = sh(
        "side",
        "trap 'echo sidecar stopping; exit 0' TERM; while true; do sleep 0.2; done",
    );
    sidecar["restartPolicy"] = json!("Always");
    let mut spec = pod(
        name,
        node,
        "Never",
        5,
        json!([sh("app", "sleep 2; echo done")]),
    );
    spec["spec"]["initContainers"] = json!([sidecar]);
    create(&spec);
    let pod = eventually(
        "Succeeded with the sidecar stopped",
        Duration::from_secs(40),
        || {
            let pod = get_json(&["get", "pod", name]);
            let side = &pod["status"]["initContainerStatuses"][0]["state"]["terminated"];
            (pod["status"]["phase"] == "Succeeded" && side.is_object()).then_some(pod)
        },
    );
    let side = &pod["status"]["initContainerStatuses"][0];
    // Stopped by its stop signal, not restarted although its own policy is Always.
    assert_eq!(side["state"]["terminated"]["exitCode"], 0, "{pod}");
    assert_eq!(side["restartCount"], 0, "{pod}");
    let log = kubectl_ok(&["logs", name, "-c", "side"], None);
    assert!(log.contains("sidecar stopping"), "{log}");
    let uid = pod["metadata"]["uid"].as_str().expect("uid").to_string();
    eventually("no task of the pod left", Duration::from_secs(20), || {
        let out = docker(&[
            "exec",
            node,
            "crictl",
            "pods",
            "--label",
            &format!("io.kubernetes.pod.uid={uid}"),
            "-o",
            "json",
        ]);
        let pods: Value = serde_json::from_str(&out).expect("crictl pods json");
        let sb = pods["items"].as_array()?.first()?.clone();
        let id = sb["id"].as_str()?.to_string();
        let tasks = docker(&["exec", node, "ctr", "-n", "k8s.io", "tasks", "ls"]);
        (sb["state"] == "SANDBOX_NOTREADY"
            && !tasks.contains(&id)
            && !processes_naming(node, &id).contains("containerd-shim"))
        .then_some(())
    });
    delete_and_wait_gone(name);
}
