//! The join of the API's view with what really runs on the nodes. A *ghost* is a pod whose
//! sandbox still runs on a node although the API has deleted it or marked it terminating; a
//! *phantom* is a pod the API says runs on a node where no live sandbox exists. This gap is
//! what kubelet failures leave behind and what no other chaos tool shows.

use serde::Serialize;

use crate::backends::{NodeReality, PodKey, PodView};
use crate::playbook::model::{DriftCondition, KubeletCondition, SandboxCondition, ShimsCondition};

use super::{Seen, Verdict, all, count_verdict, words};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Agreement {
    Consistent,
    Ghost,
    Phantom,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftEntry {
    pub node: String,
    pub pod: PodKey,
    pub state: Agreement,
    /// Why: "deleted in the API", "terminating in the API", "no live sandbox".
    pub detail: String,
}

/// Compares pods (from the API, `None` when it is unreachable) with the nodes' sandboxes.
pub fn join(api: &[PodView], nodes: &[NodeReality]) -> Vec<DriftEntry> {
    let mut out = Vec::new();
    for n in nodes {
        for sb in n.sandboxes.iter().filter(|s| s.live) {
            let pod = api.iter().find(|p| {
                p.key == sb.pod && (p.uid.is_empty() || sb.uid.is_empty() || p.uid == sb.uid)
            });
            let (state, detail) = match pod {
                None => (Agreement::Ghost, "deleted in the API".to_string()),
                Some(p) if p.deletion_timestamp.is_some() => {
                    (Agreement::Ghost, "terminating in the API".to_string())
                }
                Some(p) if p.node.as_deref() != Some(n.node.as_str()) => (
                    Agreement::Ghost,
                    format!(
                        "the API places it on {}",
                        p.node.as_deref().unwrap_or("no node")
                    ),
                ),
                Some(_) => (Agreement::Consistent, "running in both".to_string()),
            };
            out.push(DriftEntry {
                node: n.node.clone(),
                pod: sb.pod.clone(),
                state,
                detail,
            });
        }
        for p in api
            .iter()
            .filter(|p| p.node.as_deref() == Some(n.node.as_str()))
        {
            let live = n.sandboxes.iter().any(|s| s.live && s.pod == p.key);
            let finished = matches!(p.phase.as_str(), "Succeeded" | "Failed");
            if !live && !finished && p.phase != "Pending" {
                out.push(DriftEntry {
                    node: n.node.clone(),
                    pod: p.key.clone(),
                    state: Agreement::Phantom,
                    detail: format!(
                        "the API says {} here, the node has no live sandbox",
                        p.phase
                    ),
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.node, &a.pod).cmp(&(&b.node, &b.pod)));
    out
}

pub fn drift(c: &DriftCondition, entries: &[DriftEntry]) -> Verdict {
    let scoped: Vec<&DriftEntry> = entries
        .iter()
        .filter(|e| c.node.as_deref().is_none_or(|n| e.node == n))
        .filter(|e| c.namespace.as_ref().is_none_or(|ns| &e.pod.namespace == ns))
        .collect();
    let list = |s: Agreement| -> Vec<String> {
        scoped
            .iter()
            .filter(|e| e.state == s)
            .map(|e| format!("{} on {}", e.pod, e.node))
            .collect()
    };
    let mut parts = Vec::new();
    for (want, state, word) in [
        (c.ghosts, Agreement::Ghost, "ghost(s)"),
        (c.phantoms, Agreement::Phantom, "phantom(s)"),
    ] {
        if let Some(w) = want {
            let found = list(state);
            let mut v = count_verdict(word, &w, found.len() as u64);
            if !found.is_empty() {
                v.observed += &format!(": {}", found.join(", "));
            }
            parts.push(v);
        }
    }
    let v = all(parts);
    Verdict::new(v.holds, words::drift(c), v.observed)
}

fn find<'a>(nodes: &'a [NodeReality], node: &str) -> Option<&'a NodeReality> {
    nodes.iter().find(|n| n.node == node)
}

/// Shims on a node, against `count` and against `earlier`, what the step named by `same-as`
/// counted (`None` when it has not run).
pub fn shims(c: &ShimsCondition, nodes: &[NodeReality], earlier: Option<&Seen>) -> Verdict {
    let Some(n) = find(nodes, &c.node) else {
        return Verdict::new(false, words::shims(c), format!("no node {}", c.node));
    };
    let got = n.shims.len() as u64;
    let mut holds = c.count.is_none_or(|want| want.matches(got));
    let mut seen = format!("{got} shim(s) on {}", c.node);
    if let Some(step) = &c.same_as {
        match earlier {
            Some(Seen::Shims(then)) => {
                holds &= *then == got;
                seen += &format!(", `{step}` counted {then}");
            }
            _ => {
                holds = false;
                seen += &format!(", step `{step}` has not counted shims");
            }
        }
    }
    Verdict::new(holds, words::shims(c), seen).seeing(Seen::Shims(got))
}

pub fn sandbox(c: &SandboxCondition, nodes: &[NodeReality]) -> Verdict {
    let want = c.present.unwrap_or(true);
    let on: Vec<&str> = nodes
        .iter()
        .filter(|n| c.node.as_deref().is_none_or(|x| n.node == x))
        .filter(|n| {
            n.sandboxes
                .iter()
                .any(|s| s.live && s.pod.namespace == c.namespace && s.pod.name == c.pod)
        })
        .map(|n| n.node.as_str())
        .collect();
    Verdict::new(
        on.is_empty() != want,
        words::sandbox(c),
        if on.is_empty() {
            "no live sandbox".to_string()
        } else {
            format!("live sandbox on {}", on.join(", "))
        },
    )
}

pub fn kubelet(c: &KubeletCondition, nodes: &[NodeReality]) -> Verdict {
    let word = |b: bool| if b { "running" } else { "not running" };
    match find(nodes, &c.node) {
        Some(n) => Verdict::new(
            n.kubelet_running == c.running,
            words::kubelet(c),
            format!("kubelet {} on {}", word(n.kubelet_running), c.node),
        ),
        None => Verdict::new(false, words::kubelet(c), format!("no node {}", c.node)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::Sandbox;

    fn pod(name: &str, node: &str, terminating: bool) -> PodView {
        PodView {
            key: PodKey {
                namespace: "default".into(),
                name: name.into(),
            },
            node: Some(node.into()),
            phase: "Running".into(),
            deletion_timestamp: terminating.then(|| "2026-01-01T00:00:00Z".into()),
            ..PodView::default()
        }
    }

    fn sandbox(name: &str) -> Sandbox {
        Sandbox {
            id: format!("id-{name}"),
            pod: PodKey {
                namespace: "default".into(),
                name: name.into(),
            },
            uid: String::new(),
            live: true,
            containers: vec![],
        }
    }

    #[test]
    fn an_absent_sandbox_is_worded_as_the_condition_words_it() {
        let nodes = vec![NodeReality {
            node: "w1".into(),
            kubelet_running: true,
            shims: vec![],
            sandboxes: vec![sandbox("web")],
        }];
        let c = SandboxCondition {
            namespace: "default".into(),
            pod: "web".into(),
            node: Some("w1".into()),
            present: Some(false),
        };
        let v = super::sandbox(&c, &nodes);
        assert!(!v.holds);
        // Once "no a live sandbox ...": the verdict had words of its own.
        assert_eq!(v.expected, "no live sandbox for default/web on w1");
        assert_eq!(v.expected, words::sandbox(&c));
        assert_eq!(v.observed, "live sandbox on w1");
        let gone = SandboxCondition {
            pod: "db".into(),
            ..c
        };
        assert!(super::sandbox(&gone, &nodes).holds);
    }

    #[test]
    fn ghosts_and_phantoms() {
        let api = vec![
            pod("ok", "w1", false),
            pod("dying", "w1", true),
            pod("missing", "w1", false),
        ];
        let nodes = vec![NodeReality {
            node: "w1".into(),
            kubelet_running: false,
            shims: vec![],
            sandboxes: vec![sandbox("ok"), sandbox("dying"), sandbox("deleted")],
        }];
        let j = join(&api, &nodes);
        let by = |n: &str| j.iter().find(|e| e.pod.name == n).map(|e| e.state);
        assert_eq!(by("ok"), Some(Agreement::Consistent));
        assert_eq!(by("dying"), Some(Agreement::Ghost));
        assert_eq!(by("deleted"), Some(Agreement::Ghost));
        assert_eq!(by("missing"), Some(Agreement::Phantom));
        let c = DriftCondition {
            node: None,
            namespace: None,
            ghosts: Some(crate::playbook::values::Count::exactly(2)),
            phantoms: None,
        };
        assert!(drift(&c, &j).holds);
        let c = DriftCondition {
            ghosts: Some(crate::playbook::values::Count::exactly(0)),
            ..c
        };
        let v = drift(&c, &j);
        assert!(!v.holds);
        assert!(v.observed.contains("default/dying on w1"), "{}", v.observed);
    }
}
