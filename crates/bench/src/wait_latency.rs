//! Wait latency: how long after a pod turns Running does a `chaos` wait for it complete?
//!
//! Measured in-process, on the real clock: the fake API server (test support) on loopback, the
//! real kube client (`KubeBackend`, as `chaos run` builds it) and the engine running a one-step
//! plan whose only step is `wait: {until: {pods: {..., phase: Running}}}` with a 1 min
//! interval, so only the watch can wake it in time. Another future of the same task turns the
//! pod Running through the fake's API at a known instant (`t0`, taken just before the write;
//! watchers are told before the write returns); the wait's end is the instant the engine
//! reports the step finished. Latency = end - t0.
//!
//! The baseline is what people script today: check the same condition through the same client,
//! and if it does not hold, sleep 1 s and check again. Transitions happen at delays spread
//! evenly over one polling period (a golden-ratio sequence), so the baseline's median is an
//! honest half period plus a request, not a lucky phase.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fake_apiserver::FakeApiServer;
use kind_chaos::backends::kube::{KubeTarget, connect};
use kind_chaos::backends::{
    BackendError, Connector, EtcdOps, KubeOps, NodeOps, PodQuery, Result as BResult,
};
use kind_chaos::engine::{self, Event, Reporter, RunOptions, StepStatus};
use kind_chaos::playbook::{self, Sources};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct Args {
    /// Watch-driven samples.
    #[arg(long, default_value_t = 30)]
    samples: usize,
    /// Polling-loop samples.
    #[arg(long, default_value_t = 20)]
    polling_samples: usize,
    /// The polling loop's period, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
}

const NS: &str = "bench";
const CLUSTER: &str = "bench";

struct KubeOnly(Arc<dyn KubeOps>);

#[async_trait]
impl Connector for KubeOnly {
    async fn nodes(&self) -> BResult<Arc<dyn NodeOps>> {
        Err(BackendError::unavailable(
            "no node backend in the wait benchmark",
        ))
    }
    async fn kube(&self) -> BResult<Arc<dyn KubeOps>> {
        Ok(self.0.clone())
    }
    async fn etcd(&self) -> BResult<Arc<dyn EtcdOps>> {
        Err(BackendError::unavailable(
            "no etcd backend in the wait benchmark",
        ))
    }
}

/// Records the instant the (only) step finished.
struct StepClock(Arc<Mutex<Option<(Instant, StepStatus)>>>);

impl Reporter for StepClock {
    fn event(&mut self, e: &Event<'_>) {
        if let Event::StepFinished { result, .. } = e {
            let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert((Instant::now(), result.status));
        }
    }
}

fn pod(name: &str, phase: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        "status": {"phase": phase}
    })
}

/// The delay before the transition of sample `i`: 200 ms (the wait is watching by then) plus
/// a fraction of the polling period spread evenly over samples.
fn delay(i: usize, period: Duration) -> Duration {
    let frac = (i as f64 * 0.618_033_988_75).fract();
    Duration::from_millis(200) + period.mul_f64(frac)
}

pub async fn run(a: Args) -> Result<(), String> {
    let server = Arc::new(
        FakeApiServer::start()
            .await
            .map_err(|e| format!("fake API server: {e}"))?,
    );
    let dir = std::env::temp_dir().join(format!("chaos-bench-wait-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = measure(&server, &dir, &a).await;
    let _ = std::fs::remove_dir_all(&dir);
    server.shutdown();
    let out = result?;
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}

async fn measure(
    server: &Arc<FakeApiServer>,
    dir: &std::path::Path,
    a: &Args,
) -> Result<Value, String> {
    let kubeconfig: PathBuf = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        server.kubeconfig_yaml(&format!("kind-{CLUSTER}")),
    )
    .map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
    let target = KubeTarget {
        kubeconfig: Some(kubeconfig),
        ..KubeTarget::default()
    };
    let backend = connect(CLUSTER, &target, None)
        .await
        .map_err(|e| format!("connecting to the fake API server: {e}"))?;
    let kube: Arc<dyn KubeOps> = Arc::new(backend);
    server
        .insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .map_err(|e| format!("namespace: {e:?}"))?;
    let period = Duration::from_millis(a.poll_ms);

    // One unmeasured run first: connections, discovery, first watches.
    watch_sample(server, &kube, "warmup", Duration::from_millis(300)).await?;
    let mut watch = Vec::new();
    for i in 0..a.samples {
        let d = delay(i, period);
        watch.push(watch_sample(server, &kube, &format!("watch-{i}"), d).await?);
    }
    let mut polling = Vec::new();
    for i in 0..a.polling_samples {
        let d = delay(i, period);
        polling.push(poll_sample(server, &kube, &format!("poll-{i}"), d, period).await?);
    }
    Ok(json!({
        "watch": stats(&watch),
        "polling": stats(&polling),
        "polling_period_ms": a.poll_ms,
    }))
}

/// Turns pod `name` Running `after` now, from a task of its own; returns the instant just
/// before the write (the fake tells its watchers before the write returns).
async fn transition(
    server: &Arc<FakeApiServer>,
    name: &str,
    after: Duration,
) -> Result<Instant, String> {
    let server = server.clone();
    let obj = pod(name, "Running");
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let t0 = Instant::now();
        server.insert(obj).map(|_| t0)
    })
    .await
    .map_err(|e| format!("the transition task failed: {e}"))?
    .map_err(|e| format!("transition: {e:?}"))
}

