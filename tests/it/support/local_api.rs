//! Helpers shared by the tests of the local cluster with its control plane
//! (`scripts/testcluster.sh up NAME --api`): running the script with the binaries this build
//! made (in `testcluster`), and driving the real kubectl against a kubeconfig.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `testcluster.sh ARGS` with the binaries this build made; fails the test when it fails.
pub use super::testcluster::run_ok as run_script;

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

/// [`kubectl_at`], failing the test when kubectl fails; returns its stdout.
pub fn kubectl_ok_at(
    kubectl: &str,
    kubeconfig: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> String {
    let out = kubectl_at(kubectl, kubeconfig, args, stdin);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
/// fresh machine: nothing else in the test binary builds them). One build at a time.
pub fn lab_images<S: AsRef<str>>(images: &[S]) {
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
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
