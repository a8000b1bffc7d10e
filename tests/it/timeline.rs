//! The run's timeline and the hand-out reports: the timeline of an engine run on the fake
//! cluster (steps, fault, undo, API transitions, reality samples with a ghost, in order, on
//! paused time), its bound, its JSON Schema (check-jsonschema over a real report's timeline),
//! the HTML (parsed by Python's html.parser, no external reference), the Markdown (snapshot),
//! and `chaos report` giving the same files as `chaos run --html --markdown`.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kind_chaos::backends::fake::{Change, FakeCluster, Scheduled};
use kind_chaos::backends::{PodKey, PodView, Sandbox};
use kind_chaos::engine::timeline::{DriftState, What};
use kind_chaos::engine::{self, PlaybookReport, RunOptions, RunStatus};
use kind_chaos::report::{html, json, markdown};
use support::{CliCase, HEADER, Recorder, plan};
use tokio_util::sync::CancellationToken;

const PLAYBOOK: &str = r#"
steps:
  - name: break
    kubelet-stop: {node: kind-worker}
  - name: unreachable
    wait:
      until: {node: {name: kind-worker, ready: Unknown}}
      timeout: 1m
"#;

fn web() -> PodKey {
    PodKey {
        namespace: "default".into(),
        name: "web".into(),
    }
}

/// A kind-like fake with `default/web` running on kind-worker; the API forgets the pod after
/// a few reads (its sandbox runs on: a ghost) and the node turns Unknown later.
fn fake() -> FakeCluster {
    let fake = FakeCluster::kind_like("kind");
    {
        let mut s = fake.state();
        s.pods.push(PodView {
            key: web(),
            node: Some("kind-worker".into()),
            phase: "Running".into(),
            ready: true,
            ..PodView::default()
        });
        if let Some(n) = s.nodes.get_mut("kind-worker") {
            n.sandboxes.push(Sandbox {
                id: "sb-web".into(),
                pod: web(),
                uid: String::new(),
                live: true,
                containers: vec!["web".into()],
            });
        }
        s.knobs.schedule.push(Scheduled {
            after: 5,
            change: Change::PodGone { pod: web() },
        });
        s.knobs.schedule.push(Scheduled {
            after: 16,
            change: Change::NodeReady {
                node: "kind-worker".into(),
                status: "Unknown".into(),
            },
        });
    }
    fake
}

/// A wall clock that follows tokio's (paused) clock from a fixed moment.
fn clock() -> Arc<dyn Fn() -> SystemTime + Send + Sync> {
    let t0 = tokio::time::Instant::now();
    Arc::new(move || UNIX_EPOCH + Duration::from_secs(1_795_000_000) + t0.elapsed())
}

async fn run(opts: RunOptions) -> PlaybookReport {
    let p = plan(&format!("{HEADER}{PLAYBOOK}"));
    engine::run(
        &p,
        Arc::new(fake()),
        &mut Recorder::default(),
        &CancellationToken::new(),
        &opts,
    )
    .await
}

fn kind(w: &What) -> &'static str {
    match w {
        What::RunStarted { .. } => "run-started",
        What::StepStarted { .. } => "step-started",
        What::StepFinished { .. } => "step-finished",
        What::FaultInjected { .. } => "fault-injected",
        What::Undo { .. } => "undo",
        What::WaitObserved { .. } => "wait-observed",
        What::Reality { .. } => "reality",
        What::Sandbox { .. } => "sandbox",
        What::Drift { .. } => "drift",
        What::Pod { .. } => "pod",
        What::Node { .. } => "node",
        What::Namespace { .. } => "namespace",
        What::Probe { .. } => "probe",
        What::Watch { .. } => "watch",
        What::RunFinished { .. } => "run-finished",
    }
}

