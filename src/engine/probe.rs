//! Probes in the engine: taking one sample of a check (an HTTP request, a command in a node or
//! in a pod (`probe_pod`), a condition), and the `probe:` step, which samples in a task of its own at an interval while
//! its `during` steps run (like a group's, their faults on the same undo stack), stops when they
//! end, fail or are interrupted, and judges the samples (`observe::probe`).
//!
//! The sampler runs beside the steps, so its samples cannot be reported the moment they are
//! taken (the steps hold the reporter): they queue in a channel and are reported in order at
//! the next step boundary or look of a wait ([`flush`]), each stamped with when it was taken.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::backends::Backends;
use super::memory::Memory;
use super::probe_pod;
use super::{Event, Outcome, ProbeReport, Reporter, Runner, StepStatus, UndoStack, check};
use crate::backends::BackendError;
use crate::backends::http::{self, HttpRequest};
use crate::observe::Verdict;
use crate::observe::probe::{self as judge, ProbeSample, Tally};
use crate::playbook::model::{ExecTarget, HttpTarget, ProbeCheck};
use crate::playbook::values::format_duration;
use crate::playbook::{Phase, PlanStep, ProbePlan, plan_defaults};

/// One sample: the verdict and how long the check itself took (a node's address lookup is
/// not part of an HTTP request's latency). A backend that cannot be asked is an error.
pub(super) async fn sample(
    b: &Backends,
    c: &ProbeCheck,
    memory: &Memory,
) -> Result<(Verdict, Duration), BackendError> {
    match c {
        ProbeCheck::Http(h) => {
            let url = match &h.target {
                HttpTarget::Url(u) => u.clone(),
                HttpTarget::Node { node, port, path } => {
                    let ip = b.nodes().await?.address(node.name()).await?;
                    let host = if ip.contains(':') {
                        format!("[{ip}]")
                    } else {
                        ip
                    };
                    format!("http://{host}:{port}{path}")
                }
            };
            let req = HttpRequest {
                method: h.method.as_str(),
                url,
                timeout: h.timeout.map_or(plan_defaults::PROBE_TIMEOUT, |t| t.0),
            };
            let t0 = Instant::now();
            let reply = http::send(&req).await;
            let latency = t0.elapsed();
            Ok((
                judge::http(h, reply.as_ref().map_err(String::as_str)),
                latency,
            ))
        }
        ProbeCheck::Exec(x) => {
            let timeout = x.timeout.map_or(plan_defaults::PROBE_TIMEOUT, |t| t.0);
            let timed_out = |t0: Instant| {
                let v = Verdict::new(
                    false,
                    judge::words(c),
                    format!("timed out after {}", format_duration(timeout)),
                );
                (v, t0.elapsed())
            };
            match &x.target {
                ExecTarget::Node(node) => {
                    let nodes = b.nodes().await?;
                    let t0 = Instant::now();
                    match tokio::time::timeout(timeout, nodes.exec(node, &x.command)).await {
                        Ok(out) => Ok((judge::exec(x, &out?), t0.elapsed())),
                        Err(_) => Ok(timed_out(t0)),
                    }
                }
                // The lookup of the pod is not part of the command's latency.
                ExecTarget::Pod(p) => {
                    let at = match probe_pod::find(b, p).await? {
                        Ok(at) => at,
                        Err(why) => {
                            return Ok((Verdict::new(false, judge::words(c), why), Duration::ZERO));
                        }
                    };
                    let t0 = Instant::now();
                    match tokio::time::timeout(timeout, probe_pod::exec(b, &at, &x.command)).await {
                        Ok(out) => Ok((judge::exec(x, &out?), t0.elapsed())),
                        Err(_) => Ok(timed_out(t0)),
                    }
                }
            }
        }
        ProbeCheck::Condition(cond) => {
            let t0 = Instant::now();
            let v = check::check(b, cond, memory).await?;
            Ok((v, t0.elapsed()))
        }
    }
}

/// A sampler task: stopped by its token, or when dropped (a run that is abandoned).
struct Sampler {
    stop: CancellationToken,
    _guard: DropGuard,
    started: Instant,
    task: JoinHandle<Tally>,
}

/// What the sampler task needs, owned.
struct Job {
    b: std::sync::Arc<Backends>,
    check: ProbeCheck,
    interval: Duration,
    memory: Memory,
    clock: Arc<dyn Fn() -> SystemTime + Send + Sync>,
    tx: mpsc::UnboundedSender<ProbeSample>,
}

impl Sampler {
    fn start(job: Job, stop: CancellationToken) -> Sampler {
        let started = Instant::now();
        let task = tokio::spawn(run(job, stop.clone(), started));
        Sampler {
            _guard: stop.clone().drop_guard(),
            stop,
            started,
            task,
        }
    }

