//! `chaos cluster up|down`: the labs' kind cluster from `kind-config.yaml`, with the lab images
//! built and loaded into its nodes. Creating and deleting clusters is kind's job, so this drives
//! the kind CLI; everything after creation (finding the nodes, loading images) goes through the
//! Docker API like the rest of chaos. `up` is idempotent: an existing cluster is reused.
//!
//! It works from any directory: the kind config and the lab images' sources are looked for in
//! the current directory, then beside the binary (a packaged install's
//! `share/kind-chaos/`, or the checkout a `target/*/chaos` was built in), then in the source
//! folder the binary was built from; `--config` and `--images-dir` name them outright. When
//! nothing is found, the error lists every place looked at.

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
    /// The kind config [default: kind-config.yaml here, beside the binary's install, or in
    /// the kind-chaos checkout it was built from].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The lab images' sources: the `images/` folder of a kind-chaos checkout (built with the
    /// checkout's scripts/build-images.sh) [default: found like --config].
    #[arg(long, value_name = "DIR")]
    pub images_dir: Option<PathBuf>,
    /// Do not build and load the lab images.
    #[arg(long)]
    pub no_images: bool,
}

const DEFAULT_NAME: &str = "k8splayground";
const KIND_CONFIG: &str = "kind-config.yaml";
const IMAGES: &str = "images";
const BUILD_IMAGES: &str = "scripts/build-images.sh";

/// The folders a kind-chaos checkout or install may be in, most specific first: the current
/// directory, `../share/kind-chaos` of the binary's folder and the binary's ancestors (a
/// `target/debug/chaos` sits two below its checkout), then the folder it was built from.
fn bases() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(".")];
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(dir) = exe.parent() {
            out.push(dir.join("../share/kind-chaos"));
            out.extend(dir.ancestors().skip(1).take(3).map(Path::to_path_buf));
        }
    }
    out.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    out
}

/// `rel` under the first of `bases` where `found` holds; else every path looked at.
fn find(
    bases: &[PathBuf],
    rel: &str,
    found: impl Fn(&Path) -> bool,
) -> Result<PathBuf, Vec<PathBuf>> {
    let looked: Vec<PathBuf> = bases.iter().map(|b| b.join(rel)).collect();
    match looked.iter().find(|p| found(p)) {
        // The current directory's file keeps the name it was given.
        Some(p) if p.starts_with(".") => Ok(PathBuf::from(rel)),
        Some(p) => Ok(p.canonicalize().unwrap_or_else(|_| p.clone())),
        None => Err(looked),
    }
}

/// "looked for X in: a, b, c" for an error.
fn looked_in(what: &str, looked: &[PathBuf]) -> String {
    let list: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
    format!("no {what} found; looked for {}", list.join(", "))
}

/// The kind config the flag names, or the first found.
fn config_path(flag: Option<&Path>) -> Result<PathBuf, String> {
    match flag {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(format!("--config {}: no such file", p.display())),
        None => find(&bases(), KIND_CONFIG, Path::is_file)
            .map_err(|l| format!("{} (pass --config FILE)", looked_in("kind config", &l))),
    }
}

/// The build script beside the lab images' folder the flag names, or of the first checkout
/// found that has both.
fn build_script(images_dir: Option<&Path>) -> Result<PathBuf, String> {
    let script_of = |images: &Path| images.join("..").join(BUILD_IMAGES);
    match images_dir {
        Some(d) if d.is_dir() && script_of(d).is_file() => Ok(script_of(d)),
        Some(d) => Err(format!(
            "--images-dir {}: expected the images/ folder of a kind-chaos checkout, with {} beside it",
            d.display(),
            script_of(d).display()
        )),
        None => find(&bases(), IMAGES, |p| p.is_dir() && script_of(p).is_file())
            .map(|p| script_of(&p))
            .map_err(|l| {
                format!(
                    "{} (each with ../{BUILD_IMAGES}; pass --images-dir DIR, or --no-images)",
                    looked_in("lab images' folder", &l)
                )
            }),
    }
}

pub async fn run(cmd: ClusterCommand) -> Exit {
    match cmd {
        ClusterCommand::Up(args) => up(args).await,
        ClusterCommand::Down { name } => down(name.unwrap_or_else(|| {
            config_path(None)
                .ok()
                .and_then(|c| config_name(&c))
                .unwrap_or_else(|| DEFAULT_NAME.into())
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
    let config = config_path(args.config.as_deref());
    let name = args
        .name
        .clone()
        .or_else(|| config.as_ref().ok().and_then(|c| config_name(c)))
        .unwrap_or_else(|| DEFAULT_NAME.into());
    // Found before anything is created: a missing file stops `up` with nothing half done.
    if let (Some(_), Err(why)) = (&args.config, &config) {
        errln!("error: {why}");
        return Exit::Usage;
    }
    let script = if args.no_images {
        None
    } else {
        match build_script(args.images_dir.as_deref()) {
            Ok(s) => Some(s),
            Err(why) => {
                errln!("error: cannot load the lab images: {why}");
                return Exit::Usage;
            }
        }
    };
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
            let config = match config {
                Ok(c) => c.display().to_string(),
                Err(why) => {
                    errln!("error: cannot create kind cluster `{name}`: {why}");
                    return Exit::Usage;
                }
            };
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
    match script {
        Some(script) => load_lab_images(&name, &script).await,
        None => Exit::Passed,
    }
}

/// Builds the lab images with the checkout's script and loads them into every node.
async fn load_lab_images(name: &str, script: &Path) -> Exit {
    let shown = script.display();
    outln!("▶ building the lab images ({shown})");
    let out = match Command::new("bash").arg(script).output() {
        Ok(o) => o,
        Err(e) => {
            errln!("error: cannot run {shown}: {e}");
            return Exit::Environment;
        }
    };
    if !out.status.success() {
        errln!("{}", String::from_utf8_lossy(&out.stderr));
        errln!("error: {shown} failed");
        return Exit::StepFailed;
    }
    // One line per image: TAG ID SIZE.
    let images: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    super::load::run(super::load::LoadArgs {
        images,
        cluster: super::connect::ClusterArg {
            cluster: Some(name.to_string()),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_base_that_has_the_file_wins_and_a_miss_lists_every_place() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join(KIND_CONFIG), "name: x\n").unwrap();
        let bases = vec![a.path().to_path_buf(), b.path().to_path_buf()];
        let found = find(&bases, KIND_CONFIG, Path::is_file).unwrap();
        assert_eq!(found, b.path().join(KIND_CONFIG).canonicalize().unwrap());
        let looked = find(&bases[..1], KIND_CONFIG, Path::is_file).unwrap_err();
        let words = looked_in("kind config", &looked);
        assert_eq!(
            words,
            format!(
                "no kind config found; looked for {}",
                a.path().join(KIND_CONFIG).display()
            )
        );
    }

    #[test]
    fn a_named_config_or_images_dir_that_is_not_there_is_said() {
        let e = config_path(Some(Path::new("/nonexistent/kind.yaml"))).unwrap_err();
        assert_eq!(e, "--config /nonexistent/kind.yaml: no such file");
        let e = build_script(Some(Path::new("/nonexistent/images"))).unwrap_err();
        assert!(
            e.contains("/nonexistent/images/../scripts/build-images.sh"),
            "{e}"
        );
    }
}
