//! What sampling node reality costs while a run goes on: a timeline samples every node once a
//! second for the whole game day, so its cost is CPU per second of wall time, not latency.
//!
//! Snapshots every node of the cluster at a fixed interval for a while (as the run's sampler
//! does, through the same `DockerNodes`), and reads the CPU time spent meanwhile by this
//! process and by what each read may wake: the host's dockerd (the node listing) and
//! containerd, Docker's shims of the node containers (they serve the exec path's execs), and
//! everything inside the node containers (their containerd, which the socket path asks, and
//! the pods' shims, which containerd asks for their state when it lists tasks), the last
//! from the kernel's accounting of each node container's cgroup. Prints one JSON object: the
//! share of one core each used, less what the same processes used as long without sampling
//! (`idle_percent_of_one_core`: the idle shims' own timers, other clusters' requests to the
//! shared dockerd), measured in windows that alternate with the sampling ones (`--rounds`) so
//! that a drift of that background does not land on one side. Processes on the host that
//! start and end within the sampling (the exec path's `docker exec` helpers) are not counted.

use std::time::{Duration, Instant};

use kind_chaos::backends::docker::DockerNodes;
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// The (test) kind cluster.
    #[arg(long)]
    cluster: String,
    /// Seconds between two snapshots.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Seconds to sample for (and as long again without sampling, for the baseline).
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Rounds of an idle window then a sampling window that the time is cut into.
    #[arg(long, default_value_t = 4)]
    rounds: u32,
    /// Forget the open containerd channels and the last listings before each snapshot: a
    /// connection and a full listing per node and snapshot, as before they were kept.
    #[arg(long)]
    forget_kept: bool,
}

/// Clock ticks per second of `/proc/PID/stat` (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// User + system CPU seconds of one process (all its threads, ended ones included).
fn cpu_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS)
}

/// The host's processes (in no container) named `name` (from `/proc/PID/comm`); for Docker's
/// shims, `of` keeps those whose command line names one of these container IDs (the shims of
/// this cluster's node containers).
fn host_pids(name: &str, of: Option<&[String]>) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let ours = |pid: u32| {
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        !cgroup.contains("docker")
            && of.is_none_or(|ids| ids.iter().any(|id| cmdline.contains(id.as_str())))
    };
    dir.filter_map(|e| e.ok()?.file_name().into_string().ok()?.parse().ok())
        .filter(|pid: &u32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim() == name)
                .unwrap_or(false)
        })
        .filter(|pid| ours(*pid))
        .collect()
}

/// CPU seconds used so far by everything in node container `id` (its containerd, the pods'
/// shims and processes, the kubelet), ended processes included: the kernel's accounting of
/// the container's cgroup (v1 `cpuacct.usage`, v2 `cpu.stat`; the cgroupfs driver or
/// systemd's), exact where summing each process's 10 ms ticks was not.
fn node_cpu(id: &str) -> Result<f64, String> {
    let v1 = ["cpuacct", "cpu,cpuacct"].into_iter().flat_map(|h| {
        [
            format!("/sys/fs/cgroup/{h}/docker/{id}/cpuacct.usage"),
            format!("/sys/fs/cgroup/{h}/system.slice/docker-{id}.scope/cpuacct.usage"),
        ]
    });
    for path in v1 {
        if let Ok(ns) = std::fs::read_to_string(&path) {
            let ns: f64 = ns.trim().parse().map_err(|e| format!("{path}: {e}"))?;
            return Ok(ns / 1e9);
        }
    }
    for path in [
        format!("/sys/fs/cgroup/docker/{id}/cpu.stat"),
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat"),
    ] {
        if let Ok(stat) = std::fs::read_to_string(&path) {
            let usec = stat
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|u| u.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("{path}: no usage_usec"))?;
            return Ok(usec / 1e6);
        }
    }
    Err(format!(
        "no CPU accounting found for container {id}'s cgroup"
    ))
}

