//! Turning the engine's events into timeline entries: every step, fault and undo as it comes;
//! API objects and sandboxes only when they change (so a long wait over a quiet cluster costs
//! a few entries, not one a look); and a cap, beyond which the oldest samples are thinned out
//! and counted in `dropped`, so a long game day never grows memory without bound.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

use crate::backends::{NodeReality, NodeView, PodKey, PodView};
use crate::observe::{self, Agreement};

use super::super::{ApiSeen, Event, Reporter, StepStatus};
use super::{DriftState, Entry, NodeSample, Timeline, What};

/// The API's state of a pod as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PodState {
    node: Option<String>,
    phase: String,
    ready: bool,
    terminating: bool,
}

/// Whether `state` differs from what `seen` holds for `key`; if so, it is kept as the last seen.
fn changed<K, Q, V>(seen: &mut BTreeMap<K, V>, key: &Q, state: &V) -> bool
where
    K: std::borrow::Borrow<Q> + Ord,
    Q: ToOwned<Owned = K> + Ord + ?Sized,
    V: Clone + PartialEq,
{
    if seen.get(key) == Some(state) {
        return false;
    }
    seen.insert(key.to_owned(), state.clone());
    true
}

/// Builds a [`Timeline`] from events, bounded by a cap.
pub struct Recorder {
    cap: usize,
    timeline: Timeline,
    pods: BTreeMap<PodKey, PodState>,
    /// The pods the last look of a wait returned, by step: one missing from the next look of
    /// the same step is recorded as no longer present.
    scope: Option<(String, BTreeSet<PodKey>)>,
    nodes: BTreeMap<String, (String, bool, Vec<String>)>,
    namespaces: BTreeMap<String, Option<String>>,
    /// Live sandboxes (node, pod) at the last reality sample.
    live: BTreeSet<(String, String)>,
    /// Ghosts and phantoms at the last sample the API could be read for.
    drift: BTreeMap<(String, String), (Agreement, String)>,
    /// The last observation recorded per waiting step.
    last_wait: Option<(String, String)>,
    /// The API watches that are broken now (recorded once, until they list again).
    pub(super) broken: BTreeSet<String>,
}

impl Recorder {
    /// A recorder keeping at most `cap` entries (at least 2).
    pub fn new(cap: usize) -> Self {
        Recorder {
            cap: cap.max(2),
            timeline: Timeline::default(),
            pods: BTreeMap::new(),
            scope: None,
            nodes: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            live: BTreeSet::new(),
            drift: BTreeMap::new(),
            last_wait: None,
            broken: BTreeSet::new(),
        }
    }

