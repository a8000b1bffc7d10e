//! The Markdown report (`--markdown FILE`, `chaos report`): the facts of the HTML report for a
//! ticket or a postmortem, as text. Statuses are words and symbols, never colour alone; the
//! timeline is its transitions in order (samples summarised), with the ghost and phantom
//! intervals and the nodes' reality at the first and last sample.

use std::fmt::Write;

use crate::engine::PlaybookReport;
use crate::engine::timeline::{DriftState, Entry, WatchState, What};

use super::html::{first_last, step_look, step_rows, undo_look};
use super::json::SavedReport;
use super::lanes;
use super::summary::status_word;
use super::svg::offset;

/// A table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

pub fn render(r: &SavedReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# chaos report\n");
    let _ = writeln!(
        s,
        "Exit code **{}** · kind-chaos {} · report schema {}",
        r.exit_code, r.tool_version, r.schema
    );
    for p in &r.playbooks {
        playbook(&mut s, p);
    }
    s
}

fn playbook(s: &mut String, p: &PlaybookReport) {
    let mark = match p.status {
        crate::engine::RunStatus::Passed => "✔",
        crate::engine::RunStatus::Retained | crate::engine::RunStatus::Interrupted => "⚠",
        _ => "✘",
    };
    let _ = writeln!(s, "\n## {}: {mark} {}\n", cell(&p.name), status_word(p));
    let _ = writeln!(
        s,
        "{} · started {} · took {:.1} s\n",
        cell(&p.file),
        p.started_at,
        p.duration.as_secs_f64()
    );
    s.push_str("### Steps\n\n| step | phase | action | status | took | what |\n|---|---|---|---|---|---|\n");
    for (status, [label, phase, action, took, what]) in step_rows(p, cell, (" — ", "")) {
        let word = step_look(status).1;
        let _ = writeln!(
            s,
            "| {label} | {phase} | {action} | {word} | {took} | {what} |"
        );
    }
    let checked: Vec<_> = p.steps.iter().filter(|st| st.verdict.is_some()).collect();
    if !checked.is_empty() {
        s.push_str(
            "\n### Assertions\n\n| step | holds | expected | observed |\n|---|---|---|---|\n",
        );
        for st in checked {
            if let Some(v) = &st.verdict {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    cell(st.label()),
                    if v.holds { "✔ yes" } else { "✘ no" },
                    cell(&v.expected),
                    cell(&v.observed)
                );
            }
        }
    }
    s.push_str("\n### Undone\n\n");
    if p.undo.is_empty() {
        s.push_str("Nothing to undo.\n");
    } else {
        s.push_str("| step | undo | status | at | note |\n|---|---|---|---|---|\n");
        for u in &p.undo {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                cell(&u.step),
                cell(&u.description),
                undo_look(u.status).1,
                u.at.as_deref().unwrap_or(""),
                cell(u.message.as_deref().unwrap_or(""))
            );
        }
    }
    timeline(s, p);
}

fn timeline(s: &mut String, p: &PlaybookReport) {
    let entries = &p.timeline.entries;
    let Some(chart) = lanes::chart(&p.timeline) else {
        s.push_str("\n### Timeline\n\nNo timeline recorded.\n");
        return;
    };
    let _ = writeln!(
        s,
        "\n### Timeline\n\nSeconds from {} (wall clock).\n",
        chart.start
    );
    s.push_str("| when | at | what |\n|---|---|---|\n");
    let start = humantime::parse_rfc3339(&chart.start).ok();
    let samples = entries.iter().filter(|e| e.what.is_sample()).count();
    for e in entries.iter().filter(|e| !e.what.is_sample()) {
        let t = start
            .zip(humantime::parse_rfc3339(&e.at).ok())
            .and_then(|(a, b)| b.duration_since(a).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        let _ = writeln!(s, "| {} | {} | {} |", offset(t), e.at, cell(&words(e)));
    }
    let _ = writeln!(
        s,
        "\n{samples} sample(s) (reality, wait observations, probes) are in the JSON report's timeline."
    );
    if p.timeline.dropped > 0 {
        let _ = writeln!(
            s,
            "{} older sample(s) were thinned out to keep the timeline bounded.",
            p.timeline.dropped
        );
    }
    let drift = lanes::drift_intervals(&chart);
    if !drift.is_empty() {
        s.push_str(
            "\n### Ghost and phantom intervals\n\n| pod | what | from | to |\n|---|---|---|---|\n",
        );
        for (pod, sp) in drift {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                cell(&pod),
                cell(&sp.label),
                offset(sp.from),
                offset(sp.to)
            );
        }
    }
    if let Some((first, last)) = first_last(entries) {
        s.push_str("\n### Reality on the nodes\n");
        for (word, e) in [("First sample", first), ("Last sample", last)] {
            let What::Reality { nodes, .. } = &e.what else {
                continue;
            };
            let _ = writeln!(s, "\n{word}, {}:\n", e.at);
            s.push_str("| node | kubelet | shims | sandboxes | ghosts | phantoms |\n|---|---|---|---|---|---|\n");
            let count = |c: Option<u32>| c.map_or("?".to_string(), |c| c.to_string());
            for n in nodes {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} |",
                    cell(&n.node),
                    if n.kubelet_running {
                        "✔ running"
                    } else {
                        "✘ stopped"
                    },
                    n.shims,
                    n.sandboxes,
                    count(n.ghosts),
                    count(n.phantoms)
                );
            }
        }
    }
}

