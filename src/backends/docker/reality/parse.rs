//! Parsing the output of the node scan script: no I/O, so every case is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::backends::docker::scripts::MARK;
use crate::backends::{NodeReality, PodKey, Sandbox, Shim};

/// Where the sandbox and container list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    #[default]
    Ctr,
    Crictl,
}

/// Everything one scan of a node found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeScan {
    pub source: Source,
    pub kubelet_pids: Vec<u32>,
    pub shims: Vec<Shim>,
    /// Pod sandboxes known to the CRI (live or not).
    pub sandboxes: Vec<SandboxInfo>,
    /// Application containers known to the CRI.
    pub containers: Vec<CriContainer>,
    /// containerd tasks in namespace k8s.io, with their PIDs in the node.
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInfo {
    pub id: String,
    pub pod: PodKey,
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriContainer {
    pub id: String,
    pub name: String,
    pub sandbox_id: String,
    pub running: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub pid: u32,
    pub status: String,
}

impl NodeScan {
    /// The project's view of this node.
    pub fn reality(&self, node: &str) -> NodeReality {
        let live: BTreeSet<&str> = self.shims.iter().map(|s| s.sandbox_id.as_str()).collect();
        let mut sandboxes: Vec<Sandbox> = self
            .sandboxes
            .iter()
            .map(|sb| {
                let mut containers: Vec<String> = self
                    .containers
                    .iter()
                    .filter(|c| c.sandbox_id == sb.id && c.running)
                    .map(|c| c.name.clone())
                    .collect();
                containers.sort();
                Sandbox {
                    id: sb.id.clone(),
                    pod: sb.pod.clone(),
                    uid: sb.uid.clone(),
                    live: live.contains(sb.id.as_str()),
                    containers,
                }
            })
            .collect();
        sandboxes.sort_by(|a, b| (&a.pod, &a.id).cmp(&(&b.pod, &b.id)));
        NodeReality {
            node: node.to_string(),
            kubelet_running: !self.kubelet_pids.is_empty(),
            shims: self.shims.clone(),
            sandboxes,
        }
    }

    /// The PID of a task (container or sandbox) that is running.
    pub fn running_pid(&self, id: &str) -> Option<u32> {
        self.tasks
            .iter()
            .find(|t| t.id == id && t.status.eq_ignore_ascii_case("running"))
            .map(|t| t.pid)
    }
}

/// A containerd id as the CRI makes them (64 hex) or as a person might (`[A-Za-z0-9_.-]`).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

pub fn parse_scan(out: &str) -> Result<NodeScan, String> {
    let mut scan = NodeScan::default();
    let mut seen_pids = BTreeSet::new();
    let mut section: Option<String> = None;
    let mut body = String::new();
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in out.split('\n') {
        if let Some(rest) = line.strip_prefix(MARK) {
            if let Some(s) = section.take() {
                sections.push((s, std::mem::take(&mut body)));
            }
            section = Some(rest.to_string());
            continue;
        }
        match &section {
            None => {
                if let Some((pid, args)) = cmdline_line(line)
                    && seen_pids.insert(pid)
                {
                    process(&mut scan, pid, &args);
                }
            }
            Some(_) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    if let Some(s) = section.take() {
        sections.push((s, body));
    }
    for (name, text) in sections {
        if name == "crictl-pods@@" {
            scan.source = Source::Crictl;
            scan.sandboxes = crictl_pods(&text)?;
        } else if name == "crictl-ps@@" {
            scan.containers = crictl_containers(&text)?;
        } else if name == "tasks@@" {
            scan.tasks = parse_tasks(&text);
        } else if let Some(id) = name.strip_prefix("info@@ ") {
            ctr_info(&mut scan, id.trim(), &text)?;
        } else if name == "bundles@@" {
            bundles(&mut scan, &seen_pids, &text);
        }
    }
    if scan.source == Source::Ctr {
        mark_running(&mut scan);
    }
    scan.shims.sort_by(|a, b| a.sandbox_id.cmp(&b.sandbox_id));
    scan.kubelet_pids.sort_unstable();
    Ok(scan)
}

/// One container as containerd's API gives it: id, labels, OCI spec (JSON).
pub type ApiContainer = (String, BTreeMap<String, String>, Vec<u8>);

/// The scan from the node's processes (the scan's `/proc` part) and containerd's API, seen as
/// the exec path would on the same node. With `cri_view` (the node has `crictl`, which knows
/// every sandbox the CRI keeps, ready or not: `crictl pods`) every container counts, a sandbox
/// without a task being one that is stopped; without it only containers with a task count, as
/// in the exec path's reading of the task bundles. (The socket path keeps the API's part
/// between reads: [`api_view`], then [`with_processes`].)
#[cfg(test)]
pub fn from_containerd(
    processes: &str,
    tasks: Vec<Task>,
    containers: &[ApiContainer],
    cri_view: bool,
) -> Result<NodeScan, String> {
    with_processes(processes, &api_view(tasks, containers, cri_view))
}

/// What containerd's API said of one node, interpreted: the part of [`from_containerd`] that
/// does not depend on the node's processes, so a reader that finds containerd unchanged since
/// its last listing can keep it instead of listing and parsing every OCI spec again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiView {
    source: Source,
    sandboxes: Vec<SandboxInfo>,
    containers: Vec<CriContainer>,
    tasks: Vec<Task>,
}

/// [`from_containerd`]'s reading of the API's answer (see there).
pub fn api_view(tasks: Vec<Task>, containers: &[ApiContainer], cri_view: bool) -> ApiView {
    let mut scan = NodeScan::default();
    let with_task: BTreeSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    for (id, labels, spec) in containers {
        if cri_view || with_task.contains(id.as_str()) {
            containerd_container(&mut scan, id, labels, spec);
        }
    }
    scan.tasks = tasks;
    mark_running(&mut scan);
    ApiView {
        source: if cri_view {
            Source::Crictl
        } else {
            Source::Ctr
        },
        sandboxes: scan.sandboxes,
        containers: scan.containers,
        tasks: scan.tasks,
    }
}

/// The node's scan from its processes (the scan's `/proc` part) and an [`ApiView`].
pub fn with_processes(processes: &str, api: &ApiView) -> Result<NodeScan, String> {
    let mut scan = parse_scan(&format!("{processes}{MARK}end@@\n"))?;
    scan.source = api.source;
    scan.sandboxes = api.sandboxes.clone();
    scan.containers = api.containers.clone();
    scan.tasks = api.tasks.clone();
    Ok(scan)
}

/// Without the CRI's view, a container runs when its task does.
fn mark_running(scan: &mut NodeScan) {
    for c in &mut scan.containers {
        c.running = scan
            .tasks
            .iter()
            .any(|t| t.id == c.id && t.status.eq_ignore_ascii_case("running"));
    }
}

/// `/proc/PID/cmdline:arg0\0arg1\0...` -> (PID, args).
fn cmdline_line(line: &str) -> Option<(u32, Vec<&str>)> {
    let rest = line.strip_prefix("/proc/")?;
    let (pid, args) = rest.split_once("/cmdline:")?;
    let pid = pid.parse().ok()?;
    Some((pid, args.split('\0').filter(|a| !a.is_empty()).collect()))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn process(scan: &mut NodeScan, pid: u32, args: &[&str]) {
    let Some(argv0) = args.first() else { return };
    match basename(argv0) {
        "kubelet" => scan.kubelet_pids.push(pid),
        "containerd-shim-runc-v2" => {
            let value = |flag: &str| {
                args.iter()
                    .position(|a| *a == flag || a.strip_prefix('-') == Some(flag))
                    .and_then(|i| args.get(i + 1))
                    .copied()
            };
            // `... start` and `... delete` are short-lived invocations, not the shim daemon.
            if args
                .iter()
                .skip(1)
                .any(|a| matches!(*a, "start" | "delete"))
            {
                return;
            }
            if value("-namespace").is_some_and(|ns| ns != "k8s.io") {
                return;
            }
            if let Some(id) = value("-id").filter(|id| valid_id(id)) {
                scan.shims.push(Shim {
                    pid,
                    sandbox_id: id.to_string(),
                });
            }
        }
        _ => {}
    }
}

fn json(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text.trim()).map_err(|e| format!("{what} printed invalid JSON: {e}"))
}

/// The array at `key`; empty when there is none (crictl leaves it out or writes `null`).
fn list_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_default()
}

fn crictl_pods(text: &str) -> Result<Vec<SandboxInfo>, String> {
    let v = json(text, "crictl pods -o json")?;
    Ok(list_at(&v, "items")
        .iter()
        .filter(|p| valid_id(str_at(p, &["id"])))
        .map(|p| SandboxInfo {
            id: str_at(p, &["id"]).to_string(),
            pod: PodKey {
                namespace: str_at(p, &["metadata", "namespace"]).to_string(),
                name: str_at(p, &["metadata", "name"]).to_string(),
            },
            uid: str_at(p, &["metadata", "uid"]).to_string(),
        })
        .collect())
}

fn crictl_containers(text: &str) -> Result<Vec<CriContainer>, String> {
    let v = json(text, "crictl ps -o json")?;
    Ok(list_at(&v, "containers")
        .iter()
        .map(|c| CriContainer {
            id: str_at(c, &["id"]).to_string(),
            name: str_at(c, &["metadata", "name"]).to_string(),
            sandbox_id: str_at(c, &["podSandboxId"]).to_string(),
            running: str_at(c, &["state"]) == "CONTAINER_RUNNING",
        })
        .collect())
}

/// `ctr tasks ls`: `TASK PID STATUS` rows.
pub fn parse_tasks(text: &str) -> Vec<Task> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let id = f.next()?;
            let pid = f.next()?.parse().ok()?;
            let status = f.next().unwrap_or_default();
            (id != "TASK" && valid_id(id)).then(|| Task {
                id: id.to_string(),
                pid,
                status: status.to_string(),
            })
        })
        .collect()
}