/// CPU seconds so far: this process, then each of [`GROUPS`] after it.
fn cpu_now(ids: &[String]) -> Result<Vec<f64>, String> {
    let sum = |pids: Vec<u32>| pids.into_iter().filter_map(cpu_of).sum::<f64>();
    let mut nodes = 0.0;
    for id in ids {
        nodes += node_cpu(id)?;
    }
    Ok(vec![
        cpu_of(std::process::id()).unwrap_or(0.0),
        sum(host_pids("dockerd", None)),
        sum(host_pids("containerd", None)),
        sum(host_pids("containerd-shim", Some(ids))),
        nodes,
    ])
}

/// The full IDs of the cluster's node containers (`docker ps`).
fn node_ids(cluster: &str) -> Result<Vec<String>, String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--no-trunc", "--filter"])
        .arg(format!("label=io.x-k8s.kind.cluster={cluster}"))
        .output()
        .map_err(|e| format!("docker ps: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// What is counted, after this process: the host's dockerd and containerd, Docker's shims of
/// the node containers, and everything in the node containers.
const GROUPS: [&str; 4] = ["dockerd", "containerd", "shims", "nodes"];

pub async fn run(a: Args) -> Result<(), String> {
    let nodes = DockerNodes::connect(&a.cluster)
        .await
        .map_err(|e| e.to_string())?;
    // The first read finds each node's PID 1 (an inspect per node); the run's sampler pays that
    // once, so it is not counted.
    let first = nodes.snapshot(None).await.map_err(|e| e.to_string())?;
    let count = first.len();
    let sources: Vec<String> = first.iter().map(|s| format!("{:?}", s.source)).collect();
    let interval = Duration::from_secs_f64(a.interval);
    let ids = node_ids(&a.cluster)?;
    let all = || cpu_now(&ids);
    // What the same processes use meanwhile without sampling (idle shims, the daemons' own
    // work, other clusters' requests to the shared dockerd): subtracted from the sampling's.
    // The time is cut into rounds of an idle window then a sampling window of the same length,
    // so that a drift of that background (130 idle shims' timers) falls on both alike.
    let rounds = a.rounds.max(1);
    let window = a.duration / f64::from(rounds);
    let zero = || vec![0.0; GROUPS.len() + 1];
    let (mut idle_cpu, mut idle_wall) = (zero(), 0.0);
    let (mut busy_cpu, mut wall) = (zero(), 0.0);
    let add = |sum: &mut Vec<f64>, from: &[f64], to: &[f64]| {
        for (i, s) in sum.iter_mut().enumerate() {
            *s += to[i] - from[i];
        }
    };
    let mut samples = 0u32;
    for _ in 0..rounds {
        let from = all()?;
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(window)).await;
        idle_wall += started.elapsed().as_secs_f64();
        add(&mut idle_cpu, &from, &all()?);

        let from = all()?;
        let started = Instant::now();
        let mut tick = tokio::time::interval(interval);
        while started.elapsed().as_secs_f64() < window {
            tick.tick().await;
            if a.forget_kept {
                nodes.forget_kept();
            }
            nodes.snapshot(None).await.map_err(|e| e.to_string())?;
            samples += 1;
        }
        wall += started.elapsed().as_secs_f64();
        add(&mut busy_cpu, &from, &all()?);
    }
    let round = |x: f64| (x * 10.0).round() / 10.0;
    let idle = |i: usize| idle_cpu[i] / idle_wall * 100.0;
    let share = |i: usize| busy_cpu[i] / wall * 100.0 - idle(i);
    let total: f64 = (0..busy_cpu.len()).map(share).sum();
    let out = json!({
        "nodes": count,
        "sources": sources,
        "interval_s": a.interval,
        "forget_kept": a.forget_kept,
        "samples": samples,
        "rounds": rounds,
        "wall_s": round(wall),
        "cpu_percent_of_one_core": {
            "chaos": round(share(0)),
            "dockerd": round(share(1)),
            "containerd": round(share(2)),
            "shims": round(share(3)),
            "nodes": round(share(4)),
            "total": round(total),
        },
        "idle_percent_of_one_core": {
            "dockerd": round(idle(1)),
            "containerd": round(idle(2)),
            "shims": round(idle(3)),
            "nodes": round(idle(4)),
        },
    });
    println!("{out}");
    Ok(())
}
