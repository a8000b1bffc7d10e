//! Checking that a node undo restored what it claims: the container running (not paused,
//! not exited) and its PID 1 not stopped by a signal.
//!
//! Why it exists: `node-kill` with `SIGSTOP` (or `SIGTSTP`, `SIGTTIN`, `SIGTTOU`) freezes the
//! node's PID 1 while Docker still says `running`, so "start" had nothing to do and reported
//! success over a frozen node. A stopped PID 1 is seen in `/proc/1/stat` (state `T`), read
//! with an exec in the node (an exec works while PID 1 is stopped, and reads the node's own
//! PID namespace even when Docker runs on another host); it is resumed with `SIGCONT`.

use std::time::Duration;

use bollard::query_parameters::KillContainerOptionsBuilder;

use super::DockerNodes;
use crate::backends::BackendError;

/// `SIGCONT` on Linux.
const SIGCONT: &str = "SIGCONT";
/// How long a resumed PID 1 may take to leave the stopped state.
const RESUME_WAIT: Duration = Duration::from_secs(3);

/// The state letter of a `/proc/PID/stat` line (the field after the command in parentheses,
/// which may itself contain spaces and parentheses).
pub(crate) fn stat_state(stat: &str) -> Option<char> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// `T` (stopped by a signal) or `t` (stopped by a tracer).
fn stopped(state: char) -> bool {
    matches!(state, 'T' | 't')
}

impl DockerNodes {
    /// The state letter of the node's PID 1.
    async fn pid1_state(&self, node: &str) -> Result<char, BackendError> {
        let argv = ["cat".to_string(), "/proc/1/stat".to_string()];
        let out = self.exec(node, &argv).await?;
        if out.exit_code != 0 {
            return Err(BackendError::failed(format!(
                "cannot read the state of PID 1 in node `{node}` (`cat /proc/1/stat` exited with {}: {})",
                out.exit_code,
                out.stderr.trim()
            )));
        }
        stat_state(&out.stdout).ok_or_else(|| {
            BackendError::failed(format!(
                "cannot read the state of PID 1 in node `{node}`: unexpected /proc/1/stat `{}`",
                out.stdout.trim()
            ))
        })
    }

    /// Sends `SIGCONT` to the node's PID 1 when a stop signal froze it; `Ok(true)` when it
    /// did. The caller checks the result with [`DockerNodes::verify_running`].
    pub(crate) async fn resume_pid1(&self, node: &str) -> Result<bool, BackendError> {
        if !stopped(self.pid1_state(node).await?) {
            return Ok(false);
        }
        let opts = KillContainerOptionsBuilder::new().signal(SIGCONT).build();
        self.docker()
            .kill_container(node, Some(opts))
            .await
            .map_err(|e| self.on_node(node, "sending SIGCONT", e))?;
        Ok(true)
    }

    /// The node container is running (not paused, not exited) and, when `pid1` is set, its
    /// PID 1 is not stopped (waiting briefly for a resumed one to leave the stopped state).
    pub(crate) async fn verify_running(&self, node: &str, pid1: bool) -> Result<(), BackendError> {
        let state = self.state(node).await?;
        if state != "running" {
            return Err(BackendError::failed(format!(
                "node `{node}` is {state} after the undo, not running"
            )));
        }
        if !pid1 {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + RESUME_WAIT;
        loop {
            let s = self.pid1_state(node).await?;
            if !stopped(s) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BackendError::failed(format!(
                    "PID 1 of node `{node}` is still stopped (state {s}) after SIGCONT"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_comes_after_the_last_parenthesis() {
        assert_eq!(stat_state("1 (systemd) S 0 1 1 0 -1"), Some('S'));
        assert_eq!(stat_state("1 (a) b) (c) T 0 1"), Some('T'));
        assert_eq!(stat_state("garbage"), None);
        assert!(stopped('T') && stopped('t') && !stopped('S') && !stopped('R'));
    }
}
