//! The local test cluster with its control plane (`scripts/testcluster.sh up NAME --api`):
//! the fake API server runs in `NAME-control-plane` as kind's kube-apiserver does (HTTPS on
//! the published 6443, client certificates, `/etc/kubernetes/admin.conf`), the nodes are
//! registered by their kubelets with kind-config.yaml's labels and taints (more on the kubelets
//! in tests/it/local_cluster_kubelet.rs), the real `kubectl` (`/usr/bin/kubectl`)
//! uses the host kubeconfig the script prints, and `chaos` finds the API with no flags through
//! its kind discovery (admin.conf read through Docker, the published port). The objects live
//! in the control plane's etcd, which `chaos etcd` finds with no flags too; a raw delete there
//! reaches the API and its controllers.
//!
//! Needs Docker and kubectl; fails, never skips, without them. The cluster is started once for
//! this binary and removed at exit (`KIND_CHAOS_KEEP_TESTCLUSTER=1` keeps it).

use crate::support::local_api;
use crate::support::testcluster;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use local_api::run_script;
use serde_json::Value;
use testcluster::docker;

pub(crate) const CLUSTER: &str = "kc-localapi";
const KUBECTL: &str = "/usr/bin/kubectl";

pub(crate) struct ApiCluster {
    kubeconfig: PathBuf,
}

static API_CLUSTER: OnceLock<ApiCluster> = OnceLock::new();

pub(crate) fn cluster() -> &'static ApiCluster {
    API_CLUSTER.get_or_init(|| {
        assert!(
            Path::new(KUBECTL).exists(),
            "{KUBECTL} is missing: the local cluster is driven with the real kubectl"
        );
        let nodes = testcluster::start(CLUSTER, &["--workers", "2", "--api"]);
        assert_eq!(
            nodes.lines().collect::<Vec<_>>(),
            [
                "kc-localapi-control-plane",
                "kc-localapi-worker",
                "kc-localapi-worker2"
            ]
        );
        let path = run_script(&["kubeconfig", CLUSTER]);
        ApiCluster {
            kubeconfig: PathBuf::from(path.trim()),
        }
    })
}

pub(crate) fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    local_api::kubectl_at(KUBECTL, &cluster().kubeconfig, args, stdin)
}

pub(crate) fn kubectl_ok(args: &[&str], stdin: Option<&str>) -> String {
    local_api::kubectl_ok_at(KUBECTL, &cluster().kubeconfig, args, stdin)
}

pub(crate) fn container_ip(name: &str) -> String {
    docker(&[
        "container",
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        name,
    ])
    .trim()
    .to_string()
}

#[test]
fn the_host_kubeconfig_is_kinds_rewrite_of_admin_conf() {
    let c = cluster();
    let text = std::fs::read_to_string(&c.kubeconfig).expect("kubeconfig");
    let port = docker(&["port", "kc-localapi-control-plane", "6443/tcp"]);
    let port = port.lines().next().expect("published").rsplit(':').next();
    let want = format!("server: https://127.0.0.1:{}\n", port.expect("port"));
    assert!(text.contains(&want), "{want:?} not in\n{text}");
    assert!(
        text.contains("current-context: kind-kc-localapi\n"),
        "{text}"
    );
    let admin = docker(&[
        "exec",
        "kc-localapi-control-plane",
        "cat",
        "/etc/kubernetes/admin.conf",
    ]);
    assert!(
        admin.contains("server: https://kc-localapi-control-plane:6443\n"),
        "{admin}"
    );
    assert!(
        admin.contains("current-context: kubernetes-admin@kc-localapi\n"),
        "{admin}"
    );
    for f in ["ca.crt", "ca.key", "apiserver.crt", "apiserver.key"] {
        docker(&[
            "exec",
            "kc-localapi-control-plane",
            "test",
            "-s",
            &format!("/etc/kubernetes/pki/{f}"),
        ]);
    }
}

