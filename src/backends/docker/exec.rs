//! Exec in a node container: an argv, optionally with a byte stream on stdin (an image tar for
//! `ctr images import`), capturing stdout, stderr and the exit code.
//!
//! Docker multiplexes stdout and stderr on the hijacked connection; stdin is written on the same
//! connection while the output is read, so a process that writes a lot before it has read all
//! its input cannot deadlock us. Closing our write half is what delivers EOF to the process.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWriteExt};

use super::DockerNodes;
use crate::backends::{BackendError, ExecOutput};

/// How long to wait, after the output ended, for Docker to record the exit code.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(5);

impl DockerNodes {
    /// Runs `argv` in `node` with `stdin` streamed to it (EOF when `stdin` ends).
    pub async fn exec_with_stdin(
        &self,
        node: &str,
        argv: &[String],
        stdin: impl AsyncRead + Send + Unpin,
    ) -> Result<ExecOutput, BackendError> {
        self.check_node(node).await?;
        self.run_exec(node, argv, Some(stdin), None).await
    }

    /// Runs `argv` in `node` with no stdin.
    pub(crate) async fn exec(
        &self,
        node: &str,
        argv: &[String],
    ) -> Result<ExecOutput, BackendError> {
        self.check_node(node).await?;
        self.run_exec(node, argv, None::<tokio::io::Empty>, None)
            .await
    }

    /// Runs a fixed shell script with `sh -c`, its inputs as positional parameters ($1...):
    /// values never become part of the script text. `what` names it in error messages.
    pub(crate) async fn exec_script(
        &self,
        node: &str,
        what: &str,
        script: &str,
        args: &[String],
    ) -> Result<ExecOutput, BackendError> {
        let mut argv = vec!["sh".to_string(), "-c".into(), script.into(), "sh".into()];
        argv.extend(args.iter().cloned());
        self.check_node(node).await?;
        self.run_exec(node, &argv, None::<tokio::io::Empty>, Some(what))
            .await
    }

    /// Like [`exec_script`](Self::exec_script), but a non-zero exit is an error.
    pub(crate) async fn exec_script_ok(
        &self,
        node: &str,
        what: &str,
        script: &str,
        args: &[String],
    ) -> Result<String, BackendError> {
        let out = self.exec_script(node, what, script, args).await?;
        if out.exit_code != 0 {
            return Err(BackendError::failed(format!(
                "{what} failed on node `{node}` (exit {}): {}",
                out.exit_code,
                first_lines(&out.stderr, &out.stdout)
            )));
        }
        Ok(out.stdout)
    }

    async fn run_exec<R: AsyncRead + Send + Unpin>(
        &self,
        node: &str,
        argv: &[String],
        stdin: Option<R>,
        what: Option<&str>,
    ) -> Result<ExecOutput, BackendError> {
        if argv.is_empty() {
            return Err(BackendError::failed(format!(
                "nothing to run in node `{node}`: the command is empty"
            )));
        }
        let what = match what {
            Some(w) => w.to_string(),
            None => format!("exec `{}`", short(argv)),
        };
        let config = CreateExecOptions {
            cmd: Some(argv.to_vec()),
            attach_stdin: Some(stdin.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            ..Default::default()
        };
        let created = self
            .docker()
            .create_exec(node, config)
            .await
            .map_err(|e| self.exec_error(node, &what, e))?;
        let started = self
            .docker()
            .start_exec(&created.id, None::<StartExecOptions>)
            .await
            .map_err(|e| self.exec_error(node, &what, e))?;
        let StartExecResults::Attached { mut output, input } = started else {
            return Err(BackendError::failed(format!(
                "{what} on node `{node}`: Docker did not attach to the process"
            )));
        };
        let write = async move {
            let Some(mut stdin) = stdin else {
                return Ok(0);
            };
            let mut input = input;
            let copied = tokio::io::copy(&mut stdin, &mut input).await;
            let closed = input.shutdown().await;
            let n = copied?;
            closed.map(|()| n)
        };
        let read = async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            while let Some(chunk) = output.next().await {
                match chunk {
                    Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                        out.extend_from_slice(&message)
                    }
                    Ok(LogOutput::StdErr { message }) => err.extend_from_slice(&message),
                    Ok(LogOutput::StdIn { .. }) => {}
                    Err(e) => return Err(self.exec_error(node, &what, e)),
                }
            }
            Ok((out, err))
        };
        let (written, read) = tokio::join!(write, read);
        let (out, err) = read?;
        let exit_code = self.exit_code(node, &what, &created.id).await?;
        if let Err(e) = written
            && exit_code == 0
        {
            return Err(BackendError::failed(format!(
                "{what} on node `{node}`: writing its stdin failed: {e}"
            )));
        }
        Ok(ExecOutput {
            exit_code,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    }

    /// The exec's exit code; Docker may need a moment after the output closed to record it.
    async fn exit_code(&self, node: &str, what: &str, id: &str) -> Result<i64, BackendError> {
        let deadline = tokio::time::Instant::now() + EXIT_CODE_WAIT;
        loop {
            let info = self
                .docker()
                .inspect_exec(id)
                .await
                .map_err(|e| self.exec_error(node, what, e))?;
            if info.running != Some(true)
                && let Some(code) = info.exit_code
            {
                return Ok(code);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BackendError::failed(format!(
                    "{what} on node `{node}`: its output ended but Docker reports no exit code"
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A 409 from exec means the node is not running (paused, stopped): say which.
    fn exec_error(&self, node: &str, what: &str, e: bollard::errors::Error) -> BackendError {
        if super::error::status_of(&e) == Some(409) {
            return BackendError::failed(format!(
                "{what} on node `{node}` failed: {}",
                docker_message(&e)
            ));
        }
        self.on_node(node, what, e)
    }
}

fn docker_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// An argv shortened for messages (scripts are long).
fn short(argv: &[String]) -> String {
    let text = argv.join(" ");
    let first = text.lines().next().unwrap_or_default();
    if first.len() > 80 || first.len() < text.len() {
        let cut: String = first.chars().take(80).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// The first few lines of stderr (or stdout when stderr is empty), for error messages.
pub(crate) fn first_lines(stderr: &str, stdout: &str) -> String {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lines: Vec<&str> = text.trim().lines().take(5).collect();
    if lines.is_empty() {
        "no output".to_string()
    } else {
        lines.join(" | ")
    }
}
