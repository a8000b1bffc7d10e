//! Node reality read from the Docker host's `/proc`, with no process started in the node.
//!
//! When `chaos` runs as root on the kernel that runs the node containers (Linux, local Docker
//! socket), a node's PID 1 is a host process (Docker's `.State.Pid`) and the node's files are
//! under `/proc/PID/root`, its own `/proc` among them: the procfs mounted for the node's PID
//! namespace, which lists every process of the node by its PID there, exactly what the in-node
//! scan's `grep /proc/[0-9]*/cmdline` reads (a process entered with `docker exec` included). So
//! a node's processes cost one directory listing and one small read each, with no PID to
//! translate (walking PID 1's descendants through every thread's `children` file and mapping
//! each with `NSpid` cost several times that, and grew with the shims' threads), and
//! containerd's task bundles among them. From these facts this module writes exactly the text
//! the in-node scan ([`crate::backends::docker::scripts::SCAN`], its bundle branch) would have
//! printed, and hands it to the same parser, so both paths share one interpretation.
//!
//! What this path cannot see without starting a process, it does not guess: a node with
//! `crictl` (the CRI's view includes sandboxes that no longer have a task) and a task whose
//! OCI spec has no CRI annotations (its labels need `ctr`) make the caller use containerd's
//! socket ([`super::socket`], which sees both) or the exec path for that node. So do a remote Docker, Docker Desktop (the node's PID is in a VM) and not
//! being root.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::parse::{NodeScan, Task, parse_scan};
use crate::backends::docker::scripts::MARK;

/// Where containerd keeps the task bundles of namespace k8s.io, inside the node.
pub const BUNDLES: &str = "/run/containerd/io.containerd.runtime.v2.task/k8s.io";
/// The PATH `docker exec` uses when the container's configuration sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What reading one node from the host gave.
#[derive(Debug)]
pub enum HostRead {
    Scan(NodeScan),
    /// The node's cgroup is frozen (`docker pause`): its processes are not to be read.
    Paused,
    /// The host path cannot read this node; why.
    Fallback(String),
}

/// Whether this process could read nodes from the host at all: Linux, root, local Docker.
pub fn possible() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("not on Linux".into());
    }
    if let Ok(host) = std::env::var("DOCKER_HOST")
        && !host.is_empty()
        && !host.starts_with("unix://")
    {
        return Err(format!("DOCKER_HOST={host} is not a local socket"));
    }
    let status =
        read_kernel_text("/proc/self/status").map_err(|e| format!("/proc/self/status: {e}"))?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1));
    if euid != Some("0") {
        return Err("not running as root".into());
    }
    Ok(())
}

/// Reads the node whose PID 1 is host process `pid`, of Docker container `container_id`, with
/// `path` the PATH a `docker exec` in it would use (`None`: Docker's default).
pub fn read(pid: u32, container_id: &str, path: Option<&str>) -> HostRead {
    match read_text(pid, container_id, path) {
        Ok(Some(text)) => match parse_scan(&text) {
            Ok(scan) => HostRead::Scan(scan),
            Err(e) => HostRead::Fallback(e),
        },
        Ok(None) => HostRead::Paused,
        Err(reason) => HostRead::Fallback(reason),
    }
}

/// Where Docker's cgroup of a container is, under `/sys/fs/cgroup`: cgroup v2 or v1 (each
/// hierarchy holds the same processes), the cgroupfs driver or systemd's; PID 1 of a node
/// whose own init is systemd sits in `init.scope` below it (cgroup v2).
fn cgroup_dirs(id: &str) -> Vec<String> {
    let mut dirs = Vec::new();
    for hierarchy in ["", "pids/", "unified/", "systemd/", "memory/"] {
        for group in [
            format!("docker/{id}"),
            format!("system.slice/docker-{id}.scope"),
        ] {
            for leaf in ["", "/init.scope"] {
                dirs.push(format!("/sys/fs/cgroup/{hierarchy}{group}{leaf}"));
            }
        }
    }
    dirs
}