/// `head`, then `: message` when there is one.
fn with_message(head: String, message: &Option<String>) -> String {
    match message {
        Some(m) => format!("{head}: {m}"),
        None => head,
    }
}

/// One transition in words.
fn words(e: &Entry) -> String {
    match &e.what {
        What::RunStarted { playbook } => format!("run of {playbook} started"),
        What::RunFinished { status } => format!(
            "run finished: {}",
            serde_json::to_value(status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ),
        What::StepStarted {
            step, description, ..
        } => format!("{step} started: {description}"),
        What::StepFinished {
            step,
            status,
            message,
        } => with_message(format!("{step} {}", step_look(*status).1), message),
        What::FaultInjected { step, undo } => format!("{step} left a fault (undo: {undo})"),
        What::Undo {
            description,
            status,
            message,
            ..
        } => with_message(format!("{} {description}", undo_look(*status).1), message),
        What::Sandbox { node, pod, live } => {
            if *live {
                format!("sandbox of {pod} live on {node}")
            } else {
                format!("sandbox of {pod} gone from {node}")
            }
        }
        What::Drift {
            node,
            pod,
            state,
            detail,
        } => match state {
            DriftState::Ghost => format!("{pod} on {node}: ghost ({detail})"),
            DriftState::Phantom => format!("{pod} on {node}: phantom ({detail})"),
            DriftState::Cleared => format!("{pod} on {node}: no longer a ghost or phantom"),
        },
        What::Pod {
            pod,
            present,
            node,
            phase,
            ready,
            terminating,
        } => {
            if !present {
                return format!("API: pod {pod} no longer returned");
            }
            let mut w = format!("API: pod {pod} {phase}");
            w += if *ready { ", ready" } else { ", not ready" };
            if *terminating {
                w += ", terminating";
            }
            if let Some(n) = node {
                w += &format!(", on {n}");
            }
            w
        }
        What::Node {
            node,
            ready,
            unschedulable,
            taints,
        } => {
            let mut w = format!("API: node {node} Ready={ready}");
            if *unschedulable {
                w += ", cordoned";
            }
            if !taints.is_empty() {
                w += &format!(", taints {}", taints.join(" "));
            }
            w
        }
        What::Namespace { namespace, phase } => match phase {
            Some(p) => format!("API: namespace {namespace} {p}"),
            None => format!("API: namespace {namespace} gone"),
        },
        What::WaitObserved { step, observed, .. } => format!("{step} saw {observed}"),
        What::Watch {
            what,
            state,
            message,
        } => match (state, message) {
            (WatchState::Broken, Some(m)) => format!("API watch of {what} broke ({m})"),
            (WatchState::Broken, None) => format!("API watch of {what} broke"),
            (WatchState::Resumed, _) => format!("API watch of {what} listed again"),
        },
        What::Reality { nodes, .. } => format!("reality of {} node(s)", nodes.len()),
        What::Probe { probe, ok, .. } => {
            format!("probe {probe} {}", if *ok { "ok" } else { "failed" })
        }
    }
}
