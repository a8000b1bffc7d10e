//! Starting a pod's sandbox and containers: the labels and annotations the CRI puts on
//! them (so `chaos reality` maps them as on kind), the command line from command/args and
//! the image's ENTRYPOINT/CMD, the environment, and the namespaces to share.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::{Map, Value, json};

use super::observe::{
    ATTEMPT, CONTAINER_NAME, IMAGE_ID, KIND, POD_NAME, POD_NAMESPACE, POD_UID, STOP_SIGNAL,
};
use crate::cri::container::{NewContainer, new_id};
use crate::cri::image::ImageConfig;
use crate::cri::spec::{SpecInput, build, parse_user, signal_number};
use crate::cri::{CriError, Runtime};

/// The pod's name, namespace and uid.
#[derive(Debug, Clone)]
pub struct PodRef {
    pub name: String,
    pub namespace: String,
    pub uid: String,
}

impl PodRef {
    pub fn of(pod: &Pod) -> PodRef {
        PodRef {
            name: pod.metadata.name.clone().unwrap_or_default(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        }
    }

    fn labels(&self, kind: &str) -> HashMap<String, String> {
        HashMap::from([
            (POD_NAME.to_string(), self.name.clone()),
            (POD_NAMESPACE.to_string(), self.namespace.clone()),
            (POD_UID.to_string(), self.uid.clone()),
            (KIND.to_string(), kind.to_string()),
        ])
    }

    fn annotations(&self, sandbox_id: &str, kind: &str) -> Map<String, Value> {
        let mut a = Map::new();
        a.insert("io.kubernetes.cri.container-type".into(), json!(kind));
        a.insert("io.kubernetes.cri.sandbox-id".into(), json!(sandbox_id));
        a.insert("io.kubernetes.cri.sandbox-name".into(), json!(self.name));
        a.insert(
            "io.kubernetes.cri.sandbox-namespace".into(),
            json!(self.namespace),
        );
        a.insert("io.kubernetes.cri.sandbox-uid".into(), json!(self.uid));
        a
    }
}

fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

/// Starts a sandbox for the pod from the pause image. Returns its pid.
pub async fn start_sandbox(rt: &Runtime, pod: &Pod, pause_image: &str) -> Result<u32, CriError> {
    let p = PodRef::of(pod);
    let image = rt.image_config(pause_image).await?;
    let id = new_id();
    let shm_source = shm_dir(rt, &id).await?;
    let mut args = image.entrypoint.clone();
    args.extend(image.cmd.iter().cloned());
    let spec = build(&SpecInput {
        args,
        env: image.env.clone(),
        cwd: image.working_dir.clone(),
        hostname: p.name.clone(),
        host_network: host_network(pod),
        cgroups_path: format!("/{}/{id}", rt.namespace),
        annotations: p.annotations(&id, "sandbox"),
        shm_source,
        ..SpecInput::default()
    });
    let labels = p.labels("sandbox");
    rt.create_and_start(NewContainer {
        id: &id,
        image: &image.name,
        chain_id: &image.chain_id,
        labels,
        spec,
        log_path: None,
    })
    .await
}

/// Makes the sandbox's shared /dev/shm directory (mode 1777, like a tmpfs /dev/shm) when
/// the runtime keeps sandbox directories; returns its path in the node.
async fn shm_dir(rt: &Runtime, sandbox_id: &str) -> Result<Option<String>, CriError> {
    let Some(dirs) = &rt.sandbox_dirs else {
        return Ok(None);
    };
    let (local, in_node) = dirs.shm(sandbox_id);
    let io = |e: std::io::Error| CriError::Io(format!("{}: {e}", local.display()));
    tokio::fs::create_dir_all(&local).await.map_err(io)?;
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o1777))
        .await
        .map_err(io)?;
    Ok(Some(in_node))
}

/// The command line, as upstream's kuberuntime and the CRI make it: `command` replaces
/// the ENTRYPOINT (and drops CMD); `args` alone replace CMD.
pub fn command_line(c: &Container, image: &ImageConfig) -> Vec<String> {
    let command = c.command.clone().unwrap_or_default();
    let args = c.args.clone().unwrap_or_default();
    match (command.is_empty(), args.is_empty()) {
        (false, _) => command.into_iter().chain(args).collect(),
        (true, false) => image.entrypoint.iter().cloned().chain(args).collect(),
        (true, true) => image.entrypoint.iter().chain(&image.cmd).cloned().collect(),
    }
}

