//! The pod lifecycle rules of the stand-in kubelet on real containerd, seen through kubectl
//! the way a user sees them: init containers run one after the other before the app
//! (`Init:0/2`, `Init:1/2`, then `Running`), a failing init container under
//! `restartPolicy: Never` fails the pod, a preStop hook runs before the stop signal and its
//! time counts against the grace period, a native sidecar runs beside the app and is
//! stopped after it. Shares the module's cluster.

use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::{IGNORES_STOP, RUNS, get_json, kubectl, kubectl_ok};
use crate::support::testcluster::docker;
use crate::support::wait::eventually;

fn create(pod: &Value) {
    kubectl_ok(
        &["create", "--validate=false", "-f", "-"],
        Some(&pod.to_string()),
    );
}

/// READY and STATUS as `kubectl get pod NAME` prints them (the server's Table).
fn ready_status(name: &str) -> (String, String) {
    let out = kubectl_ok(&["get", "pod", name, "--no-headers"], None);
    let cells: Vec<&str> = out.split_whitespace().collect();
    assert!(cells.len() >= 3, "kubectl get pod {name}: {out}");
    (cells[1].to_string(), cells[2].to_string())
}

fn sh(name: &str, script: &str) -> Value {
    json!({ "name": name, "image": RUNS, "imagePullPolicy": "Never", "command": ["sh", "-c", script] })
}

fn condition<'a>(pod: &'a Value, ty: &str) -> &'a Value {
    pod["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == ty))
        .map_or(&Value::Null, |c| &c["status"])
}

/// The container's log file in the node, which outlives the container.
fn log_file(node: &str, pod: &Value, container: &str) -> String {
    let path = format!(
        "/var/log/pods/default_{}_{}/{container}/0.log",
        pod["metadata"]["name"].as_str().expect("name"),
        pod["metadata"]["uid"].as_str().expect("uid"),
    );
    docker(&["exec", node, "cat", &path])
}

fn time(v: &Value) -> Timestamp {
    v.as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

fn gone(name: &str) {
    eventually(&format!("pod {name} gone"), Duration::from_secs(30), || {
        (!kubectl(&["get", "pod", name], None).status.success()).then_some(())
    });
}

#[test]
fn init_containers_run_in_order_before_the_app_as_init_n_of_m() {
    super::kubeconfig();
    let name = "init-order";
    create(&json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default" },
        "spec": {
            "nodeName": "kl-kubelets-worker",
            "terminationGracePeriodSeconds": 2,
            "initContainers": [
                sh("init-myservice", "echo init-myservice >> /dev/shm/order; sleep 4"),
                sh("init-mydb", "echo init-mydb >> /dev/shm/order; sleep 4"),
            ],
            "containers": [sh("app", "cat /dev/shm/order; echo app; exec sleep 3600")],
        }
    }));
    // The first init container runs; the app waits.
    let (ready, status) = eventually("Init:0/2", Duration::from_secs(20), || {
        let (r, s) = ready_status(name);
        (s == "Init:0/2").then_some((r, s))
    });
    assert_eq!((ready.as_str(), status.as_str()), ("0/1", "Init:0/2"));
    let pod = get_json(&["get", "pod", name]);
    assert_eq!(pod["status"]["phase"], "Pending", "{pod}");
    assert_eq!(condition(&pod, "Initialized"), "False", "{pod}");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    // Then the second: the first completed, exit code 0.
    eventually("Init:1/2", Duration::from_secs(20), || {
        (ready_status(name).1 == "Init:1/2").then_some(())
    });
    let pod = get_json(&["get", "pod", name]);
    let first = &pod["status"]["initContainerStatuses"][0];
    assert_eq!(first["state"]["terminated"]["reason"], "Completed", "{pod}");
    assert!(pod["status"]["initContainerStatuses"][1]["state"]["running"].is_object());
    // Then the app.
    eventually("Running", Duration::from_secs(20), || {
        (ready_status(name) == ("1/1".into(), "Running".into())).then_some(())
    });
    let pod = get_json(&["get", "pod", name]);
    assert_eq!(condition(&pod, "Initialized"), "True", "{pod}");
    let inits = pod["status"]["initContainerStatuses"]
        .as_array()
        .expect("initContainerStatuses");
    let at = |s: &Value, k: &str| time(&s["state"]["terminated"][k]);
    assert!(
        at(&inits[0], "finishedAt") <= at(&inits[1], "startedAt"),
        "init-mydb started before init-myservice finished: {inits:?}"
    );
    let log = eventually("the app's log", Duration::from_secs(10), || {
        let out = kubectl(&["logs", name, "-c", "app"], None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("app").then_some(text)
    });
    assert_eq!(log, "init-myservice\ninit-mydb\napp\n");
    kubectl_ok(&["delete", "pod", name, "--wait=false"], None);
    gone(name);
}

