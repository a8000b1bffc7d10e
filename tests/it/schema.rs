//! The committed JSON Schema is the one the code generates, and it agrees with the parser: its
//! shape, and the verdicts of a JSON Schema validator from PyPI (check-jsonschema) over every
//! playbook and fixture against `chaos validate`'s.

use std::path::Path;

use kind_chaos::cli::schema_json;
use kind_chaos::playbook::model::{API_VERSION, KIND, PLAYBOOK_FIELDS, action_keys};

use crate::support::python::python3;

#[test]
fn the_committed_schema_is_current() {
    let committed = std::fs::read_to_string("schema/playbook.schema.json").unwrap();
    assert!(
        committed.trim_end() == schema_json().trim_end(),
        "schema/playbook.schema.json is stale: run `cargo run -- schema > schema/playbook.schema.json`"
    );
}

#[test]
fn the_schema_lists_exactly_the_top_level_fields_the_parser_accepts() {
    let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
    let mut props: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut fields = PLAYBOOK_FIELDS.to_vec();
    props.sort();
    fields.sort();
    assert_eq!(props, fields);
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn a_step_is_one_object_keyed_by_its_action() {
    let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
    let step = &schema["$defs"]["Step"];
    assert_eq!(step["additionalProperties"], false);
    let mut props: Vec<&str> = step["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = action_keys().to_vec();
    keys.extend(["name", "for"]);
    props.sort();
    keys.sort();
    assert_eq!(props, keys);
    assert_eq!(
        step["propertyNames"]["enum"].as_array().unwrap().len(),
        keys.len()
    );
    // Exactly one action key: one alternative per action, each requiring only its own key.
    let mut required: Vec<&str> = step["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alt| {
            assert_eq!(alt.as_object().unwrap().len(), 1, "{alt}");
            let r = alt["required"].as_array().unwrap();
            assert_eq!(r.len(), 1, "{alt}");
            r[0].as_str().unwrap()
        })
        .collect();
    required.sort();
    let mut actions = action_keys().to_vec();
    actions.sort();
    assert_eq!(required, actions);
}

#[test]
fn the_header_is_constant_and_steps_are_required() {
    let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
    assert_eq!(schema["properties"]["apiVersion"]["const"], API_VERSION);
    assert_eq!(schema["properties"]["kind"]["const"], KIND);
    assert_eq!(schema["properties"]["steps"]["minItems"], 1);
    let required = schema["required"].as_array().unwrap();
    for key in ["apiVersion", "kind", "name", "steps"] {
        assert!(required.contains(&key.into()), "{key} not required");
    }
}

/// Invalid fixtures whose problem only `chaos validate` can see: a JSON Schema judges one
/// document's shape, and these need the files a playbook names, a grammar, or a rule on values.
const ONLY_CHAOS_SEES: &[(&str, &str)] = &[
    (
        "tests/fixtures/invalid/apply-not-a-file.yaml",
        "reads the manifest paths (a device, a directory)",
    ),
    (
        "tests/fixtures/invalid/apply-secrets.yaml",
        "reads the manifests (a key, a shadow file, not UTF-8)",
    ),
    (
        "tests/fixtures/invalid/bad-manifest.yaml",
        "parses the manifests as Kubernetes objects",
    ),
    (
        "tests/fixtures/invalid/bad-probe-patterns.yaml",
        "compiles the probes' regular expressions",
    ),
    (
        "tests/fixtures/invalid/bad-selectors.yaml",
        "parses label selectors (their grammar)",
    ),
    (
        "tests/fixtures/invalid/durations-too-long.yaml",
        "bounds durations (the schema says their shape only)",
    ),
    (
        "tests/fixtures/invalid/etcd-delete-everything.yaml",
        "refuses deleting all of etcd or /registry/",
    ),
    (
        "tests/fixtures/invalid/for-without-undo.yaml",
        "knows which faults have an undo for `for` to end them",
    ),
    (
        "tests/fixtures/invalid/vars.yaml",
        "knows which variables exist and where `${` is left open",
    ),
];

/// Not given to the schema validator at all: its YAML reader expands the 10^9 nodes of the
/// aliases (it held 10 GB when stopped), which `chaos validate` refuses to do.
const NOT_FOR_THE_VALIDATOR: &[&str] = &["tests/fixtures/invalid/alias-bomb.yaml"];

fn yaml_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !NOT_FOR_THE_VALIDATOR.contains(&p.as_str()))
        .collect();
    files.sort();
    files
}

/// check-jsonschema's verdict per file, and its messages (`path: message`).
fn check_jsonschema(files: &[String]) -> std::collections::BTreeMap<String, Vec<String>> {
    let schema = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(schema.path(), schema_json()).unwrap();
    let mut args = vec!["-m", "check_jsonschema", "-o", "json", "--schemafile"];
    args.push(schema.path().to_str().unwrap());
    args.extend(files.iter().map(String::as_str));
    let out = python3("check_jsonschema", &args);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check-jsonschema: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut errors: std::collections::BTreeMap<String, Vec<String>> =
        files.iter().map(|f| (f.clone(), Vec::new())).collect();
    for key in ["errors", "parse_errors"] {
        for e in report[key].as_array().unwrap() {
            let file = e["filename"].as_str().unwrap().to_string();
            let path = e["path"].as_str().unwrap_or("(parse)");
            let line = format!("{path}: {}", e["message"].as_str().unwrap());
            errors.get_mut(&file).unwrap().push(line);
        }
    }
    errors
}

#[test]
fn a_json_schema_validator_from_pypi_agrees_with_chaos_validate() {
    let mut files = yaml_files("playbooks");
    files.extend(yaml_files("tests/fixtures/valid"));
    files.extend(yaml_files("tests/fixtures/invalid"));
    let schema_errors = check_jsonschema(&files);
    let mut disagree = Vec::new();
    for f in &files {
        let chaos_ok = kind_chaos::playbook::load(Path::new(f)).is_ok();
        let schema_ok = schema_errors[f].is_empty();
        assert_eq!(
            chaos_ok,
            !f.starts_with("tests/fixtures/invalid/"),
            "{f}: chaos validate's verdict is not its folder's"
        );
        if chaos_ok != schema_ok {
            assert!(
                !chaos_ok,
                "{f}: the schema refuses what chaos validate accepts: {:#?}",
                schema_errors[f]
            );
            disagree.push(f.as_str());
        }
    }
    let expected: Vec<&str> = ONLY_CHAOS_SEES.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        disagree, expected,
        "only these need more than the schema can say"
    );
    assert!(files.len() > 30, "{files:?}");
}

#[test]
fn the_validator_names_the_step_type_and_the_field_that_is_wrong() {
    let file = "tests/fixtures/invalid/step-bodies.yaml".to_string();
    let errors = check_jsonschema(std::slice::from_ref(&file))
        .remove(&file)
        .unwrap();
    let has = |want: &str| {
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "no error with {want:?} in {errors:#?}"
        )
    };
    has("$.steps[0]['kubelet-stop']: Additional properties are not allowed ('nod' was unexpected)");
    has("$.steps[0]['kubelet-stop']: 'node' is a required property");
    has("$.steps[1]['node-pause']: Additional properties are not allowed ('extra' was unexpected)");
    has("$.steps[3].assert.node.ready:");
}
