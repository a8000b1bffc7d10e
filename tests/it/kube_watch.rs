//! Watch-driven waits: the backend's change stream wakes waits the moment the cluster changes,
//! survives watches the server ends (`break_watches`) or can no longer resume (410 after
//! `compact_history`), and never ends. Latencies are measured on the real clock with generous
//! bounds: these check that a watch is used, not how fast a machine is.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use kind_chaos::backends::*;
use kind_chaos::engine::{self, RunOptions, StepStatus};
use kind_chaos::playbook::model::{NodeTaint, ResourceRef};
use support::kube::{KubeLab, KubeOnly, namespace, pod};
use support::{HEADER, Recorder, plan};
use tokio_util::sync::CancellationToken;

/// Drains the wake-ups of the initial lists, until the stream has been quiet for 300 ms.
async fn settle(s: &mut BoxStream<'static, ()>) {
    while tokio::time::timeout(Duration::from_millis(300), s.next())
        .await
        .is_ok()
    {}
}

async fn wakes_within(s: &mut BoxStream<'static, ()>, d: Duration) -> bool {
    matches!(tokio::time::timeout(d, s.next()).await, Ok(Some(())))
}

#[tokio::test]
async fn every_kind_of_change_wakes_the_stream() {
    let lab = KubeLab::start().await;
    let mut s = lab.ops().changes();
    settle(&mut s).await;
    lab.insert(pod("default", "web", None, &[]));
    assert!(wakes_within(&mut s, Duration::from_secs(3)).await, "pod");
    settle(&mut s).await;
    lab.server
        .add_node(fake_apiserver::FakeNode::new("n"))
        .unwrap();
    assert!(wakes_within(&mut s, Duration::from_secs(3)).await, "node");
    settle(&mut s).await;
    lab.insert(namespace("lab"));
    assert!(
        wakes_within(&mut s, Duration::from_secs(3)).await,
        "namespace"
    );
    settle(&mut s).await;
    let p = lab.get("v1", "Pod", Some("default"), "web").unwrap();
    lab.server
        .record_event(&p, "Normal", "Pulled", "pulled")
        .unwrap();
    assert!(wakes_within(&mut s, Duration::from_secs(3)).await, "event");
    settle(&mut s).await;
    assert!(
        !wakes_within(&mut s, Duration::from_millis(300)).await,
        "quiet without changes"
    );
}

