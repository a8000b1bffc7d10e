//! `chaos cluster up|down`: the labs' kind cluster from `kind-config.yaml`, with the lab images
//! built and loaded into its nodes. Creating and deleting clusters is kind's job, so this drives
//! the kind CLI; everything after creation (finding the nodes, loading images) goes through the
//! Docker API like the rest of chaos. `up` is idempotent: an existing cluster is reused.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, Subcommand};

use crate::backends::docker::DockerNodes;
use crate::exit::Exit;
use crate::{errln, outln};

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Create the cluster with kind (or reuse it), then build and load the lab images.
    Up(UpArgs),
    /// Delete the cluster with kind.
    Down {
        /// The cluster (default: the `name` in kind-config.yaml, else k8splayground).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// The cluster (default: the `name` in the config, else k8splayground).
    #[arg(long)]
    pub name: Option<String>,
    /// The kind config.
    #[arg(long, value_name = "FILE", default_value = "kind-config.yaml")]
    pub config: PathBuf,
    /// Do not build and load the lab images.
    #[arg(long)]
    pub no_images: bool,
}

const DEFAULT_NAME: &str = "k8splayground";
const BUILD_IMAGES: &str = "scripts/build-images.sh";

pub async fn run(cmd: ClusterCommand) -> Exit {
    match cmd {
        ClusterCommand::Up(args) => up(args).await,
        ClusterCommand::Down { name } => down(name.unwrap_or_else(|| {
            config_name(Path::new("kind-config.yaml")).unwrap_or_else(|| DEFAULT_NAME.into())
        })),
    }
}

/// The `name:` of a kind config, if it has one.
fn config_name(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map(|n| n.trim().trim_matches('"').to_string())
        .filter(|n| !n.is_empty())
}

fn kind_missing() -> Exit {
    errln!(
        "error: the kind CLI is not on PATH; install it (https://kind.sigs.k8s.io/docs/user/quick-start/#installation) and try again"
    );
    Exit::Environment
}

/// Runs kind with the terminal attached; `Err` when it cannot be started at all.
fn kind(args: &[&str]) -> Result<bool, Exit> {
    match Command::new("kind").args(args).status() {
        Ok(s) => Ok(s.success()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(kind_missing()),
        Err(e) => {
            errln!("error: cannot run kind: {e}");
            Err(Exit::Environment)
        }
    }
}

async fn up(args: UpArgs) -> Exit {
    let name = args
        .name
        .clone()
        .or_else(|| config_name(&args.config))
        .unwrap_or_else(|| DEFAULT_NAME.into());
    match DockerNodes::connect(&name).await {
        Ok(nodes) => {
            let n = nodes.nodes().await.map(|v| v.len()).unwrap_or(0);
            outln!("✔ kind cluster `{name}` exists ({n} node containers): reusing it");
        }
        // Docker itself is not answering: nothing kind could do either.
        Err(e) if !e.message.contains(&format!("no kind cluster `{name}`")) => {
            errln!("error: {e}");
            return Exit::Environment;
        }
        Err(_) => {
            if !args.config.is_file() {
                errln!(
                    "error: no kind config at {} (run from the kind-chaos folder, or pass --config)",
                    args.config.display()
                );
                return Exit::Usage;
            }
            let config = args.config.display().to_string();
            outln!("▶ creating kind cluster `{name}` from {config}");
            match kind(&["create", "cluster", "--name", &name, "--config", &config]) {
                Ok(true) => outln!("✔ kind cluster `{name}` created"),
                Ok(false) => {
                    errln!("error: `kind create cluster` failed (its output is above)");
                    return Exit::StepFailed;
                }
                Err(exit) => return exit,
            }
        }
    }
    if args.no_images {
        return Exit::Passed;
    }
    load_lab_images(&name).await
}

/// Builds the lab images with the repo's script and loads them into every node.
async fn load_lab_images(name: &str) -> Exit {
    if !Path::new(BUILD_IMAGES).is_file() {
        errln!(
            "note: lab images not loaded: {BUILD_IMAGES} is not here (run `chaos cluster up` from the kind-chaos folder, or build them and use `chaos load-image`)"
        );
        return Exit::Passed;
    }
    outln!("▶ building the lab images ({BUILD_IMAGES})");
    let out = match Command::new("bash").arg(BUILD_IMAGES).output() {
        Ok(o) => o,
        Err(e) => {
            errln!("error: cannot run {BUILD_IMAGES}: {e}");
            return Exit::Environment;
        }
    };
    if !out.status.success() {
        errln!("{}", String::from_utf8_lossy(&out.stderr));
        errln!("error: {BUILD_IMAGES} failed");
        return Exit::StepFailed;
    }
    // One line per image: TAG ID SIZE.
    let images: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    super::load::run(super::load::LoadArgs {
        images,
        cluster: Some(name.to_string()),
        node: None,
    })
    .await
}

fn down(name: String) -> Exit {
    outln!("▶ deleting kind cluster `{name}`");
    match kind(&["delete", "cluster", "--name", &name]) {
        Ok(true) => Exit::Passed,
        Ok(false) => {
            errln!("error: `kind delete cluster` failed (its output is above)");
            Exit::StepFailed
        }
        Err(exit) => exit,
    }
}