/// Which of [`cgroup_dirs`] held the last container found.
static LAYOUT: AtomicUsize = AtomicUsize::new(0);

/// The host PID of PID 1 of Docker container `id` and its PATH (`None`: it sets none), from
/// the container's cgroup and `/proc`, without asking Docker (one inspect per node otherwise):
/// the process of the container's cgroup that is PID 1 of a PID namespace below ours.
/// `None` when not found here (another cgroup layout, not on this kernel, not root): the
/// caller asks Docker. [`node`] checks the process again before it is read.
pub fn find_pid(id: &str) -> Option<(u32, Option<String>)> {
    if !valid_container_id(id) {
        return None;
    }
    // Every node of one host has the same layout: the one found last is tried first.
    let dirs = cgroup_dirs(id);
    let last = LAYOUT.load(Ordering::Relaxed).min(dirs.len() - 1);
    let order = std::iter::once(last).chain((0..dirs.len()).filter(|&i| i != last));
    for i in order {
        let dir = &dirs[i];
        let Ok(procs) = read_kernel_text(format!("{dir}/cgroup.procs")) else {
            continue;
        };
        LAYOUT.store(i, Ordering::Relaxed);
        let pid1 = procs
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
            .find(|&p| nspid(p).is_some_and(|ns| ns.len() > 1 && ns.last() == Some(&1)));
        if let Some(pid) = pid1 {
            let environ = read_virtual(format!("/proc/{pid}/environ")).ok()?;
            let path = environ
                .split(|b| *b == 0)
                .find_map(|e| e.strip_prefix(b"PATH="))
                .map(|p| String::from_utf8_lossy(p).into_owned());
            return Some((pid, path));
        }
    }
    None
}

/// A Docker container ID: 64 lowercase hex digits (never a path).
fn valid_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A running node as the host sees it: where its files (and its own procfs) are.
pub struct HostNode {
    pub root: String,
    /// `crictl` is in the node's PATH: the exec path would show the CRI's view.
    pub crictl: bool,
}

/// Checks that host process `pid` is PID 1 of the node container `container_id` and not
/// frozen (`Ok(None)`), and, with `refuse_crictl` (the bundles cannot give the CRI's view),
/// that the node has no `crictl` (see the module docs).
pub fn node(
    pid: u32,
    container_id: &str,
    path: Option<&str>,
    refuse_crictl: bool,
) -> Result<Option<HostNode>, String> {
    let proc = format!("/proc/{pid}");
    let cgroup =
        read_kernel_text(format!("{proc}/cgroup")).map_err(|e| format!("{proc}/cgroup: {e}"))?;
    if container_id.is_empty() || !cgroup.contains(container_id) {
        return Err(format!(
            "process {pid} is not the node container as seen from here (Docker Desktop, or \
             chaos in another PID namespace)"
        ));
    }
    if frozen(&cgroup) {
        return Ok(None);
    }
    let ns = nspid(pid).unwrap_or_default();
    if ns.last() != Some(&1) {
        return Err(format!("process {pid} is not PID 1 of its namespace"));
    }
    let root = format!("{proc}/root");
    let crictl = has_crictl(&root, path.unwrap_or(DEFAULT_PATH));
    if crictl && refuse_crictl {
        return Err("the node has crictl: the CRI's view needs an exec".into());
    }
    Ok(Some(HostNode { root, crictl }))
}

/// The node's processes, as the scan's first part prints them (see [`cmdlines`]), and the
/// PIDs (in the node) of the processes found.
pub fn processes_and_pids(node: &HostNode) -> Result<(String, BTreeSet<u32>), String> {
    let mut text = String::new();
    let pids = cmdlines(&mut text, &node.root)?;
    Ok((text, pids))
}