    /// The timeline so far.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    pub fn into_timeline(self) -> Timeline {
        self.timeline
    }

    /// Takes the timeline out, leaving an empty one (for a recorder shared with the watch).
    pub fn take_timeline(&mut self) -> Timeline {
        std::mem::take(&mut self.timeline)
    }

    /// Adds an entry at `at`, making room first when the timeline is full.
    pub fn push(&mut self, at: SystemTime, what: What) {
        if self.timeline.entries.len() >= self.cap {
            self.make_room();
        }
        self.timeline.entries.push(Entry {
            at: humantime::format_rfc3339_millis(at).to_string(),
            what,
        });
    }

    /// Thins the samples of the older half (every other one goes); with no sample there,
    /// drops the oldest entry. Each call frees at least one place; halving keeps the early
    /// part of the run visible at a coarser grain instead of losing it.
    fn make_room(&mut self) {
        let entries = &mut self.timeline.entries;
        let before = entries.len();
        let half = before / 2;
        let (mut i, mut samples) = (0usize, 0usize);
        entries.retain(|e| {
            let keep = if i < half && e.what.is_sample() {
                samples += 1;
                samples % 2 == 0
            } else {
                true
            };
            i += 1;
            keep
        });
        if entries.len() == before {
            entries.remove(0);
        }
        self.timeline.dropped += (before - entries.len()) as u64;
    }

    /// Records what an event says, at `at`.
    pub fn record(&mut self, e: &Event<'_>, at: SystemTime) {
        match e {
            Event::PlaybookStarted { plan } => self.push(
                at,
                What::RunStarted {
                    playbook: plan.name.clone(),
                },
            ),
            Event::StepStarted {
                phase,
                step,
                description,
                ..
            } => self.push(
                at,
                What::StepStarted {
                    step: step.id.clone(),
                    name: step.name.clone(),
                    phase: *phase,
                    action: super::super::action_key(step).to_string(),
                    description: description.to_string(),
                },
            ),
            Event::WaitProgress {
                step,
                elapsed,
                observed,
                ..
            } => {
                let key = (step.id.clone(), observed.to_string());
                if self.last_wait.as_ref() != Some(&key) {
                    self.last_wait = Some(key);
                    self.push(
                        at,
                        What::WaitObserved {
                            step: step.id.clone(),
                            elapsed: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
                            observed: observed.to_string(),
                        },
                    );
                }
            }
            Event::StepFinished { result, .. } => {
                if result.status == StepStatus::Skipped {
                    return;
                }
                self.push(
                    at,
                    What::StepFinished {
                        step: result.id.clone(),
                        status: result.status,
                        message: result.message.clone(),
                    },
                );
                if let Some(undo) = &result.undo {
                    self.push(
                        at,
                        What::FaultInjected {
                            step: result.id.clone(),
                            undo: undo.clone(),
                        },
                    );
                }
            }
            Event::UndoStarted { .. } | Event::PlaybookFinished { .. } => {}
            Event::UndoFinished { result } => self.push(
                at,
                What::Undo {
                    step: result.step.clone(),
                    description: result.description.clone(),
                    status: result.status,
                    message: result.message.clone(),
                },
            ),
            Event::ProbeSample {
                step,
                probe,
                sample,
            } => {
                // Samples reach the reporter at the next step boundary; each says when it
                // was really taken.
                let taken = humantime::parse_rfc3339_weak(&sample.at).unwrap_or(at);
                self.push(
                    taken,
                    What::Probe {
                        step: step.id.clone(),
                        probe: probe.to_string(),
                        ok: sample.ok,
                        latency_ms: sample
                            .ok
                            .then(|| (sample.latency.as_secs_f64() * 1e6).round() / 1e3),
                        error: (!sample.ok).then(|| sample.observed.clone()),
                    },
                )
            }
            Event::ApiObserved { step, seen } => self.api(at, &step.id, seen),
            Event::RealitySampled { step, nodes, pods } => self.reality(at, &step.id, nodes, *pods),
        }
    }

    /// Records the API objects whose state changed since they were last seen.
    fn api(&mut self, at: SystemTime, step: &str, seen: &ApiSeen<'_>) {
        match seen {
            ApiSeen::Pods(pods) => {
                let now: BTreeSet<PodKey> = pods.iter().map(|p| p.key.clone()).collect();
                if let Some((s, before)) = &self.scope
                    && s == step
                {
                    let gone: Vec<PodKey> = before.difference(&now).cloned().collect();
                    for key in gone {
                        self.pod_gone(at, &key);
                    }
                }
                self.scope = Some((step.to_string(), now));
                for p in pods.iter() {
                    self.pod_seen(at, p);
                }
            }
            ApiSeen::Nodes(nodes) => {
                for n in nodes.iter() {
                    self.node_seen(at, n);
                }
            }
            ApiSeen::Namespace { name, view } => {
                self.namespace_seen(at, name, view.map(|v| v.phase.clone()))
            }
        }
    }

    /// Records a pod's state if it changed since it was last seen (by a wait or the watch).
    pub(super) fn pod_seen(&mut self, at: SystemTime, p: &PodView) {
        let state = PodState {
            node: p.node.clone(),
            phase: p.phase.clone(),
            ready: p.ready,
            terminating: p.deletion_timestamp.is_some(),
        };
        if changed(&mut self.pods, &p.key, &state) {
            self.push(
                at,
                What::Pod {
                    pod: p.key.to_string(),
                    present: true,
                    node: state.node,
                    phase: state.phase,
                    ready: state.ready,
                    terminating: state.terminating,
                },
            );
        }
    }

    /// Records that a pod seen before is gone (`present: false`), once.
    pub(super) fn pod_gone(&mut self, at: SystemTime, key: &PodKey) {
        if let Some(last) = self.pods.remove(key) {
            self.push(
                at,
                What::Pod {
                    pod: key.to_string(),
                    present: false,
                    node: last.node,
                    phase: last.phase,
                    ready: false,
                    terminating: last.terminating,
                },
            );
        }
    }

    /// Records a node's state if it changed since it was last seen.
    pub(super) fn node_seen(&mut self, at: SystemTime, n: &NodeView) {
        let taints: Vec<String> = n
            .taints
            .iter()
            .map(|t| match &t.value {
                Some(v) => format!("{}={v}:{:?}", t.key, t.effect),
                None => format!("{}:{:?}", t.key, t.effect),
            })
            .collect();
        let state = (n.ready.clone(), n.unschedulable, taints);
        if changed(&mut self.nodes, &n.name, &state) {
            self.push(
                at,
                What::Node {
                    node: n.name.clone(),
                    ready: state.0,
                    unschedulable: state.1,
                    taints: state.2,
                },
            );
        }
    }

    /// Records a namespace's phase (`None`: gone) if it changed since it was last seen.
    pub(super) fn namespace_seen(&mut self, at: SystemTime, name: &str, phase: Option<String>) {
        if changed(&mut self.namespaces, name, &phase) {
            self.push(
                at,
                What::Namespace {
                    namespace: name.to_string(),
                    phase,
                },
            );
        }
    }

    /// Records a reality sample: the per-node counts, then the sandboxes that came or went and
    /// the ghosts and phantoms that appeared, changed or cleared since the last sample.
    fn reality(
        &mut self,
        at: SystemTime,
        step: &str,
        nodes: &[NodeReality],
        pods: Option<&[PodView]>,
    ) {
        let drift = pods.map(|p| observe::join(p, nodes));
        let count = |node: &str, state: Agreement| -> Option<u32> {
            drift.as_ref().map(|d| {
                d.iter()
                    .filter(|e| e.node == node && e.state == state)
                    .count() as u32
            })
        };
        let samples = nodes
            .iter()
            .map(|n| NodeSample {
                node: n.node.clone(),
                kubelet_running: n.kubelet_running,
                shims: n.shims.len() as u32,
                sandboxes: n.sandboxes.iter().filter(|s| s.live).count() as u32,
                ghosts: count(&n.node, Agreement::Ghost),
                phantoms: count(&n.node, Agreement::Phantom),
            })
            .collect();
        self.push(
            at,
            What::Reality {
                step: step.to_string(),
                nodes: samples,
            },
        );
        // Only the nodes in this sample are compared: a node missing from it keeps its state.
        let sampled: BTreeSet<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
        let live: BTreeSet<(String, String)> = nodes
            .iter()
            .flat_map(|n| {
                n.sandboxes
                    .iter()
                    .filter(|s| s.live)
                    .map(|s| (n.node.clone(), s.pod.to_string()))
            })
            .collect();
        let gone: Vec<(String, String)> = self
            .live
            .iter()
            .filter(|(n, _)| sampled.contains(n.as_str()))
            .filter(|k| !live.contains(*k))
            .cloned()
            .collect();
        let came: Vec<(String, String)> = live.difference(&self.live).cloned().collect();
        for (node, pod) in came {
            self.live.insert((node.clone(), pod.clone()));
            self.push(
                at,
                What::Sandbox {
                    node,
                    pod,
                    live: true,
                },
            );
        }
        for (node, pod) in gone {
            self.live.remove(&(node.clone(), pod.clone()));
            self.push(
                at,
                What::Sandbox {
                    node,
                    pod,
                    live: false,
                },
            );
        }
        let Some(drift) = drift else { return };
        let now: BTreeMap<(String, String), (Agreement, String)> = drift
            .into_iter()
            .filter(|e| e.state != Agreement::Consistent)
            .map(|e| ((e.node, e.pod.to_string()), (e.state, e.detail)))
            .collect();
        let cleared: Vec<(String, String)> = self
            .drift
            .keys()
            .filter(|k| sampled.contains(k.0.as_str()) && !now.contains_key(*k))
            .cloned()
            .collect();
        for (key, state) in &now {
            if self.drift.get(key) != Some(state) {
                self.drift.insert(key.clone(), state.clone());
                let s = match state.0 {
                    Agreement::Phantom => DriftState::Phantom,
                    _ => DriftState::Ghost,
                };
                self.push(
                    at,
                    What::Drift {
                        node: key.0.clone(),
                        pod: key.1.clone(),
                        state: s,
                        detail: state.1.clone(),
                    },
                );
            }
        }
        for key in cleared {
            self.drift.remove(&key);
            self.push(
                at,
                What::Drift {
                    node: key.0,
                    pod: key.1,
                    state: DriftState::Cleared,
                    detail: "the API and the node agree".into(),
                },
            );
        }
    }
}

/// Wall-clock source of the run.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A recorder the engine's events and the API watch (`watch.rs`) both write to.
pub type Shared = Arc<std::sync::Mutex<Recorder>>;

/// Locks a shared recorder (a panic while it was held leaves it usable: it is plain data).
pub fn lock(r: &Shared) -> std::sync::MutexGuard<'_, Recorder> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

/// The run's reporter with the timeline beside it: every event is recorded, then passed on.
pub struct Tee<'a> {
    pub reporter: &'a mut dyn Reporter,
    pub recorder: Shared,
    pub clock: Clock,
}

impl Reporter for Tee<'_> {
    fn event(&mut self, e: &Event<'_>) {
        lock(&self.recorder).record(e, (self.clock)());
        self.reporter.event(e);
    }
}

#[cfg(test)]
mod tests;
