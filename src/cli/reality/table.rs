//! `chaos reality`'s table for people: a heading and a table per node, what the API side says,
//! and a last line of totals across the nodes. `-o wide` adds each pod's IP, phase and restarts
//! from the API (or says the API is not connected). A node that could not be read (a paused
//! one) is one line, never a row per pod.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::view::{DriftView, NodeView, RealityView, Totals};
use crate::observe::Agreement;
use crate::report::out::clean;

fn word(a: Agreement) -> &'static str {
    match a {
        Agreement::Consistent => "consistent",
        Agreement::Ghost => "GHOST",
        Agreement::Phantom => "PHANTOM",
    }
}

/// "1 pod" / "2 pods".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The heading of a node that could not be read: said once, with how many pods the API
/// places there (they were not checked).
fn unread(n: &NodeView, e: &str) -> String {
    let api = match n.api_pods {
        Some(0) | None => String::new(),
        Some(k) => format!(
            "; the API places {} here, not checked",
            count(k, "pod", "pods")
        ),
    };
    if n.state == "paused" {
        format!("\n{} ({}) · PAUSED: not read{api}\n", n.name, n.role)
    } else {
        format!(
            "\n{} ({}, {}): not read: {e}{api}\n",
            n.name, n.role, n.state
        )
    }
}

/// A heading and a table per node, then the totals. Names come from the nodes and the API,
/// not from us: their control bytes are escaped (in the cells, so columns stay aligned).
pub fn render_table(v: &RealityView, wide: bool) -> String {
    let mut out = String::new();
    let api = if v.api.connected {
        "API: connected".to_string()
    } else {
        format!(
            "API: not connected ({})",
            v.api.reason.as_deref().unwrap_or("unknown reason")
        )
    };
    out += &format!("cluster {} · {api}\n", v.cluster);
    if wide && !v.api.connected {
        out += "IP, phase and restarts come from the API: not shown\n";
    }
    for n in &v.nodes {
        if let Some(e) = &n.error {
            out += &unread(n, e);
            continue;
        }
        out += &format!("\n{} ({}, {})", n.name, n.role, n.state);
        let orphan = n
            .shims
            .iter()
            .filter(|sh| !n.sandboxes.iter().any(|sb| sb.id == sh.sandbox_id))
            .count();
        out += &format!(
            " · kubelet {} · {} shim(s)",
            if n.kubelet_running {
                "running"
            } else {
                "NOT running"
            },
            n.shims.len()
        );
        if orphan > 0 {
            out += &format!(", {orphan} serving no known sandbox");
        }
        out.push('\n');
        let phantoms: Vec<&DriftView> = v
            .drift
            .iter()
            .flatten()
            .filter(|d| d.node == n.name && d.state == Agreement::Phantom)
            .collect();
        if n.sandboxes.is_empty() && phantoms.is_empty() {
            out += "  no pod sandboxes\n";
            continue;
        }
        out += &node_table(v, n, &phantoms, wide && v.api.connected);
        out.push('\n');
    }
    out += &totals_line(&v.totals);
    clean(&out).into_owned()
}

fn node_table(v: &RealityView, n: &NodeView, phantoms: &[&DriftView], wide: bool) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["pod", "sandbox", "shim pid", "containers"];
    if v.api.connected {
        header.push("API");
    }
    if wide {
        header.extend(["IP", "phase", "restarts"]);
    }
    t.set_header(header);
    let or_dash = |s: Option<String>| s.unwrap_or_else(|| "—".into());
    for sb in &n.sandboxes {
        let mut row = vec![
            clean(&format!("{}/{}", sb.namespace, sb.name)).into_owned(),
            clean(&sb.id.chars().take(13).collect::<String>()).into_owned(),
            sb.shim_pid
                .map(|p| p.to_string())
                .unwrap_or_else(|| "— (dead)".into()),
            if sb.containers.is_empty() {
                "—".to_string()
            } else {
                clean(&sb.containers.join(", ")).into_owned()
            },
        ];
        if v.api.connected {
            row.push(sb.api.map(word).unwrap_or("—").to_string());
        }
        if wide {
            row.push(or_dash(sb.ip.as_deref().map(|i| clean(i).into_owned())));
            row.push(or_dash(sb.phase.as_deref().map(|p| clean(p).into_owned())));
            row.push(or_dash(sb.restarts.map(|r| r.to_string())));
        }
        t.add_row(row);
    }
    for p in phantoms {
        let mut row = vec![
            clean(&format!("{}/{}", p.namespace, p.name)).into_owned(),
            "—".into(),
            "—".into(),
            "—".into(),
            clean(&format!("PHANTOM: {}", p.detail)).into_owned(),
        ];
        if wide {
            row.extend(["—".to_string(), "—".to_string(), "—".to_string()]);
        }
        t.add_row(row);
    }
    t.to_string()
}

/// `total: 3 nodes (1 not read) · 4 sandboxes (3 live) · 5 containers · 1 ghost · 0 phantoms`.
fn totals_line(t: &Totals) -> String {
    let mut line = format!("\ntotal: {}", count(t.nodes, "node", "nodes"));
    if t.unread > 0 {
        line += &format!(" ({} not read)", t.unread);
    }
    line += &format!(
        " · {} ({} live) · {}",
        count(t.sandboxes, "sandbox", "sandboxes"),
        t.live,
        count(t.containers, "container", "containers")
    );
    if let (Some(g), Some(p)) = (t.ghosts, t.phantoms) {
        line += &format!(
            " · {} · {}",
            count(g, "ghost", "ghosts"),
            count(p, "phantom", "phantoms")
        );
    }
    line.push('\n');
    line
}
