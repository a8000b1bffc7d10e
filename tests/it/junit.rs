//! The JUnit report as CI reads it, parsed by junitparser (PyPI): case names that stay the same
//! when a timeout changes, `timestamp`/`file`/`line` attributes, a retained fault as a failure,
//! and an invalid playbook's errors in the JUnit file of a run that never started.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kind_chaos::backends::fake::FakeCluster;
use kind_chaos::engine::{self, RunOptions};
use kind_chaos::report::{human::Human, junit};
use tokio_util::sync::CancellationToken;

use crate::support::python::python3;
use crate::support::{HEADER, SharedBuf, chaos_in, plan, text};

/// Reads a JUnit file with junitparser: one JSON line per case with its suite's name,
/// timestamp and file, and its own classname, name, result, file and line.
const READ: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
for suite in JUnitXml.fromfile(sys.argv[1]):
    for case in suite:
        kinds = [type(r).__name__ + ":" + (r.type or "") for r in case.result]
        print(json.dumps([suite.name, suite.timestamp, suite._elem.get("file"), case.classname,
                          case.name, kinds, case._elem.get("file"), case._elem.get("line")]))
"#;

fn parse(xml: &str) -> Vec<serde_json::Value> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), xml).unwrap();
    let out = python3("junitparser", &["-c", READ, file.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn playbook(timeout: &str) -> String {
    format!(
        r#"{HEADER}
steps:
  - name: pause-worker
    node-pause: {{node: kind-worker}}
  - wait:
      until: {{kubelet: {{node: kind-worker, running: false}}}}
      timeout: {timeout}
  - node-cordon: {{node: kind-worker}}
"#
    )
}

async fn junit_of(yaml: &str, retain: bool) -> String {
    let opts = RunOptions {
        retain,
        clock: Arc::new(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
        ..RunOptions::default()
    };
    let mut human = Human::new(Box::new(SharedBuf::default()), false);
    let report = engine::run(
        &plan(yaml),
        Arc::new(FakeCluster::kind_like("kind")),
        &mut human,
        &CancellationToken::new(),
        &opts,
    )
    .await;
    junit::render(&[report]).unwrap()
}

#[tokio::test(start_paused = true)]
async fn case_names_stay_when_a_timeout_changes_and_cases_say_where_they_are() {
    let short = parse(&junit_of(&playbook("45s"), false).await);
    let long = parse(&junit_of(&playbook("90s"), false).await);
    assert_eq!(short, long, "a changed timeout changed the JUnit cases");
    let names: Vec<&str> = short.iter().map(|c| c[4].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["pause-worker", "steps[1] wait", "steps[2] node-cordon"],
        "{short:#?}"
    );
    for c in &short {
        assert_eq!(c[1], "2026-11-18T11:06:40Z", "suite timestamp: {c}");
        assert_eq!(c[2], "test.yaml", "suite file: {c}");
        assert_eq!(c[6], "test.yaml", "case file: {c}");
    }
    // The steps' lines in the playbook (HEADER is its first lines).
    let first = HEADER.lines().count() + 3;
    let lines: Vec<&str> = short.iter().map(|c| c[7].as_str().unwrap()).collect();
    let expected: Vec<String> = [first, first + 2, first + 5]
        .iter()
        .map(usize::to_string)
        .collect();
    assert_eq!(lines, expected, "{short:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_retained_fault_is_a_failure_not_skipped() {
    let cases = parse(&junit_of(&playbook("45s"), true).await);
    let undo: Vec<_> = cases.iter().filter(|c| c[4] == "undo steps[0]").collect();
    assert_eq!(undo.len(), 1, "{cases:#?}");
    assert_eq!(
        undo[0][5],
        serde_json::json!(["Failure:retained"]),
        "{cases:#?}"
    );
}

#[test]
fn an_invalid_playbook_still_writes_junit_with_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("junit.xml");
    let out = chaos_in(dir.path())
        .args(["run", "--junit"])
        .arg(&xml)
        .args([
            "tests/fixtures/invalid/many-errors.yaml",
            "tests/fixtures/valid/every-action.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let written = std::fs::read_to_string(&xml).unwrap();
    let cases = parse(&written);
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let case = &cases[0];
    assert_eq!(case[4], "valid playbook");
    assert_eq!(case[5], serde_json::json!(["Error:invalid-playbook"]));
    assert_eq!(case[6], "tests/fixtures/invalid/many-errors.yaml");
    assert_eq!(
        case[7], "4",
        "the first problem (`timeout: 5 minutes`): {case}"
    );
    assert!(written.contains("unknown field `nod`"), "{written}");
    assert!(
        written.contains("unknown step type `kubelet-stpo`"),
        "{written}"
    );
}
