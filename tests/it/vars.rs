//! Playbook variables end to end: their errors rendered with file:line:col (pinned by
//! snapshots), the precedence of `--set` over `CHAOS_VAR_*` over the default, and the resolved
//! values in `--dry-run` and the JSON report.

use std::path::Path;

use kind_chaos::playbook::model::Action;
use kind_chaos::playbook::vars::{Inputs, Source};
use kind_chaos::playbook::{self, PlanStepKind};

use crate::support::{CliCase, FAKE_KIND, chaos_bin, text};

const VALID: &str = "tests/fixtures/valid/vars.yaml";

fn inputs(sets: &[(&str, &str)], env: &[(&str, &str)], cluster: Option<&str>) -> Inputs {
    Inputs {
        sets: sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cluster: cluster.map(String::from),
    }
}

fn node_of_first_step(plan: &playbook::Plan) -> String {
    match &plan.steps[0].kind {
        PlanStepKind::Action(a) => match a.as_ref() {
            Action::KubeletStop(n) => n.node.name().to_string(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn set_wins_over_the_environment_which_wins_over_the_default() {
    let load = |i: &Inputs| playbook::load_with(Path::new(VALID), i).unwrap();
    let plan = load(&inputs(&[], &[], None));
    assert_eq!(node_of_first_step(&plan), "kind-worker");
    assert_eq!(plan.name, "vars-on-kind");
    let env = [("CHAOS_VAR_WORKER", "env-worker")];
    let plan = load(&inputs(&[], &env, Some("other")));
    assert_eq!(node_of_first_step(&plan), "env-worker");
    assert_eq!(plan.name, "vars-on-other");
    let plan = load(&inputs(&[("worker", "set-worker")], &env, None));
    assert_eq!(node_of_first_step(&plan), "set-worker");
    let worker = plan.vars.iter().find(|v| v.name == "worker").unwrap();
    assert_eq!(worker.from, Source::Set);
}

#[test]
fn a_substituted_value_that_breaks_its_field_is_reported_at_the_scalar() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.yaml");
    std::fs::write(
        &p,
        "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: t\nvars: {n: 3}\nsteps:\n  - repeat:\n      times: ${vars.n}\n      steps: [sleep: 1s]\n",
    )
    .unwrap();
    if let Err(e) = playbook::load(&p) {
        panic!("{}", e.render(false));
    }
    let e = playbook::load_with(&p, &inputs(&[("n", "many")], &[], None)).unwrap_err();
    assert_eq!(e.diagnostics.len(), 1, "{}", e.render(false));
    let span = e.diagnostics[0].span.unwrap();
    assert_eq!(
        (span.start.line, span.start.col),
        (7, 14),
        "{}",
        e.render(false)
    );
}

fn render_invalid(file: &str, i: &Inputs) -> (String, usize) {
    match playbook::load_with(Path::new(file), i) {
        Ok(_) => panic!("{file} should be invalid"),
        Err(e) => (e.render(false), e.diagnostics.len()),
    }
}

#[test]
fn unknown_variables_and_an_unterminated_dollar_brace_are_errors_at_their_use() {
    let (text, n) = render_invalid("tests/fixtures/invalid/vars.yaml", &Inputs::default());
    assert_eq!(n, 3, "{text}");
    assert!(text.contains("did you mean `${vars.worker}`?"), "{text}");
    assert!(text.contains("did you mean `${vars.namespace}`?"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_set_of_an_undeclared_variable_is_an_error_with_did_you_mean() {
    let (text, n) = render_invalid(VALID, &inputs(&[("wroker", "x"), ("zzz", "y")], &[], None));
    assert_eq!(n, 2, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn for_on_a_step_without_an_undo_is_an_error() {
    let (text, n) = render_invalid(
        "tests/fixtures/invalid/for-without-undo.yaml",
        &Inputs::default(),
    );
    assert_eq!(n, 3, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn bad_shapes_of_the_new_keys_are_errors() {
    let (text, n) = render_invalid(
        "tests/fixtures/invalid/new-step-shapes.yaml",
        &Inputs::default(),
    );
    assert_eq!(n, 6, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_set_without_equals_is_a_usage_error() {
    let out = chaos_bin()
        .args(["validate", "--set", "worker", VALID])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected NAME=VALUE"), "{err}");
}

#[test]
fn dry_run_and_the_json_report_show_the_resolved_variables() {
    let out = chaos_bin()
        .args(["run", "--dry-run", "--set", "ns=chaos", VALID])
        .env("CHAOS_VAR_WORKER", "w9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("vars: ns=chaos (--set), worker=w9 (environment), replicas=3 (default)"),
        "{plan}"
    );

    let case = CliCase::new(
        "vars",
        "vars: {worker: kind-worker}\nsteps:\n  - node-pause: {node: \"${vars.worker}\"}\n    for: 1s\n",
        FAKE_KIND,
    );
    let json = case.path("r.json");
    let out = case
        .run(&[
            "--json",
            json.to_str().unwrap(),
            "--set",
            "worker=kind-worker2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let pb = &report["playbooks"][0];
    assert_eq!(pb["vars"]["worker"], "kind-worker2");
    assert_eq!(
        pb["steps"][0]["description"],
        "pause node container kind-worker2"
    );
}

#[test]
fn validate_with_cluster_reads_cluster_as_run_would() {
    // `${cluster}` lands in a number field: only a cluster named like a number makes it valid,
    // so the verdict shows which name was substituted (the playbook says `cluster: kind`, and
    // `--cluster` wins, as with `chaos run`).
    let case = CliCase::new(
        "validate-cluster",
        "steps:\n  - network-loss:\n      node: ${cluster}-worker\n      percent: ${cluster}\n",
        FAKE_KIND,
    );
    let file = case.path("p.yaml");
    let out = chaos_bin()
        .args(["validate", "--cluster", "30"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(": valid (1 steps)"),
        "{}",
        text(&out)
    );
    // Without it, `${cluster}` is the default `kind`, as `chaos run` would read it.
    let out = chaos_bin().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kind"), "{err}");
    assert!(err.contains("percent"), "{err}");
    // And a name kind refuses is a usage error before any playbook is read.
    let out = chaos_bin()
        .args(["validate", "--cluster", "Bad_Name"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid cluster name"),
        "{}",
        text(&out)
    );
}
