//! An in-memory cluster implementing every backend trait, for engine and CLI tests.
//!
//! It models just enough: node containers with a kubelet that stays down while it is not
//! executable, pods and namespaces with finalizers, a key-value etcd. Knobs make it adversarial
//! (fail the next call, hang, undo that does nothing, changes that happen after N observations).
//! It records every mutating call so tests can assert the order of faults and undos.
//!
//! Test builds only: compiled with the cargo feature `test-fake-cluster`, which the package's
//! dev-dependency on itself turns on for `cargo test` and nothing else (see `cli::connect`), so
//! the shipped `chaos` does not carry it.

mod etcd_ops;
mod kube_ops;
mod node_ops;
mod state;
mod watch;

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

pub use state::{Change, Failure, FakeEvent, FakeNode, Knobs, Scheduled, State, WriteRefusal};

use super::{BackendError, Connector, EtcdOps, KubeOps, NodeOps, Result};

/// The fake cluster; cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct FakeCluster {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    calls: Mutex<Vec<String>>,
    observations: Mutex<u64>,
}

impl FakeCluster {
    pub fn new(state: State) -> Self {
        FakeCluster {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                ..Inner::default()
            }),
        }
    }

    /// A fake loaded from the JSON form of [`State`].
    pub fn from_json(text: &str) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_str(text).map(FakeCluster::new)
    }

    /// Three nodes as kind names them for cluster `name`, all Ready.
    pub fn kind_like(name: &str) -> Self {
        let mut s = State::default();
        for (n, role) in [
            (format!("{name}-control-plane"), "control-plane"),
            (format!("{name}-worker"), "worker"),
            (format!("{name}-worker2"), "worker"),
        ] {
            let node = FakeNode {
                role: role.into(),
                ..FakeNode::default()
            };
            s.nodes.insert(n, node);
        }
        FakeCluster::new(s)
    }

    /// The next call of operation `op` fails with an error of `kind` (`failed`, `not-found`,
    /// `unavailable`) saying `message`: the knob tests set most.
    pub fn fail_next(&self, op: &str, kind: &str, message: &str) {
        self.state().knobs.fail_next.push(Failure {
            op: op.into(),
            kind: kind.into(),
            message: message.into(),
        });
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every mutating call so far, like `kubelet-stop kind-worker`.
    pub fn calls(&self) -> Vec<String> {
        self.inner
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record(&self, call: String) {
        self.inner
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(call);
    }

    /// Fails if a knob says this operation fails now; hangs forever if it says so.
    async fn gate(&self, op: &str) -> Result<()> {
        let hang = {
            let mut s = self.state();
            if let Some(i) = s.knobs.fail_next.iter().position(|f| f.op == op) {
                let f = s.knobs.fail_next.remove(i);
                return Err(f.error());
            }
            s.knobs.hang.iter().any(|h| h == op)
        };
        if hang {
            futures::future::pending::<()>().await;
        }
        Ok(())
    }

    /// A read: gated like every operation, counted as an observation, then what `look` finds
    /// in the state (after the changes that observation was due).
    async fn read<T>(&self, op: &str, look: impl FnOnce(&State) -> T + Send) -> Result<T> {
        self.gate(op).await?;
        self.observed();
        Ok(look(&self.state()))
    }

    /// How many observations (reads) were made so far.
    fn observations(&self) -> u64 {
        *self
            .inner
            .observations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Counts an observation and applies the changes scheduled for it.
    fn observed(&self) {
        let n = {
            let mut o = self
                .inner
                .observations
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *o += 1;
            *o
        };
        let mut s = self.state();
        let (due, later): (Vec<Scheduled>, Vec<Scheduled>) =
            s.knobs.schedule.drain(..).partition(|c| c.after <= n);
        s.knobs.schedule = later;
        for c in &due {
            s.apply(&c.change);
        }
    }

    fn connect_check(&self, backend: &str) -> Result<()> {
        if self.state().knobs.unavailable.iter().any(|b| b == backend) {
            return Err(BackendError::unavailable(format!(
                "{backend} backend unreachable (fake)"
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for FakeCluster {
    async fn nodes(&self) -> Result<Arc<dyn NodeOps>> {
        self.connect_check("nodes")?;
        Ok(Arc::new(self.clone()))
    }
    async fn kube(&self) -> Result<Arc<dyn KubeOps>> {
        self.connect_check("kube")?;
        Ok(Arc::new(self.clone()))
    }
    async fn etcd(&self) -> Result<Arc<dyn EtcdOps>> {
        self.connect_check("etcd")?;
        Ok(Arc::new(self.clone()))
    }
}

/// The error of a call naming a node the fake does not have (it lists the ones it has).
fn node_missing(s: &State, node: &str) -> BackendError {
    let names: Vec<&str> = s.nodes.keys().map(String::as_str).collect();
    BackendError::not_found(format!(
        "no node `{node}`; the cluster has {}",
        names.join(", ")
    ))
}
