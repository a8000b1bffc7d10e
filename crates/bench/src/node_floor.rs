//! Where the time of `chaos reality` goes, in-process, through the same Docker client:
//! - `exec_true`: one `true` exec in every node at once (the floor of any one-exec-per-node
//!   design: Docker's exec machinery and runc, nothing of the scan);
//! - `snapshot`: `DockerNodes::snapshot` (listing the nodes, the scan exec in each, parsing),
//!   which is all of `chaos reality` except process start, the API side and printing.

use std::time::{Duration, Instant};

use futures::future::join_all;
use kind_chaos::backends::docker::DockerNodes;
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// The (test) kind cluster.
    #[arg(long)]
    cluster: String,
    #[arg(long, default_value_t = 7)]
    runs: usize,
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = v.len();
    let m = if n % 2 == 1 {
        ms(v[n / 2])
    } else {
        (ms(v[n / 2 - 1]) + ms(v[n / 2])) / 2.0
    };
    (m * 10.0).round() / 10.0
}

pub async fn run(a: Args) -> Result<(), String> {
    let nodes = DockerNodes::connect(&a.cluster)
        .await
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = nodes
        .nodes()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|n| n.name)
        .collect();
    let argv = vec!["true".to_string()];
    let mut exec_true = Vec::new();
    let mut snapshot = Vec::new();
    for i in 0..=a.runs {
        let t = Instant::now();
        let outs = join_all(
            names
                .iter()
                .map(|n| nodes.exec_with_stdin(n, &argv, tokio::io::empty())),
        )
        .await;
        let took = t.elapsed();
        for o in outs {
            o.map_err(|e| e.to_string())?;
        }
        let t = Instant::now();
        let snaps = nodes.snapshot(None).await.map_err(|e| e.to_string())?;
        let took_snap = t.elapsed();
        if let Some(bad) = snaps.iter().find(|s| s.reality.is_err()) {
            return Err(format!("node {} could not be read", bad.node.name));
        }
        if i > 0 {
            // the first round warms up
            exec_true.push(took);
            snapshot.push(took_snap);
        }
    }
    let out = json!({
        "nodes": names.len(),
        "exec_true_ms": median(exec_true),
        "snapshot_ms": median(snapshot),
    });
    println!("{out}");
    Ok(())
}
