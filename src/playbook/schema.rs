//! The JSON Schema of the playbook format (`chaos schema`, committed as
//! schema/playbook.schema.json). schemars derives it from the model's types; this module adds
//! the document-level rules the parser checks that a derive cannot say: the header's constant
//! `apiVersion` and `kind`, `steps` required and not empty, and the cluster name's pattern. So an
//! editor or a CI validator (check-jsonschema) refuses what `chaos validate` refuses, and
//! tests/it/schema.rs holds the two to the same verdicts.
//!
//! Steps and conditions are serde's externally tagged enums, which schemars writes as a `oneOf`
//! of single-key objects; a validator then answers any mistake inside one with "not valid under
//! any of the given schemas". [`keyed`] rewrites such a `oneOf` as one object whose properties
//! are the keys, so a body is checked against the schema of the key it is under, and the error
//! names that key (`$.steps[0]['kubelet-stop']: 'node' is a required property`).

use schemars::Schema;
use serde_json::{Value, json};

use super::model::{API_VERSION, KIND};
use super::names::CLUSTER_NAME_MAX;

/// `impl JsonSchema for $ty`, named as the type, with the schema `$schema` (an expression,
/// mostly `json_schema!({...})`): for the values a hand-written `Deserialize` reads (a duration,
/// a count, a signal, a node target...), whose accepted forms no derive can tell.
macro_rules! by_hand {
    ($ty:ident, $schema:expr) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                $schema
            }
        }
    };
}

pub(crate) use by_hand;

/// The schema as `chaos schema` prints it.
pub fn json() -> String {
    let schema = schemars::schema_for!(super::model::Playbook);
    let mut value = schema.to_value();
    allow_interpolation(&mut value);
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// The name, under `$defs`, of "a string with `${...}` in it".
const INTERPOLATED: &str = "Interpolated";

/// Variables are substituted before the playbook's fields are read (vars.rs), so any scalar may
/// be written as a string naming one (`timeout: ${vars.hold}`, `count: ${vars.n}`): what it
/// becomes is checked by `chaos validate`, which knows the values; a schema validator, which
/// does not, accepts the `${...}` string in place of any constrained scalar. The header's
/// constants (`apiVersion`, `kind`) are not meant to vary and stay as they are.
fn allow_interpolation(schema: &mut Value) {
    let Some(root) = schema.as_object_mut() else {
        return;
    };
    if let Some(props) = root.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, sub) in props.iter_mut() {
            if !matches!(name.as_str(), "apiVersion" | "kind") {
                wrap_scalars(sub);
            }
        }
    }
    if let Some(defs) = root.get_mut("$defs").and_then(Value::as_object_mut) {
        for sub in defs.values_mut() {
            wrap_scalars(sub);
        }
        defs.insert(
            INTERPOLATED.into(),
            json!({
                "description": "A value written with a variable (`${vars.NAME}`, `${cluster}`), checked by `chaos validate` once substituted.",
                "type": "string",
                "pattern": "\\$\\{"
            }),
        );
    }
}

/// Wraps every scalar schema below `schema` that a `${...}` string would fail (a pattern, an
/// enum, a constant, or a type other than string) as `anyOf: [itself, Interpolated]`.
fn wrap_scalars(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for (key, sub) in obj.iter_mut() {
        match key.as_str() {
            // Keys are not substituted, and references are wrapped where they are defined.
            "propertyNames" | "$ref" => {}
            "properties" | "patternProperties" | "$defs" => {
                if let Some(m) = sub.as_object_mut() {
                    m.values_mut().for_each(wrap_scalars);
                }
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Some(a) = sub.as_array_mut() {
                    a.iter_mut().for_each(wrap_scalars);
                }
            }
            "items" | "additionalProperties" | "not" => wrap_scalars(sub),
            _ => {}
        }
    }
    if is_constrained_scalar(obj) {
        let inner = std::mem::take(obj);
        obj.insert(
            "anyOf".into(),
            json!([inner, {"$ref": format!("#/$defs/{INTERPOLATED}")}]),
        );
    }
}

