//! One containerd container with its task: create (container, then its snapshot, then
//! the task), start, signal, wait, inspect and remove. Sandboxes and pod containers are
//! both made here; what differs is their labels and spec.

use std::collections::HashMap;

use containerd_client::services::v1::container::Runtime as ContainerRuntime;
use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::snapshots::{PrepareSnapshotRequest, RemoveSnapshotRequest};
use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::{
    Container, CreateContainerRequest, CreateTaskRequest, DeleteContainerRequest,
    DeleteTaskRequest, GetRequest, KillRequest, ListContainersRequest, StartRequest,
    UpdateContainerRequest, WaitRequest,
};
use containerd_client::types::v1::Status;
use k8s_openapi::jiff::Timestamp;
use prost_types::Any;

use super::{CriError, Runtime, rpc};

/// What containerd says about a container's task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// No task (never started, or removed).
    Missing,
    /// Created but not started.
    Created,
    Running {
        pid: u32,
    },
    Exited {
        code: u32,
        at: Option<Timestamp>,
    },
}

/// What to create.
pub struct NewContainer<'a> {
    pub id: &'a str,
    pub image: &'a str,
    pub chain_id: &'a str,
    pub labels: HashMap<String, String>,
    pub spec: serde_json::Value,
    /// Where the shim writes stdout and stderr (`file://` log), if anywhere.
    pub log_path: Option<String>,
}

pub(crate) fn timestamp(t: Option<prost_types::Timestamp>) -> Option<Timestamp> {
    let t = t?;
    if t.seconds <= 0 {
        return None;
    }
    Timestamp::new(t.seconds, t.nanos).ok()
}

impl Runtime {
    pub(crate) fn tasks(&self) -> TasksClient<tonic::transport::Channel> {
        TasksClient::new(self.channel.clone())
    }

    fn containers(&self) -> ContainersClient<tonic::transport::Channel> {
        ContainersClient::new(self.channel.clone())
    }

    /// Creates the container, prepares its root file system from the image's layers and
    /// starts its task. Returns the task's pid.
    pub async fn create_and_start(&self, c: NewContainer<'_>) -> Result<u32, CriError> {
        let spec = Any {
            type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec".to_string(),
            value: serde_json::to_vec(&c.spec).map_err(|source| CriError::Decode {
                what: "runtime spec".into(),
                source,
            })?,
        };
        // The container first: it references the snapshot, so the garbage collector
        // keeps the snapshot once it exists.
        self.containers()
            .create(self.req(CreateContainerRequest {
                container: Some(Container {
                    id: c.id.to_string(),
                    labels: c.labels,
                    image: c.image.to_string(),
                    runtime: Some(ContainerRuntime {
                        name: "io.containerd.runc.v2".to_string(),
                        options: None,
                    }),
                    spec: Some(spec),
                    snapshotter: self.snapshotter.clone(),
                    snapshot_key: c.id.to_string(),
                    ..Container::default()
                }),
            }))
            .await
            .map_err(rpc("containers.create"))?;
        let mounts = SnapshotsClient::new(self.channel.clone())
            .prepare(self.req(PrepareSnapshotRequest {
                snapshotter: self.snapshotter.clone(),
                key: c.id.to_string(),
                parent: c.chain_id.to_string(),
                labels: HashMap::new(),
            }))
            .await
            .map_err(rpc("snapshots.prepare"))?
            .into_inner()
            .mounts;
        let log = c
            .log_path
            .map(|p| format!("file://{p}"))
            .unwrap_or_default();
        let created = self
            .tasks()
            .create(self.req(CreateTaskRequest {
                container_id: c.id.to_string(),
                rootfs: mounts,
                stdout: log.clone(),
                stderr: log,
                ..CreateTaskRequest::default()
            }))
            .await
            .map_err(rpc("tasks.create"))?
            .into_inner();
        self.tasks()
            .start(self.req(StartRequest {
                container_id: c.id.to_string(),
                exec_id: String::new(),
            }))
            .await
            .map_err(rpc("tasks.start"))?;
        Ok(created.pid)
    }

    /// The containers whose labels match all of `labels`.
    pub async fn list(&self, labels: &[(&str, &str)]) -> Result<Vec<Container>, CriError> {
        let filter = labels
            .iter()
            .map(|(k, v)| format!("labels.\"{k}\"=={v}"))
            .collect::<Vec<_>>()
            .join(",");
        Ok(self
            .containers()
            .list(self.req(ListContainersRequest {
                filters: if filter.is_empty() {
                    vec![]
                } else {
                    vec![filter]
                },
            }))
            .await
            .map_err(rpc("containers.list"))?
            .into_inner()
            .containers)
    }

    /// The state of a container's task.
    pub async fn task_state(&self, id: &str) -> Result<TaskState, CriError> {
        let resp = self
            .tasks()
            .get(self.req(GetRequest {
                container_id: id.to_string(),
                exec_id: String::new(),
            }))
            .await;
        let p = match resp {
            Ok(r) => r.into_inner().process,
            Err(s) if s.code() == tonic::Code::NotFound => return Ok(TaskState::Missing),
            Err(s) => return Err(rpc("tasks.get")(s)),
        };
        let Some(p) = p else {
            return Ok(TaskState::Missing);
        };
        Ok(
            match Status::try_from(p.status).unwrap_or(Status::Unknown) {
                Status::Created => TaskState::Created,
                Status::Stopped => TaskState::Exited {
                    code: p.exit_status,
                    at: timestamp(p.exited_at),
                },
                _ => TaskState::Running { pid: p.pid },
            },
        )
    }