/// One engine run of a wait on pod `name`, turned Running `after` the start.
async fn watch_sample(
    server: &Arc<FakeApiServer>,
    kube: &Arc<dyn KubeOps>,
    name: &str,
    after: Duration,
) -> Result<Duration, String> {
    server
        .insert(pod(name, "Pending"))
        .map_err(|e| format!("pod: {e:?}"))?;
    let text = format!(
        "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: wait-latency\nsteps:\n  - wait:\n      until: {{pods: {{namespace: {NS}, name: {name}, phase: Running}}}}\n      timeout: 30s\n      interval: 1m\n"
    );
    let plan = playbook::load_str(
        std::path::Path::new("wait-latency.yaml"),
        &text,
        Sources::default(),
    )
    .map_err(|e| format!("the benchmark's playbook is invalid:\n{}", e.render(false)))?;
    let finished = Arc::new(Mutex::new(None));
    let mut clock = StepClock(finished.clone());
    let connector: Arc<dyn Connector> = Arc::new(KubeOnly(kube.clone()));
    let cancel = CancellationToken::new();
    let opts = RunOptions::default();
    let run = engine::run(&plan, connector, &mut clock, &cancel, &opts);
    let change = transition(server, name, after);
    let (_report, t0) = tokio::join!(run, change);
    let t0 = t0?;
    let (end, status) = finished
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .ok_or("the wait never finished")?;
    if status != StepStatus::Passed {
        return Err(format!("the wait on {name} ended {status:?}"));
    }
    server.remove("v1", "Pod", Some(NS), name);
    end.checked_duration_since(t0)
        .ok_or_else(|| format!("the wait on {name} passed before the pod turned Running"))
}

/// The baseline: check, sleep `period`, check again, until the pod is Running.
async fn poll_sample(
    server: &Arc<FakeApiServer>,
    kube: &Arc<dyn KubeOps>,
    name: &str,
    after: Duration,
    period: Duration,
) -> Result<Duration, String> {
    server
        .insert(pod(name, "Pending"))
        .map_err(|e| format!("pod: {e:?}"))?;
    let query = PodQuery {
        namespace: Some(NS.into()),
        name: Some(name.into()),
        ..PodQuery::default()
    };
    let poll = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pods = kube.pods(&query).await.map_err(|e| e.to_string())?;
            if pods.iter().any(|p| p.phase == "Running") {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                return Err(format!("{name} never seen Running"));
            }
            tokio::time::sleep(period).await;
        }
    };
    let change = transition(server, name, after);
    let (end, t0) = tokio::join!(poll, change);
    let end: Instant = end?;
    let t0 = t0?;
    server.remove("v1", "Pod", Some(NS), name);
    end.checked_duration_since(t0)
        .ok_or_else(|| format!("the poll of {name} saw Running before the transition"))
}

fn stats(samples: &[Duration]) -> Value {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        if ms.is_empty() {
            return f64::NAN;
        }
        let idx = ((ms.len() - 1) as f64 * p).round() as usize;
        ms[idx]
    };
    let median = if ms.is_empty() {
        f64::NAN
    } else if ms.len() % 2 == 1 {
        ms[ms.len() / 2]
    } else {
        (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
    };
    let round = |x: f64| (x * 100.0).round() / 100.0;
    json!({
        "n": ms.len(),
        "median_ms": round(median),
        "p90_ms": round(pct(0.9)),
        "min_ms": round(ms.first().copied().unwrap_or(f64::NAN)),
        "max_ms": round(ms.last().copied().unwrap_or(f64::NAN)),
        "samples_ms": ms.iter().map(|x| round(*x)).collect::<Vec<_>>(),
    })
}
