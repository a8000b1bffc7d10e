//! `chaos reality` against real node containers with nobody reading its output: the table and
//! the JSON end quietly on a closed stdout and the command keeps its exit code (0), never 101.

use crate::support::testcluster;

use std::process::{Command, Stdio};

/// A cluster name no other test binary uses.
const CLUSTER: &str = "kc-output";

#[test]
fn reality_ends_quietly_on_a_closed_stdout() {
    testcluster::shared(CLUSTER, 1);
    for extra in [&[][..], &["--output", "json"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_chaos"))
            .args(["reality", "--cluster", CLUSTER])
            .args(extra)
            .env("CI", "true")
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{extra:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {err}");
    }
}
