//! Sampling the nodes' reality while the engine waits (`wait` and `sleep` steps), for the
//! timeline: what really ran on
//! each node (shims, sandboxes, the kubelet) and, when the API is already connected, its pods,
//! so ghosts and phantoms can be counted. At most once per interval across the run, bounded in
//! time, and never a reason for a wait to fail: a sample that cannot be taken is left out.
//! The API is only used when a step already connected it, so sampling never caches a failed
//! connection that a later step (after the control plane is back) would then inherit.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backends::PodQuery;
use crate::playbook::PlanStep;

use super::Event;
use super::backends::Backends;
use super::wait::Progress;

/// The longest one sample may take (a paused node or API must not stall a wait).
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);

/// The shortest interval allowed between samples (`--sample-every` is bounded by it).
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// When the last sample was taken, and how often one may be.
pub(crate) struct Sampler {
    every: Option<Duration>,
    last: Option<Instant>,
}

impl Sampler {
    /// `every` below [`MIN_EVERY`] is taken as [`MIN_EVERY`].
    pub fn new(every: Option<Duration>) -> Self {
        Sampler {
            every: every.map(|e| e.max(MIN_EVERY)),
            last: None,
        }
    }

    /// A sampler at the same rate that has not sampled yet, for a branch of a `parallel`.
    pub fn fresh(&self) -> Self {
        Sampler {
            every: self.every,
            last: None,
        }
    }

    /// When the next sample is due (`None`: sampling is off).
    fn next_due(&self) -> Option<Instant> {
        let every = self.every?;
        Some(self.last.map_or_else(Instant::now, |l| l + every))
    }

    /// Takes a sample if the interval has passed since the last one, within `budget` (what is
    /// left of the wait), and reports it as [`Event::RealitySampled`].
    pub async fn maybe(
        &mut self,
        b: &Backends,
        step: &PlanStep,
        budget: Duration,
        progress: &mut dyn Progress,
    ) {
        let Some(every) = self.every else { return };
        let now = Instant::now();
        if self.last.is_some_and(|l| now.duration_since(l) < every) {
            return;
        }
        self.last = Some(now);
        let limit = SAMPLE_TIMEOUT.min(budget);
        if limit.is_zero() {
            return;
        }
        let kube = b.kube_if_connected();
        let fetch = async {
            let nodes = async { b.nodes().await?.reality(None).await };
            let pods = async {
                match &kube {
                    Some(k) => k.pods(&PodQuery::default()).await.ok(),
                    None => None,
                }
            };
            let (nodes, pods) = futures::join!(nodes, pods);
            nodes.ok().map(|n| (n, pods))
        };
        if let Ok(Some((nodes, pods))) = tokio::time::timeout(limit, fetch).await {
            progress.event(&Event::RealitySampled {
                step,
                nodes: &nodes,
                pods: pods.as_deref(),
            });
        }
    }
}

/// A `sleep` step: sleeps `d` on tokio's clock, sampling the nodes' reality meanwhile. Whether
/// it slept to the end (false: `cancel` cut it short).
pub(crate) async fn sleep(
    b: &Backends,
    step: &PlanStep,
    d: Duration,
    cancel: Option<&CancellationToken>,
    sampler: &mut Sampler,
    progress: &mut dyn Progress,
) -> bool {
    let end = super::wait::deadline(Instant::now(), d);
    let never = CancellationToken::new();
    let cancel = cancel.unwrap_or(&never);
    loop {
        let now = Instant::now();
        if now >= end {
            return true;
        }
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = sampler.maybe(b, step, end - now, progress) => {}
        }
        let next = sampler.next_due().map_or(end, |t| t.min(end)).max(now);
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = tokio::time::sleep_until(next) => {}
        }
    }
}