#[test]
fn a_failing_init_container_under_never_fails_the_pod() {
    super::kubeconfig();
    let name = "init-fails";
    create(&json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default" },
        "spec": {
            "nodeName": "kl-kubelets-worker",
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 2,
            "initContainers": [sh("init-fails", "exit 3"), sh("never-runs", "true")],
            "containers": [sh("app", "exec sleep 3600")],
        }
    }));
    let pod = eventually("the pod Failed", Duration::from_secs(30), || {
        let pod = get_json(&["get", "pod", name]);
        (pod["status"]["phase"] == "Failed").then_some(pod)
    });
    let inits = &pod["status"]["initContainerStatuses"];
    assert_eq!(inits[0]["state"]["terminated"]["exitCode"], 3, "{pod}");
    assert_eq!(inits[0]["state"]["terminated"]["reason"], "Error", "{pod}");
    assert_eq!(inits[0]["restartCount"], 0, "{pod}");
    assert_eq!(inits[1]["state"]["waiting"]["reason"], "PodInitializing");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing",
        "the app never started: {pod}"
    );
    assert_eq!(ready_status(name).1, "Init:Error");
    // It stays so: nothing is restarted.
    std::thread::sleep(Duration::from_secs(2));
    let later = get_json(&["get", "pod", name]);
    assert_eq!(
        later["status"]["initContainerStatuses"][0]["restartCount"],
        0
    );
    assert_eq!(later["status"]["phase"], "Failed");
    kubectl_ok(&["delete", "pod", name, "--wait=false"], None);
    gone(name);
}

/// A pod of the image whose probe ignores its stop signal (SIGINT), with a preStop hook that
/// writes a line to the app's stdout and then sleeps.
fn pre_stop_pod(name: &str, grace: u32, hook_secs: u32) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default", "finalizers": ["kind-chaos.dev/hold"] },
        "spec": {
            "nodeName": "kl-kubelets-worker2",
            "tolerations": [{ "key": "playground_test", "operator": "Exists" }],
            "terminationGracePeriodSeconds": grace,
            "containers": [{
                "name": "main", "image": IGNORES_STOP, "imagePullPolicy": "Never",
                "lifecycle": { "preStop": { "exec": { "command": ["sh", "-c",
                    format!("echo preStop hook ran > /proc/1/fd/1; sleep {hook_secs}")] } } },
            }],
        }
    })
}

