//! `chaos recover --sweep --cluster NAME`: remove what kind-chaos left in a cluster's nodes
//! that no journal owes any more (the journal was deleted, the state directory was another
//! user's or another machine's, or an undo was given up with `--forget`): iptables chains
//! named `KIND-CHAOS-...`, our qdisc, CPU hogs, memory hogs and disk fills, found by their
//! names in every node.
//!
//! Only on request (`--sweep`), never as part of a plain `recover`: it touches every node of a
//! cluster no journal may name, and it removes faults a `--retain` run kept on purpose. It runs
//! after the journals of that cluster are recovered and under the cluster's lock, so it never
//! sweeps the faults of a run that is still going (that run holds the lock).

use crate::backends::ErrorKind;
use crate::engine::Backends;
use crate::exit::Exit;
use crate::journal::ClusterLock;
use crate::{errln, outln};

use super::connect::{ConnectArgs, connector};

pub async fn sweep(cluster: &str, connect: &ConnectArgs) -> Exit {
    let _lock = match ClusterLock::acquire(cluster, "chaos recover --sweep") {
        Ok(l) => l,
        Err(e) => {
            errln!("✘ {e}");
            return Exit::Environment;
        }
    };
    let conn = match connector(cluster, connect) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return Exit::Usage;
        }
    };
    let backends = Backends::new(conn);
    let listed = match backends.nodes().await {
        Ok(ops) => ops.nodes().await.map(|list| (ops, list)),
        Err(e) => Err(e),
    };
    let (ops, nodes) = match listed {
        Ok(found) => found,
        Err(e) => {
            errln!("✘ cannot sweep cluster {cluster}: {e}");
            return if e.kind == ErrorKind::Unavailable {
                Exit::Environment
            } else {
                Exit::RollbackFailed
            };
        }
    };
    outln!(
        "▶ sweeping cluster {cluster} for what kind-chaos left: {} node(s)",
        nodes.len()
    );
    let mut exit = Exit::Passed;
    for node in &nodes {
        if node.state != "running" {
            errln!(
                "  ✘ {}: {}, not swept; what kind-chaos left there may still be there",
                node.name,
                node.state
            );
            exit = exit.max(Exit::RollbackFailed);
            continue;
        }
        match ops.sweep(&node.name).await {
            Ok(removed) if removed.is_empty() => {
                outln!("  ✔ {}: nothing of kind-chaos's", node.name);
            }
            Ok(removed) => {
                for what in removed {
                    outln!("  ✔ {}: removed {what}", node.name);
                }
            }
            Err(e) => {
                errln!("  ✘ {}: {e}", node.name);
                exit = exit.max(if e.kind == ErrorKind::Unavailable {
                    Exit::Environment
                } else {
                    Exit::RollbackFailed
                });
            }
        }
    }
    exit
}