#[tokio::test]
async fn a_change_made_while_the_watches_reconnect_is_not_missed() {
    let lab = KubeLab::start().await;
    let mut s = lab.ops().changes();
    settle(&mut s).await;
    lab.server.break_watches();
    lab.insert(pod("default", "during-the-break", None, &[]));
    assert!(wakes_within(&mut s, Duration::from_secs(3)).await);
    settle(&mut s).await;
    lab.server.break_watches();
    settle(&mut s).await;
    lab.insert(pod("default", "after-the-break", None, &[]));
    assert!(wakes_within(&mut s, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn after_410_expired_the_watches_list_again_and_wake() {
    let lab = KubeLab::start().await;
    let mut s = lab.ops().changes();
    settle(&mut s).await;
    lab.server.break_watches();
    lab.server.compact_history();
    lab.insert(pod("default", "after-compaction", None, &[]));
    // The resume gets 410 Expired, the watcher backs off (about a second) and lists again.
    assert!(wakes_within(&mut s, Duration::from_secs(10)).await);
    settle(&mut s).await;
    lab.insert(pod("default", "later", None, &[]));
    assert!(
        wakes_within(&mut s, Duration::from_secs(3)).await,
        "watching again"
    );
}

#[tokio::test]
async fn watch_errors_do_not_end_the_stream() {
    let lab = KubeLab::start().await;
    let mut s = lab.ops().changes();
    settle(&mut s).await;
    // Every resumed watch and re-list fails for a while; then the server is fine again.
    lab.server.fail_next(
        "GET",
        "/api/v1/",
        fake_apiserver::Fault::internal("etcd hiccup").times(4),
    );
    lab.server.break_watches();
    tokio::time::sleep(Duration::from_millis(500)).await;
    lab.insert(pod("default", "after-errors", None, &[]));
    assert!(wakes_within(&mut s, Duration::from_secs(20)).await);
}

/// Runs a one-wait playbook while `change` happens `after` the start; returns the wait's
/// duration and status.
async fn timed_wait(
    kube: Arc<dyn KubeOps>,
    until: &str,
    after: Duration,
    change: impl FnOnce() + Send + 'static,
) -> (Duration, StepStatus) {
    let p = plan(&format!(
        "{HEADER}steps:\n  - wait:\n      until: {until}\n      timeout: 50s\n      interval: 1m\n"
    ));
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        change();
    });
    let mut rec = Recorder::default();
    let report = engine::run(
        &p,
        Arc::new(KubeOnly(kube)),
        &mut rec,
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await;
    (report.steps[0].duration, report.steps[0].status)
}

#[tokio::test]
async fn a_wait_with_a_long_interval_completes_right_after_the_change() {
    let lab = KubeLab::start().await;
    lab.insert(namespace("lab"));
    let server = Arc::new(lab.server);
    let s = server.clone();
    let (took, status) = timed_wait(
        lab.backend.clone(),
        "{namespace: {name: lab, state: absent}}",
        Duration::from_millis(300),
        move || {
            s.remove("v1", "Namespace", None, "lab");
        },
    )
    .await;
    assert_eq!(status, StepStatus::Passed);
    eprintln!("watch-driven wait (interval 1m): the change at 300ms, the wait done at {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "{took:?}: the wait polled instead of watching"
    );
}

#[tokio::test]
async fn a_wait_completes_after_its_watches_were_broken() {
    let lab = KubeLab::start().await;
    lab.insert(pod("default", "web", None, &[]));
    let server = Arc::new(lab.server);
    let s = server.clone();
    let (took, status) = timed_wait(
        lab.backend.clone(),
        "{pods: {namespace: default, name: web, count: 0}}",
        Duration::from_millis(300),
        move || {
            s.break_watches();
            s.remove("v1", "Pod", Some("default"), "web");
        },
    )
    .await;
    assert_eq!(status, StepStatus::Passed);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let s = server.clone();
    server.insert(pod("default", "web", None, &[])).unwrap();
    let (took, status) = timed_wait(
        lab.backend.clone(),
        "{pods: {namespace: default, name: web, count: 0}}",
        Duration::from_millis(300),
        move || {
            s.break_watches();
            s.compact_history();
            s.remove("v1", "Pod", Some("default"), "web");
        },
    )
    .await;
    assert_eq!(status, StepStatus::Passed);
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// The same backend without its watch: waits fall back to polling at their interval.
struct Polling(Arc<dyn KubeOps>);

#[async_trait]
impl KubeOps for Polling {
    async fn apply(&self, d: &[serde_json::Value], ns: Option<&str>) -> Result<Vec<ResourceRef>> {
        self.0.apply(d, ns).await
    }
    async fn delete(&self, t: &ResourceRef, o: &DeleteOptions) -> Result<()> {
        self.0.delete(t, o).await
    }
    async fn pods(&self, q: &PodQuery) -> Result<Vec<PodView>> {
        self.0.pods(q).await
    }
    async fn pod_logs(&self, p: &PodKey, c: Option<&str>, prev: bool) -> Result<String> {
        self.0.pod_logs(p, c, prev).await
    }
    async fn nodes(&self) -> Result<Vec<NodeView>> {
        self.0.nodes().await
    }
    async fn namespace(&self, n: &str) -> Result<Option<NamespaceView>> {
        self.0.namespace(n).await
    }
    async fn get(&self, t: &ResourceRef) -> Result<Option<serde_json::Value>> {
        self.0.get(t).await
    }
    async fn events(&self, ns: &str) -> Result<Vec<EventView>> {
        self.0.events(ns).await
    }
    async fn write_check(&self, t: &ResourceRef) -> Result<WriteCheck> {
        self.0.write_check(t).await
    }
    async fn finalizer(&self, t: &ResourceRef, f: &str, op: FinalizerOp) -> Result<bool> {
        self.0.finalizer(t, f, op).await
    }
    async fn clear_finalizers(&self, t: &ResourceRef) -> Result<Vec<String>> {
        self.0.clear_finalizers(t).await
    }
    async fn finalize_namespace(&self, n: &str) -> Result<()> {
        self.0.finalize_namespace(n).await
    }
    async fn cordon(&self, n: &str, c: bool) -> Result<()> {
        self.0.cordon(n, c).await
    }
    async fn taint(&self, t: &NodeTaint, p: bool) -> Result<()> {
        self.0.taint(t, p).await
    }
}

/// Not a pass/fail check of speed: prints the latency of a watch-driven wait next to a polling
/// one (interval 2 s) for the same change, and checks only that the watch was not slower.
#[tokio::test]
async fn watch_versus_polling_latency() {
    let lab = KubeLab::start().await;
    let server = Arc::new(lab.server);
    let mut results = Vec::new();
    for (label, kube) in [
        ("watch", lab.backend.clone() as Arc<dyn KubeOps>),
        (
            "polling",
            Arc::new(Polling(lab.backend.clone())) as Arc<dyn KubeOps>,
        ),
    ] {
        server.insert(namespace("lab")).unwrap();
        let s = server.clone();
        let changed = Arc::new(std::sync::Mutex::new(None::<Instant>));
        let c = changed.clone();
        let p = plan(&format!(
            "{HEADER}steps:\n  - wait:\n      until: {{namespace: {{name: lab, state: absent}}}}\n      timeout: 20s\n      interval: 2s\n"
        ));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            *c.lock().unwrap() = Some(Instant::now());
            s.remove("v1", "Namespace", None, "lab");
        });
        let mut rec = Recorder::default();
        engine::run(
            &p,
            Arc::new(KubeOnly(kube)),
            &mut rec,
            &CancellationToken::new(),
            &RunOptions::default(),
        )
        .await;
        let done = Instant::now();
        let at = changed.lock().unwrap().expect("the change happened");
        let latency = done - at;
        eprintln!("{label}: the wait ended {latency:?} after the change");
        results.push(latency);
    }
    assert!(
        results[0] < results[1],
        "watch {:?} vs polling {:?}",
        results[0],
        results[1]
    );
}
