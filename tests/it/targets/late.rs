//! The pod picks a step makes itself (issue 19): after a step that may change pods (an
//! `apply`) and at each run of a `repeat`, the pick is made as the step starts, so the live
//! progress line, the step's result (`pods` in the JSON, each run's own), JUnit's system-out
//! and the Markdown and HTML hand-outs name the pods it took; a replay with the same `seed:`
//! takes the same ones, and each run of a `repeat` picks with a seed of its own.

use std::sync::Arc;

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::engine::{self, PlaybookReport, RunOptions, RunStatus};
use kind_chaos::playbook::Plan;
use kind_chaos::report::{html, human::Human, json, junit, markdown};
use tokio_util::sync::CancellationToken;

use super::{picked, web_pods};
use crate::support::SharedBuf;
use crate::support::fake_run::{plan_in, run_fake};

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: default}\n";

/// `plan` run on `fake` with the human reporter: the report and the progress it printed.
async fn run_human(plan: &Plan, fake: &FakeCluster) -> (PlaybookReport, String) {
    let out = SharedBuf::default();
    let mut human = Human::new(Box::new(out.clone()), false);
    let report = engine::run(
        plan,
        Arc::new(fake.clone()),
        &mut human,
        &CancellationToken::new(),
        &RunOptions::default(),
    )
    .await;
    (report, out.text())
}

/// The pods each step result names, by step id, in the order the steps ran.
fn taken(report: &PlaybookReport) -> Vec<(String, Vec<String>)> {
    report
        .steps
        .iter()
        .filter_map(|s| Some((s.id.clone(), s.pods.clone()?)))
        .collect()
}

/// The pods each `container-kill` call signalled, in order.
fn killed(fake: &FakeCluster) -> Vec<String> {
    fake.calls()
        .into_iter()
        .filter(|c| c.starts_with("container-kill"))
        .filter_map(|c| {
            c.split(' ')
                .nth(2)
                .map(|p| p.trim_start_matches("default/").into())
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_pick_after_an_apply_is_made_by_the_step_and_every_report_names_its_pods() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "seed: 9\nsteps:\n  - apply: m.yaml\n  - name: the-one\n    pod-delete: {selector: app=web, pick: one}\n";
    let p = plan_in(dir.path(), yaml, &[("m.yaml", CONFIG_MAP)]);
    let fake = web_pods(1);
    let (report, progress) = run_human(&p, &fake).await;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    // Not chosen in the preflight (the apply may change the pods): the step chose.
    assert_eq!(
        picked(&report),
        [("pick: one of app=web in default".to_string(), None)]
    );
    assert_eq!(
        taken(&report),
        [("steps[1]".to_string(), vec!["web-0".to_string()])]
    );
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.starts_with("delete Pod default/web-0")),
        "{:?}",
        fake.calls()
    );
    let words = "delete pods app=web in default (the only match: web-0)";
    assert_eq!(report.steps[1].description, words);
    // The live progress line, as the step started.
    assert!(
        progress.contains(&format!("the-one: {words}")),
        "{progress}"
    );
    // The JSON: the step's result, and the timeline's start of the step.
    let text = json::render(std::slice::from_ref(&report), 0).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let step = &v["playbooks"][0]["steps"][1];
    assert_eq!(step["pods"], serde_json::json!(["web-0"]));
    assert_eq!(step["description"], words);
    assert!(
        v["playbooks"][0]["timeline"].to_string().contains(words),
        "the timeline's step lines name the pods"
    );
    // Read back (`chaos report`): Markdown and HTML list the step with its pods.
    let saved = json::read(&text).unwrap();
    assert_eq!(saved.playbooks[0].steps[1].pods, Some(vec!["web-0".into()]));
    assert!(markdown::render(&saved).contains(words));
    assert!(html::render(&saved).contains(&html::esc(words)));
    let xml = junit::render(std::slice::from_ref(&report)).unwrap();
    assert!(
        xml.contains(&format!("<system-out>{}", html::esc(words))),
        "{xml}"
    );

    // A random pick after the apply: the step's choice, the same from the same seed.
    let yaml = "seed: 9\nsteps:\n  - apply: m.yaml\n  - pod-delete: {selector: app=web, pick: 2}\n";
    let p = plan_in(dir.path(), yaml, &[("m.yaml", CONFIG_MAP)]);
    let fake = web_pods(6);
    let (first, _) = run_human(&p, &fake).await;
    let chosen = taken(&first);
    assert_eq!(chosen.len(), 1, "{chosen:?}");
    assert_eq!(chosen[0].1.len(), 2);
    let deleted: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("delete Pod"))
        .collect();
    assert_eq!(
        deleted,
        chosen[0]
            .1
            .iter()
            .map(|n| format!("delete Pod default/{n} grace=None"))
            .collect::<Vec<_>>()
    );
    let (again, _) = run_human(&p, &web_pods(6)).await;
    assert_eq!(taken(&again), chosen, "the same seed, the same pods");
}