#[tokio::test(start_paused = true)]
async fn an_engine_run_records_steps_faults_undo_transitions_and_reality_in_order() {
    let report = run(RunOptions {
        clock: clock(),
        ..RunOptions::default()
    })
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let t = &report.timeline;
    assert_eq!((t.version, t.dropped), (1, 0));
    let kinds: Vec<&str> = t.entries.iter().map(|e| kind(&e.what)).collect();
    let first = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or(usize::MAX);
    let last = |k: &str| kinds.iter().rposition(|x| *x == k).unwrap_or(usize::MAX);
    assert_eq!(kinds[0], "run-started");
    assert_eq!(kinds[kinds.len() - 1], "run-finished");
    assert!(first("fault-injected") < first("reality"), "{kinds:?}");
    assert!(last("reality") < first("undo"), "{kinds:?}");
    // Reality every 5 s of a wait of about 10 s: more than one sample, none closer than 5 s.
    let samples: Vec<SystemTime> = t
        .entries
        .iter()
        .filter(|e| matches!(e.what, What::Reality { .. }))
        .map(|e| humantime::parse_rfc3339(&e.at).unwrap())
        .collect();
    assert!(samples.len() >= 2, "{kinds:?}");
    for w in samples.windows(2) {
        assert!(w[1].duration_since(w[0]).unwrap() >= Duration::from_secs(5));
    }
    // Wall-clock times never go back.
    let times: Vec<SystemTime> = t
        .entries
        .iter()
        .map(|e| humantime::parse_rfc3339(&e.at).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    // The node's Ready went True -> Unknown; the kubelet was seen stopped; the API forgot
    // default/web while its sandbox ran on kind-worker: a ghost.
    let ready: Vec<&str> = t
        .entries
        .iter()
        .filter_map(|e| match &e.what {
            What::Node { node, ready, .. } if node == "kind-worker" => Some(ready.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ready, ["True", "Unknown"]);
    assert!(t.entries.iter().any(|e| matches!(&e.what,
        What::Reality { nodes, .. } if nodes.iter().any(|n| n.node == "kind-worker" && !n.kubelet_running))));
    assert!(
        t.entries.iter().any(|e| matches!(&e.what,
            What::Drift { pod, node, state: DriftState::Ghost, .. }
                if pod == "default/web" && node == "kind-worker")),
        "{:#?}",
        t.entries
    );
}

#[tokio::test(start_paused = true)]
async fn the_timeline_stays_within_its_cap() {
    let opts = |cap| RunOptions {
        clock: clock(),
        sample_every: Some(Duration::from_secs(1)),
        timeline_cap: cap,
        ..RunOptions::default()
    };
    let whole = run(opts(10_000)).await.timeline;
    assert_eq!(whole.dropped, 0);
    assert!(whole.entries.len() > 16, "{}", whole.entries.len());
    let t = run(opts(12)).await.timeline;
    assert!(t.entries.len() <= 12, "{}", t.entries.len());
    // Every entry is either kept or counted as dropped; the end is always there.
    assert_eq!(
        t.entries.len() as u64 + t.dropped,
        whole.entries.len() as u64
    );
    assert!(matches!(
        t.entries.last().unwrap().what,
        What::RunFinished { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn no_sampling_when_turned_off() {
    let report = run(RunOptions {
        clock: clock(),
        sample_every: None,
        ..RunOptions::default()
    })
    .await;
    assert!(
        !report
            .timeline
            .entries
            .iter()
            .any(|e| matches!(e.what, What::Reality { .. }))
    );
}

/// The JSON report of a run read back, as the hand-out reports are rendered from it.
async fn saved() -> json::SavedReport {
    let report = run(RunOptions {
        clock: clock(),
        ..RunOptions::default()
    })
    .await;
    json::read(&json::render(&[report], 0).unwrap()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_timeline_validates_against_its_committed_schema() {
    let doc: serde_json::Value =
        serde_json::from_str(&json::render(&saved().await.playbooks, 0).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("timeline.json");
    std::fs::write(&file, doc["playbooks"][0]["timeline"].to_string()).unwrap();
    let out = support::python::python3(
        "check_jsonschema",
        &[
            "-m",
            "check_jsonschema",
            "--schemafile",
            "schema/report-timeline.schema.json",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", support::text(&out));
    // And a broken one is refused: the validator is really looking.
    let mut bad = doc["playbooks"][0]["timeline"].clone();
    bad["entries"][0]["kind"] = "no-such-kind".into();
    std::fs::write(&file, bad.to_string()).unwrap();
    let out = support::python::python3(
        "check_jsonschema",
        &[
            "-m",
            "check_jsonschema",
            "--schemafile",
            "schema/report-timeline.schema.json",
            file.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success(), "{}", support::text(&out));
}

#[test]
fn the_committed_timeline_schema_is_current() {
    let committed = std::fs::read_to_string("schema/report-timeline.schema.json").unwrap();
    assert!(
        committed.trim_end() == engine::timeline::schema_json().trim_end(),
        "schema/report-timeline.schema.json is stale: run `cargo run -- schema --timeline > schema/report-timeline.schema.json`"
    );
}

/// Python's html.parser over the page: every non-void tag closed in order, no script, no
/// link, no src/href/xlink:href/url()/@import that leaves the file. Prints what it found.
pub(crate) const CHECK_HTML: &str = r##"
import sys, re
from html.parser import HTMLParser
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}
SVG_EMPTY = {"rect", "line", "circle", "path", "polyline", "stop"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.tags = [], [], 0
    def handle_starttag(self, tag, attrs):
        self.tags += 1
        if tag in ("script", "link", "iframe", "object", "embed", "img"):
            self.problems.append("tag " + tag)
        for k, v in attrs:
            if k in ("src", "href", "xlink:href", "action") and v and not v.startswith("#"):
                self.problems.append(k + "=" + v)
            if v and re.search(r"url\(\s*['\"]?(?!#)", v):
                self.problems.append("url() in " + k)
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append("unbalanced </%s> (open: %s)" % (tag, self.stack[-3:]))
        else:
            self.stack.pop()
    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            if "@import" in data or re.search(r"url\(\s*['\"]?(?!#)", data):
                self.problems.append("external reference in <style>")
text = open(sys.argv[1], encoding="utf-8").read()
p = P()
p.feed(text)
p.close()
if p.stack:
    p.problems.append("unclosed: %s" % p.stack)
if re.search(r"https?://", text):
    p.problems.append("an http(s) URL")
print("tags", p.tags)
for x in p.problems:
    print("PROBLEM", x)
sys.exit(1 if p.problems else 0)
"##;

#[tokio::test(start_paused = true)]
async fn the_html_parses_and_refers_to_nothing_outside_itself() {
    let page = html::render(&saved().await);
    for want in [
        "<svg",
        "steps and faults",
        "node kind-worker",
        "pod default/web",
        "ghost on kind-worker",
        "Ghost and phantom intervals",
        "@media print",
        "First sample",
        "make the kubelet executable again on kind-worker",
    ] {
        assert!(page.contains(want), "no {want:?} in the page");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.html");
    std::fs::write(&file, &page).unwrap();
    let out = support::python::python3("html.parser", &["-c", CHECK_HTML, file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", support::text(&out));
    // The checker finds a planted outside reference (it is not blind).
    let planted = page.replace("</body>", "<img src=\"https://example.com/x.png\"></body>");
    std::fs::write(&file, planted).unwrap();
    let out = support::python::python3("html.parser", &["-c", CHECK_HTML, file.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", support::text(&out));
}

#[tokio::test(start_paused = true)]
async fn markdown_report() {
    let text = markdown::render(&saved().await);
    insta::assert_snapshot!(text);
}

#[test]
fn chaos_report_renders_the_same_files_as_chaos_run() {
    let case = CliCase::new(
        "timeline",
        "steps:\n  - name: break\n    kubelet-stop: {node: kind-worker}\n  - assert: {kubelet: {node: kind-worker, running: false}}\n",
        support::FAKE_KIND,
    );
    let p = |f: &str| case.path(f).to_str().unwrap().to_string();
    let out = case
        .run(&[
            "--json",
            &p("r.json"),
            "--html",
            &p("run.html"),
            "--markdown",
            &p("run.md"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out));
    let out = support::chaos_bin()
        .args([
            "report",
            &p("r.json"),
            "--html",
            &p("again.html"),
            "--markdown",
            &p("again.md"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out));
    let read = |f: &str| std::fs::read_to_string(case.path(f)).unwrap();
    assert_eq!(read("run.html"), read("again.html"));
    assert_eq!(read("run.md"), read("again.md"));
    assert!(read("run.html").contains("fault in place"));
    assert!(read("run.md").contains("| break | steps | kubelet-stop | ✔ passed |"));
    // Not a report: exit 2, said why.
    std::fs::write(case.path("junk.json"), "{}").unwrap();
    let out = support::chaos_bin()
        .args(["report", &p("junk.json"), "--html", &p("x.html")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", support::text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a JSON report"));
}

#[tokio::test(start_paused = true)]
async fn a_sleep_samples_reality_too() {
    let p = plan(&format!(
        "{HEADER}steps:\n  - kubelet-stop: {{node: kind-worker}}\n  - sleep: 12s\n"
    ));
    let report = engine::run(
        &p,
        Arc::new(fake()),
        &mut Recorder::default(),
        &CancellationToken::new(),
        &RunOptions {
            clock: clock(),
            ..RunOptions::default()
        },
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    // At 0, 5 and 10 s of the sleep; the sleep still takes its 12 s.
    let at: Vec<&str> = report
        .timeline
        .entries
        .iter()
        .filter(|e| matches!(e.what, What::Reality { .. }))
        .map(|e| e.at.as_str())
        .collect();
    assert_eq!(
        at,
        [
            "2026-11-18T11:06:40.000Z",
            "2026-11-18T11:06:45.000Z",
            "2026-11-18T11:06:50.000Z"
        ]
    );
    assert_eq!(report.steps[1].duration, Duration::from_secs(12));
}

mod watch;
