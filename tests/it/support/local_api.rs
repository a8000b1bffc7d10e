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
