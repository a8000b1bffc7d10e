//! Running a command inside a running container (containerd's task Exec), for lifecycle
//! hooks: the kubelet runs a preStop `exec` handler this way before it sends the stop
//! signal (upstream: pkg/kubelet/lifecycle/handlers.go, `Run` -> the CRI's ExecSync). The
//! process joins the container's namespaces and cgroup and gets the container's
//! environment, working directory and user, as runc's `exec` gives it.

use containerd_client::services::v1::{
    DeleteProcessRequest, ExecProcessRequest, GetContainerRequest, StartRequest, WaitRequest,
};
use prost_types::Any;

use super::container::new_id;
use super::{CriError, Runtime, rpc};

/// The OCI process of an exec: the container's own process with `args` instead.
pub fn exec_process(container_spec: &serde_json::Value, args: &[String]) -> serde_json::Value {
    let mut process = container_spec
        .get("process")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    process["args"] = serde_json::json!(args);
    process["terminal"] = serde_json::json!(false);
    process
}

impl Runtime {
    /// The container's OCI runtime spec, as it was created.
    pub async fn container_spec(&self, id: &str) -> Result<serde_json::Value, CriError> {
        let c = containerd_client::services::v1::containers_client::ContainersClient::new(
            self.channel.clone(),
        )
        .get(self.req(GetContainerRequest { id: id.to_string() }))
        .await
        .map_err(rpc("containers.get"))?
        .into_inner()
        .container;
        let spec = c.and_then(|c| c.spec).map(|s| s.value).unwrap_or_default();
        serde_json::from_slice(&spec).map_err(|source| CriError::Decode {
            what: format!("the runtime spec of {id}"),
            source,
        })
    }

    /// Runs `args` in the running container `id` and waits for it to exit; returns its
    /// exit code. Its output is discarded, as the kubelet discards a successful hook's.
    /// Dropping the future (a timeout) leaves the process running; it goes with the
    /// container.
    pub async fn exec(&self, id: &str, args: &[String]) -> Result<u32, CriError> {
        let spec = self.container_spec(id).await?;
        let process = exec_process(&spec, args);
        let exec_id = format!("hook-{}", &new_id()[..12]);
        let any = Any {
            type_url: "types.containerd.io/opencontainers/runtime-spec/1/Process".to_string(),
            value: serde_json::to_vec(&process).map_err(|source| CriError::Decode {
                what: "exec process spec".into(),
                source,
            })?,
        };
        let mut tasks = self.tasks();
        tasks
            .exec(self.req(ExecProcessRequest {
                container_id: id.to_string(),
                stdin: String::new(),
                stdout: String::new(),
                stderr: String::new(),
                terminal: false,
                spec: Some(any),
                exec_id: exec_id.clone(),
            }))
            .await
            .map_err(rpc("tasks.exec"))?;
        // Wait is asked for before Start, so a process that exits at once is not missed.
        let waiter = {
            let mut t = self.tasks();
            let req = self.req(WaitRequest {
                container_id: id.to_string(),
                exec_id: exec_id.clone(),
            });
            tokio::spawn(async move { t.wait(req).await })
        };
        let started = tasks
            .start(self.req(StartRequest {
                container_id: id.to_string(),
                exec_id: exec_id.clone(),
            }))
            .await
            .map_err(rpc("tasks.start exec"));
        let result = match started {
            Ok(_) => match waiter.await {
                Ok(Ok(r)) => Ok(r.into_inner().exit_status),
                Ok(Err(s)) => Err(rpc("tasks.wait exec")(s)),
                Err(e) => Err(CriError::Io(format!("waiting for exec {exec_id}: {e}"))),
            },
            Err(e) => {
                waiter.abort();
                Err(e)
            }
        };
        let _ = tasks
            .delete_process(self.req(DeleteProcessRequest {
                container_id: id.to_string(),
                exec_id,
            }))
            .await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exec_keeps_the_containers_env_cwd_and_user() {
        let spec = serde_json::json!({"process": {
            "args": ["/probe"], "env": ["A=1"], "cwd": "/work", "user": {"uid": 7, "gid": 0},
            "terminal": false,
        }});
        let p = exec_process(&spec, &["sh".into(), "-c".into(), "echo hi".into()]);
        assert_eq!(p["args"], serde_json::json!(["sh", "-c", "echo hi"]));
        assert_eq!(p["env"], serde_json::json!(["A=1"]));
        assert_eq!(p["cwd"], "/work");
        assert_eq!(p["user"]["uid"], 7);
    }
}
