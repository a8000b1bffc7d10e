//! Playbooks that travel (issue 19): node targets by role, position, at random and as an
//! earlier step's node, resolved once by the preflight against the in-memory fake cluster; pod
//! picks from a seed; a preflight that stops before any fault when a later step names a node
//! the cluster lacks; and `chaos run --cluster other playbooks/node-faults.yaml` on a local
//! test cluster named `other` (the lab playbook, unmodified, on a cluster it does not name).

use crate::support;

use std::sync::Arc;

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::backends::{PodView, Sandbox};
use kind_chaos::engine::{self, ErrorClass, PlaybookReport, RunOptions, RunStatus, StepStatus};
use kind_chaos::exit::Exit;
use serde_json::Value;
use support::{HEADER, Recorder, plan};
use tokio_util::sync::CancellationToken;

async fn run(fake: &FakeCluster, yaml: &str) -> PlaybookReport {
    let p = plan(&format!("{HEADER}{yaml}"));
    engine::run(
        &p,
        Arc::new(fake.clone()),
        &mut Recorder::default(),
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await
}

/// The fake with a third worker, so that an index and a random pick have a choice.
fn three_workers() -> FakeCluster {
    let fake = FakeCluster::kind_like("kind");
    let worker = fake.state().nodes["kind-worker"].clone();
    fake.state().nodes.insert("kind-worker3".into(), worker);
    fake
}

fn targets(report: &PlaybookReport) -> Vec<(String, String)> {
    report
        .resolved
        .as_ref()
        .map(|r| {
            r.targets
                .iter()
                .map(|t| (t.target.clone(), t.node.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn every_node_target_form_resolves_and_the_faults_use_the_node() {
    let fake = three_workers();
    let report = run(
        &fake,
        r#"
steps:
  - node-cordon: {node: {role: control-plane}}
  - name: second
    kubelet-stop: {node: {role: worker, index: 2}}
  - assert: {kubelet: {node: {target-of: second}, running: false}}
  - node-pause: {node: {name: kind-worker3}}
  - node-pause: {node: kind-worker}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    assert_eq!(
        targets(&report),
        [
            ("{role: control-plane}".into(), "kind-control-plane".into()),
            ("{role: worker, index: 2}".into(), "kind-worker2".into()),
            ("{target-of: second}".into(), "kind-worker2".into()),
        ]
    );
    let calls = fake.calls();
    for want in [
        "kubelet-stop kind-worker2",
        "node-pause kind-worker3",
        "node-pause kind-worker",
        "kubelet-start kind-worker2",
    ] {
        assert!(calls.iter().any(|c| c == want), "{want} not in {calls:?}");
    }
    assert!(
        calls
            .iter()
            .any(|c| c.contains("cordon") && c.contains("kind-control-plane")),
        "{calls:?}"
    );
    assert!(
        report.resolved.as_ref().unwrap().seed.is_none(),
        "nothing random, no seed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_role_with_several_nodes_stops_the_run_before_any_fault_listing_them() {
    let fake = three_workers();
    let report = run(&fake, "steps:\n  - kubelet-stop: {node: {role: worker}}\n").await;
    assert_eq!(report.status, RunStatus::Error);
    assert_eq!(report.error_class, Some(ErrorClass::Step));
    assert_eq!(Exit::of(&report), Exit::StepFailed);
    let m = report.steps[0].message.as_deref().unwrap_or_default();
    assert!(
        m.contains("3 nodes have the role `worker` (kind-worker, kind-worker2, kind-worker3)"),
        "{m}"
    );
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[tokio::test(start_paused = true)]
async fn a_random_pick_is_reported_with_its_seed_and_replays_from_it() {
    let yaml = |seed: &str| {
        format!(
            "{seed}steps:\n  - name: any\n    node-pause: {{node: {{role: worker, pick: random}}}}\n"
        )
    };
    // No seed written: one is drawn and reported.
    let fake = three_workers();
    let first = run(&fake, &yaml("")).await;
    assert_eq!(first.status, RunStatus::Passed, "{first:#?}");
    let seed = first.resolved.as_ref().unwrap().seed.expect("a drawn seed");
    let picked = targets(&first)[0].1.clone();
    assert!(picked.starts_with("kind-worker"), "{picked}");
    // That seed, written, picks the same node, every time.
    for _ in 0..3 {
        let fake = three_workers();
        let again = run(&fake, &yaml(&format!("seed: {seed}\n"))).await;
        assert_eq!(targets(&again)[0].1, picked);
        assert_eq!(again.resolved.as_ref().unwrap().seed, Some(seed));
        assert!(fake.calls().contains(&format!("node-pause {picked}")));
    }
    // And the JSON report carries it.
    let json = serde_json::to_value(&first).unwrap();
    assert_eq!(json["resolved"]["seed"], seed);
    assert_eq!(json["resolved"]["targets"][0]["node"], picked.as_str());
}

#[tokio::test(start_paused = true)]
async fn a_later_step_naming_a_missing_node_stops_the_run_before_any_fault() {
    let fake = FakeCluster::kind_like("kind");
    let report = run(
        &fake,
        r#"
steps:
  - name: first
    kubelet-stop: {node: kind-worker}
  - node-pause: {node: k8splayground-worker2}
teardown:
  - node-pause: {node: kind-worker2}
"#,
    )
    .await;
    assert!(fake.calls().is_empty(), "no fault: {:?}", fake.calls());
    assert_eq!(report.status, RunStatus::Error);
    assert_eq!(Exit::of(&report), Exit::StepFailed);
    let pre = &report.steps[0];
    assert_eq!(pre.id, "preflight");
    assert_eq!(pre.status, StepStatus::Error);
    let m = pre.message.as_deref().unwrap_or_default();
    assert!(
        m.contains("steps[1]: no node `k8splayground-worker2`"),
        "{m}"
    );
    assert!(
        m.contains(
            "kind-control-plane (control-plane), kind-worker (worker), kind-worker2 (worker)"
        ),
        "{m}"
    );
    assert!(
        report.steps[1..]
            .iter()
            .all(|s| s.status == StepStatus::Skipped),
        "{report:#?}"
    );
    assert!(report.undo.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_backend_the_playbook_needs_is_exit_3_before_any_fault() {
    let fake = FakeCluster::kind_like("kind");
    fake.state().knobs.unavailable.push("etcd".into());
    let report = run(
        &fake,
        "steps:\n  - kubelet-stop: {node: kind-worker}\n  - assert: {etcd-key: {key: /registry/x}}\n",
    )
    .await;
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    assert_eq!(report.error_class, Some(ErrorClass::Environment));
    assert_eq!(Exit::of(&report), Exit::Environment);
}

fn pod(name: &str) -> PodView {
    PodView {
        key: kind_chaos::backends::PodKey {
            namespace: "default".into(),
            name: name.into(),
        },
        labels: [("app".to_string(), "web".to_string())].into(),
        phase: "Running".into(),
        node: Some("kind-worker".into()),
        ..PodView::default()
    }
}

fn web_pods(n: usize) -> FakeCluster {
    let fake = FakeCluster::kind_like("kind");
    fake.state().pods = (0..n).map(|i| pod(&format!("web-{i}"))).collect();
    // Their sandboxes, live on kind-worker, for `container-kill`.
    let sandboxes: Vec<Sandbox> = fake
        .state()
        .pods
        .iter()
        .map(|p| Sandbox {
            id: format!("sb-{}", p.key.name),
            pod: p.key.clone(),
            uid: format!("uid-{}", p.key.name),
            live: true,
            containers: vec!["app".into()],
        })
        .collect();
    if let Some(w) = fake.state().nodes.get_mut("kind-worker") {
        w.sandboxes = sandboxes;
    }
    fake
}

/// The pods deleted, by their `delete Pod NS/NAME` calls.
fn deleted(fake: &FakeCluster) -> Vec<String> {
    fake.calls()
        .into_iter()
        .filter(|c| c.starts_with("delete Pod"))
        .map(|c| c.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn pod_picks_take_that_many_of_the_matches_and_replay_from_the_seed() {
    for (pick, n) in [("all", 10), ("random", 1), ("3", 3), ("25%", 3), ("10", 10)] {
        let yaml =
            format!("seed: 7\nsteps:\n  - pod-delete: {{selector: app=web, pick: {pick}}}\n");
        let a = web_pods(10);
        let report = run(&a, &yaml).await;
        assert_eq!(report.status, RunStatus::Passed, "{pick}: {report:#?}");
        assert_eq!(deleted(&a).len(), n, "{pick}: {:?}", deleted(&a));
        let b = web_pods(10);
        run(&b, &yaml).await;
        assert_eq!(
            deleted(&a),
            deleted(&b),
            "{pick}: the same seed, the same pods"
        );
    }
    // `one` is the only match, else an error that says how many matched.
    let fake = web_pods(2);
    let report = run(
        &fake,
        "steps:\n  - pod-delete: {selector: app=web, pick: one}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error);
    let m = report.steps[0].message.as_deref().unwrap_or_default();
    assert!(m.contains("exactly one matching pod, and 2 match"), "{m}");
    assert!(deleted(&fake).is_empty());
}

fn picked(report: &PlaybookReport) -> Vec<(String, Option<Vec<String>>)> {
    report
        .resolved
        .as_ref()
        .map(|r| {
            r.pods
                .iter()
                .map(|p| (p.target.clone(), p.pods.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn the_preflight_chooses_a_pod_pick_once_and_the_report_shows_it_with_the_seed() {
    let yaml = "seed: 11\nsteps:\n  - name: some\n    pod-delete: {selector: app=web, pick: 2}\n";
    let fake = web_pods(5);
    let report = run(&fake, yaml).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let p = picked(&report);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].0, "pick: 2 of app=web in default");
    let chosen = p[0].1.clone().expect("chosen by the preflight");
    assert_eq!(chosen.len(), 2);
    // The step deleted exactly those, and its description names them.
    let want: Vec<String> = chosen
        .iter()
        .map(|n| format!("delete Pod default/{n}"))
        .collect();
    assert_eq!(deleted(&fake), want);
    assert!(
        report.steps[0]
            .description
            .ends_with(&format!("(2 at random: {})", chosen.join(", "))),
        "{}",
        report.steps[0].description
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["resolved"]["seed"], 11);
    assert_eq!(json["resolved"]["pods"][0]["step"], "steps[0]");
    assert_eq!(json["resolved"]["pods"][0]["name"], "some");
    assert_eq!(json["resolved"]["pods"][0]["pods"][1], chosen[1].as_str());
    // The same seed, the same choice.
    let again = run(&web_pods(5), yaml).await;
    assert_eq!(picked(&again), p);
}

#[tokio::test(start_paused = true)]
async fn a_pick_of_more_pods_than_match_stops_the_run_before_any_fault_naming_them() {
    let fake = web_pods(2);
    let report = run(
        &fake,
        "steps:\n  - node-pause: {node: kind-worker}\n  - pod-delete: {selector: app=web, pick: 3}\n",
    )
    .await;
    assert!(fake.calls().is_empty(), "no fault: {:?}", fake.calls());
    assert_eq!(report.status, RunStatus::Error);
    assert_eq!(report.steps[0].id, "preflight");
    let m = report.steps[0].message.as_deref().unwrap_or_default();
    assert!(
        m.contains("steps[1]: `pick: 3 of app=web in default`: `pick: 3` needs at least 3 matching pods, and 2 match (matching: web-0, web-1)"),
        "{m}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pick_after_a_step_that_may_change_pods_is_made_by_the_step() {
    // The pods are deleted (and, in a real cluster, replaced) by the first step, so the second
    // step's pick is not made in the preflight; it is made as the step runs, from the pods
    // there then, and the report says so.
    let fake = web_pods(4);
    let report = run(
        &fake,
        "seed: 3\nsteps:\n  - pod-delete: {name: web-0}\n  - pod-delete: {selector: app=web, pick: 2}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    assert_eq!(
        picked(&report),
        [("pick: 2 of app=web in default".to_string(), None)]
    );
    let d = deleted(&fake);
    assert_eq!(d.len(), 3, "{d:?}");
    assert_eq!(d[0], "delete Pod default/web-0");
    // Inside a `repeat` a pick is made at each iteration, too.
    let fake = web_pods(4);
    let report = run(
        &fake,
        "seed: 3\nsteps:\n  - repeat:\n      times: 2\n      steps:\n        - pod-delete: {selector: app=web, pick: random}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    assert_eq!(picked(&report)[0].1, None);
    assert_eq!(deleted(&fake).len(), 2, "{:?}", deleted(&fake));
}

#[tokio::test(start_paused = true)]
async fn container_kill_takes_a_selector_and_a_pick_like_pod_delete() {
    let killed = |fake: &FakeCluster| -> Vec<String> {
        fake.calls()
            .into_iter()
            .filter(|c| c.starts_with("container-kill"))
            .collect()
    };
    let fake = web_pods(3);
    let report = run(
        &fake,
        "steps:\n  - container-kill: {selector: app=web, signal: SIGKILL}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    assert_eq!(
        killed(&fake),
        [
            "container-kill kind-worker default/web-0 - SIGKILL",
            "container-kill kind-worker default/web-1 - SIGKILL",
            "container-kill kind-worker default/web-2 - SIGKILL",
        ]
    );
    let fake = web_pods(3);
    let report = run(
        &fake,
        "seed: 5\nsteps:\n  - container-kill: {selector: app=web, pick: random, container: app}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let k = killed(&fake);
    let chosen = picked(&report)[0]
        .1
        .clone()
        .expect("chosen by the preflight");
    assert_eq!(
        k,
        [format!(
            "container-kill kind-worker default/{} app SIGTERM",
            chosen[0]
        )]
    );
    assert!(
        report.steps[0]
            .description
            .contains("pods app=web in default (one at random: "),
        "{}",
        report.steps[0].description
    );
    // By name, as before.
    let fake = web_pods(1);
    let report = run(&fake, "steps:\n  - container-kill: {pod: web-0}\n").await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    assert_eq!(
        killed(&fake),
        ["container-kill kind-worker default/web-0 - SIGTERM"]
    );
    // No pod matches: an error before any fault.
    let fake = web_pods(0);
    let report = run(
        &fake,
        "steps:\n  - container-kill: {selector: app=web, pick: 1}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error);
    let m = report.steps[0].message.as_deref().unwrap_or_default();
    assert!(m.contains("(no pod matches)"), "{m}");
    assert!(killed(&fake).is_empty());
}

#[tokio::test(start_paused = true)]
async fn network_peers_take_node_targets_resolved_in_the_preflight() {
    let fake = three_workers();
    let report = run(
        &fake,
        r#"
seed: 9
steps:
  - name: slow
    network-delay: {node: {role: worker, index: 1}, delay: 100ms, to: [{role: control-plane}, {role: worker, index: 3}]}
  - network-loss: {node: {role: worker, index: 2}, percent: 10, to: [{target-of: slow}]}
  - network-partition: {node: {role: control-plane}, from: {nodes: [{role: worker, pick: random}, kind-worker2]}}
"#,
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let t = targets(&report);
    assert_eq!(
        t[..4],
        [
            ("{role: worker, index: 1}".into(), "kind-worker".into()),
            ("{role: control-plane}".into(), "kind-control-plane".into()),
            ("{role: worker, index: 3}".into(), "kind-worker3".into()),
            ("{role: worker, index: 2}".into(), "kind-worker2".into()),
        ]
    );
    assert_eq!(t[4], ("{target-of: slow}".into(), "kind-worker".into()));
    let random = t[6].1.clone();
    assert_eq!(t[6].0, "{role: worker, pick: random}");
    assert!(random.starts_with("kind-worker"), "{random}");
    let calls = fake.calls();
    for want in [
        "network-shape kind-worker Delay { delay_us: 100000, jitter_us: 0 } kind-control-plane,kind-worker3".to_string(),
        "network-shape kind-worker2 Loss { percent: 10 } kind-worker".to_string(),
    ] {
        assert!(calls.contains(&want), "{want} not in {calls:?}");
    }
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("network-partition kind-control-plane ")
                && c.ends_with(&format!(" both {random},kind-worker2"))),
        "{calls:?}"
    );
    assert!(
        report.steps[0]
            .description
            .ends_with("(only packets to kind-control-plane, kind-worker3)"),
        "{}",
        report.steps[0].description
    );
}

#[tokio::test(start_paused = true)]
async fn a_network_peer_the_cluster_lacks_stops_the_run_before_any_fault() {
    let fake = FakeCluster::kind_like("kind");
    let report = run(
        &fake,
        "steps:\n  - network-loss: {node: kind-worker, percent: 10, to: [{role: worker, index: 5}]}\n",
    )
    .await;
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    assert_eq!(report.steps[0].id, "preflight");
    let m = report.steps[0].message.as_deref().unwrap_or_default();
    assert!(
        m.contains("steps[0]: `index: 5`: the cluster has 2 worker node(s)"),
        "{m}"
    );
}

#[test]
fn dry_run_resolves_against_a_reachable_cluster_and_refuses_a_missing_node() {
    let ok = support::CliCase::new(
        "targets",
        "steps:\n  - node-pause: {node: {role: worker, index: 2}}\n",
        support::FAKE_KIND,
    );
    let out = ok.run(&["--dry-run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "target steps[0]: {role: worker, index: 2} -> kind-worker2",
        "pause node container kind-worker2",
        "undo: unpause node container kind-worker2",
        "preflight: done against cluster `kind`",
    ] {
        assert!(stdout.contains(want), "{want}: {stdout}");
    }
    let bad = support::CliCase::new(
        "targets",
        "steps:\n  - node-pause: {node: {role: worker, index: 3}}\n",
        support::FAKE_KIND,
    );
    let out = bad.run(&["--dry-run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", support::text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`index: 3`: the cluster has 2 worker node(s): kind-worker, kind-worker2"),
        "{stderr}"
    );
    // And the run itself stops there, before any fault (exit 4).
    let out = bad.run(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", support::text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("preflight: steps[0]: `index: 3`"),
        "{}",
        support::text(&out)
    );
}

/// The lab playbook, as shipped, on a cluster it does not name: `--cluster other` moves it.
#[test]
fn node_faults_playbook_runs_on_a_cluster_named_other() {
    support::testcluster::shared("other", 2);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let playbook = concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks/node-faults.yaml");
    let out = support::chaos_in(dir.path())
        .args(["run", "--cluster", "other", playbook, "--json"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let pb = &v["playbooks"][0];
    assert_eq!(pb["status"], "passed", "{pb:#}");
    let nodes: Vec<&str> = pb["resolved"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["node"].as_str().unwrap())
        .collect();
    assert!(nodes.contains(&"other-worker"), "{nodes:?}");
    assert!(nodes.contains(&"other-worker2"), "{nodes:?}");
    assert!(
        pb["undo"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["status"] == "undone"),
        "{pb:#}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .contains("target steps[1] [break-kubelet]: {role: worker, index: 1} -> other-worker"),
        "{stdout}"
    );
    // The dry run resolves against the cluster too, and says so.
    let out = support::chaos_in(dir.path())
        .args(["run", "--dry-run", "--cluster", "other", playbook])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("preflight: done against cluster `other`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("undo: unpause node container other-worker2"),
        "{stdout}"
    );
}

#[test]
fn the_plan_lists_each_pod_pick_with_its_pods_or_says_the_step_chooses() {
    let p = plan(&format!(
        "{HEADER}seed: 4\nsteps:\n  - name: some\n    pod-delete: {{selector: app=web, pick: 2}}\n  - sleep: 1s\n  - container-kill: {{selector: app=web, pick: random}}\n"
    ));
    let mut lists = engine::targets::PodLists::new();
    lists.insert(
        ("default".into(), "app=web".into()),
        vec!["web-0".into(), "web-1".into(), "web-2".into()],
    );
    let resolved = engine::targets::resolve(&p, None, &lists, None).unwrap();
    let text = kind_chaos::report::plan::render(&resolved);
    let chosen = resolved.resolved.as_ref().unwrap().pods[0]
        .pods
        .clone()
        .unwrap();
    assert_eq!(chosen.len(), 2);
    assert!(
        text.contains(&format!(
            "pods steps[0] [some]: pick: 2 of app=web in default -> {}",
            chosen.join(", ")
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "pods steps[2]: pick: random of app=web in default -> chosen by the step as it runs"
        ),
        "{text}"
    );
    assert!(text.contains("seed: 4"), "{text}");
}

mod late;
