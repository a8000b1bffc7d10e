//! `chaos load-image IMAGE...`: what `kind load docker-image` does, without the kind CLI. The
//! test workloads of the labs are built locally and no registry is reachable, so images get
//! into the nodes' containerd this way: exported from Docker once, imported into every node in
//! parallel with the node's own snapshotter.
//!
//! Exit codes: 0 loaded everywhere; 2 an image is not in the local Docker store or the node is
//! unknown; 3 no Docker or no such cluster; 4 the import failed on some node (each node's
//! outcome is printed).

use clap::Args;

use crate::backends::docker::DockerNodes;
use crate::exit::Exit;
use crate::playbook::values::format_duration;
use crate::{errln, outln};

use super::connect::ClusterArg;

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Images in the local Docker image store, like `kind-chaos/probe:0.1.0`.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    #[command(flatten)]
    pub cluster: ClusterArg,
    /// Only this node (default: every node).
    #[arg(long)]
    pub node: Option<String>,
}

pub async fn run(args: LoadArgs) -> Exit {
    let cluster = args.cluster.name();
    let nodes = match DockerNodes::connect(&cluster).await {
        Ok(n) => n,
        Err(e) => return super::reality::fail(&e),
    };
    let report = match nodes.load_images(&args.images, args.node.as_deref()).await {
        Ok(r) => r,
        Err(e) => return super::reality::fail(&e),
    };
    errln!(
        "exported {} ({:.1} MB) in {}",
        report.images.join(", "),
        report.bytes as f64 / 1e6,
        format_duration(report.export)
    );
    for n in &report.nodes {
        let snap = n.snapshotter.as_deref().unwrap_or("?");
        match &n.result {
            Ok(took) => outln!(
                "✔ {} loaded into {} (snapshotter {snap}) in {}",
                report.images.join(", "),
                n.node,
                format_duration(*took)
            ),
            Err(e) => outln!("✘ {}: {e}", n.node),
        }
    }
    if report.all_loaded() {
        Exit::Passed
    } else {
        Exit::StepFailed
    }
}