    /// Stops sampling (a sample under way completes); returns the samples added up and when
    /// the probe stopped, after its start.
    async fn finish(self) -> (Tally, Duration) {
        let end = self.started.elapsed();
        self.stop.cancel();
        let tally = self.task.await.unwrap_or_default();
        (tally, end)
    }
}

/// Samples at the interval until stopped. A sample that takes longer than the interval delays
/// the next one (no two run at once); the ticks it missed are skipped, not caught up. The
/// samples are added up as they come ([`Tally`]: bounded, however long the probe runs).
async fn run(job: Job, stop: CancellationToken, started: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut ticks = tokio::time::interval_at(started, job.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let bound = bound(&job.check, job.interval);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let t = started.elapsed();
        let at = humantime::format_rfc3339_millis((job.clock)()).to_string();
        let t0 = Instant::now();
        let (ok, observed, latency) =
            match tokio::time::timeout(bound, sample(&job.b, &job.check, &job.memory)).await {
                Ok(Ok((v, latency))) => (v.holds, v.observed, latency),
                Ok(Err(e)) => (false, format!("error: {}", e.message), t0.elapsed()),
                Err(_) => (
                    false,
                    format!("timed out after {}", format_duration(t0.elapsed())),
                    t0.elapsed(),
                ),
            };
        let s = ProbeSample {
            at,
            t,
            latency,
            ok,
            observed,
        };
        let _ = job.tx.send(s.clone());
        tally.add(s);
    }
    tally
}

/// The longest one sample may take in all. A request or a command has its own timeout (this
/// bound only catches a backend that hangs before it starts); a condition has none, so it is
/// bounded like a request, or by the interval if that is longer.
fn bound(c: &ProbeCheck, interval: Duration) -> Duration {
    let own = |t: Option<crate::playbook::values::Duration>| {
        t.map_or(plan_defaults::PROBE_TIMEOUT, |t| t.0)
            .saturating_add(Duration::from_secs(1))
    };
    match c {
        ProbeCheck::Http(h) => own(h.timeout),
        ProbeCheck::Exec(x) => own(x.timeout),
        ProbeCheck::Condition(_) => interval.max(plan_defaults::PROBE_TIMEOUT),
    }
}

/// A probe whose samples are still to be reported.
pub(super) struct Live {
    step: PlanStep,
    rx: mpsc::UnboundedReceiver<ProbeSample>,
}

/// Reports the samples `live` probes took and are not reported yet: at step boundaries, and
/// at each look of a wait.
pub(super) fn flush(reporter: &mut dyn Reporter, live: &mut [Live]) {
    for l in live {
        while let Ok(sample) = l.rx.try_recv() {
            reporter.event(&Event::ProbeSample {
                step: &l.step,
                probe: l.step.label(),
                sample: &sample,
            });
        }
    }
}

impl Runner<'_> {
    /// Reports the samples the running probes took since the last step boundary.
    pub(super) fn flush_samples(&mut self) {
        flush(&mut *self.reporter, &mut self.live);
    }

    /// The `probe:` step: samples while `during` runs, then judges the samples.
    pub(super) async fn probe(
        &mut self,
        phase: Phase,
        s: &PlanStep,
        plan: &ProbePlan,
        during: &[PlanStep],
        depth: usize,
        undo: &mut UndoStack,
    ) -> (Outcome, ProbeReport) {
        let (tx, rx) = mpsc::unbounded_channel();
        // Ctrl-C stops the probe with the steps (teardown is not interrupted, so neither is a
        // probe in it).
        let stop = if phase == Phase::Teardown {
            CancellationToken::new()
        } else {
            self.cancel.child_token()
        };
        let job = Job {
            b: self.b.clone(),
            check: plan.check.clone(),
            interval: plan.interval,
            memory: self.memory.clone(),
            clock: self.clock.clone(),
            tx,
        };
        let sampler = Sampler::start(job, stop);
        self.live.push(Live {
            step: s.clone(),
            rx,
        });
        let status = self.run_children(phase, during, depth, undo).await;
        let (tally, end) = sampler.finish().await;
        self.flush_samples();
        self.live.pop();
        let (stats, samples) = tally.finish(end);
        let verdict = judge::judge(&plan.expect, &stats);
        let outcome = match status {
            StepStatus::Interrupted => Outcome::Interrupted,
            StepStatus::Passed if verdict.holds => Outcome::Passed {
                undo: None,
                verdict: Some(verdict),
            },
            StepStatus::Passed => Outcome::Failed(verdict),
            _ => Outcome::Failed(Verdict::new(
                false,
                "every step of `during` to pass",
                format!("a step did not pass; the probe saw {}", verdict.observed),
            )),
        };
        let report = ProbeReport {
            check: judge::words(&plan.check),
            interval: plan.interval,
            stats,
            samples,
        };
        (outcome, report)
    }
}
