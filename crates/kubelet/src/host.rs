//! Facts about the machine the kubelet runs on, read from `/proc` and `/etc`, for the
//! Node's status (capacity, nodeInfo, addresses). Inside a test node container these
//! describe the node container, as a real kubelet in a kind node describes it.

use std::net::{IpAddr, ToSocketAddrs, UdpSocket};

/// What NodeStatus reports about the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    pub cpus: usize,
    pub memory_ki: u64,
    pub os_image: String,
    pub kernel_version: String,
    pub boot_id: String,
    pub machine_id: String,
}

impl HostInfo {
    /// Reads the running machine's facts; what cannot be read is left empty (or 1 CPU).
    pub fn read() -> HostInfo {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        HostInfo {
            cpus: cpu_count(&read("/proc/cpuinfo"))
                .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
                .unwrap_or(1),
            memory_ki: mem_total_ki(&read("/proc/meminfo")).unwrap_or(0),
            os_image: os_pretty_name(&read("/etc/os-release")),
            kernel_version: read("/proc/sys/kernel/osrelease").trim().to_string(),
            boot_id: read("/proc/sys/kernel/random/boot_id").trim().to_string(),
            machine_id: read("/etc/machine-id").trim().to_string(),
        }
    }
}

/// Go's GOARCH name for this build's architecture (what `kubernetes.io/arch` uses).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn cpu_count(cpuinfo: &str) -> Option<usize> {
    let n = cpuinfo
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count();
    (n > 0).then_some(n)
}

fn mem_total_ki(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn os_pretty_name(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".to_string())
}

/// The node's IP, as upstream's NodeAddress setter finds it when `--node-ip` is not given
/// (pkg/kubelet/nodestatus/setters.go: the hostname's address, else the address of the
/// interface with the default route).
pub fn node_ip(hostname: &str) -> Option<IpAddr> {
    let by_name = (hostname, 0)
        .to_socket_addrs()
        .ok()
        .into_iter()
        .flatten()
        .map(|a| a.ip())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback());
    by_name.or_else(|| {
        // Connecting a UDP socket sends nothing; it only picks the route's source address.
        let s = UdpSocket::bind("0.0.0.0:0").ok()?;
        s.connect("192.0.2.1:9").ok()?;
        let ip = s.local_addr().ok()?.ip();
        (!ip.is_unspecified()).then_some(ip)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(cpu_count("processor\t: 0\nx: 1\nprocessor\t: 1\n"), Some(2));
        assert_eq!(cpu_count(""), None);
        assert_eq!(
            mem_total_ki("MemTotal:       16314352 kB\nMemFree: 1 kB\n"),
            Some(16314352)
        );
        assert_eq!(
            os_pretty_name("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(
            go_arch(),
            if cfg!(target_arch = "x86_64") {
                "amd64"
            } else {
                go_arch()
            }
        );
    }

    #[test]
    fn this_machine_has_facts() {
        let h = HostInfo::read();
        assert!(h.cpus >= 1);
        assert!(h.memory_ki > 0);
        assert!(!h.kernel_version.is_empty());
    }
}
