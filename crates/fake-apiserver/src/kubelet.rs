//! The node side: simulated kubelets (confirming the deletion of Terminating pods,
//! starting bound pods), the scheduler pass of `auto_schedule`, and the node monitor of
//! `node_monitor_grace`.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::knobs::PodTermination;
use crate::scheduler::{self, set_condition};
use crate::store::State;
use crate::util::{self, at, set_at, str_at};

/// Kubelets confirm the deletion of Terminating pods on their node (grace -> 0).
pub(crate) fn kubelets_terminate(st: &mut State) {
    if !st.knobs.simulated_kubelets {
        return;
    }
    let pods = st.reg.pods();
    let now = Instant::now();
    let due: Vec<Value> = st
        .list(&pods, None)
        .into_iter()
        .filter(|p| {
            util::is_terminating(p)
                && p["metadata"]["deletionGracePeriodSeconds"]
                    .as_i64()
                    .unwrap_or(0)
                    > 0
        })
        .filter(|p| {
            let node = str_at(p, &["spec", "nodeName"]).unwrap_or("");
            if node.is_empty() || !st.knobs.kubelet_is_up(node) {
                return false;
            }
            let since = st
                .terminating_since
                .get(util::uid_of(p))
                .copied()
                .unwrap_or(now);
            match st.knobs.termination {
                PodTermination::Immediate => true,
                PodTermination::After(d) => since + d <= now,
                PodTermination::GracePeriod => {
                    let grace = p["metadata"]["deletionGracePeriodSeconds"]
                        .as_u64()
                        .unwrap_or(0);
                    since + Duration::from_secs(grace) <= now
                }
            }
        })
        .cloned()
        .collect();
    for old in due {
        let mut new = old.clone();
        set_at(
            &mut new,
            &["metadata", "deletionGracePeriodSeconds"],
            json!(0),
        );
        st.update(&pods, &old, new);
    }
}

/// Binds Pending pods to a fitting node (`auto_schedule`).
pub(crate) fn schedule(st: &mut State) {
    let pods = st.reg.pods();
    let nodes = st.reg.nodes();
    let pending: Vec<Value> = st
        .list(&pods, None)
        .into_iter()
        .filter(|p| {
            str_at(p, &["spec", "nodeName"]).is_none_or(str::is_empty) && !util::is_terminating(p)
        })
        .cloned()
        .collect();
    for old in pending {
        let choice = scheduler::choose(&old, &st.list(&nodes, None));
        let mut new = old.clone();
        match &choice {
            Some(node) => scheduler::bind(&mut new, node),
            None => set_condition(
                &mut new,
                "PodScheduled",
                "False",
                "Unschedulable",
                "0/N nodes are available: no node fits the pod.",
            ),
        }
        let (bound, _) = st.update(&pods, &old, new);
        if let Some(node) = choice {
            // Upstream: pkg/scheduler/schedule_one.go, bindingCycle: a Normal "Scheduled" event.
            let msg = format!(
                "Successfully assigned {}/{} to {node}",
                util::namespace_of(&bound),
                util::name_of(&bound)
            );
            let _ =
                crate::events::record(st, &bound, "Normal", "Scheduled", &msg, "default-scheduler");
        }
    }
}

