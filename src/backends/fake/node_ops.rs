//! [`NodeOps`] over the fake's state: node containers whose kubelet stays down while it is not
//! executable, pauses and stops, signals to pods, and the reality the nodes report.

use async_trait::async_trait;

use super::{FakeCluster, node_missing};
use crate::backends::*;
use crate::playbook::values::Signal;

#[async_trait]
impl NodeOps for FakeCluster {
    async fn nodes(&self) -> Result<Vec<NodeContainer>> {
        self.gate("node-list").await?;
        let s = self.state();
        Ok(s.nodes
            .iter()
            .map(|(n, f)| NodeContainer {
                name: n.clone(),
                role: f.role.clone(),
                state: f.container.clone(),
            })
            .collect())
    }

    async fn kubelet(&self, node: &str, action: KubeletAction) -> Result<()> {
        let op = match action {
            KubeletAction::Stop => "kubelet-stop",
            KubeletAction::Start => "kubelet-start",
        };
        self.gate(op).await?;
        self.record(format!("{op} {node}"));
        let mut s = self.state();
        let noop = s.knobs.undo_noop && action == KubeletAction::Start;
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if !noop {
            n.kubelet_executable = action == KubeletAction::Start;
            n.kubelet_running = action == KubeletAction::Start;
        }
        Ok(())
    }

    async fn container(&self, node: &str, action: ContainerAction) -> Result<()> {
        let (op, to) = match action {
            ContainerAction::Pause => ("node-pause", "paused"),
            ContainerAction::Unpause => ("node-unpause", "running"),
            ContainerAction::Stop { .. } => ("node-stop", "exited"),
            ContainerAction::Start => ("node-start", "running"),
            ContainerAction::Kill { .. } => ("node-kill", "exited"),
        };
        self.gate(op).await?;
        self.record(format!("{op} {node}"));
        let mut s = self.state();
        let undo = matches!(action, ContainerAction::Unpause | ContainerAction::Start);
        let noop = s.knobs.undo_noop && undo;
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if !noop {
            n.container = to.into();
        }
        Ok(())
    }

    async fn kill_pod_container(
        &self,
        node: &str,
        pod: &PodKey,
        container: Option<&str>,
        signal: Signal,
    ) -> Result<()> {
        self.gate("container-kill").await?;
        self.record(format!(
            "container-kill {node} {pod} {} {signal}",
            container.unwrap_or("-")
        ));
        let s = self.state();
        let n = s.nodes.get(node).ok_or_else(|| node_missing(&s, node))?;
        if !n.sandboxes.iter().any(|sb| &sb.pod == pod && sb.live) {
            return Err(BackendError::not_found(format!(
                "pod {pod} has no live sandbox on {node}"
            )));
        }
        Ok(())
    }

    async fn exec(&self, node: &str, argv: &[String]) -> Result<ExecOutput> {
        self.gate("exec").await?;
        self.record(format!("exec {node} {}", argv.join(" ")));
        let s = self.state();
        if !s.nodes.contains_key(node) {
            return Err(node_missing(&s, node));
        }
        Ok(ExecOutput::default())
    }

    async fn partition(&self, node: &str, cut: &Partition) -> Result<()> {
        self.gate("network-partition").await?;
        let peers: Vec<&str> = cut.peers.iter().map(|p| p.node.as_str()).collect();
        self.record(format!(
            "network-partition {node} {} {} {}",
            cut.chain,
            cut.direction.word(),
            peers.join(",")
        ));
        let mut s = self.state();
        for p in &peers {
            if !s.nodes.contains_key(*p) {
                return Err(node_missing(&s, p));
            }
        }
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if n.chains.contains(&cut.chain) {
            return Err(BackendError::failed(format!(
                "iptables chain {} exists already",
                cut.chain
            )));
        }
        n.chains.push(cut.chain.clone());
        Ok(())
    }

    async fn heal(&self, node: &str, chain: &str) -> Result<()> {
        self.gate("network-heal").await?;
        self.record(format!("network-heal {node} {chain}"));
        let mut s = self.state();
        let noop = s.knobs.undo_noop;
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if !noop {
            n.chains.retain(|c| c != chain);
        }
        Ok(())
    }

    async fn shape(&self, node: &str, shaping: &Shaping) -> Result<()> {
        self.gate("network-shape").await?;
        self.record(format!(
            "network-shape {node} {:?} {}",
            shaping.impairment,
            shaping.peers.join(",")
        ));
        let mut s = self.state();
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if n.shaping.is_some() {
            return Err(BackendError::failed(format!("{node} is shaped already")));
        }
        n.shaping = Some(shaping.clone());
        Ok(())
    }

    async fn unshape(&self, node: &str) -> Result<()> {
        self.gate("network-unshape").await?;
        self.record(format!("network-unshape {node}"));
        let mut s = self.state();
        let noop = s.knobs.undo_noop;
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if !noop {
            n.shaping = None;
        }
        Ok(())
    }

    async fn hog(&self, node: &str, hog: &CpuHog) -> Result<()> {
        self.gate("cpu-hog").await?;
        self.record(format!(
            "cpu-hog {node} {} {} {}s",
            hog.marker, hog.cores, hog.seconds
        ));
        let mut s = self.state();
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        n.hogs.push(hog.marker.clone());
        Ok(())
    }

    async fn unhog(&self, node: &str, marker: &str) -> Result<()> {
        self.gate("cpu-unhog").await?;
        self.record(format!("cpu-unhog {node} {marker}"));
        let mut s = self.state();
        let noop = s.knobs.undo_noop;
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if !noop {
            n.hogs.retain(|h| h != marker);
        }
        Ok(())
    }

    async fn reality(&self, node: Option<&str>) -> Result<Vec<NodeReality>> {
        self.read("reality").await?;
        let s = self.state();
        if let Some(n) = node
            && !s.nodes.contains_key(n)
        {
            return Err(node_missing(&s, n));
        }
        Ok(s.nodes
            .iter()
            .filter(|(n, _)| node.is_none_or(|want| want == n.as_str()))
            .map(|(n, f)| NodeReality {
                node: n.clone(),
                kubelet_running: f.kubelet_running,
                shims: f
                    .sandboxes
                    .iter()
                    .filter(|sb| sb.live)
                    .enumerate()
                    .map(|(i, sb)| Shim {
                        pid: 1000 + i as u32,
                        sandbox_id: sb.id.clone(),
                    })
                    .collect(),
                sandboxes: f.sandboxes.clone(),
            })
            .collect())
    }
}
