//! The committed JSON Schema is the one the code generates, and it agrees with the parser.

use kind_chaos::cli::schema_json;
use kind_chaos::playbook::model::PLAYBOOK_FIELDS;

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
fn every_step_variant_forbids_unknown_keys_and_allows_a_name() {
    let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
    let variants = schema["$defs"]["Step"]["oneOf"].as_array().unwrap();
    assert_eq!(variants.len(), 26);
    for v in variants {
        assert_eq!(v["additionalProperties"], false, "{v}");
        assert!(v["properties"]["name"].is_object(), "{v}");
        assert_eq!(v["required"].as_array().unwrap().len(), 1, "{v}");
    }
}