/// `ctr containers info ID`: a sandbox (pod labels) or an application container (the CRI's
/// OCI annotations name its sandbox).
fn ctr_info(scan: &mut NodeScan, id: &str, text: &str) -> Result<(), String> {
    if text.trim().is_empty() || !valid_id(id) {
        return Ok(()); // gone between `tasks ls` and `info`
    }
    let v = json(text, "ctr containers info")?;
    ctr_value(scan, id, &v);
    Ok(())
}

/// A container from containerd's API (the socket path), read as the exec path reads it: by the
/// CRI's annotations in its OCI spec where the spec has them (the bundle branch), else by its
/// labels and spec as `ctr containers info` would show them.
fn containerd_container(
    scan: &mut NodeScan,
    id: &str,
    labels: &BTreeMap<String, String>,
    spec: &[u8],
) {
    if !valid_id(id) {
        return;
    }
    let text = String::from_utf8_lossy(spec);
    let annotations = spec_annotations(&text);
    if text.contains("\"io.kubernetes.cri.sandbox-name\"")
        || text.contains("\"io.kubernetes.cri.container-name\"")
    {
        by_annotations(scan, id, &annotations);
    } else {
        by_labels(scan, id, labels, &annotations);
    }
}

/// The annotations of an OCI spec: all the scan reads of it. The rest of the spec (mounts,
/// capabilities, seccomp: most of its bytes) is skipped by the parser, not built as a tree.
/// An unreadable spec has none.
fn spec_annotations(spec: &str) -> BTreeMap<String, Value> {
    #[derive(serde::Deserialize)]
    struct Spec {
        #[serde(default)]
        annotations: BTreeMap<String, Value>,
    }
    serde_json::from_str::<Spec>(spec.trim())
        .map(|s| s.annotations)
        .unwrap_or_default()
}