#[test]
fn nodes_are_registered_as_kind_registers_them() {
    let out = kubectl_ok(&["get", "nodes", "-o", "json"], None);
    let list: Value = serde_json::from_str(&out).expect("json");
    let items = list["items"].as_array().expect("items");
    let node = |name: &str| {
        items
            .iter()
            .find(|n| n["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no node {name} in {out}"))
    };
    assert_eq!(items.len(), 3, "{out}");
    for n in items {
        let ready = n["status"]["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .find(|c| c["type"] == "Ready")
            .expect("Ready condition");
        assert_eq!(ready["status"], "True");
        let name = n["metadata"]["name"].as_str().expect("name");
        assert_eq!(
            n["status"]["addresses"][0],
            serde_json::json!({ "type": "InternalIP", "address": container_ip(name) })
        );
        assert_eq!(n["metadata"]["labels"]["kubernetes.io/hostname"], name);
        for field in [
            "bootID",
            "machineID",
            "systemUUID",
            "kernelVersion",
            "osImage",
            "containerRuntimeVersion",
            "kubeletVersion",
        ] {
            let v = n["status"]["nodeInfo"][field].as_str().unwrap_or("");
            assert!(!v.is_empty(), "{name}: nodeInfo.{field} is empty");
        }
    }
    let cp = node("kc-localapi-control-plane");
    assert_eq!(
        cp["metadata"]["labels"]["node-role.kubernetes.io/control-plane"],
        ""
    );
    assert_eq!(
        cp["spec"]["taints"],
        serde_json::json!([{ "key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule" }])
    );
    let w1 = node("kc-localapi-worker");
    assert_eq!(w1["metadata"]["labels"]["mock-server"], "true");
    assert!(w1["spec"].get("taints").is_none(), "{w1}");
    let w2 = node("kc-localapi-worker2");
    assert!(w2["metadata"]["labels"].get("mock-server").is_none());
    assert_eq!(
        w2["spec"]["taints"],
        serde_json::json!([{ "key": "playground_test", "value": "ensure_only_tolerations_run_here", "effect": "NoSchedule" }])
    );
}

#[test]
fn kubectl_gets_and_applies() {
    let out = kubectl_ok(&["get", "namespaces", "-o", "name"], None);
    assert!(out.contains("namespace/kube-system\n"), "{out}");
    let out = kubectl_ok(&["get", "nodes", "-o", "name"], None);
    assert!(out.contains("node/kc-localapi-worker2\n"), "{out}");
    // kubectl's client-side validation needs OpenAPI schemas, which are not served.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n  namespace: default\ndata:\n  k: v\n";
    let out = kubectl_ok(&["apply", "--validate=false", "-f", "-"], Some(cm));
    assert!(out.contains("configmap/local created"), "{out}");
    let out = kubectl_ok(
        &["get", "configmap", "local", "-o", "jsonpath={.data.k}"],
        None,
    );
    assert_eq!(out, "v");
}

#[test]
fn the_serving_certificate_covers_the_node_name_and_ip() {
    let ip = container_ip("kc-localapi-control-plane");
    // On Linux the host reaches the container's IP directly, as kind's nodes reach 6443.
    let server = format!("--server=https://{ip}:6443");
    let out = kubectl_ok(&[&server, "get", "--raw", "/version"], None);
    assert!(out.contains("\"major\""), "{out}");
    let out = kubectl_ok(
        &[
            &server,
            "--tls-server-name=kc-localapi-control-plane",
            "get",
            "--raw",
            "/version",
        ],
        None,
    );
    assert!(out.contains("\"major\""), "{out}");
    let out = kubectl(
        &[
            &server,
            "--tls-server-name=elsewhere",
            "get",
            "--raw",
            "/version",
        ],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate"), "{err}");
}

fn chaos_reality() -> Value {
    let home = tempfile::tempdir().expect("home");
    // No kubeconfig anywhere: chaos must find the API through Docker, as for a kind cluster
    // whose ~/.kube/config was never written.
    let out = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["reality", "--cluster", CLUSTER, "--output", "json"])
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .output()
        .expect("run chaos");
    assert!(
        out.status.success(),
        "chaos reality failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn chaos_finds_the_api_with_no_flags_and_joins_it_with_the_nodes() {
    cluster();
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"joined","namespace":"default"},
      "spec":{"nodeName":"kc-localapi-worker","containers":[{"name":"c","image":"busybox"}]}}"#;
    kubectl_ok(&["create", "--validate=false", "-f", "-"], Some(pod));
    let uid = kubectl_ok(
        &["get", "pod", "joined", "-o", "jsonpath={.metadata.uid}"],
        None,
    );
    assert!(!uid.trim().is_empty());
    // The worker's kubelet starts the pod's sandbox (its image is not in the node, so the
    // container waits); a sandbox the API does not know is a ghost.
    let ghost = run_script(&["pod", CLUSTER, "worker2", "default", "not-in-the-api"]);
    let mut view = chaos_reality();
    for _ in 0..40 {
        let joined = view["drift"].as_array().is_some_and(|d| {
            d.iter()
                .any(|e| e["name"] == "joined" && e["state"] == "consistent")
        });
        if joined {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        view = chaos_reality();
    }
    assert_eq!(view["api"]["connected"], true, "{view}");
    let drift = view["drift"].as_array().expect("drift with the API");
    let entry = |name: &str| {
        drift
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in drift {view}"))
    };
    assert_eq!(entry("joined")["state"], "consistent", "{view}");
    assert_eq!(entry("joined")["node"], "kc-localapi-worker");
    assert_eq!(entry("not-in-the-api")["state"], "ghost", "{view}");
    kubectl_ok(
        &["delete", "pod", "joined", "--grace-period=0", "--force"],
        None,
    );
    run_script(&["unpod", CLUSTER, "worker2", ghost.trim()]);
}

/// `chaos etcd ARGS --cluster kc-localapi` with no other flag (kind discovery through
/// Docker), its state directory in a temporary one; (success, stdout, stderr).
fn chaos_etcd(args: &[&str]) -> (bool, String, String) {
    let state = tempfile::tempdir().expect("state dir");
    let out = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .arg("etcd")
        .args(args)
        .args(["--cluster", CLUSTER])
        .env("CHAOS_STATE_DIR", state.path())
        .env("CHAOS_LOCK_DIR", state.path())
        .output()
        .expect("run chaos");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_objects_live_in_the_nodes_etcd_which_chaos_finds_with_no_flags() {
    cluster();
    // Published on the host's loopback, as kind-config.yaml asks (the host port is random).
    let published = docker(&["port", "kc-localapi-control-plane", "2379/tcp"]);
    assert!(published.trim().starts_with("127.0.0.1:"), "{published}");
    let (ok, keys, err) = chaos_etcd(&["ls", "/registry/"]);
    assert!(ok, "chaos etcd ls failed: {err}");
    for key in [
        "/registry/namespaces/default",
        "/registry/namespaces/kube-node-lease",
        "/registry/minions/kc-localapi-control-plane",
        "/registry/minions/kc-localapi-worker",
        "/registry/leases/kube-node-lease/kc-localapi-worker2",
    ] {
        assert!(
            keys.lines().any(|l| l.trim() == key),
            "{key} not in:\n{keys}"
        );
    }
    // The values are JSON (see testcluster/README.md), which `chaos etcd get` shows as is.
    let (ok, value, err) = chaos_etcd(&["get", "/registry/namespaces/kube-public", "-o", "json"]);
    assert!(ok, "chaos etcd get failed: {err}");
    assert!(value.contains("\"kube-public\""), "{value}");
}

#[test]
fn a_raw_chaos_etcd_del_of_a_replicasets_pod_replaces_it_under_a_new_name() {
    cluster();
    let dep = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"etcd-del","namespace":"default"},
      "spec":{"replicas":1,"selector":{"matchLabels":{"app":"etcd-del"}},
        "template":{"metadata":{"labels":{"app":"etcd-del"}},
          "spec":{"containers":[{"name":"c","image":"busybox"}]}}}}"#;
    kubectl_ok(&["apply", "--validate=false", "-f", "-"], Some(dep));
    let pods = || {
        kubectl_ok(&["get", "pods", "-l", "app=etcd-del", "-o", "name"], None)
            .lines()
            .map(|l| l.trim_start_matches("pod/").to_string())
            .collect::<Vec<_>>()
    };
    let mut first = Vec::new();
    for _ in 0..60 {
        first = pods();
        if first.len() == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(first.len(), 1, "one pod of the Deployment: {first:?}");
    let old = first[0].clone();
    // Deployment -> ReplicaSet `etcd-del-<pod-template-hash>` -> pod `<replicaset>-<5 chars>`.
    let rs = kubectl_ok(&["get", "rs", "-l", "app=etcd-del", "-o", "name"], None);
    let rs = rs.trim().trim_start_matches("replicaset.apps/").to_string();
    assert!(rs.starts_with("etcd-del-"), "{rs}");
    let hash = kubectl_ok(
        &[
            "get",
            "rs",
            &rs,
            "-o",
            "jsonpath={.metadata.labels.pod-template-hash}",
        ],
        None,
    );
    assert_eq!(rs, format!("etcd-del-{}", hash.trim()));
    let owner = kubectl_ok(
        &[
            "get",
            "pod",
            &old,
            "-o",
            "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
        ],
        None,
    );
    assert_eq!(owner.trim(), format!("ReplicaSet/{rs}"));
    let rs_owner = kubectl_ok(
        &[
            "get",
            "rs",
            &rs,
            "-o",
            "jsonpath={.metadata.ownerReferences[0].kind}",
        ],
        None,
    );
    assert_eq!(rs_owner.trim(), "Deployment");
    let (ok, keys, err) = chaos_etcd(&["ls", "/registry/replicasets/default/"]);
    assert!(ok, "chaos etcd ls failed: {err}");
    assert!(
        keys.lines()
            .any(|l| l.trim() == format!("/registry/replicasets/default/{rs}")),
        "{keys}"
    );
    let key = format!("/registry/pods/default/{old}");
    let (ok, out, err) = chaos_etcd(&["del", &key]);
    assert!(ok, "chaos etcd del failed: {err}");
    assert!(out.contains("deleted 1 key(s)"), "{out}");
    let mut now = Vec::new();
    for _ in 0..60 {
        now = pods();
        if now.len() == 1 && now[0] != old {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(
        now.len() == 1 && now[0] != old && now[0].starts_with(&format!("{rs}-")),
        "after the raw delete of {old}, `kubectl get pods` shows {now:?}"
    );
    let gone = kubectl(&["get", "pod", &old], None);
    assert!(
        !gone.status.success(),
        "{old} still served after its key was deleted"
    );
    kubectl_ok(&["delete", "deployment", "etcd-del"], None);
    // The garbage collector takes the ReplicaSet with it.
    let mut left = String::new();
    for _ in 0..60 {
        left = kubectl_ok(&["get", "rs", "-l", "app=etcd-del", "-o", "name"], None);
        if left.trim().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(left.trim().is_empty(), "ReplicaSet left behind: {left}");
}