#[tokio::test(start_paused = true)]
async fn each_run_of_a_repeat_picks_its_own_pods_and_a_replay_picks_the_same() {
    // `pick: one` at each of 3 runs: each run's result names the pod.
    let fake = web_pods(1);
    let report = run_fake(
        &fake,
        "seed: 4\nsteps:\n  - repeat:\n      times: 3\n      steps:\n        - container-kill: {selector: app=web, pick: one}\n",
    )
    .await
    .0;
    assert_eq!(report.status, RunStatus::Passed, "{report:#?}");
    let one: Vec<String> = (1..=3).map(|k| format!("steps[0].repeat#{k}[0]")).collect();
    assert_eq!(
        taken(&report),
        one.iter()
            .map(|id| (id.clone(), vec!["web-0".to_string()]))
            .collect::<Vec<_>>()
    );
    assert_eq!(killed(&fake), ["web-0", "web-0", "web-0"]);

    // `pick: 2` of 8 at each of 3 runs: each run picks with a seed of its own (the runs do not
    // all take the same pods), each took what its result names, and a replay takes the same.
    let yaml = "seed: 4\nsteps:\n  - repeat:\n      times: 3\n      steps:\n        - container-kill: {selector: app=web, pick: 2}\n";
    let fake = web_pods(8);
    let (first, _) = run_fake(&fake, yaml).await;
    assert_eq!(first.status, RunStatus::Passed, "{first:#?}");
    let runs = taken(&first);
    assert_eq!(runs.len(), 3, "{runs:?}");
    let all: Vec<String> = runs.iter().flat_map(|(_, p)| p.clone()).collect();
    assert_eq!(killed(&fake), all, "each run killed the pods it names");
    assert!(
        runs.iter().any(|(_, p)| p != &runs[0].1),
        "every run took the same pods: {runs:?}"
    );
    for (_, p) in &runs {
        assert!(
            first.steps.iter().any(|s| s
                .description
                .ends_with(&format!("(2 at random: {})", p.join(", ")))),
            "a run's description names its pods: {p:?}"
        );
    }
    let (again, _) = run_fake(&web_pods(8), yaml).await;
    assert_eq!(
        taken(&again),
        runs,
        "the same seed, the same pods at each run"
    );
    let (other, _) = run_fake(&web_pods(8), &yaml.replace("seed: 4", "seed: 5")).await;
    assert_ne!(taken(&other), runs, "another seed, other picks");
}

#[tokio::test(start_paused = true)]
async fn a_pick_the_step_cannot_make_is_its_error_and_nothing_is_injected() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "steps:\n  - apply: m.yaml\n  - pod-delete: {selector: app=web, pick: one}\n";
    let p = plan_in(dir.path(), yaml, &[("m.yaml", CONFIG_MAP)]);
    let fake = web_pods(2);
    let (report, progress) = run_human(&p, &fake).await;
    assert_eq!(report.status, RunStatus::Error, "{report:#?}");
    let m = report.steps[1].message.as_deref().unwrap_or_default();
    assert!(
        m.contains(
            "`pick: one` needs exactly one matching pod, and 2 match (matching: web-0, web-1)"
        ),
        "{m}"
    );
    assert_eq!(report.steps[1].pods, None);
    assert!(progress.contains("(the only match)"), "{progress}");
    assert!(
        !fake.calls().iter().any(|c| c.starts_with("delete Pod")),
        "{:?}",
        fake.calls()
    );
}
