//! Waiting for a condition: look, and if it does not hold, look again when the backend reports
//! a change or the interval passes, until the timeout. On timeout, say what was seen last.
//! Connecting to a backend is done once up front: a backend that cannot be reached fails the
//! wait at once, while errors of single reads are retried (a control plane may be paused).
//! Each look reports what it read from the API, and between looks the nodes' reality is
//! sampled now and then (`sample.rs`): the timeline of the run shows what happened meanwhile.

use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::observe::Verdict;
use crate::playbook::model::{Condition, Wait};
use crate::playbook::values::format_duration;
use crate::playbook::{PlanStep, plan_defaults};

use super::backends::Backends;
use super::memory::Memory;
use super::sample::Sampler;
use super::{ApiSeen, Event, Outcome, check};

/// Where wait progress goes.
pub trait Progress: Send {
    fn tick(&mut self, step: &PlanStep, elapsed: Duration, timeout: Duration, observed: &str);
    /// What a look read, and reality samples, for the timeline.
    fn event(&mut self, e: &Event<'_>);
}

/// What a wait's looks use besides the backends: what earlier steps measured and saw (for
/// `duration`, `replaces` and `same-as`), the interruption, the reality sampler.
pub struct Looks<'a> {
    pub memory: &'a Memory,
    pub cancel: Option<&'a CancellationToken>,
    pub sampler: &'a mut Sampler,
}

pub async fn wait(
    b: &Backends,
    step: &PlanStep,
    w: &Wait,
    looks: Looks<'_>,
    progress: &mut dyn Progress,
) -> Outcome {
    let Looks {
        memory,
        cancel,
        sampler,
    } = looks;
    let timeout = w
        .timeout
        .map(|t| t.0)
        .unwrap_or(plan_defaults::WAIT_TIMEOUT);
    let interval = w
        .interval
        .map(|t| t.0)
        .unwrap_or(plan_defaults::WAIT_INTERVAL);
    let mut changes = match connect(b, &w.until).await {
        Ok(c) => c,
        Err(e) => return Outcome::Error(e),
    };
    let start = Instant::now();
    let never = CancellationToken::new();
    let cancel = cancel.unwrap_or(&never);
    let mut last_verdict: Option<Verdict> = None;
    let mut last_error: Option<crate::backends::BackendError>;
    loop {
        let mut seen = check::Seen::default();
        let looked = check::check_seen(b, &w.until, memory, &mut seen).await;
        report_seen(step, &seen, progress);
        if !matches!(&looked, Ok(v) if v.holds) {
            let budget = timeout.saturating_sub(start.elapsed());
            sampler.maybe(b, step, budget, progress).await;
        }
        match looked {
            Ok(v) if v.holds => {
                return Outcome::Passed {
                    undo: None,
                    verdict: Some(v),
                };
            }
            Ok(v) => {
                last_verdict = Some(v);
                last_error = None;
            }
            Err(e) => last_error = Some(e),
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            let after = format_duration(timeout);
            return match (last_verdict, last_error) {
                (_, Some(e)) => Outcome::Error(crate::backends::BackendError {
                    kind: e.kind,
                    message: format!("{} (still failing after {after})", e.message),
                }),
                (Some(mut v), None) => {
                    v.observed = format!("{} after {after}", v.observed);
                    Outcome::Failed(v)
                }
                (None, None) => Outcome::Failed(Verdict::new(
                    false,
                    "the condition",
                    format!("nothing after {after}"),
                )),
            };
        }
        let observed = match (&last_error, &last_verdict) {
            (Some(e), _) => format!("error: {e}"),
            (None, Some(v)) => v.observed.clone(),
            (None, None) => String::new(),
        };
        progress.tick(step, elapsed, timeout, &observed);
        let pause = interval.min(timeout - elapsed);
        tokio::select! {
            _ = cancel.cancelled() => return Outcome::Interrupted,
            _ = tokio::time::sleep(pause) => {}
            _ = changes.next() => {}
        }
    }
}

/// Passes on what a look read from the API.
fn report_seen(step: &PlanStep, seen: &check::Seen, progress: &mut dyn Progress) {
    if let Some(pods) = &seen.pods {
        progress.event(&Event::ApiObserved {
            step,
            seen: ApiSeen::Pods(pods),
        });
    }
    if let Some(nodes) = &seen.nodes {
        progress.event(&Event::ApiObserved {
            step,
            seen: ApiSeen::Nodes(nodes),
        });
    }
    if let Some((name, view)) = &seen.namespace {
        progress.event(&Event::ApiObserved {
            step,
            seen: ApiSeen::Namespace {
                name,
                view: view.as_ref(),
            },
        });
    }
}

/// `start + d`, or a moment decades away when that overflows `Instant` (durations are bounded
/// at validation; this keeps the engine from panicking whatever it is given).
pub(crate) fn deadline(start: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    start
        .checked_add(d)
        .or_else(|| start.checked_add(FAR))
        .unwrap_or(start)
}

/// Connects what the condition needs; returns the stream of changes to wake up on.
async fn connect(
    b: &Backends,
    c: &Condition,
) -> Result<futures::stream::BoxStream<'static, ()>, crate::backends::BackendError> {
    let pending =
        || -> futures::stream::BoxStream<'static, ()> { Box::pin(futures::stream::pending()) };
    Ok(match c {
        Condition::Pods(_)
        | Condition::PodLogs(_)
        | Condition::Node(_)
        | Condition::Namespace(_)
        | Condition::Resource(_)
        | Condition::Event(_) => b.kube().await?.changes(),
        Condition::EtcdKey(_) => {
            b.etcd().await?;
            pending()
        }
        Condition::Shims(_) | Condition::Sandbox(_) | Condition::Kubelet(_) => {
            b.nodes().await?;
            pending()
        }
        Condition::Drift(_) => {
            b.nodes().await?;
            b.kube().await?.changes()
        }
        Condition::Duration(_) => pending(),
    })
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn a_huge_duration_does_not_overflow_the_deadline() {
        let now = Instant::now();
        assert_eq!(
            deadline(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(deadline(now, Duration::MAX) > now + Duration::from_secs(365 * 24 * 3600));
    }
}
