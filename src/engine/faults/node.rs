//! Faults on a node container and its kubelet: `kubelet-stop`, `node-pause`, `node-stop`,
//! `node-kill`, and their undo (start the kubelet, unpause, start or resume the container).

use async_trait::async_trait;

use crate::backends::{ContainerAction, KubeletAction, Result};
use crate::playbook::model::{self, Action};
use crate::playbook::values::Signal;

use super::super::backends::Backends;
use super::{Fault, UndoRecord};

/// `kubelet-stop`, `node-pause` and `node-stop`: one backend call on one node, undone by a
/// record that names only the node. `node-kill`, whose undo depends on the signal, is
/// [`NodeKill`].
struct OnNode<'a> {
    node: &'a str,
    change: Change,
}

#[derive(Clone, Copy)]
enum Change {
    KubeletStop,
    Pause,
    Stop { timeout_secs: Option<u64> },
}

pub struct NodeKill<'a>(pub &'a model::NodeKill);

/// The fault `action` is, when this family holds it.
pub fn of(action: &Action) -> Option<Box<dyn Fault + '_>> {
    let (node, change) = match action {
        Action::KubeletStop(n) => (&n.node, Change::KubeletStop),
        Action::NodePause(n) => (&n.node, Change::Pause),
        Action::NodeStop(n) => {
            let timeout_secs = n.timeout.map(|t| t.0.as_secs());
            (&n.node, Change::Stop { timeout_secs })
        }
        Action::NodeKill(k) => return Some(Box::new(NodeKill(k))),
        _ => return None,
    };
    Some(Box::new(OnNode { node, change }))
}

#[async_trait]
impl Fault for OnNode<'_> {
    fn describe(&self) -> String {
        let what = match self.change {
            Change::KubeletStop => "stop the kubelet on",
            Change::Pause => "pause node container",
            Change::Stop { .. } => "stop node container",
        };
        format!("{what} {}", self.node)
    }
    fn undo(&self) -> Option<UndoRecord> {
        let node = self.node.to_string();
        Some(match self.change {
            Change::KubeletStop => UndoRecord::KubeletStart { node },
            Change::Pause => UndoRecord::NodeUnpause { node },
            Change::Stop { .. } => UndoRecord::NodeStart { node },
        })
    }
    async fn inject(&self, b: &Backends, undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let nodes = b.nodes().await?;
        match self.change {
            Change::KubeletStop => nodes.kubelet(self.node, KubeletAction::Stop).await?,
            Change::Pause => nodes.container(self.node, ContainerAction::Pause).await?,
            Change::Stop { timeout_secs } => {
                let stop = ContainerAction::Stop { timeout_secs };
                nodes.container(self.node, stop).await?
            }
        }
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

pub fn unpause_text(node: &str) -> String {
    format!("unpause node container {node}")
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
