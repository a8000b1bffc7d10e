//! `exec`: a command (an argument list, never a shell string) in a node container, and the
//! command that undoes it, when the playbook gives one.

use async_trait::async_trait;

use crate::backends::{BackendError, Result};
use crate::playbook::model;

use super::super::backends::Backends;
use super::{Fault, UndoRecord};

family! {
    Exec(model::Exec),
}

#[async_trait]
impl Fault for Exec<'_> {
    fn describe(&self) -> String {
        format!("run `{}` in {}", self.0.command.join(" "), self.0.node)
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::Exec {
            node: self.0.node.to_string(),
            command: self.0.undo.clone()?,
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let x = self.0;
        let out = b.nodes().await?.exec(&x.node, &x.command).await?;
        if out.exit_code != 0 {
            return Err(BackendError::failed(format!(
                "`{}` exited with {} in {}: {}",
                x.command.join(" "),
                out.exit_code,
                x.node,
                out.stderr.trim()
            )));
        }
        Ok(undo)
    }
}

pub fn undo_text(node: &str, command: &[String]) -> String {
    format!("run `{}` in {node}", command.join(" "))
}

/// The undo of `exec`: its `undo` command, which must succeed.
pub async fn undo(b: &Backends, node: &str, command: &[String]) -> Result<Option<String>> {
    let out = b.nodes().await?.exec(node, command).await?;
    if out.exit_code != 0 {
        return Err(BackendError::failed(format!(
            "`{}` exited with {}: {}",
            command.join(" "),
            out.exit_code,
            out.stderr.trim()
        )));
    }
    Ok(None)
}
