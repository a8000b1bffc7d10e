//! Helpers shared by the tests of the local cluster with its control plane
//! (`scripts/testcluster.sh up NAME --api`): running the script with the binaries this build
//! made, and driving the real kubectl against a kubeconfig.

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
