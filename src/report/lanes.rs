//! The timeline as lanes of intervals, the shape both hand-out reports draw from: a lane for
//! the steps and faults, one per node (Ready in the API, the kubelet, shims), one per pod the
//! playbook watched (what the API said, where a sandbox really ran, ghost and phantom
//! intervals) and one per probe. Pure data from a [`Timeline`]: the SVG chart and the Markdown
//! report say the same thing because they read the same lanes.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::engine::timeline::{DriftState, Timeline, What};
use crate::engine::{StepStatus, UndoStatus};

/// How an interval or mark reads: each has a colour-blind safe colour and a pattern or label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Fault,
    Ghost,
    Phantom,
    Info,
    Neutral,
}

/// An interval, in seconds from the chart's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub from: f64,
    pub to: f64,
    pub label: String,
    pub tone: Tone,
}

/// A moment (a probe sample).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub at: f64,
    pub tone: Tone,
    pub title: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub label: String,
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub title: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The first entry's wall clock (RFC 3339).
    pub start: String,
    /// Seconds from the first entry to the last (at least 1).
    pub length: f64,
    pub lanes: Vec<Lane>,
    /// Pods left out of the chart (beyond [`MAX_PODS`]).
    pub pods_left_out: usize,
}

/// At most this many pod lanes (a namespace-wide drift wait may see hundreds of pods).
pub const MAX_PODS: usize = 40;