/// The scan's text as the exec path would print it; `None` for a frozen node.
fn read_text(pid: u32, container_id: &str, path: Option<&str>) -> Result<Option<String>, String> {
    let Some(node) = node(pid, container_id, path, true)? else {
        return Ok(None);
    };
    let root = &node.root;
    let (mut text, _) = processes_and_pids(&node)?;
    let bundles = format!("{root}{BUNDLES}");
    let mut ids: Vec<String> = match fs::read_dir(&bundles) {
        Ok(dir) => dir
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{bundles}: {e}")),
    };
    ids.sort();
    text.push_str(MARK);
    text.push_str("bundles@@\n");
    let mut specs = String::new();
    for id in &ids {
        let dir = format!("{bundles}/{id}");
        let shown = format!("{BUNDLES}/{id}");
        if let Ok(b) = fs::read(format!("{dir}/init.pid")) {
            grep_lines(&mut text, &format!("{shown}/init.pid"), &b);
        }
        if let Ok(b) = fs::read(format!("{dir}/config.json")) {
            let spec = String::from_utf8_lossy(&b);
            if !spec.contains("\"io.kubernetes.cri.sandbox-name\"")
                && !spec.contains("\"io.kubernetes.cri.container-name\"")
            {
                return Err(format!(
                    "task {id} has no CRI annotations: its labels need `ctr`"
                ));
            }
            grep_lines(&mut specs, &format!("{shown}/config.json"), &b);
        }
    }
    text.push_str(&specs);
    text.push('\n');
    text.push_str(MARK);
    text.push_str("end@@\n");
    Ok(Some(text))
}

/// A task's status when its init process runs (as containerd spells it).
pub const RUNNING: &str = "RUNNING";

/// The node's tasks from containerd's task bundles under `root` (`/proc/PID/root`): one
/// directory per task with its init process's PID, running while that process is among `live`
/// (the node's processes, by their PIDs in the node), as the bundle scan reads them. A bundle
/// without `init.pid` yet (a task being created) is no task. Listing tasks through
/// containerd's API instead costs a round trip to every task's shim (containerd asks each one
/// its state), which made a snapshot's cost grow with the pods.
pub fn bundle_tasks(root: &str, live: &BTreeSet<u32>) -> Result<Vec<Task>, String> {
    let bundles = format!("{root}{BUNDLES}");
    let dir = match fs::read_dir(&bundles) {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{bundles}: {e}")),
    };
    let mut tasks = Vec::new();
    for entry in dir.filter_map(|e| e.ok()) {
        let Ok(id) = entry.file_name().into_string() else {
            continue;
        };
        if id.starts_with('.') {
            continue;
        }
        let Some(pid) = read_virtual(entry.path().join("init.pid"))
            .ok()
            .and_then(|p| String::from_utf8_lossy(&p).trim().parse::<u32>().ok())
        else {
            continue;
        };
        let status = if live.contains(&pid) {
            RUNNING
        } else {
            "STOPPED"
        };
        tasks.push(Task {
            id,
            pid,
            status: status.to_string(),
        });
    }
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(tasks)
}

