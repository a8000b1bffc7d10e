//! A `chaos run` killed with SIGKILL in the middle of its faults, then `chaos recover`: the
//! scenario every fault with an undo is tested with against real node containers. The run has
//! a private state folder (its journal and lock; recover acts on every journal in it), and is
//! killed once its output shows a step that starts after the faults, so each of them is applied
//! and its undo owed.

use std::process::{Command, Output};
use std::time::Duration;

use tempfile::TempDir;

use super::wait::{signal, spawn_until};
use super::{chaos_in, text};

/// How long the run may take to reach the step it is killed in.
const WITHIN: Duration = Duration::from_secs(60);

/// Starts `cmd` with its output piped, kills it with SIGKILL once its stdout shows `needle`,
/// and reaps it; returns what it printed until then.
pub fn kill_at(cmd: Command, needle: &str, within: Duration) -> String {
    let (mut child, seen) = spawn_until(cmd, needle, within);
    signal(&child, "-KILL");
    let _ = child.wait();
    seen
}

/// A run of playbook `kill-me` on a cluster, killed: see the module doc.
pub struct KilledRun {
    pub state: TempDir,
    cluster: String,
    /// What the run printed before it was killed.
    pub printed: String,
}

impl KilledRun {
    /// Runs `steps` (the YAML of the playbook's `steps:` list, each line indented) on
    /// `cluster` and kills the run when its output shows `at`.
    pub fn new(cluster: &str, steps: &str, at: &str) -> KilledRun {
        let state = tempfile::tempdir().expect("state dir");
        let pb = state.path().join("kill-me.yaml");
        let body = format!(
            "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: kill-me\ncluster: {cluster}\nsteps:\n{steps}"
        );
        std::fs::write(&pb, body).expect("playbook");
        let mut run = chaos_in(state.path());
        run.args(["run", pb.to_str().expect("utf-8 path")]);
        let printed = kill_at(run, at, WITHIN);
        KilledRun {
            state,
            cluster: cluster.to_string(),
            printed,
        }
    }

    /// Runs `faults` (one step each, like `cpu-hog: {node: N}`), then `sleep: 10m`, in which
    /// the run is killed.
    pub fn during_sleep(cluster: &str, faults: &[String]) -> KilledRun {
        let mut steps: String = faults.iter().map(|f| format!("  - {f}\n")).collect();
        steps.push_str("  - sleep: 10m\n");
        KilledRun::new(cluster, &steps, "sleep 10m")
    }

    /// `chaos recover --cluster CLUSTER ARGS...` over this run's state folder.
    pub fn recover(&self, args: &[&str]) -> Output {
        chaos_in(self.state.path())
            .args(["recover", "--cluster", &self.cluster])
            .args(args)
            .output()
            .expect("run chaos")
    }

    /// `chaos recover --cluster CLUSTER`, which must exit 0; what it said.
    pub fn recovered(&self) -> String {
        let out = self.recover(&[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        text(&out)
    }

    /// A second `chaos recover`, which must find nothing left to do.
    pub fn assert_nothing_left(&self) {
        let said = self.recovered();
        assert!(said.contains("nothing to recover"), "{said}");
    }
}