/// Seconds of `at` after `start`; entries whose time does not parse sit at the start.
fn secs(start: SystemTime, at: &str) -> f64 {
    humantime::parse_rfc3339(at)
        .ok()
        .and_then(|t| t.duration_since(start).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Builds the chart's lanes; `None` for an empty timeline.
pub fn chart(t: &Timeline) -> Option<Chart> {
    let first = t.entries.first()?;
    let start = humantime::parse_rfc3339(&first.at).unwrap_or(SystemTime::UNIX_EPOCH);
    let at: Vec<f64> = t.entries.iter().map(|e| secs(start, &e.at)).collect();
    let end = at.iter().copied().fold(1.0_f64, f64::max);
    let mut b = Build {
        end,
        ..Build::default()
    };
    for (e, &s) in t.entries.iter().zip(&at) {
        b.entry(s, &e.what);
    }
    Some(b.finish(first.at.clone()))
}

/// Open intervals per key, closed when the key's state changes.
#[derive(Default)]
struct Open {
    spans: Vec<Span>,
    open: Option<Span>,
}

impl Open {
    fn set(&mut self, at: f64, next: Option<(String, Tone)>) {
        if let Some(o) = &self.open
            && next
                .as_ref()
                .is_some_and(|(l, t)| *l == o.label && *t == o.tone)
        {
            return;
        }
        if let Some(mut o) = self.open.take() {
            o.to = at;
            self.spans.push(o);
        }
        self.open = next.map(|(label, tone)| Span {
            from: at,
            to: at,
            label,
            tone,
        });
    }

    fn close(mut self, end: f64) -> Vec<Span> {
        self.set(end, None);
        self.spans
    }
}

#[derive(Default)]
struct Build {
    end: f64,
    names: BTreeMap<String, String>,
    steps: BTreeMap<String, Open>,
    faults: BTreeMap<String, Open>,
    node_ready: BTreeMap<String, Open>,
    kubelet: BTreeMap<String, Open>,
    shims: BTreeMap<String, Open>,
    pod_api: BTreeMap<String, Open>,
    pod_node: BTreeMap<(String, String), Open>,
    pod_drift: BTreeMap<(String, String), Open>,
    probes: BTreeMap<String, Row>,
}

impl Build {
    fn entry(&mut self, s: f64, what: &What) {
        match what {
            What::StepStarted {
                step, name, action, ..
            } => {
                if action == "group" {
                    return;
                }
                let label = name.clone().unwrap_or_else(|| format!("{step} {action}"));
                self.names.insert(step.clone(), label.clone());
                self.steps
                    .entry(step.clone())
                    .or_default()
                    .set(s, Some((label, Tone::Info)));
            }
            What::StepFinished { step, status, .. } => {
                if let Some(o) = self.steps.get_mut(step)
                    && let Some(mut span) = o.open.take()
                {
                    span.tone = match status {
                        StepStatus::Passed => Tone::Good,
                        StepStatus::Failed | StepStatus::Error => Tone::Bad,
                        StepStatus::Skipped | StepStatus::Interrupted => Tone::Warn,
                    };
                    span.to = s;
                    o.spans.push(span);
                }
            }
            What::FaultInjected { step, .. } => {
                let label = self.names.get(step).cloned().unwrap_or(step.clone());
                self.faults
                    .entry(step.clone())
                    .or_default()
                    .set(s, Some((label, Tone::Fault)));
            }
            What::Undo { step, status, .. } => {
                if let Some(o) = self.faults.get_mut(step) {
                    match status {
                        UndoStatus::Undone => o.set(s, None),
                        UndoStatus::Failed | UndoStatus::Owed | UndoStatus::Retained => {
                            let label = format!("{status:?} undo").to_lowercase();
                            o.set(s, Some((label, Tone::Bad)));
                        }
                    }
                }
            }
            What::Node {
                node,
                ready,
                unschedulable,
                ..
            } => {
                let tone = match ready.as_str() {
                    "True" => Tone::Good,
                    "False" => Tone::Bad,
                    _ => Tone::Warn,
                };
                let word = if ready == "True" { "Ready" } else { "NotReady" };
                let mut label = format!("{word} ({ready})");
                if *unschedulable {
                    label += ", cordoned";
                }
                self.node_ready
                    .entry(node.clone())
                    .or_default()
                    .set(s, Some((label, tone)));
            }
            What::Reality { nodes, .. } => {
                for n in nodes {
                    let k = if n.kubelet_running {
                        ("running".to_string(), Tone::Good)
                    } else {
                        ("stopped".to_string(), Tone::Bad)
                    };
                    self.kubelet
                        .entry(n.node.clone())
                        .or_default()
                        .set(s, Some(k));
                    let label = format!("{} shim(s)", n.shims);
                    let tone = if n.shims == 0 {
                        Tone::Neutral
                    } else {
                        Tone::Info
                    };
                    self.shims
                        .entry(n.node.clone())
                        .or_default()
                        .set(s, Some((label, tone)));
                }
            }
            What::Pod {
                pod,
                present,
                phase,
                ready,
                terminating,
                ..
            } => {
                let state = match (present, terminating, ready) {
                    (false, _, _) => ("gone from the API".to_string(), Tone::Neutral),
                    (true, true, _) => (format!("{phase}, terminating"), Tone::Warn),
                    (true, false, true) => (format!("{phase}, ready"), Tone::Good),
                    (true, false, false) => (format!("{phase}, not ready"), Tone::Warn),
                };
                self.pod_api
                    .entry(pod.clone())
                    .or_default()
                    .set(s, Some(state));
            }
            What::Sandbox { node, pod, live } => {
                let next = live.then(|| (format!("runs on {node}"), Tone::Good));
                self.pod_node
                    .entry((pod.clone(), node.clone()))
                    .or_default()
                    .set(s, next);
            }
            What::Drift {
                node, pod, state, ..
            } => {
                let next = match state {
                    DriftState::Ghost => Some((format!("ghost on {node}"), Tone::Ghost)),
                    DriftState::Phantom => Some((format!("phantom on {node}"), Tone::Phantom)),
                    DriftState::Cleared => None,
                };
                self.pod_drift
                    .entry((pod.clone(), node.clone()))
                    .or_default()
                    .set(s, next);
            }
            What::Probe {
                probe,
                ok,
                latency_ms,
                error,
                ..
            } => {
                let title = match (ok, latency_ms, error) {
                    (_, _, Some(e)) => format!("failed: {e}"),
                    (true, Some(ms), None) => format!("ok in {ms:.0} ms"),
                    (true, None, None) => "ok".to_string(),
                    (false, _, None) => "failed".to_string(),
                };
                let tone = if *ok { Tone::Good } else { Tone::Bad };
                let row = self.probes.entry(probe.clone()).or_insert_with(|| Row {
                    label: "samples".into(),
                    ..Row::default()
                });
                row.marks.push(Mark { at: s, tone, title });
            }
            What::RunStarted { .. }
            | What::RunFinished { .. }
            | What::WaitObserved { .. }
            | What::Namespace { .. }
            | What::Watch { .. } => {}
        }
    }

    fn finish(self, start: String) -> Chart {
        let end = self.end;
        let mut lanes = Vec::new();
        let flat = |m: BTreeMap<String, Open>| -> Vec<Span> {
            let mut v: Vec<Span> = m.into_values().flat_map(|o| o.close(end)).collect();
            v.sort_by(|a, b| a.from.total_cmp(&b.from));
            v
        };
        lanes.push(Lane {
            title: "steps and faults".into(),
            rows: vec![
                row("steps", flat(self.steps)),
                row("faults", flat(self.faults)),
            ],
        });
        let mut nodes: Vec<String> = self.node_ready.keys().cloned().collect();
        nodes.extend(self.kubelet.keys().cloned());
        nodes.sort();
        nodes.dedup();
        let (mut ready, mut kubelet, mut shims) = (self.node_ready, self.kubelet, self.shims);
        for n in nodes {
            let mut rows = Vec::new();
            for (label, m) in [
                ("Ready (API)", &mut ready),
                ("kubelet", &mut kubelet),
                ("shims", &mut shims),
            ] {
                if let Some(o) = m.remove(&n) {
                    rows.push(row(label, o.close(end)));
                }
            }
            lanes.push(Lane {
                title: format!("node {n}"),
                rows,
            });
        }
        // Watched pods: those the API was asked about, or that drifted.
        let mut pods: Vec<String> = self.pod_api.keys().cloned().collect();
        pods.extend(self.pod_drift.keys().map(|(p, _)| p.clone()));
        pods.sort();
        pods.dedup();
        let pods_left_out = pods.len().saturating_sub(MAX_PODS);
        let (mut api, mut on, mut drift) = (self.pod_api, self.pod_node, self.pod_drift);
        for p in pods.into_iter().take(MAX_PODS) {
            let mut rows = Vec::new();
            if let Some(o) = api.remove(&p) {
                rows.push(row("API says", o.close(end)));
            }
            let take = |m: &mut BTreeMap<(String, String), Open>| -> Vec<Span> {
                let keys: Vec<(String, String)> =
                    m.keys().filter(|(q, _)| *q == p).cloned().collect();
                let mut v: Vec<Span> = keys
                    .iter()
                    .filter_map(|k| m.remove(k))
                    .flat_map(|o| o.close(end))
                    .collect();
                v.sort_by(|a, b| a.from.total_cmp(&b.from));
                v
            };
            rows.push(row("runs on a node", take(&mut on)));
            let d = take(&mut drift);
            if !d.is_empty() {
                rows.push(row(DRIFT_ROW, d));
            }
            lanes.push(Lane {
                title: format!("pod {p}"),
                rows,
            });
        }
        for (name, r) in self.probes {
            lanes.push(Lane {
                title: format!("probe {name}"),
                rows: vec![r],
            });
        }
        Chart {
            start,
            length: end,
            lanes,
            pods_left_out,
        }
    }
}

/// The ghost and phantom intervals of the chart, by pod, in the order they began.
pub fn drift_intervals(chart: &Chart) -> Vec<(String, Span)> {
    let mut v: Vec<(String, Span)> = chart
        .lanes
        .iter()
        .filter_map(|l| Some((l.title.strip_prefix("pod ")?, l)))
        .flat_map(|(pod, l)| {
            l.rows
                .iter()
                .filter(|r| r.label == DRIFT_ROW)
                .flat_map(move |r| r.spans.iter().map(move |s| (pod.to_string(), s.clone())))
        })
        .collect();
    v.sort_by(|a, b| a.1.from.total_cmp(&b.1.from));
    v
}

/// The label of a pod lane's row of ghost and phantom intervals.
pub const DRIFT_ROW: &str = "ghost / phantom";

fn row(label: &str, spans: Vec<Span>) -> Row {
    Row {
        label: label.into(),
        spans,
        marks: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
