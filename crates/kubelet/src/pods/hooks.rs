//! Container lifecycle hooks, as upstream's handler runner runs them
//! (pkg/kubelet/lifecycle/handlers.go, `Run`): an `exec` handler runs its command in the
//! container (through containerd's task exec, the CRI's ExecSync) and fails when the
//! command cannot run or exits non-zero; a `sleep` handler waits. An `httpGet` or
//! `tcpSocket` handler needs the pod's IP, which this kubelet has not: it is skipped with a
//! warning. What a hook's failure does is up to its caller: a failed postStart kills the
//! container (`worker`), a failed preStop is recorded and the stop goes on (`stop`).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler};

use super::launch::PodRef;
use crate::cri::Runtime;

/// A lifecycle handler the kubelet can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    Exec(Vec<String>),
    Sleep(u64),
}

fn hook(c: &Container, which: &str, h: Option<&LifecycleHandler>) -> Option<Hook> {
    let h = h?;
    if let Some(e) = &h.exec {
        return Some(Hook::Exec(e.command.clone().unwrap_or_default()));
    }
    if let Some(s) = &h.sleep {
        return Some(Hook::Sleep(u64::try_from(s.seconds).unwrap_or(0)));
    }
    tracing::warn!(
        "container {}: only exec and sleep {which} hooks are run",
        c.name
    );
    None
}

/// The container's preStop hook, if it has one we run.
pub fn pre_stop(c: &Container) -> Option<Hook> {
    let l = c.lifecycle.as_ref()?;
    hook(c, "preStop", l.pre_stop.as_ref())
}

/// The container's postStart hook, if it has one we run.
pub fn post_start(c: &Container) -> Option<Hook> {
    let l = c.lifecycle.as_ref()?;
    hook(c, "postStart", l.post_start.as_ref())
}

/// `format.Pod`: `NAME_NAMESPACE(UID)`.
fn pod_words(pod: &PodRef) -> String {
    format!("{}_{}({})", pod.name, pod.namespace, pod.uid)
}

/// Go's `%v` of a `[]string`: `[a b c]`.
fn go_list(args: &[String]) -> String {
    format!("[{}]", args.join(" "))
}

/// The message of a failed exec hook, in upstream's words (handlers.go `Run`), with the
/// error the CRI client gives a non-zero exit (k8s.io/cri-client remote_runtime.go
/// `ExecSync`: "command '...' exited with N: STDERR"). The hook's output is not kept by
/// this kubelet, so `message` is always empty.
pub fn exec_failure(args: &[String], container: &str, pod: &PodRef, error: &str) -> String {
    format!(
        "Exec lifecycle hook ({}) for Container {container:?} in Pod {:?} failed - error: {error}, message: {:?}",
        go_list(args),
        pod_words(pod),
        ""
    )
}

/// The error of an exec that ran and exited with `code`.
pub fn exit_error(args: &[String], code: u32) -> String {
    format!("command '{}' exited with {code}: ", args.join(" "))
}

/// Runs `hook` in the running container `id` (`container` of `pod`) to its end; `Err`
/// holds upstream's message for the failure.
pub async fn run(
    rt: &Runtime,
    id: &str,
    hook: &Hook,
    container: &str,
    pod: &PodRef,
) -> Result<(), String> {
    match hook {
        Hook::Sleep(secs) => {
            tokio::time::sleep(Duration::from_secs(*secs)).await;
            Ok(())
        }
        Hook::Exec(args) => {
            let error = match rt.exec(id, args).await {
                Ok(0) => return Ok(()),
                Ok(code) => exit_error(args, code),
                Err(e) => e.to_string(),
            };
            Err(exec_failure(args, container, pod, &error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hooks_of_a_container() {
        let c: Container = serde_json::from_value(json!({
            "name": "app",
            "lifecycle": {
                "postStart": {"exec": {"command": ["sh", "-c", "echo hi > /tmp/x"]}},
                "preStop": {"sleep": {"seconds": 3}},
            }
        }))
        .unwrap();
        assert_eq!(
            post_start(&c),
            Some(Hook::Exec(vec![
                "sh".into(),
                "-c".into(),
                "echo hi > /tmp/x".into()
            ]))
        );
        assert_eq!(pre_stop(&c), Some(Hook::Sleep(3)));
        let http: Container = serde_json::from_value(json!({
            "name": "web",
            "lifecycle": {"postStart": {"httpGet": {"port": 80}}},
        }))
        .unwrap();
        assert_eq!(post_start(&http), None);
        assert_eq!(pre_stop(&http), None);
    }

    #[test]
    fn a_failed_exec_hook_is_told_in_upstreams_words() {
        let pod = PodRef {
            name: "p".into(),
            namespace: "default".into(),
            uid: "u-1".into(),
        };
        let args: Vec<String> = vec!["sh".into(), "-c".into(), "exit 3".into()];
        assert_eq!(
            exec_failure(&args, "main", &pod, &exit_error(&args, 3)),
            "Exec lifecycle hook ([sh -c exit 3]) for Container \"main\" in Pod \"p_default(u-1)\" \
             failed - error: command 'sh -c exit 3' exited with 3: , message: \"\""
        );
    }
}