/// Whether the cgroup of a process with this `/proc/PID/cgroup` is frozen: cgroup v2's
/// `cgroup.events` says `frozen 1`, or v1's freezer is not `THAWED`.
fn frozen(cgroup: &str) -> bool {
    cgroup.lines().any(|l| {
        let mut f = l.splitn(3, ':');
        let (Some(_), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else {
            return false;
        };
        let path = path.trim();
        if ctrl.is_empty() {
            read_kernel_text(format!("/sys/fs/cgroup{path}/cgroup.events"))
                .is_ok_and(|ev| ev.lines().any(|l| l.trim() == "frozen 1"))
        } else if ctrl.split(',').any(|c| c == "freezer") {
            read_kernel_text(format!("/sys/fs/cgroup/freezer{path}/freezer.state"))
                .is_ok_and(|st| st.trim() != "THAWED")
        } else {
            false
        }
    })
}

/// The `NSpid` line of a process: its PID in each PID namespace, outermost first.
fn nspid(pid: u32) -> Option<Vec<u32>> {
    let status = read_virtual(format!("/proc/{pid}/status")).ok()?;
    let status = String::from_utf8_lossy(&status);
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_whitespace().map(|p| p.parse().ok()).collect()
}

/// Whether `crictl` is in the node's PATH (the exec path then asks the CRI). A symlink counts:
/// the host cannot tell where an absolute one points inside the node, so it is not followed.
fn has_crictl(root: &str, path: &str) -> bool {
    path.split(':')
        .filter(|d| d.starts_with('/'))
        .any(|d| fs::symlink_metadata(Path::new(&format!("{root}{d}/crictl"))).is_ok())
}

/// `grep -a -H -s '' /proc/[0-9]*/cmdline` as run in the node: every process of the node, by
/// its PID there, in the order of the shell's glob, read from the node's own procfs under
/// `root`. Returns the PIDs printed.
fn cmdlines(out: &mut String, root: &str) -> Result<BTreeSet<u32>, String> {
    let procfs = format!("{root}/proc");
    let dir = fs::read_dir(&procfs).map_err(|e| format!("{procfs}: {e}"))?;
    let mut found: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pids = BTreeSet::new();
    for entry in dir.filter_map(|e| e.ok()) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Gone since the listing: skipped, as `grep -s` does.
        if let Ok(cmdline) = read_virtual(entry.path().join("cmdline")) {
            found.push((format!("/proc/{pid}/cmdline"), cmdline));
            pids.insert(pid);
        }
    }
    if pids.is_empty() {
        return Err(format!("{procfs} lists no process: not the node's procfs"));
    }
    found.sort();
    for (path, cmdline) in found {
        grep_lines(out, &path, &cmdline);
    }
    Ok(pids)
}

/// A small file read whole: a kernel's (`/proc`, `/sys/fs/cgroup`) or a task's `init.pid`.
/// The kernel's say their size is 0, so `fs::read` asks for the size in vain and then reads
/// in small steps; one 4 KiB buffer (grown if full) takes two reads for most of them, with no
/// size asked, and a snapshot reads hundreds.
fn read_virtual(path: impl AsRef<Path>) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// [`read_virtual`] as text (a kernel file's bytes that are not UTF-8 are replaced).
fn read_kernel_text(path: impl AsRef<Path>) -> std::io::Result<String> {
    read_virtual(path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// What `grep -H '' FILE` prints for a file of this content, shown as `path`.
fn grep_lines(out: &mut String, path: &str, content: &[u8]) {
    let text = String::from_utf8_lossy(content);
    if text.is_empty() {
        return;
    }
    let body = text.strip_suffix('\n').unwrap_or(&text);
    for line in body.split('\n') {
        out.push_str(path);
        out.push(':');
        out.push_str(line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grep_lines_prints_like_grep_h() {
        let mut out = String::new();
        grep_lines(&mut out, "/proc/7/cmdline", b"a\0b\0");
        grep_lines(&mut out, "/x", b"");
        grep_lines(&mut out, "/y", b"one\ntwo");
        grep_lines(&mut out, "/z", b"\n");
        assert_eq!(out, "/proc/7/cmdline:a\0b\0\n/y:one\n/y:two\n/z:\n");
    }

    #[test]
    fn kernel_files_are_read_whole() {
        let status = read_virtual("/proc/self/status").unwrap();
        assert!(String::from_utf8_lossy(&status).contains("\nNSpid:"));
        // Longer than the first buffer: grown, not cut.
        let path = std::env::temp_dir().join(format!("kind-chaos-read-{}", std::process::id()));
        let long: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &long).unwrap();
        let read = read_virtual(&path);
        fs::remove_file(&path).unwrap();
        assert_eq!(read.unwrap(), long);
    }

    #[test]
    fn frozen_only_when_the_cgroup_says_so() {
        assert!(!frozen("0::/no/such/cgroup-kind-chaos\n"));
        assert!(!frozen("12:freezer:/docker/no-such-cgroup-kind-chaos\n"));
        assert!(!frozen("4:memory:/\n"));
    }
}