    /// Sends `signal` to the task's process (all its processes with `all`). A task that
    /// is gone or already stopped is not an error.
    pub async fn kill(&self, id: &str, signal: u32, all: bool) -> Result<(), CriError> {
        match self
            .tasks()
            .kill(self.req(KillRequest {
                container_id: id.to_string(),
                exec_id: String::new(),
                signal,
                all,
            }))
            .await
        {
            Ok(_) => Ok(()),
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::NotFound | tonic::Code::FailedPrecondition
                ) =>
            {
                Ok(())
            }
            Err(s) => Err(rpc("tasks.kill")(s)),
        }
    }

    /// Waits for the task to exit; returns its exit code and time.
    pub async fn wait(&self, id: &str) -> Result<(u32, Option<Timestamp>), CriError> {
        let r = self
            .tasks()
            .wait(self.req(WaitRequest {
                container_id: id.to_string(),
                exec_id: String::new(),
            }))
            .await
            .map_err(rpc("tasks.wait"))?
            .into_inner();
        Ok((r.exit_status, timestamp(r.exited_at)))
    }

    /// Kills (SIGKILL) and deletes the task, then the container and its snapshot.
    /// What is already gone is skipped.
    pub async fn remove(&self, id: &str) -> Result<(), CriError> {
        if let Some(dirs) = &self.sandbox_dirs {
            // A sandbox's shm directory goes with it (a container id has none).
            let _ = tokio::fs::remove_dir_all(dirs.local.join(id)).await;
        }
        if let TaskState::Running { .. } | TaskState::Created = self.task_state(id).await? {
            self.kill(id, 9, true).await?;
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), self.wait(id)).await;
        }
        let not_found = |s: &tonic::Status| s.code() == tonic::Code::NotFound;
        if let Err(s) = self
            .tasks()
            .delete(self.req(DeleteTaskRequest {
                container_id: id.to_string(),
            }))
            .await
            && !not_found(&s)
        {
            return Err(rpc("tasks.delete")(s));
        }
        if let Err(s) = self
            .containers()
            .delete(self.req(DeleteContainerRequest { id: id.to_string() }))
            .await
            && !not_found(&s)
        {
            return Err(rpc("containers.delete")(s));
        }
        if let Err(s) = SnapshotsClient::new(self.channel.clone())
            .remove(self.req(RemoveSnapshotRequest {
                snapshotter: self.snapshotter.clone(),
                key: id.to_string(),
            }))
            .await
            && !not_found(&s)
        {
            return Err(rpc("snapshots.remove")(s));
        }
        Ok(())
    }
}

/// The label in which [`Runtime::release_task`] keeps the exit code of a task it deleted.
pub const EXIT_CODE: &str = "io.kind-chaos.kubelet.exit-code";
/// The label in which [`Runtime::release_task`] keeps the exit time (RFC 3339).
pub const EXITED_AT: &str = "io.kind-chaos.kubelet.exited-at";

/// The state of a container whose task is `task`: a missing task whose exit was recorded
/// in the container's labels (by [`Runtime::release_task`]) is that exit, as the CRI keeps
/// a container's status in its own store once the task is gone.
pub fn with_recorded_exit(task: TaskState, labels: &HashMap<String, String>) -> TaskState {
    if task != TaskState::Missing {
        return task;
    }
    match labels.get(EXIT_CODE).and_then(|c| c.parse().ok()) {
        Some(code) => TaskState::Exited {
            code,
            at: labels.get(EXITED_AT).and_then(|t| t.parse().ok()),
        },
        None => TaskState::Missing,
    }
}

impl Runtime {
    /// Deletes the task of an exited container, keeping the container (its snapshot, its
    /// log file) and its exit in its labels. Once every task of a pod is deleted its
    /// shim exits. A task that still runs is left alone (returns `false`); a missing one
    /// is nothing to do.
    pub async fn release_task(&self, id: &str) -> Result<bool, CriError> {
        let (code, at) = match self.task_state(id).await? {
            TaskState::Exited { code, at } => (code, at),
            TaskState::Missing => return Ok(true),
            TaskState::Running { .. } | TaskState::Created => return Ok(false),
        };
        let mut labels = HashMap::from([(EXIT_CODE.to_string(), code.to_string())]);
        if let Some(at) = at {
            labels.insert(EXITED_AT.to_string(), at.to_string());
        }
        let paths = labels.keys().map(|k| format!("labels.{k}")).collect();
        self.containers()
            .update(self.req(UpdateContainerRequest {
                container: Some(Container {
                    id: id.to_string(),
                    labels,
                    ..Container::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths }),
            }))
            .await
            .map_err(rpc("containers.update"))?;
        match self
            .tasks()
            .delete(self.req(DeleteTaskRequest {
                container_id: id.to_string(),
            }))
            .await
        {
            Ok(_) => Ok(true),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(true),
            Err(s) => Err(rpc("tasks.delete")(s)),
        }
    }
}

/// A random 64-hex id, like the CRI's container and sandbox ids.
pub fn new_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 32];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // Never expected; fall back to the clock so ids stay unique enough.
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        b[..16].copy_from_slice(&n.to_le_bytes());
    }
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_task_keeps_its_exit_in_the_labels() {
        let t: Timestamp = "2026-01-01T00:00:01.5Z".parse().unwrap();
        let labels = HashMap::from([
            (EXIT_CODE.to_string(), "3".to_string()),
            (EXITED_AT.to_string(), t.to_string()),
        ]);
        assert_eq!(
            with_recorded_exit(TaskState::Missing, &labels),
            TaskState::Exited {
                code: 3,
                at: Some(t)
            }
        );
        // A task containerd still has wins; no record, no exit.
        let running = TaskState::Running { pid: 7 };
        assert_eq!(with_recorded_exit(running.clone(), &labels), running);
        assert_eq!(
            with_recorded_exit(TaskState::Missing, &HashMap::new()),
            TaskState::Missing
        );
    }
}
