//! OCI runtime specs for sandboxes and containers, as runc gets them from containerd.
//!
//! The defaults are containerd's (`oci.populateDefaultUnixSpec`: the default
//! capabilities, mounts, masked and read-only paths, `RLIMIT_NOFILE` 1024) so processes
//! see what `ctr run` and the CRI give them. Namespaces follow the CRI plugin: the sandbox
//! gets new pid, ipc, uts, mount and network namespaces (none for network and uts with
//! `hostNetwork`); a container joins the sandbox's network, ipc and uts namespaces through
//! `/proc/<sandbox pid>/ns/*` (paths in the node's pid namespace, where runc runs), and
//! its pid namespace too with `shareProcessNamespace`.

use serde_json::{Value, json};

/// The process and namespaces of one sandbox or container.
#[derive(Debug, Clone, Default)]
pub struct SpecInput {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub hostname: String,
    /// The sandbox's pid for a container; `None` for a sandbox.
    pub sandbox_pid: Option<u32>,
    pub host_network: bool,
    pub share_pid: bool,
    /// cgroupsPath, e.g. `/k8s.io/<id>`.
    pub cgroups_path: String,
    pub annotations: serde_json::Map<String, Value>,
    /// The pod's shared /dev/shm directory in the node, bind-mounted instead of a tmpfs of
    /// the container's own.
    pub shm_source: Option<String>,
}

const CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The runtime spec JSON.
pub fn build(input: &SpecInput) -> Value {
    let ns = |ty: &str, join: bool| match (join, input.sandbox_pid) {
        (true, Some(pid)) => {
            json!({ "type": ty, "path": format!("/proc/{pid}/ns/{}", ns_file(ty)) })
        }
        _ => json!({ "type": ty }),
    };
    let mut namespaces = vec![
        ns("pid", input.share_pid),
        ns("ipc", true),
        json!({ "type": "mount" }),
    ];
    if !input.host_network {
        namespaces.push(ns("uts", true));
        namespaces.push(ns("network", true));
    }
    let caps = json!(CAPS);
    // Upstream: containerd internal/cri/server/container_create_linux.go (WithPodShm) and
    // sandbox_run_linux.go: one /dev/shm per sandbox, bind-mounted into its containers.
    let shm = match &input.shm_source {
        Some(src) => {
            json!({ "destination": "/dev/shm", "type": "bind", "source": src, "options": ["rbind", "rprivate", "rw"] })
        }
        None => {
            json!({ "destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] })
        }
    };
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": input.uid, "gid": input.gid },
            "args": input.args,
            "env": input.env,
            "cwd": if input.cwd.is_empty() { "/" } else { &input.cwd },
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true,
        },
        "root": { "path": "rootfs" },
        // runc refuses a hostname without a private UTS namespace
        // (libcontainer/configs/validate/validator.go); with `hostNetwork` the pod shares the
        // node's UTS namespace, so it sees the node's hostname, as on kind.
        "hostname": if input.host_network { "" } else { &input.hostname },
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            shm,
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
        ],
        "annotations": input.annotations,
        "linux": {
            "cgroupsPath": input.cgroups_path,
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": namespaces,
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],
        },
    })
}

fn ns_file(ty: &str) -> &str {
    match ty {
        "network" => "net",
        "mount" => "mnt",
        other => other,
    }
}

/// A signal's number from its name (`SIGTERM`, `TERM`, `15`); `None` if unknown.
pub fn signal_number(name: &str) -> Option<u32> {
    let n = name.trim();
    if let Ok(num) = n.parse() {
        return Some(num);
    }
    let n = n.strip_prefix("SIG").unwrap_or(n);
    Some(match n {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "KILL" => 9,
        "USR1" => 10,
        "USR2" => 12,
        "TERM" => 15,
        "STOP" => 19,
        "WINCH" => 28,
        "PWR" => 30,
        _ => return None,
    })
}

/// The uid and gid of an image `USER` or `runAsUser`: numeric forms only; names (which
/// would need the image's /etc/passwd) become root, with a warning.
pub fn parse_user(user: &str) -> (u32, u32) {
    if user.is_empty() {
        return (0, 0);
    }
    let (u, g) = user.split_once(':').unwrap_or((user, ""));
    match u.parse::<u32>() {
        Ok(uid) => (uid, g.parse().unwrap_or(0)),
        Err(_) => {
            tracing::warn!("USER {user:?} is not numeric; running as root");
            (0, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_join_the_sandbox_namespaces() {
        let s = build(&SpecInput {
            args: vec!["/probe".into()],
            sandbox_pid: Some(42),
            ..SpecInput::default()
        });
        let ns = s["linux"]["namespaces"].as_array().unwrap();
        let path = |t: &str| ns.iter().find(|n| n["type"] == t).unwrap()["path"].clone();
        assert_eq!(path("network"), "/proc/42/ns/net");
        assert_eq!(path("ipc"), "/proc/42/ns/ipc");
        assert_eq!(path("pid"), Value::Null, "own pid namespace unless shared");
        let shared = build(&SpecInput {
            sandbox_pid: Some(42),
            share_pid: true,
            ..SpecInput::default()
        });
        assert!(
            shared["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .contains(&json!({"type": "pid", "path": "/proc/42/ns/pid"}))
        );
        let host = build(&SpecInput {
            host_network: true,
            ..SpecInput::default()
        });
        assert!(
            !host["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["type"] == "network" || n["type"] == "uts")
        );
        let named = |host_network| {
            build(&SpecInput {
                host_network,
                hostname: "web-1".into(),
                ..SpecInput::default()
            })["hostname"]
                .clone()
        };
        assert_eq!(named(false), "web-1");
        assert_eq!(
            named(true),
            "",
            "no hostname without a private UTS namespace"
        );
    }

    #[test]
    fn a_pods_containers_share_its_shm_directory() {
        let shm = |s: &Value| {
            s["mounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["destination"] == "/dev/shm")
                .unwrap()
                .clone()
        };
        let shared = build(&SpecInput {
            sandbox_pid: Some(42),
            shm_source: Some("/run/x/sandboxes/abc/shm".into()),
            ..SpecInput::default()
        });
        assert_eq!(shm(&shared)["type"], "bind");
        assert_eq!(shm(&shared)["source"], "/run/x/sandboxes/abc/shm");
        let own = build(&SpecInput::default());
        assert_eq!(shm(&own)["type"], "tmpfs");
    }

    #[test]
    fn signals_and_users() {
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("INT"), Some(2));
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("SIGNOPE"), None);
        assert_eq!(parse_user("1000:100"), (1000, 100));
        assert_eq!(parse_user("nobody"), (0, 0));
    }
}