/// A string annotation, or empty.
fn annotation(annotations: &BTreeMap<String, Value>, key: &str) -> String {
    annotations
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// [`ctr_info`] on the parsed JSON.
fn ctr_value(scan: &mut NodeScan, id: &str, v: &Value) {
    let labels: BTreeMap<String, String> =
        serde_json::from_value(v["Labels"].clone()).unwrap_or_default();
    let annotations: BTreeMap<String, Value> = v["Spec"]["annotations"]
        .as_object()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default();
    by_labels(scan, id, &labels, &annotations);
}

/// A container read by its containerd labels (the CRI's `io.cri-containerd.kind` and
/// `io.kubernetes.*`), its spec's annotations filling in what the labels lack.
fn by_labels(
    scan: &mut NodeScan,
    id: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, Value>,
) {
    let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let kind = labels.get("io.cri-containerd.kind").map(String::as_str);
    let pod_name = label("io.kubernetes.pod.name");
    match kind {
        Some("container") => scan.containers.push(CriContainer {
            id: id.to_string(),
            name: Some(label("io.kubernetes.container.name"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| annotation(annotations, "io.kubernetes.cri.container-name")),
            sandbox_id: annotation(annotations, "io.kubernetes.cri.sandbox-id"),
            running: false,
        }),
        Some("sandbox") | None if !pod_name.is_empty() => scan.sandboxes.push(SandboxInfo {
            id: id.to_string(),
            pod: PodKey {
                namespace: label("io.kubernetes.pod.namespace"),
                name: pod_name,
            },
            uid: label("io.kubernetes.pod.uid"),
        }),
        _ => {}
    }
}

/// `grep -H '' BUNDLE/*/init.pid BUNDLE/*/config.json`: the tasks (running when their init
/// process is alive) and, from the OCI specs, the CRI's annotations: whether a task is a
/// sandbox (and of which pod) or a container (and in which sandbox).
fn bundles(scan: &mut NodeScan, live: &BTreeSet<u32>, text: &str) {
    for line in text.lines() {
        let Some((path, content)) = line.split_once(':') else {
            continue;
        };
        let Some((dir, file)) = path.rsplit_once('/') else {
            continue;
        };
        let id = dir.rsplit('/').next().unwrap_or_default();
        if !valid_id(id) {
            continue;
        }
        match file {
            "init.pid" => {
                if let Ok(pid) = content.trim().parse::<u32>() {
                    let running = live.contains(&pid);
                    scan.tasks.push(Task {
                        id: id.to_string(),
                        pid,
                        status: if running { "RUNNING" } else { "STOPPED" }.to_string(),
                    });
                }
            }
            "config.json" => oci_spec(scan, id, content),
            _ => {}
        }
    }
}

/// A task's OCI spec: the CRI's annotations say whether it is a sandbox (and of which pod) or
/// a container (and in which sandbox). A spec that is not JSON is being written by containerd
/// at this moment (a task starting): the task is left unmapped until the next scan, rather
/// than failing the whole node's snapshot.
fn oci_spec(scan: &mut NodeScan, id: &str, text: &str) {
    by_annotations(scan, id, &spec_annotations(text));
}

/// A container read by the CRI's annotations in its OCI spec.
fn by_annotations(scan: &mut NodeScan, id: &str, annotations: &BTreeMap<String, Value>) {
    let annotation = |k: &str| annotation(annotations, k);
    match annotation("io.kubernetes.cri.container-type").as_str() {
        "container" => scan.containers.push(CriContainer {
            id: id.to_string(),
            name: annotation("io.kubernetes.cri.container-name"),
            sandbox_id: annotation("io.kubernetes.cri.sandbox-id"),
            running: false,
        }),
        "sandbox" if !annotation("io.kubernetes.cri.sandbox-name").is_empty() => {
            scan.sandboxes.push(SandboxInfo {
                id: id.to_string(),
                pod: PodKey {
                    namespace: annotation("io.kubernetes.cri.sandbox-namespace"),
                    name: annotation("io.kubernetes.cri.sandbox-name"),
                },
                uid: annotation("io.kubernetes.cri.sandbox-uid"),
            })
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
