//! Helpers shared by the tests of the local cluster with its control plane
//! (`scripts/testcluster.sh up NAME --api`): running the script with the binaries this build
//! made, and driving the real kubectl against a kubeconfig.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::testcluster::script;

/// A binary of this build next to `chaos` (`serve`, `kubelet`: `cargo test --workspace` builds
/// them), so the script does not build them again with other features. Run alone after
/// changing them, build them first (`cargo build -p fake-apiserver -p kubelet --bins`).
fn built(name: &str) -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_BIN_EXE_chaos")).with_file_name(name);
    bin.is_file().then_some(bin)
}

/// Runs `testcluster.sh ARGS` and returns its stdout; fails the test when it fails.
pub fn run_script(args: &[&str]) -> String {
    let mut cmd = Command::new(script());
    for (var, bin) in [
        ("KIND_CHAOS_APISERVER_BIN", "serve"),
        ("KIND_CHAOS_KUBELET_BIN", "kubelet"),
        ("KIND_CHAOS_CRICTL_BIN", "crictl"),
    ] {
        if let Some(path) = built(bin)
            && std::env::var_os(var).is_none()
        {
            cmd.env(var, path);
        }
    }
    let out = cmd
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script().display()));
    assert!(
        out.status.success(),
        "`testcluster.sh {}` failed ({}); Docker and kubectl are needed.\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `/usr/bin/kubectl ARGS` against `kubeconfig`, with `stdin` fed to it.
pub fn kubectl_at(kubectl: &str, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(kubectl)
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kubectl");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        std::io::Write::write_all(&mut input, text.as_bytes()).expect("stdin");
    }
    drop(input);
    child.wait_with_output().expect("kubectl")
}

/// The lab images (`kind-chaos/<images/ folder>:<probe version>`), as scripts/build-images.sh
/// names them.
pub fn all_lab_images() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::fs::read_to_string(root.join("crates/probe/Cargo.toml")).expect("probe");
    let version = cargo
        .lines()
        .find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"'))
        .expect("the probe's version");
    let mut images: Vec<String> = std::fs::read_dir(root.join("images"))
        .expect("images/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| format!("kind-chaos/{}:{version}", e.file_name().to_string_lossy()))
        .collect();
    images.sort();
    images
}

/// Builds the lab images with the repository's script when one of `images` is missing (a
/// fresh machine: nothing else in a test binary builds them).
pub fn lab_images<S: AsRef<str>>(images: &[S]) {
    let present = |image: &str| {
        Command::new("docker")
            .args(["image", "inspect", image])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if images.iter().all(|i| present(i.as_ref())) {
        return;
    }
    let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-images.sh");
    let out = Command::new("bash")
        .arg(&build)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", build.display()));
    assert!(
        out.status.success(),
        "{} failed ({}); these tests need Docker.\n{}",
        build.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for image in images {
        let image = image.as_ref();
        assert!(present(image), "{} did not build {image}", build.display());
    }
}
