//! What sampling node reality costs while a run goes on: a timeline samples every node once a
//! second for the whole game day, so its cost is CPU per second of wall time, not latency.
//!
//! Snapshots every node of the cluster at a fixed interval for a while (as the run's sampler
//! does, through the same `DockerNodes`), and reads the CPU time (user + system, from
//! `/proc/PID/stat`) spent meanwhile by this process and by the daemons each read wakes:
//! dockerd (the node listing, and an inspect per node at the first read), containerd (the
//! socket path's two calls per node, when a node changed) and the shims (`containerd-shim`,
//! the kernel's 15-character name of `containerd-shim-runc-v2`: containerd asks each task's
//! shim for its state when it lists tasks; Docker's shims serve the exec path's execs).
//! Prints one JSON object: the share of one core each used, less what the same processes used
//! as long without sampling (`idle_percent_of_one_core`; the idle shims' own timers, other
//! clusters' requests to the shared dockerd), measured in windows that alternate with the
//! sampling ones (`--rounds`) so that a drift of that background does not land on one side. Processes that start and end
//! within the sampling (the exec path's `runc` and scan processes) are not counted.

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

/// User + system CPU seconds of one process.
fn cpu_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS)
}

/// The PIDs of the host's processes named `name` (from `/proc/PID/comm`) that belong to this
/// cluster: in one of its node containers (their cgroup or command line names the container's
/// ID: the nodes' containerd and shims, Docker's shims of the nodes) or, for the host's
/// daemons (`host`), in no container. Other clusters on the same Docker are left out.
fn pids_named(name: &str, ids: &[String], host: bool) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let ours = |pid: u32| {
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        let mine = ids
            .iter()
            .any(|id| cgroup.contains(id.as_str()) || cmdline.contains(id.as_str()));
        mine || (host && !cgroup.contains("docker"))
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

/// CPU seconds of every process named `name` of this cluster (and of this process for `None`).
fn cpu(name: Option<&str>, ids: &[String]) -> f64 {
    match name {
        None => cpu_of(std::process::id()).unwrap_or(0.0),
        Some(n) => pids_named(n, ids, n != "containerd-shim")
            .into_iter()
            .filter_map(cpu_of)
            .sum(),
    }
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

const DAEMONS: [&str; 3] = ["dockerd", "containerd", "containerd-shim"];

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
    let all = || -> Vec<f64> {
        std::iter::once(cpu(None, &ids))
            .chain(DAEMONS.iter().map(|d| cpu(Some(d), &ids)))
            .collect()
    };
    // What the same processes use meanwhile without sampling (idle shims, the daemons' own
    // work, other clusters' requests to the shared dockerd): subtracted from the sampling's.
    // The time is cut into rounds of an idle window then a sampling window of the same length,
    // so that a drift of that background (130 idle shims' timers) falls on both alike.
    let rounds = a.rounds.max(1);
    let window = a.duration / f64::from(rounds);
    let zero = || vec![0.0; DAEMONS.len() + 1];
    let (mut idle_cpu, mut idle_wall) = (zero(), 0.0);
    let (mut busy_cpu, mut wall) = (zero(), 0.0);
    let add = |sum: &mut Vec<f64>, from: &[f64], to: &[f64]| {
        for (i, s) in sum.iter_mut().enumerate() {
            *s += to[i] - from[i];
        }
    };
    let mut samples = 0u32;
    for _ in 0..rounds {
        let from = all();
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(window)).await;
        idle_wall += started.elapsed().as_secs_f64();
        add(&mut idle_cpu, &from, &all());

        let from = all();
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
        add(&mut busy_cpu, &from, &all());
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
            "total": round(total),
        },
        "idle_percent_of_one_core": {
            "dockerd": round(idle(1)),
            "containerd": round(idle(2)),
            "shims": round(idle(3)),
        },
    });
    println!("{out}");
    Ok(())
}
