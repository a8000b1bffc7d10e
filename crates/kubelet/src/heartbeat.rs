//! The node side of the kubelet: register the Node, then renew the Lease and post
//! NodeStatus on their own intervals, for as long as the kubelet runs. Failures are
//! logged and retried on the next tick (a real kubelet keeps going too); a Node deleted
//! from under us is registered again, as upstream's `syncNodeStatus` does.

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use tokio::time::{MissedTickBehavior, interval};

use crate::config::Config;
use crate::lease::LeaseRenewer;
use crate::node::{NodeError, NodeFacts, post_status, register};

/// How long to wait between failed registration attempts.
const REGISTER_RETRY: Duration = Duration::from_secs(1);

/// Registers the node (retrying until it works) and then heartbeats forever.
pub async fn run(client: kube::Client, cfg: Config, facts: NodeFacts) {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut node = register_until_done(&nodes, &cfg, &facts.name).await;
    let mut lease = LeaseRenewer::new(
        client,
        &facts.name,
        node.metadata.uid.clone(),
        cfg.node_lease_duration_seconds,
    );
    let mut lease_tick = interval(cfg.lease_renew_interval());
    let mut status_tick = interval(cfg.node_status_update_frequency);
    lease_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    status_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = status_tick.tick() => {
                match post_status(&nodes, &facts, Some(&node)).await {
                    Ok(n) => node = n,
                    Err(NodeError::Status { source: kube::Error::Api(s), .. }) if s.code == 404 => {
                        tracing::warn!("node {} is gone from the API; registering it again", facts.name);
                        node = register_until_done(&nodes, &cfg, &facts.name).await;
                    }
                    Err(e) => tracing::warn!("{e}"),
                }
            }
            _ = lease_tick.tick() => {
                if let Err(e) = lease.renew().await {
                    tracing::warn!("renewing the lease of node {}: {e}", facts.name);
                }
            }
        }
    }
}

async fn register_until_done(nodes: &Api<Node>, cfg: &Config, name: &str) -> Node {
    loop {
        match register(nodes, cfg, name).await {
            Ok(n) => {
                tracing::info!("registered node {name}");
                return n;
            }
            Err(e) => {
                tracing::warn!("{e}; retrying");
                tokio::time::sleep(REGISTER_RETRY).await;
            }
        }
    }
}
