//! What containerd holds for one pod, read back from the CRI's labels every sync, so that
//! a restarted kubelet adopts the sandboxes and containers its predecessor made (upstream
//! relists the runtime the same way: pkg/kubelet/pleg). Each container keeps its attempt
//! number (the restart count) and stop signal in labels, and, once its task is deleted
//! (a pod that has ended, see `ended`), its exit.

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;

use crate::cri::container::{TaskState, timestamp, with_recorded_exit};
use crate::cri::{CriError, Runtime};

pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
pub const KIND: &str = "io.cri-containerd.kind";
pub const ATTEMPT: &str = "io.kubernetes.container.restartCount";
pub const STOP_SIGNAL: &str = "io.kind-chaos.kubelet.stop-signal";
pub const IMAGE_ID: &str = "io.kind-chaos.kubelet.image-id";

/// One sandbox or container as containerd has it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub id: String,
    pub attempt: u32,
    pub state: TaskState,
    pub created_at: Option<Timestamp>,
    pub stop_signal: u32,
    pub image_id: String,
}

/// Everything of one pod in containerd.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Sandboxes, newest first.
    pub sandboxes: Vec<Seen>,
    /// Per container name, newest attempt first.
    pub containers: HashMap<String, Vec<Seen>>,
    /// How many of them still have a task in containerd (running or not): a pod whose
    /// tasks are all deleted has no shim left.
    pub tasks: usize,
}

impl Observed {
    /// The running sandbox, if any.
    pub fn running_sandbox(&self) -> Option<(&Seen, u32)> {
        self.sandboxes.iter().find_map(|s| match s.state {
            TaskState::Running { pid } => Some((s, pid)),
            _ => None,
        })
    }

    /// The newest attempt of container `name`.
    pub fn latest(&self, name: &str) -> Option<&Seen> {
        self.containers.get(name).and_then(|v| v.first())
    }

    /// Every id, containers first, sandboxes last.
    pub fn all_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .containers
            .values()
            .flatten()
            .map(|s| s.id.clone())
            .collect();
        ids.extend(self.sandboxes.iter().map(|s| s.id.clone()));
        ids
    }
}

/// Reads the pod's sandboxes and containers (by `io.kubernetes.pod.uid`).
pub async fn observe(rt: &Runtime, uid: &str) -> Result<Observed, CriError> {
    let mut out = Observed::default();
    for c in rt.list(&[(POD_UID, uid)]).await? {
        let label = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
        let task = rt.task_state(&c.id).await?;
        out.tasks += usize::from(task != TaskState::Missing);
        let seen = Seen {
            id: c.id.clone(),
            attempt: label(ATTEMPT).parse().unwrap_or(0),
            state: with_recorded_exit(task, &c.labels),
            created_at: timestamp(c.created_at),
            stop_signal: label(STOP_SIGNAL).parse().unwrap_or(15),
            image_id: label(IMAGE_ID),
        };
        if label(KIND) == "sandbox" {
            out.sandboxes.push(seen);
        } else {
            out.containers
                .entry(label(CONTAINER_NAME))
                .or_default()
                .push(seen);
        }
    }
    out.sandboxes
        .sort_by_key(|s| std::cmp::Reverse(s.created_at));
    for v in out.containers.values_mut() {
        v.sort_by_key(|s| std::cmp::Reverse(s.attempt));
    }
    Ok(out)
}
