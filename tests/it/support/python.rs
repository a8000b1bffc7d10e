//! Tools from PyPI that check our output the way users' tooling does (check-jsonschema over
//! playbooks, junitparser over JUnit reports). scripts/setup.sh installs them; a test that
//! needs one fails, never skips, when it is missing.

use std::process::{Command, Output};

/// Runs `python3 ARGS` (usually `-m MODULE ...` or `-c CODE ...`) and returns what it did.
/// Panics, naming the fix, when python3 or the module is not installed.
pub fn python3(module: &str, args: &[&str]) -> Output {
    let probe = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed ({e}); run scripts/setup.sh"));
    assert!(
        probe.status.success(),
        "the Python module `{module}` is missing: run scripts/setup.sh (pip install check-jsonschema junitparser)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    Command::new("python3")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 {args:?}: {e}"))
}
