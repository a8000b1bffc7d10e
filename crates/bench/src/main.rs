//! `chaos-bench`: the parts of `scripts/bench.sh` that need Rust (not part of the product).
//!
//! - `etcd-load`: puts many keys into etcd fast (concurrent transactions), so the etcd
//!   benchmarks can set up 100,000 keys in seconds instead of 100,000 `etcdctl put`s.
//! - `wait-latency`: the time from a pod's transition to a `chaos` wait completing, measured
//!   in-process with the real kube client and the engine against the fake API server, next to
//!   a 1 s polling loop on the same condition (what a shell `until kubectl get ...; do sleep
//!   1; done` does). Prints one JSON object.
//! - `node-floor`: where `chaos reality`'s time goes (one `true` exec per node vs the scan).
//! - `sample-cost`: the CPU that sampling node reality once a second costs (the timeline's).

mod etcd_load;
mod node_floor;
mod sample_cost;
mod wait_latency;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chaos-bench", about = "Benchmark helpers for scripts/bench.sh")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Put COUNT keys `PREFIX<group>/<name>` with values of VALUE_SIZE bytes.
    EtcdLoad(etcd_load::Args),
    /// Measure watch-driven wait latency against a 1 s polling loop; prints JSON.
    WaitLatency(wait_latency::Args),
    /// Time, in-process, one `true` exec per node and a node snapshot; prints JSON.
    NodeFloor(node_floor::Args),
    /// Snapshot every node at an interval for a while; prints the CPU share used, as JSON.
    SampleCost(sample_cost::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = rt.block_on(async {
        match cli.cmd {
            Cmd::EtcdLoad(a) => etcd_load::run(a).await,
            Cmd::WaitLatency(a) => wait_latency::run(a).await,
            Cmd::NodeFloor(a) => node_floor::run(a).await,
            Cmd::SampleCost(a) => sample_cost::run(a).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaos-bench: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
