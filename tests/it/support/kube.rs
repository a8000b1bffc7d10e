//! Helpers for the Kubernetes backend's tests: the fake API server (a test double from
//! `crates/fake-apiserver`, not a real cluster) with a kubeconfig in a temporary folder, the
//! real `KubeBackend` connected to it, a connector for in-process engine runs, and objects
//! shaped like the labs'.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fake_apiserver::{FakeApiServer, FakeNode};
use kind_chaos::backends::kube::{KubeBackend, KubeTarget, connect};
use kind_chaos::backends::{BackendError, Connector, EtcdOps, KubeOps, NodeOps, Result};
use serde_json::{Value, json};

/// The kind cluster name the tests use: its context is `kind-test`.
pub const CLUSTER: &str = "test";

/// A fake API server, its kubeconfig on disk, and the backend connected to it.
pub struct KubeLab {
    pub server: FakeApiServer,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub backend: Arc<KubeBackend>,
}

impl KubeLab {
    /// A server with an empty cluster (the four system namespaces, no nodes).
    pub async fn start() -> KubeLab {
        let server = FakeApiServer::start().await.expect("fake apiserver starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, server.kubeconfig_yaml("kind-test")).expect("kubeconfig");
        let backend = connect(CLUSTER, &target(&kubeconfig), None)
            .await
            .expect("connects to the fake apiserver");
        KubeLab {
            server,
            dir,
            kubeconfig,
            backend: Arc::new(backend),
        }
    }

    /// A server with kind-like nodes (the seeds' k8splayground shape), the scheduler and the
    /// pod-starting kubelets on.
    pub async fn with_nodes() -> KubeLab {
        let lab = KubeLab::start().await;
        add_kind_nodes(&lab.server);
        lab.server.auto_schedule(true);
        lab
    }

    pub fn ops(&self) -> Arc<dyn KubeOps> {
        self.backend.clone()
    }

    /// A connector whose Kubernetes backend is this one; nodes and etcd are unavailable.
    pub fn connector(&self) -> Arc<dyn Connector> {
        Arc::new(KubeOnly(self.ops()))
    }

    /// Stores an object as given (no admission), e.g. a pod with a status.
    pub fn insert(&self, obj: Value) -> Value {
        self.server.insert(obj).expect("insert")
    }

    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.server.get(api_version, kind, ns, name)
    }
}

/// `--kubeconfig FILE`, nothing else.
pub fn target(kubeconfig: &std::path::Path) -> KubeTarget {
    KubeTarget {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..KubeTarget::default()
    }
}

/// `test-control-plane`, `test-worker` (labelled `mock-server=true`) and `test-worker2`
/// (tainted `playground_test=ensure_only_tolerations_run_here:NoSchedule`).
pub fn add_kind_nodes(server: &FakeApiServer) {
    server
        .add_node(FakeNode::new("test-control-plane").control_plane())
        .expect("node");
    server
        .add_node(FakeNode::new("test-worker").label("mock-server", "true"))
        .expect("node");
    server
        .add_node(FakeNode::new("test-worker2").taint(
            "playground_test",
            "ensure_only_tolerations_run_here",
            "NoSchedule",
        ))
        .expect("node");
}

/// The Kubernetes backend only; the others say they are not there (exit 3).
pub struct KubeOnly(pub Arc<dyn KubeOps>);

#[async_trait]
impl Connector for KubeOnly {
    async fn nodes(&self) -> Result<Arc<dyn NodeOps>> {
        Err(BackendError::unavailable("no node backend in this test"))
    }
    async fn kube(&self) -> Result<Arc<dyn KubeOps>> {
        Ok(self.0.clone())
    }
    async fn etcd(&self) -> Result<Arc<dyn EtcdOps>> {
        Err(BackendError::unavailable("no etcd backend in this test"))
    }
}

/// A busybox pod like the labs' (grace 5 s), optionally bound to a node, with finalizers.
pub fn pod(ns: &str, name: &str, node: Option<&str>, finalizers: &[&str]) -> Value {
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "busybox", "image": "busybox",
                            "command": ["sh", "-c", "while true; do echo .; sleep 30; done"]}]
        }
    });
    if let Some(n) = node {
        v["spec"]["nodeName"] = json!(n);
    }
    if !finalizers.is_empty() {
        v["metadata"]["finalizers"] = json!(finalizers);
    }
    v
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// A `ResourceRef` from its parts.
pub fn rref(
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> kind_chaos::playbook::model::ResourceRef {
    kind_chaos::playbook::model::ResourceRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: ns.map(str::to_string),
        name: name.into(),
    }
}

/// Polls `check` every 10 ms until it holds, for at most 5 s (the fake's controllers tick
/// every 20 ms).
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

pub fn is_terminating(v: &Value) -> bool {
    v["metadata"]["deletionTimestamp"].is_string()
}

/// The documents of a manifest under `playbooks/manifests/`, loaded the way a playbook's
/// `apply` step loads them.
pub fn manifest_documents(file: &str) -> Vec<Value> {
    use kind_chaos::playbook::{self, PlanStepKind, Sources};
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/loader.yaml");
    let yaml = format!(
        "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: loader\nsetup:\n  - apply: manifests/{file}\nsteps:\n  - sleep: 1s\n"
    );
    let plan = match playbook::load_str(&base, &yaml, Sources::default()) {
        Ok(p) => p,
        Err(e) => panic!("{}", e.render(false)),
    };
    plan.all_steps()
        .into_iter()
        .find_map(|s| match &s.kind {
            PlanStepKind::Apply { documents, .. } => Some(documents.clone()),
            _ => None,
        })
        .expect("an apply step")
}
