//! [`NodeOps`] over the fake's state: node containers whose kubelet stays down while it is not
//! executable, pauses and stops, signals to pods, and the reality the nodes report.

use async_trait::async_trait;

use super::FakeNode;
use super::{FakeCluster, node_missing};
use crate::backends::*;

impl FakeCluster {
    /// The path every node mutation shares: pass the `op` gate, record the call, find the node
    /// and apply `change` to it, unless the call is an `undo` and the `undo_noop` knob makes
    /// undos succeed without effect.
    async fn change_node(
        &self,
        op: &str,
        call: String,
        node: &str,
        undo: bool,
        change: impl FnOnce(&mut FakeNode) -> Result<()> + Send,
    ) -> Result<()> {
        self.gate(op).await?;
        self.record(call);
        let mut s = self.state();
        let noop = undo && s.knobs.undo_noop;
        let missing = node_missing(&s, node);
        let n = s.nodes.get_mut(node).ok_or(missing)?;
        if noop { Ok(()) } else { change(n) }
    }

    /// [`Self::change_node`] for an undo, whose change cannot fail once the node is found.
    async fn undo_on_node(
        &self,
        op: &str,
        call: String,
        node: &str,
        undo: impl FnOnce(&mut FakeNode) + Send,
    ) -> Result<()> {
        self.change_node(op, call, node, true, |n| {
            undo(n);
            Ok(())
        })
        .await
    }
}

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
        let start = action == KubeletAction::Start;
        self.change_node(op, format!("{op} {node}"), node, start, |n| {
            n.kubelet_executable = start;
            n.kubelet_running = start;
            Ok(())
        })
        .await
    }

    async fn container(&self, node: &str, action: ContainerAction) -> Result<()> {
        let (op, to) = match action {
            ContainerAction::Pause => ("node-pause", "paused"),
            ContainerAction::Unpause => ("node-unpause", "running"),
            ContainerAction::Stop { .. } => ("node-stop", "exited"),
            ContainerAction::Start => ("node-start", "running"),
            ContainerAction::Kill { .. } => ("node-kill", "exited"),
        };
        let undo = matches!(action, ContainerAction::Unpause | ContainerAction::Start);
        self.change_node(op, format!("{op} {node}"), node, undo, |n| {
            n.container = to.into();
            Ok(())
        })
        .await
    }

    async fn kill_pod_container(&self, node: &str, kill: PodSignal<'_>) -> Result<()> {
        let PodSignal {
            pod,
            container,
            signal,
        } = kill;
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
        let call = format!("network-heal {node} {chain}");
        self.undo_on_node("network-heal", call, node, |n| {
            n.chains.retain(|c| c != chain)
        })
        .await
    }

    async fn shape(&self, node: &str, shaping: &Shaping) -> Result<()> {
        let call = format!(
            "network-shape {node} {:?} {}",
            shaping.impairment,
            shaping.peers.join(",")
        );
        self.change_node("network-shape", call, node, false, |n| {
            if n.shaping.is_some() {
                return Err(BackendError::failed(format!("{node} is shaped already")));
            }
            n.shaping = Some(shaping.clone());
            Ok(())
        })
        .await
    }

    async fn unshape(&self, node: &str) -> Result<()> {
        let call = format!("network-unshape {node}");
        self.undo_on_node("network-unshape", call, node, |n| n.shaping = None)
            .await
    }

    async fn hog(&self, node: &str, hog: &CpuHog) -> Result<()> {
        let call = format!(
            "cpu-hog {node} {} {} {}s",
            hog.marker, hog.cores, hog.seconds
        );
        self.change_node("cpu-hog", call, node, false, |n| {
            n.hogs.push(hog.marker.clone());
            Ok(())
        })
        .await
    }

    async fn unhog(&self, node: &str, marker: &str) -> Result<()> {
        let call = format!("cpu-unhog {node} {marker}");
        self.undo_on_node("cpu-unhog", call, node, |n| n.hogs.retain(|h| h != marker))
            .await
    }

    /// A share is taken of 8 GiB, the fake node's memory and disk alike.
    async fn fill(&self, node: &str, fill: &Fill) -> Result<Held> {
        let of = 8 << 30;
        let bytes = match fill.size {
            Size::Bytes(b) => b,
            Size::Percent(p) => of / 100 * u64::from(p),
        };
        let call = format!(
            "fill {node} {} {} {}s",
            fill.marker, fill.size, fill.seconds
        );
        self.change_node("fill", call, node, false, |n| {
            if n.fills.contains_key(&fill.marker) {
                return Err(BackendError::failed(format!(
                    "{} exists already",
                    fill.marker
                )));
            }
            n.fills.insert(fill.marker.clone(), bytes);
            Ok(())
        })
        .await?;
        Ok(Held { bytes, of })
    }

    async fn unfill(&self, node: &str, marker: &str) -> Result<u64> {
        let call = format!("unfill {node} {marker}");
        let mut freed = 0;
        self.undo_on_node("unfill", call, node, |n| {
            freed = n.fills.remove(marker).unwrap_or(0);
        })
        .await?;
        Ok(freed)
    }

    async fn sweep(&self, node: &str) -> Result<Vec<String>> {
        let call = format!("sweep {node}");
        let mut removed = Vec::new();
        self.undo_on_node("sweep", call, node, |n| {
            removed.extend(n.chains.drain(..).map(|c| format!("iptables chain {c}")));
            if n.shaping.take().is_some() {
                removed.push("qdisc c4a0: (network shaping)".into());
            }
            removed.extend(n.hogs.drain(..).map(|h| format!("CPU hog {h}")));
            let fills = std::mem::take(&mut n.fills);
            removed.extend(
                fills
                    .into_iter()
                    .map(|(f, b)| format!("fill {f} ({b} bytes)")),
            );
        })
        .await?;
        Ok(removed)
    }

    /// Every fake node is at the loopback address, so a probe of `node: X, port: P` reaches a
    /// server a test listens with on 127.0.0.1:P.
    async fn address(&self, node: &str) -> Result<String> {
        self.gate("address").await?;
        let s = self.state();
        if !s.nodes.contains_key(node) {
            return Err(node_missing(&s, node));
        }
        Ok("127.0.0.1".into())
    }

    async fn reality(&self, node: Option<&str>) -> Result<Vec<NodeReality>> {
        self.read("reality", |s| {
            if let Some(n) = node
                && !s.nodes.contains_key(n)
            {
                return Err(node_missing(s, n));
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
        })
        .await?
    }
}
