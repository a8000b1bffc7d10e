//! The Job controller's rules, one test a rule, on the locked state without a server.

use serde_json::{Value, json};

use super::*;
use crate::semantics;
use crate::store::State;
use crate::util::set_at;

fn state() -> State {
    let mut st = State::new();
    let ns = st.reg.namespaces();
    semantics::create(
        &mut st,
        &ns,
        None,
        json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "default" } }),
    )
    .expect("namespace");
    st
}

fn job_body(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    let template = json!({
        "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "main", "image": "busybox" }],
        },
    });
    let s = util::obj_mut(&mut spec);
    s.entry("template").or_insert(template);
    json!({ "apiVersion": "batch/v1", "kind": "Job", "metadata": { "name": name }, "spec": spec })
}

fn create_job(st: &mut State, name: &str, spec: Value) -> Value {
    let jobs = st.reg.jobs();
    semantics::create(st, &jobs, Some("default"), job_body(name, spec)).expect("job created")
}

fn job(st: &State, name: &str) -> Value {
    st.get(&st.reg.jobs(), "default", name)
        .cloned()
        .expect("job exists")
}

fn pods(st: &State) -> Vec<Value> {
    st.list(&st.reg.pods(), Some("default"))
        .into_iter()
        .cloned()
        .collect()
}

/// Sets a pod's phase as its kubelet would, with a container finished `ago` seconds back.
fn finish(st: &mut State, name: &str, phase: &str, ago: i64) {
    let res = st.reg.pods();
    let old = st.get(&res, "default", name).cloned().expect("pod");
    let mut new = old.clone();
    set_at(&mut new, &["status", "phase"], json!(phase));
    let code = if phase == "Succeeded" { 0 } else { 1 };
    set_at(
        &mut new,
        &["status", "containerStatuses"],
        json!([{ "name": "main", "restartCount": 0, "state": { "terminated": {
            "exitCode": code, "finishedAt": util::now_plus(-ago) } } }]),
    );
    st.update(&res, &old, new);
}

/// Runs the controller until it changes nothing more.
fn settle(st: &mut State) {
    for _ in 0..20 {
        let before = st.rv;
        run(st);
        if st.rv == before {
            return;
        }
    }
}

