//! A real test node (scripts/testcluster.sh, Docker) with a lab image loaded into its
//! containerd, reached from the host through /proc/<node pid>/root, plus the in-process
//! fake API server with the kubelet's pod side running against both. Needs Docker and
//! root; fails loudly without them.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use fake_apiserver::FakeApiServer;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kubelet::cri::Runtime;
use kubelet::pods;
use serde_json::Value;

pub const IMAGE: &str = "kind-chaos/small-entrypoint-exec:0.1.0";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One test cluster with only its control-plane node; `down` on drop.
pub struct TestNode {
    pub cluster: String,
    pub node: String,
}

impl TestNode {
    pub fn up(cluster: &str) -> TestNode {
        let script = root().join("scripts/testcluster.sh");
        let _ = Command::new(&script)
            .args(["down", cluster])
            .stderr(Stdio::null())
            .output();
        run(Command::new(&script).args(["up", cluster, "--workers", "0"]));
        let node = format!("{cluster}-control-plane");
        // As `kind load docker-image` does, with the node's snapshotter.
        run(Command::new("bash").args([
            "-c",
            "set -o pipefail; docker save \"$1\" | docker exec -i \"$2\" sh -c \
             'ctr -n k8s.io images import --all-platforms --digests --snapshotter=\"$(cat /run/kind-chaos/snapshotter)\" -'",
            "import",
            IMAGE,
            &node,
        ]));
        TestNode {
            cluster: cluster.to_string(),
            node,
        }
    }

    pub fn socket(&self) -> PathBuf {
        let pid = run(Command::new("docker").args(["inspect", "-f", "{{.State.Pid}}", &self.node]));
        PathBuf::from(format!("/proc/{pid}/root/run/containerd/containerd.sock"))
    }

    pub async fn runtime(&self) -> Runtime {
        Runtime::connect(&self.socket(), "k8s.io", None)
            .await
            .expect("containerd")
    }

    /// `ctr -n k8s.io tasks ls` in the node.
    pub fn tasks(&self) -> String {
        run(Command::new("docker").args(["exec", &self.node, "ctr", "-n", "k8s.io", "tasks", "ls"]))
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/testcluster.sh"))
            .args(["down", &self.cluster])
            .output();
    }
}

/// The fake API server with the kubelet's pods side for `node` running.
pub struct Lab {
    pub server: FakeApiServer,
    pub client: kube::Client,
    pub dir: tempfile::TempDir,
    pub task: tokio::task::JoinHandle<()>,
    ctx: pods::Ctx,
    node: String,
}

impl Lab {
    pub async fn start(node: &TestNode) -> Lab {
        let server = FakeApiServer::start().await.unwrap();
        // The fake's own simulated kubelet must not confirm deletions for ours.
        server.kubelet_up(&node.node, false);
        server.register_resource("coordination.k8s.io/v1", "Lease", "leases", true);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, server.kubeconfig_yaml("kind-test")).unwrap();
        let client = kubelet::kube_client(&path).await.unwrap();
        let ctx = pods::Ctx {
            runtime: node.runtime().await,
            client: client.clone(),
            pause_image: "kind-chaos-pause:test".into(),
            host_ip: Some("172.18.0.2".into()),
        };
        let task = spawn_kubelet(ctx.clone(), node.node.clone());
        Lab {
            server,
            client,
            dir,
            task,
            ctx,
            node: node.node.clone(),
        }
    }

    /// Stops the kubelet's pod side (its containers keep running in containerd).
    pub fn stop_kubelet(&self) {
        self.task.abort();
    }

    /// Starts a fresh one, as the node's restart loop would.
    pub fn restart_kubelet(&mut self) {
        self.task.abort();
        self.task = spawn_kubelet(self.ctx.clone(), self.node.clone());
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    pub async fn create(&self, pod: Value) {
        let pod: Pod = serde_json::from_value(pod).unwrap();
        self.pods()
            .create(&Default::default(), &pod)
            .await
            .expect("create pod");
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        self.server.get("v1", "Pod", Some("default"), name)
    }
}

fn spawn_kubelet(ctx: pods::Ctx, node: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { pods::run(ctx, &node).await })
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A pod on `node` running `command` in the lab image.
pub fn pod(name: &str, node: &str, command: Option<&[&str]>, policy: &str, grace: i64) -> Value {
    let mut c = serde_json::json!({ "name": "main", "image": IMAGE, "imagePullPolicy": "Never" });
    if let Some(cmd) = command {
        c["command"] = serde_json::json!(cmd);
    }
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default" },
        "spec": {
            "nodeName": node, "restartPolicy": policy,
            "terminationGracePeriodSeconds": grace, "containers": [c],
        },
    })
}

/// Polls `f` every 50 ms for up to `secs`.
pub async fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < end {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {secs}s waiting for {what}");
}

/// `status.containerStatuses[0]`.
pub fn main_status(pod: &Value) -> &Value {
    &pod["status"]["containerStatuses"][0]
}