/// The environment: the image's, then the container's `env` (literal values and the
/// downward API's pod name, namespace, uid and node name), later names winning.
pub fn environment(c: &Container, image: &ImageConfig, pod: &Pod) -> Vec<String> {
    let mut env: Vec<(String, String)> = Vec::new();
    let set = set_env;
    for kv in &image.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        set(&mut env, k.to_string(), v.to_string());
    }
    if !host_network(pod) {
        set(
            &mut env,
            "HOSTNAME".into(),
            pod.metadata.name.clone().unwrap_or_default(),
        );
    }
    for e in c.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(from)) => {
                from.field_ref
                    .as_ref()
                    .and_then(|f| match f.field_path.as_str() {
                        "metadata.name" => pod.metadata.name.clone(),
                        "metadata.namespace" => pod.metadata.namespace.clone(),
                        "metadata.uid" => pod.metadata.uid.clone(),
                        "spec.nodeName" => pod.spec.as_ref().and_then(|s| s.node_name.clone()),
                        _ => None,
                    })
            }
            (None, None) => Some(String::new()),
        };
        if let Some(v) = value {
            set(&mut env, e.name.clone(), v);
        }
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push((
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ));
    }
    env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn set_env(env: &mut Vec<(String, String)>, k: String, v: String) {
    match env.iter_mut().find(|(n, _)| *n == k) {
        Some(e) => e.1 = v,
        None => env.push((k, v)),
    }
}

/// Starts attempt `attempt` of container `c` in the sandbox `(sandbox_id, sandbox_pid)`.
pub async fn start_container(
    rt: &Runtime,
    pod: &Pod,
    c: &Container,
    image: &ImageConfig,
    sandbox: (&str, u32),
    attempt: u32,
) -> Result<String, CriError> {
    let p = PodRef::of(pod);
    let id = new_id();
    let spec_pod = pod.spec.as_ref();
    let run_as = c
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_user)
        .or_else(|| {
            spec_pod
                .and_then(|s| s.security_context.as_ref())
                .and_then(|s| s.run_as_user)
        });
    let (uid, gid) = match run_as {
        Some(u) => (u32::try_from(u).unwrap_or(0), 0),
        None => parse_user(&image.user),
    };
    let mut annotations = p.annotations(sandbox.0, "container");
    annotations.insert("io.kubernetes.cri.container-name".into(), json!(c.name));
    annotations.insert("io.kubernetes.cri.image-name".into(), json!(image.name));
    let spec = build(&SpecInput {
        args: command_line(c, image),
        env: environment(c, image, pod),
        cwd: c
            .working_dir
            .clone()
            .unwrap_or_else(|| image.working_dir.clone()),
        uid,
        gid,
        hostname: p.name.clone(),
        sandbox_pid: Some(sandbox.1),
        host_network: host_network(pod),
        share_pid: spec_pod
            .and_then(|s| s.share_process_namespace)
            .unwrap_or(false),
        cgroups_path: format!("/{}/{id}", rt.namespace),
        annotations,
        shm_source: rt.sandbox_dirs.as_ref().map(|d| d.shm(sandbox.0).1),
    });
    let stop = signal_number(&image.stop_signal).unwrap_or(15);
    let mut labels = p.labels("container");
    labels.insert(CONTAINER_NAME.into(), c.name.clone());
    labels.insert(ATTEMPT.into(), attempt.to_string());
    labels.insert(STOP_SIGNAL.into(), stop.to_string());
    labels.insert(IMAGE_ID.into(), image_id(image));
    let log = format!(
        "/var/log/pods/{}_{}_{}/{}/{attempt}.log",
        p.namespace, p.name, p.uid, c.name
    );
    rt.create_and_start(NewContainer {
        id: &id,
        image: &image.name,
        chain_id: &image.chain_id,
        labels,
        spec,
        log_path: Some(log),
    })
    .await?;
    Ok(id)
}

/// `docker.io/library/busybox@sha256:...`, as containerStatuses[].imageID has it.
fn image_id(image: &ImageConfig) -> String {
    let repo = match image.name.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => &image.name,
    };
    format!("{repo}@{}", image.digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageConfig {
        ImageConfig {
            entrypoint: vec!["/probe".into()],
            cmd: vec!["--timed".into()],
            env: vec!["PATH=/bin".into(), "A=1".into()],
            ..ImageConfig::default()
        }
    }

    fn container(v: Value) -> Container {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn command_and_args_against_entrypoint_and_cmd() {
        let img = image();
        let c = |v| command_line(&container(v), &img);
        assert_eq!(c(json!({"name": "a"})), ["/probe", "--timed"]);
        assert_eq!(c(json!({"name": "a", "args": ["x"]})), ["/probe", "x"]);
        assert_eq!(c(json!({"name": "a", "command": ["sh"]})), ["sh"]);
        assert_eq!(
            c(json!({"name": "a", "command": ["sh"], "args": ["-c", "x"]})),
            ["sh", "-c", "x"]
        );
    }

    #[test]
    fn env_overrides_the_image() {
        let pod: Pod = serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": []}}),
        )
        .unwrap();
        let c = container(json!({"name": "a", "env": [
            {"name": "A", "value": "2"},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ]}));
        let env = environment(&c, &image(), &pod);
        assert_eq!(env, ["PATH=/bin", "A=2", "HOSTNAME=p", "NS=ns"]);
    }
}
