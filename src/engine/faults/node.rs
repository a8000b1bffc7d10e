//! Faults on a node container and its kubelet: `kubelet-stop`, `node-pause`, `node-stop`,
//! `node-kill`, and their undo (start the kubelet, unpause, start or resume the container).

use async_trait::async_trait;

use crate::backends::{ContainerAction, KubeletAction, Result};
use crate::playbook::model;
use crate::playbook::values::Signal;

use super::super::backends::Backends;
use super::{Fault, UndoRecord};

family! {
    KubeletStop(model::NodeRef),
    NodePause(model::NodeRef),
    NodeStop(model::NodeStop),
    NodeKill(model::NodeKill),
}

#[async_trait]
impl Fault for KubeletStop<'_> {
    fn describe(&self) -> String {
        format!("stop the kubelet on {}", self.0.node)
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::KubeletStart {
            node: self.0.node.to_string(),
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        b.nodes()
            .await?
            .kubelet(&self.0.node, KubeletAction::Stop)
            .await?;
        Ok(undo)
    }
}

pub fn kubelet_start_text(node: &str) -> String {
    format!("make the kubelet executable again on {node} and wait for it")
}

pub async fn kubelet_start(b: &Backends, node: &str) -> Result<Option<String>> {
    b.nodes().await?.kubelet(node, KubeletAction::Start).await?;
    Ok(None)
}

#[async_trait]
impl Fault for NodePause<'_> {
    fn describe(&self) -> String {
        format!("pause node container {}", self.0.node)
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::NodeUnpause {
            node: self.0.node.to_string(),
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        b.nodes()
            .await?
            .container(&self.0.node, ContainerAction::Pause)
            .await?;
        Ok(undo)
    }
}

pub fn unpause_text(node: &str) -> String {
    format!("unpause node container {node}")
}

#[async_trait]
impl Fault for NodeStop<'_> {
    fn describe(&self) -> String {
        format!("stop node container {}", self.0.node)
    }
    fn undo(&self) -> Option<UndoRecord> {
        Some(UndoRecord::NodeStart {
            node: self.0.node.to_string(),
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let timeout_secs = self.0.timeout.map(|t| t.0.as_secs());
        b.nodes()
            .await?
            .container(&self.0.node, ContainerAction::Stop { timeout_secs })
            .await?;
        Ok(undo)
    }
}

impl NodeKill<'_> {
    fn signal(&self) -> Signal {
        self.0.signal.unwrap_or(Signal::KILL)
    }
}

#[async_trait]
impl Fault for NodeKill<'_> {
    fn describe(&self) -> String {
        format!(
            "kill node container {} with {}",
            self.0.node,
            self.0
                .signal
                .map(|s| s.to_string())
                .unwrap_or("SIGKILL".into())
        )
    }
    /// A stop signal (`SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`) froze PID 1 while Docker
    /// still says `running`, so it is resumed; any other signal ended it, so the container is
    /// started.
    fn undo(&self) -> Option<UndoRecord> {
        let node = self.0.node.to_string();
        // Linux numbers: SIGSTOP 19, SIGTSTP 20, SIGTTIN 21, SIGTTOU 22.
        Some(match self.signal().0 {
            19..=22 => UndoRecord::NodeContinue { node },
            _ => UndoRecord::NodeStart { node },
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        b.nodes()
            .await?
            .container(&self.0.node, ContainerAction::kill(self.signal()))
            .await?;
        Ok(undo)
    }
}

pub fn start_text(node: &str) -> String {
    format!("start node container {node}")
}

pub fn continue_text(node: &str) -> String {
    format!("resume node container {node} (SIGCONT to its stopped PID 1)")
}

/// The undo of `node-pause` (`Unpause`), `node-stop` and `node-kill` (`Start`, which also
/// resumes a PID 1 a stop signal froze, and checks the node runs).
pub async fn container_back(
    b: &Backends,
    node: &str,
    action: ContainerAction,
) -> Result<Option<String>> {
    b.nodes().await?.container(node, action).await?;
    Ok(None)
}
