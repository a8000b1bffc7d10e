//! An HTTP probe's `node` named as a fault names its node (issue 19): by name, `{role}`,
//! `{role, index}`, `{role, pick: random}` or `{target-of: STEP}`, resolved once in the
//! preflight and shown as the node's name in the plan, the steps' descriptions and the report's
//! `resolved.targets`; a role or a node the cluster lacks stops the run before any fault,
//! naming what there is. The fake's nodes are all at 127.0.0.1, where a real server answers.

use std::sync::Arc;

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::engine::{self, Backends, PlaybookReport, RunStatus};
use kind_chaos::playbook::Phase;
use kind_chaos::report::plan as plan_text;
use tokio::net::TcpListener;

use super::{run, serve, step};
use crate::support::{HEADER, plan};

/// A free port on 127.0.0.1.
async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn targets(report: &PlaybookReport) -> Vec<(String, String, String)> {
    report
        .resolved
        .as_ref()
        .map(|r| {
            r.targets
                .iter()
                .map(|t| (t.step.clone(), t.target.clone(), t.node.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn playbook(port: u16) -> String {
    format!(
        r#"seed: 12
steady-state:
  - http: {{node: kind-worker, port: {port}}}
  - http: {{node: {{role: control-plane}}, port: {port}}}
  - http: {{node: {{role: worker, index: 2}}, port: {port}, path: /healthz}}
  - http: {{node: {{role: worker, pick: random}}, port: {port}}}
steps:
  - name: paused
    node-pause: {{node: {{role: worker, index: 1}}}}
  - name: web
    probe:
      http: {{node: {{target-of: paused}}, port: {port}, body: "^ok$"}}
      interval: 100ms
      during:
        - sleep: 300ms
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_form_of_an_http_probe_resolves_once_and_is_shown_as_the_node() {
    let port = free_port().await;
    let server = serve(port);
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(&fake, &playbook(port)).await;
    server.stop().await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    // Each target that did not name its node, with the node it came to (the steady state's
    // once, though it is checked before and after the steps).
    let t = targets(&report);
    let random = t
        .iter()
        .find(|(s, _, _)| s == "steady-state[3]")
        .map(|(_, _, n)| n.clone())
        .unwrap_or_default();
    assert!(random.starts_with("kind-worker"), "{t:?}");
    let want = [
        ("steps[0]", "{role: worker, index: 1}", "kind-worker"),
        (
            "steady-state[1]",
            "{role: control-plane}",
            "kind-control-plane",
        ),
        (
            "steady-state[2]",
            "{role: worker, index: 2}",
            "kind-worker2",
        ),
        (
            "steady-state[3]",
            "{role: worker, pick: random}",
            random.as_str(),
        ),
        ("steps[1]", "{target-of: paused}", "kind-worker"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(t, want);
    // The descriptions say the node's name, as a URL.
    let d = &step(&report, "steady-state[2]", Phase::SteadyBefore).description;
    assert!(
        d.contains(&format!(
            "GET http://kind-worker2:{port}/healthz answers 200"
        )),
        "{d}"
    );
    let web = step(&report, "steps[1]", Phase::Steps);
    let check = &web.probe.as_ref().expect("the probe's report").check;
    assert_eq!(
        check,
        &format!("GET http://kind-worker:{port}/ answers 200 with a body matching `^ok$`")
    );
    assert!(web.probe.as_ref().unwrap().stats.ok > 0, "{web:#?}");
    // The same seed, the same random node.
    let server = serve(port);
    let (again, _) = run(&FakeCluster::kind_like("kind"), &playbook(port)).await;
    server.stop().await;
    assert_eq!(targets(&again), t);
}

#[tokio::test(start_paused = true)]
async fn the_plan_shows_an_http_probes_node_as_resolved() {
    let p = plan(&format!("{HEADER}{}", playbook(8080)));
    let fake = FakeCluster::kind_like("kind");
    let b = Backends::new(Arc::new(fake.clone()));
    let resolved = engine::targets::preflight(&p, &b).await.unwrap();
    let text = plan_text::render(&resolved);
    for line in [
        "target steady-state[1]: {role: control-plane} -> kind-control-plane",
        "target steady-state[2]: {role: worker, index: 2} -> kind-worker2",
        "target steps[1] [web]: {target-of: paused} -> kind-worker",
        "GET http://kind-worker2:8080/healthz answers 200",
        "probe GET http://kind-worker:8080/ answers 200",
    ] {
        assert!(text.contains(line), "no {line:?} in:\n{text}");
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[tokio::test(start_paused = true)]
async fn a_role_or_node_the_cluster_lacks_stops_the_run_before_any_fault() {
    for (node, says) in [
        (
            "{role: gpu}",
            "steady-state[0]: no node has the role `gpu` (roles: control-plane, worker); the cluster has kind-control-plane (control-plane), kind-worker (worker), kind-worker2 (worker)",
        ),
        (
            "kind-worker9",
            "steady-state[0]: no node `kind-worker9`; the cluster has kind-control-plane (control-plane)",
        ),
        (
            "{role: worker}",
            "steady-state[0]: 2 nodes have the role `worker` (kind-worker, kind-worker2); say which",
        ),
    ] {
        let fake = FakeCluster::kind_like("kind");
        let yaml = format!(
            "steady-state:\n  - http: {{node: {node}, port: 8080}}\nsteps:\n  - node-pause: {{node: kind-worker}}\n"
        );
        let (report, _) = run(&fake, &yaml).await;
        assert_eq!(report.status, RunStatus::Error, "{node}: {report:#?}");
        assert_eq!(report.steps[0].id, "preflight");
        let m = report.steps[0].message.as_deref().unwrap_or_default();
        assert!(m.contains(says), "{node}: {m}");
        assert!(fake.calls().is_empty(), "{node}: {:?}", fake.calls());
    }
    // `target-of` a step that chose no node.
    let fake = FakeCluster::kind_like("kind");
    let (report, _) = run(
        &fake,
        "steps:\n  - name: nap\n    sleep: 1s\n  - probe:\n      http: {node: {target-of: nap}, port: 8080}\n      during:\n        - node-pause: {node: kind-worker}\n",
    )
    .await;
    assert_eq!(report.status, RunStatus::Error, "{report:#?}");
    let m = report.steps[0].message.as_deref().unwrap_or_default();
    assert!(
        m.contains("steps[1]: `target-of: nap`: no step named `nap` chose a node"),
        "{m}"
    );
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}