#[test]
fn a_prestop_hook_runs_before_the_stop_signal_within_the_grace_period() {
    super::kubeconfig();
    let name = "prestop";
    create(&pre_stop_pod(name, 6, 4));
    let pod = eventually("prestop Running", Duration::from_secs(30), || {
        let pod = get_json(&["get", "pod", name]);
        pod["status"]["containerStatuses"][0]["state"]["running"]
            .is_object()
            .then_some(pod)
    });
    let t0 = Instant::now();
    kubectl_ok(&["delete", "pod", name, "--wait=false"], None);
    let (took, state) = eventually("the container killed", Duration::from_secs(30), || {
        let pod = get_json(&["get", "pod", name]);
        let t = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
        t.is_object().then(|| (t0.elapsed(), t.clone()))
    });
    // The hook's 4 s count against the 6 s: the stop signal (ignored) at ~4 s, SIGKILL at
    // ~6 s; without counting it SIGKILL would come at ~10 s.
    assert_eq!(state["exitCode"], 137, "{state}");
    assert!(
        took >= Duration::from_secs(6) && took < Duration::from_millis(8500),
        "killed {took:?} after the delete, not ~6 s"
    );
    let log = log_file("kl-kubelets-worker2", &pod, "main");
    let hook = log
        .find("preStop hook ran")
        .expect("the hook's line in the log");
    let signal = log.find("Received 2").expect("the stop signal in the log");
    assert!(
        hook < signal,
        "the stop signal came before the hook:\n{log}"
    );
    kubectl_ok(
        &[
            "patch",
            "pod",
            name,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
        None,
    );
    gone(name);
}

#[test]
fn a_sidecar_runs_beside_the_app_and_is_stopped_after_it() {
    super::kubeconfig();
    let name = "with-sidecar";
    let mut app = sh(
        "app",
        "trap 'echo app stopping; exit 0' TERM; while true; do sleep 1; done",
    );
    // The app takes 2 s to stop: a sidecar stopped beside it would be gone first.
    app["lifecycle"] = json!({ "preStop": { "sleep": { "seconds": 2 } } });
    let mut sidecar = sh(
        "logshipper",
        "trap 'echo sidecar stopping; exit 0' TERM; while true; do sleep 1; done",
    );
    sidecar["restartPolicy"] = json!("Always");
    create(&json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default", "finalizers": ["kind-chaos.dev/hold"] },
        "spec": {
            "nodeName": "kl-kubelets-worker",
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [sidecar],
            "containers": [app],
        }
    }));
    eventually("2/2 Running", Duration::from_secs(30), || {
        (ready_status(name) == ("2/2".into(), "Running".into())).then_some(())
    });
    // It keeps running: no restart, still running a few seconds later.
    std::thread::sleep(Duration::from_secs(3));
    let pod = get_json(&["get", "pod", name]);
    let side = &pod["status"]["initContainerStatuses"][0];
    assert!(side["state"]["running"].is_object(), "{pod}");
    assert_eq!(side["restartCount"], 0, "{pod}");
    assert_eq!(side["started"], true, "{pod}");
    assert_eq!(condition(&pod, "Initialized"), "True", "{pod}");
    kubectl_ok(&["delete", "pod", name, "--wait=false"], None);
    let pod = eventually("both stopped", Duration::from_secs(30), || {
        let pod = get_json(&["get", "pod", name]);
        let app = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
        let side = &pod["status"]["initContainerStatuses"][0]["state"]["terminated"];
        (app.is_object() && side.is_object()).then_some(pod)
    });
    let finished = |s: &Value| time(&s["state"]["terminated"]["finishedAt"]);
    let app_done = finished(&pod["status"]["containerStatuses"][0]);
    let side_done = finished(&pod["status"]["initContainerStatuses"][0]);
    assert!(
        app_done <= side_done,
        "the sidecar stopped ({side_done}) before the app ({app_done})"
    );
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        0
    );
    let side_log = log_file("kl-kubelets-worker", &pod, "logshipper");
    assert!(side_log.contains("sidecar stopping"), "{side_log}");
    kubectl_ok(
        &[
            "patch",
            "pod",
            name,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
        None,
    );
    gone(name);
}

/// A `hostNetwork` pod runs in the node's network and UTS namespaces (runc refuses a hostname
/// without a private UTS namespace, so the kubelet sets none): it sees the node's hostname and
/// the node's network namespace, so what it serves is at the node's address, as on kind.
#[test]
fn a_host_network_pod_runs_in_the_nodes_network_and_hostname() {
    super::kubeconfig();
    let name = "host-net";
    let node = "kl-kubelets-worker";
    let script = "busybox hostname; busybox readlink /proc/self/ns/net; exec sleep 3600";
    create(&json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default" },
        "spec": {
            "nodeName": node,
            "hostNetwork": true,
            "terminationGracePeriodSeconds": 2,
            "containers": [sh("app", script)],
        }
    }));
    let pod = eventually("host-net Running", Duration::from_secs(60), || {
        let pod = get_json(&["get", "pod", name]);
        (pod["status"]["phase"] == "Running").then_some(pod)
    });
    let logs = eventually("host-net wrote two lines", Duration::from_secs(20), || {
        let l = log_file(node, &pod, "app");
        (l.lines().count() >= 2).then_some(l)
    });
    let node_net = docker(&["exec", node, "readlink", "/proc/1/ns/net"]);
    assert!(logs.contains(node), "hostname in a hostNetwork pod: {logs}");
    assert!(
        logs.contains(node_net.trim()),
        "the pod's network namespace is the node's ({node_net}): {logs}"
    );
    kubectl_ok(&["delete", "pod", name, "--wait=false"], None);
    gone(name);
}