fn condition_types(job: &Value) -> Vec<String> {
    job["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c["status"] == "True")
                .filter_map(|c| c["type"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn name(v: &Value) -> String {
    util::name_of(v).to_string()
}

#[test]
fn a_bare_job_gets_the_batch_defaults_and_a_generated_selector() {
    let mut st = state();
    let j = create_job(&mut st, "hello", json!({}));
    let uid = util::uid_of(&j).to_string();
    assert_eq!(j["spec"]["completions"], 1);
    assert_eq!(j["spec"]["parallelism"], 1);
    assert_eq!(j["spec"]["backoffLimit"], 6);
    assert_eq!(j["spec"]["completionMode"], "NonIndexed");
    assert_eq!(j["spec"]["suspend"], false);
    assert_eq!(j["spec"]["podReplacementPolicy"], "TerminatingOrFailed");
    assert_eq!(j["metadata"]["generation"], 1);
    assert_eq!(
        j["spec"]["selector"],
        json!({ "matchLabels": { "batch.kubernetes.io/controller-uid": uid } })
    );
    let labels = &j["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["batch.kubernetes.io/controller-uid"], uid);
    assert_eq!(labels["controller-uid"], uid);
    assert_eq!(labels["batch.kubernetes.io/job-name"], "hello");
    assert_eq!(labels["job-name"], "hello");
    // The Job's own labels are the template's when it has none.
    assert_eq!(j["metadata"]["labels"]["job-name"], "hello");
}

#[test]
fn parallelism_alone_leaves_completions_unset() {
    let mut st = state();
    let j = create_job(&mut st, "work-queue", json!({ "parallelism": 3 }));
    assert!(j["spec"]["completions"].is_null(), "{j}");
    assert_eq!(j["spec"]["parallelism"], 3);
}

#[test]
fn the_template_must_not_restart_always_and_counts_must_not_be_negative() {
    let mut st = state();
    let jobs = st.reg.jobs();
    let mut always = job_body("always", json!({}));
    always["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    let err = semantics::create(&mut st, &jobs, Some("default"), always).expect_err("refused");
    assert_eq!(err.code, 422);
    assert!(
        err.message.contains(
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
        ),
        "{}",
        err.message
    );
    let mut unset = job_body("unset", json!({}));
    util::remove_at(&mut unset["spec"]["template"]["spec"], &["restartPolicy"]);
    let err = semantics::create(&mut st, &jobs, Some("default"), unset).expect_err("refused");
    assert!(err.message.contains("Required value"), "{}", err.message);
    let mut odd = job_body("odd", json!({}));
    odd["spec"]["template"]["spec"]["restartPolicy"] = json!("Sometimes");
    let err = semantics::create(&mut st, &jobs, Some("default"), odd).expect_err("refused");
    assert!(
        err.message.contains("Unsupported value: \"Sometimes\""),
        "{}",
        err.message
    );
    let err = semantics::create(
        &mut st,
        &jobs,
        Some("default"),
        job_body("neg", json!({ "parallelism": -1 })),
    )
    .expect_err("refused");
    assert!(
        err.message
            .contains("spec.parallelism: Invalid value: -1: must be greater than or equal to 0"),
        "{}",
        err.message
    );
    for policy in ["Never", "OnFailure"] {
        let mut ok = job_body(&format!("ok-{}", policy.to_lowercase()), json!({}));
        ok["spec"]["template"]["spec"]["restartPolicy"] = json!(policy);
        semantics::create(&mut st, &jobs, Some("default"), ok).expect(policy);
    }
}

#[test]
fn the_selector_and_the_template_are_immutable() {
    let mut st = state();
    let old = create_job(&mut st, "fixed", json!({}));
    let jobs = st.reg.jobs();
    let mut new = old.clone();
    new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("alpine");
    let err = semantics::update(&mut st, &jobs, &old, new, semantics::Part::Main)
        .expect_err("template is immutable");
    assert!(
        err.message.contains("spec.template: Invalid value"),
        "{}",
        err.message
    );
    let mut new = old.clone();
    // Still matching the template's labels: only immutability refuses it.
    new["spec"]["selector"] = json!({ "matchLabels": { "job-name": "fixed" } });
    let err = semantics::update(&mut st, &jobs, &old, new, semantics::Part::Main)
        .expect_err("selector is immutable");
    assert!(err.message.contains("spec.selector"), "{}", err.message);
}

#[test]
fn pods_are_created_up_to_parallelism_with_labels_finalizer_and_a_controller_reference() {
    let mut st = state();
    let j = create_job(
        &mut st,
        "batch",
        json!({ "parallelism": 2, "completions": 3 }),
    );
    settle(&mut st);
    let ps = pods(&st);
    assert_eq!(ps.len(), 2, "{ps:?}");
    for p in &ps {
        assert!(name(p).starts_with("batch-"), "{}", name(p));
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"],
            util::uid_of(&j)
        );
        assert_eq!(p["metadata"]["labels"]["job-name"], "batch");
        assert_eq!(p["metadata"]["finalizers"], json!([TRACKING_FINALIZER]));
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "Job");
        assert_eq!(owner["uid"], util::uid_of(&j));
        assert_eq!(owner["controller"], true);
        assert_eq!(owner["blockOwnerDeletion"], true);
    }
    let j = job(&st, "batch");
    assert_eq!(j["status"]["active"], 2);
    assert_eq!(j["status"]["ready"], 0);
    assert!(j["status"]["startTime"].is_string());
    assert!(j["status"]["completionTime"].is_null());
    // One succeeds: counted, its finalizer goes, and only one more is needed (3 - 1 = 2
    // active at most, one still runs).
    finish(&mut st, &name(&ps[0]), "Succeeded", 0);
    settle(&mut st);
    let j = job(&st, "batch");
    assert_eq!(j["status"]["succeeded"], 1);
    assert_eq!(j["status"]["active"], 2);
    let done = st
        .get(&st.reg.pods(), "default", &name(&ps[0]))
        .cloned()
        .expect("pod kept");
    assert!(util::finalizers(&done).is_empty(), "{done}");
    assert_eq!(pods(&st).len(), 3);
}

#[test]
fn a_job_completes_with_success_criteria_met_then_complete() {
    let mut st = state();
    create_job(&mut st, "once", json!({}));
    settle(&mut st);
    let pod = name(&pods(&st)[0]);
    finish(&mut st, &pod, "Succeeded", 0);
    settle(&mut st);
    let j = job(&st, "once");
    assert_eq!(condition_types(&j), ["SuccessCriteriaMet", "Complete"]);
    for c in j["status"]["conditions"].as_array().expect("conditions") {
        assert_eq!(c["reason"], "CompletionsReached");
        assert_eq!(c["message"], "Reached expected number of succeeded pods");
    }
    assert_eq!(j["status"]["succeeded"], 1);
    assert_eq!(j["status"]["active"], 0);
    assert!(j["status"]["completionTime"].is_string());
    assert_eq!(pods(&st).len(), 1, "no pod after completion");
    let events: Vec<Value> = st
        .list(&st.reg.events(), Some("default"))
        .into_iter()
        .filter(|e| e["involvedObject"]["kind"] == "Job")
        .cloned()
        .collect();
    let mut reasons: Vec<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    reasons.sort();
    assert_eq!(reasons, ["Completed", "SuccessfulCreate"]);
}

#[test]
fn the_terminal_condition_waits_for_terminating_pods() {
    let mut st = state();
    create_job(
        &mut st,
        "race",
        json!({ "parallelism": 2, "completions": 1 }),
    );
    settle(&mut st);
    let ps = pods(&st);
    assert_eq!(ps.len(), 1, "completions 1 caps active at 1");
    // A second pod of the Job, still being deleted (e.g. a surplus one).
    let res = st.reg.pods();
    let mut extra = ps[0].clone();
    util::remove_at(&mut extra["metadata"], &["resourceVersion"]);
    extra["metadata"]["name"] = json!("race-extra");
    extra["metadata"]["uid"] = json!("extra-uid");
    extra["metadata"]["deletionTimestamp"] = json!(util::now());
    extra["metadata"]["finalizers"] = json!(["example.com/hold"]);
    extra["status"] = json!({ "phase": "Running" });
    st.create(&res, extra);
    finish(&mut st, &name(&ps[0]), "Succeeded", 0);
    settle(&mut st);
    let j = job(&st, "race");
    assert_eq!(condition_types(&j), ["SuccessCriteriaMet"], "{j}");
    assert_eq!(j["status"]["terminating"], 1);
    st.remove(&res, "default", "race-extra");
    settle(&mut st);
    let j = job(&st, "race");
    assert_eq!(condition_types(&j), ["SuccessCriteriaMet", "Complete"]);
    assert_eq!(j["status"]["terminating"], 0);
}

#[test]
fn failures_past_the_backoff_limit_fail_the_job_and_delete_its_active_pods() {
    let mut st = state();
    create_job(
        &mut st,
        "doomed",
        json!({ "parallelism": 2, "completions": 2, "backoffLimit": 0 }),
    );
    settle(&mut st);
    let ps = pods(&st);
    assert_eq!(ps.len(), 2);
    // Bound to a node, so its delete waits for the kubelet (grace period).
    let res = st.reg.pods();
    let mut bound = ps[1].clone();
    set_at(&mut bound, &["spec", "nodeName"], json!("kind-worker"));
    st.update(&res, &ps[1], bound);
    finish(&mut st, &name(&ps[0]), "Failed", 0);
    settle(&mut st);
    let j = job(&st, "doomed");
    assert_eq!(j["status"]["failed"], 1);
    let other = st
        .get(&st.reg.pods(), "default", &name(&ps[1]))
        .cloned()
        .expect("other pod");
    assert!(
        util::is_terminating(&other),
        "the active pod is deleted: {other}"
    );
    // While it terminates the Job only has FailureTarget.
    assert_eq!(condition_types(&j), ["FailureTarget"], "{j}");
    let reason = &j["status"]["conditions"][0];
    assert_eq!(reason["reason"], "BackoffLimitExceeded");
    assert_eq!(
        reason["message"],
        "Job has reached the specified backoff limit"
    );
    st.remove(&st.reg.pods(), "default", &name(&ps[1]));
    settle(&mut st);
    let j = job(&st, "doomed");
    assert_eq!(condition_types(&j), ["FailureTarget", "Failed"]);
    assert!(j["status"]["completionTime"].is_null());
}

#[test]
fn a_failed_pod_is_replaced_only_after_the_back_off() {
    let mut st = state();
    create_job(&mut st, "retry", json!({}));
    settle(&mut st);
    let first = name(&pods(&st)[0]);
    finish(&mut st, &first, "Failed", 0);
    settle(&mut st);
    assert_eq!(
        pods(&st).len(),
        1,
        "no replacement within 10 s of the failure"
    );
    assert_eq!(job(&st, "retry")["status"]["failed"], 1);
    assert_eq!(job(&st, "retry")["status"]["active"], 0);
    // The same failure, 11 s ago: the back-off is over.
    finish(&mut st, &first, "Failed", 11);
    settle(&mut st);
    assert_eq!(pods(&st).len(), 2, "replaced after the back-off");
    assert_eq!(job(&st, "retry")["status"]["failed"], 1, "counted once");
}

#[test]
fn the_back_off_doubles_per_failure_up_to_ten_minutes() {
    let j = json!({ "spec": {} });
    let failed = |ago: i64| {
        json!({ "status": { "phase": "Failed", "containerStatuses": [{ "state": { "terminated": {
            "finishedAt": util::now_plus(-ago) } } }] } })
    };
    let now = now_secs();
    assert_eq!(backoff_remaining(&[], &j, now), 0);
    let one = backoff_remaining(&[failed(0)], &j, now);
    assert!((9..=10).contains(&one), "{one}");
    let three = backoff_remaining(&[failed(100), failed(50), failed(0)], &j, now);
    assert!((39..=40).contains(&three), "10 s * 2^2: {three}");
    let many: Vec<Value> = (0..12).map(failed).collect();
    let capped = backoff_remaining(&many, &j, now);
    assert!((599..=600).contains(&capped), "{capped}");
}

#[test]
fn on_failure_container_restarts_count_against_the_backoff_limit() {
    let mut st = state();
    let mut body = job_body("restarts", json!({ "backoffLimit": 2 }));
    body["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    let jobs = st.reg.jobs();
    semantics::create(&mut st, &jobs, Some("default"), body).expect("job");
    settle(&mut st);
    let res = st.reg.pods();
    let old = pods(&st)[0].clone();
    let mut new = old.clone();
    set_at(&mut new, &["status", "phase"], json!("Running"));
    set_at(
        &mut new,
        &["status", "containerStatuses"],
        json!([{ "name": "main", "restartCount": 2, "state": { "running": {} } }]),
    );
    st.update(&res, &old, new);
    settle(&mut st);
    let j = job(&st, "restarts");
    assert!(
        condition_types(&j).contains(&"FailureTarget".to_string()),
        "{j}"
    );
}

#[test]
fn pods_of_a_deleted_job_lose_the_tracking_finalizer() {
    let mut st = state();
    create_job(&mut st, "gone", json!({}));
    settle(&mut st);
    let pod = name(&pods(&st)[0]);
    st.remove(&st.reg.jobs(), "default", "gone");
    settle(&mut st);
    let p = st
        .get(&st.reg.pods(), "default", &pod)
        .cloned()
        .expect("pod");
    assert!(util::finalizers(&p).is_empty(), "{p}");
}

#[test]
fn a_job_deleted_without_a_policy_orphans_its_pods() {
    let mut st = state();
    create_job(&mut st, "keep", json!({}));
    settle(&mut st);
    let jobs = st.reg.jobs();
    semantics::delete(&mut st, &jobs, "default", "keep", &DeleteOpts::default()).expect("delete");
    let j = job(&st, "keep");
    assert_eq!(util::finalizers(&j), ["orphan"], "{j}");
}