/// Kubelets that are up start the Pending pods bound to their node (`auto_schedule`).
pub(crate) fn kubelets_start(st: &mut State) {
    if !st.knobs.simulated_kubelets {
        return;
    }
    let pods = st.reg.pods();
    let nodes = st.reg.nodes();
    let starting: Vec<Value> = st
        .list(&pods, None)
        .into_iter()
        .filter(|p| {
            let node = str_at(p, &["spec", "nodeName"]).unwrap_or("");
            !node.is_empty()
                && st.knobs.kubelet_is_up(node)
                && !util::is_terminating(p)
                && matches!(str_at(p, &["status", "phase"]), None | Some("Pending"))
        })
        .cloned()
        .collect();
    for old in starting {
        let node = str_at(&old, &["spec", "nodeName"])
            .unwrap_or("")
            .to_string();
        let host_ip =
            scheduler::node_ip(st.get(&nodes, "", &node)).unwrap_or_else(|| "172.18.0.2".into());
        let pod_ip = format!(
            "10.244.{}.{}",
            st.rng.next() % 250 + 1,
            st.rng.next() % 250 + 2
        );
        let now = util::now();
        let mut statuses = Vec::new();
        for c in old["spec"]["containers"].as_array().into_iter().flatten() {
            let id = format!(
                "{:016x}{:016x}{:016x}{:016x}",
                st.rng.next(),
                st.rng.next(),
                st.rng.next(),
                st.rng.next()
            );
            statuses.push(json!({
                "name": c["name"], "image": c["image"], "imageID": "", "containerID": format!("containerd://{id}"),
                "ready": true, "started": true, "restartCount": 0, "state": { "running": { "startedAt": now } },
            }));
        }
        let mut new = old.clone();
        for (k, v) in [
            ("phase", json!("Running")),
            ("hostIP", json!(host_ip)),
            ("hostIPs", json!([{ "ip": host_ip }])),
            ("podIP", json!(pod_ip)),
            ("podIPs", json!([{ "ip": pod_ip }])),
            ("startTime", json!(now)),
            ("containerStatuses", json!(statuses)),
        ] {
            set_at(&mut new, &["status", k], v);
        }
        for c in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
            set_condition(&mut new, c, "True", "", "");
        }
        st.update(&pods, &old, new);
    }
}

fn ready_reason(pod: &Value) -> Option<&str> {
    at(pod, &["status", "conditions"])?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["reason"]
        .as_str()
}

fn unreachable_taints() -> [Value; 2] {
    [
        json!({ "key": "node.kubernetes.io/unreachable", "effect": "NoSchedule" }),
        json!({ "key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": util::now() }),
    ]
}

/// With `node_monitor_grace`: nodes whose kubelet is down that long go Ready=Unknown and
/// get the unreachable taints (their pods go Ready=False); both are undone when it is back.
pub(crate) fn node_monitor(st: &mut State) {
    let Some(grace) = st.knobs.node_monitor_grace else {
        return;
    };
    let nodes = st.reg.nodes();
    let pods = st.reg.pods();
    let now = Instant::now();
    for old in st
        .list(&nodes, None)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>()
    {
        let name = util::name_of(&old).to_string();
        let lost = st
            .knobs
            .kubelets_down
            .get(&name)
            .is_some_and(|since| *since + grace <= now);
        let mut new = old.clone();
        let mut taints: Vec<Value> = new["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        taints.retain(|t| t["key"] != "node.kubernetes.io/unreachable");
        if lost {
            set_condition(
                &mut new,
                "Ready",
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
            );
            taints.extend(unreachable_taints().into_iter().map(|mut t| {
                let kept = old["spec"]["taints"].as_array().and_then(|ts| {
                    ts.iter()
                        .find(|o| o["key"] == t["key"] && o["effect"] == t["effect"])
                        .cloned()
                });
                if let Some(k) = kept {
                    t = k;
                }
                t
            }));
        } else if scheduler::condition(&old, "Ready") == Some("Unknown") {
            set_condition(
                &mut new,
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status",
            );
        }
        if taints.is_empty() {
            util::remove_at(&mut new, &["spec", "taints"]);
        } else {
            set_at(&mut new, &["spec", "taints"], json!(taints));
        }
        st.update(&nodes, &old, new);
        let on_node: Vec<Value> = st
            .list(&pods, None)
            .into_iter()
            .filter(|p| {
                str_at(p, &["spec", "nodeName"]) == Some(name.as_str())
                    && str_at(p, &["status", "phase"]) == Some("Running")
            })
            .cloned()
            .collect();
        for p in on_node {
            let mut np = p.clone();
            if lost {
                set_condition(&mut np, "Ready", "False", "NodeUnreachable", "");
                set_condition(&mut np, "ContainersReady", "False", "NodeUnreachable", "");
            } else if ready_reason(&p) == Some("NodeUnreachable") {
                set_condition(&mut np, "Ready", "True", "", "");
                set_condition(&mut np, "ContainersReady", "True", "", "");
            }
            st.update(&pods, &p, np);
        }
    }
}