/// A schema of a scalar that a string with `${` in it does not satisfy.
fn is_constrained_scalar(obj: &serde_json::Map<String, Value>) -> bool {
    let scalar = |t: &Value| {
        matches!(
            t.as_str(),
            Some("string" | "integer" | "number" | "boolean" | "null")
        )
    };
    let types: Vec<&Value> = match obj.get("type") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(t) => vec![t],
        None => Vec::new(),
    };
    if types.iter().any(|t| !scalar(t)) {
        return false;
    }
    let only_strings = !types.is_empty()
        && types
            .iter()
            .all(|t| matches!(t.as_str(), Some("string" | "null")));
    let constrained = obj.contains_key("pattern")
        || obj.contains_key("enum")
        || obj.contains_key("const")
        || obj.contains_key("format")
        || (!types.is_empty() && !only_strings);
    constrained && !obj.contains_key("properties")
}

/// A `#[schemars(transform)]` of the `Playbook` type: the rules `validate.rs` checks on the
/// document as a whole.
pub(crate) fn document_rules(schema: &mut Schema) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        if let Some(v) = props.get_mut("apiVersion").and_then(Value::as_object_mut) {
            v.insert("const".into(), json!(API_VERSION));
        }
        if let Some(v) = props.get_mut("kind").and_then(Value::as_object_mut) {
            v.insert("const".into(), json!(KIND));
        }
        // validate.rs: "the playbook has no steps".
        if let Some(v) = props.get_mut("steps").and_then(Value::as_object_mut) {
            v.remove("default");
            v.insert("minItems".into(), json!(1));
        }
        // names::check_cluster_name: kind's characters, a letter or digit first, at most 50.
        if let Some(v) = props.get_mut("cluster").and_then(Value::as_object_mut) {
            v.insert(
                "pattern".into(),
                json!(format!(
                    "^[a-z0-9][a-z0-9.-]{{0,{}}}$",
                    CLUSTER_NAME_MAX - 1
                )),
            );
        }
    }
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut)
        && !required.contains(&json!("steps"))
    {
        required.push(json!("steps"));
    }
}

/// A `#[schemars(transform)]` for an externally tagged enum: [`keyed`] with no other key.
pub(crate) fn keyed_alternatives(schema: &mut Schema) {
    keyed(schema, &[]);
}

/// Rewrites a `oneOf` of single-key objects as one object: every alternative's key is a
/// property with that alternative's body (and its description), `extra` (keys allowed beside
/// any of them, a step's `name` and `for`) is one more, `propertyNames` and `additionalProperties` refuse
/// any other key, and a `oneOf` of bare `required`s says exactly one alternative's key is there.
/// A schema that is not such a `oneOf` is left as it is.
pub(crate) fn keyed(schema: &mut Schema, extra: &[(&str, Value)]) {
    let Some(Value::Array(alternatives)) = schema.get("oneOf") else {
        return;
    };
    let mut properties = serde_json::Map::new();
    let mut one_key = Vec::new();
    for alternative in alternatives {
        let Some(Value::Object(props)) = alternative.get("properties") else {
            return;
        };
        let [(key, body)] = props.iter().collect::<Vec<_>>()[..] else {
            return;
        };
        let mut body = body.clone();
        if let (Some(d), Some(b)) = (alternative.get("description"), body.as_object_mut()) {
            b.entry("description").or_insert_with(|| d.clone());
        }
        one_key.push(json!({"required": [key]}));
        properties.insert(key.clone(), body);
    }
    for (key, body) in extra {
        properties.insert(key.to_string(), body.clone());
    }
    let keys: Vec<&String> = properties.keys().collect();
    let names = json!({"enum": keys});
    schema.insert("type".into(), json!("object"));
    schema.insert("propertyNames".into(), names);
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("additionalProperties".into(), json!(false));
    schema.insert("oneOf".into(), Value::Array(one_key));
}
