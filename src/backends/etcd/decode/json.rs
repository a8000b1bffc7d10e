//! From the tree of a decoded k8s-pb object to the JSON the API server would return for it.
//!
//! The walk follows the rules of Go's `encoding/json` on the API's Go types:
//!
//! - a field not set in the protobuf (`None`) is left out (`null` for the few Go pointers
//!   without `omitempty`);
//! - a set message is shown, even when empty (`emptyDir: {}`, `status: {}`), because Go shows
//!   non-pointer structs whatever `omitempty` says;
//! - a zero scalar (`false`, `0`, `""`) and an empty list or map are left out unless the Go
//!   field is a pointer or lacks `omitempty` ([`super::go_types`]); an empty list or map that
//!   is shown is `null`, as Go's nil slice is;
//! - the apimachinery types whose JSON is not their fields: `Time`/`MicroTime` as RFC 3339 (an
//!   empty message is Go's zero time: `null`, or left out for `metadata.creationTimestamp`,
//!   which is `omitzero` since Kubernetes 1.34), `Quantity` as its string, `IntOrString` as a
//!   number or a string, `RawExtension`, `FieldsV1` and apiextensions' `JSON` as the JSON they
//!   hold, the `JSONSchemaPropsOr*` unions as whichever side is set;
//! - bytes fields as base64; field names in the API's camelCase, embedded Go structs
//!   (`json:",inline"`) merged into their parent.
//!
//! Why a walk over prost's `Debug` tree ([`super::debug`]) and not a crate: k8s-pb has no serde
//! and no descriptor set, so neither serde nor prost-reflect can walk its types without
//! shipping Kubernetes' `.proto` files in this repository; converting to k8s-openapi types
//! would need a conversion for each of hundreds of types, and k8s-openapi's serializer would
//! still show `hostNetwork: false` (it only leaves out `None`) and could not write a zero time
//! as `null`. Neither crate knows which Go fields are pointers, so that table is needed
//! whatever walks the values.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value};

use super::debug::Node;
use super::go_types::{BYTES, INLINE, json_name, null_when_unset, shown_when_zero};

/// The JSON form of a decoded object (its type's fields; the caller adds apiVersion/kind).
pub(super) fn to_json(node: &Node) -> Result<Value, String> {
    match node {
        Node::Struct(ty, fields) => Ok(Value::Object(object(ty, fields))),
        _ => Err("the decoded object is not a message".into()),
    }
}

fn object(ty: &str, fields: &[(String, Node)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (f, v) in fields {
        let json = json_name(ty, f);
        match field(ty, f, &json, v) {
            Some(Value::Object(inner)) if INLINE.contains(&f.as_str()) => m.extend(inner),
            Some(v) => {
                m.insert(json, v);
            }
            None => {}
        }
    }
    m
}

/// Field `f` (JSON name `json`) of a message of type `ty`; `None` when the API leaves it out.
fn field(ty: &str, f: &str, json: &str, v: &Node) -> Option<Value> {
    let shown = shown_when_zero(ty, json);
    let bytes = BYTES.contains(&f);
    let inner = match v {
        Node::None => return null_when_unset(ty, json).then_some(Value::Null),
        Node::Some(inner) => &**inner,
        other => other,
    };
    match inner {
        Node::Struct(name, fields) => message(
            name,
            fields,
            ty == "ObjectMeta" && json == "creationTimestamp",
        ),
        Node::List(items) if items.is_empty() => shown.then_some(Value::Null),
        Node::List(items) if bytes => Some(bytes_value(items)),
        Node::List(items) => Some(Value::Array(items.iter().map(element).collect())),
        Node::Map(pairs) if pairs.is_empty() => shown.then_some(Value::Null),
        Node::Map(pairs) => Some(Value::Object(
            pairs
                .iter()
                .map(|(k, v)| {
                    let key = match element(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let value = match v {
                        Node::List(items) if bytes => bytes_value(items),
                        other => element(other),
                    };
                    (key, value)
                })
                .collect(),
        )),
        scalar => {
            let value = element(scalar);
            (shown || !is_zero(&value)).then_some(value)
        }
    }
}

/// A list item or map value: shown whatever its value (`""` in a list is an item).
fn element(node: &Node) -> Value {
    match node {
        Node::None => Value::Null,
        Node::Some(inner) => element(inner),
        Node::Struct(name, fields) => message(name, fields, false).unwrap_or(Value::Null),
        Node::Tuple(_, items) => match items.as_slice() {
            [one] => element(one),
            many => Value::Array(many.iter().map(element).collect()),
        },
        Node::List(items) => Value::Array(items.iter().map(element).collect()),
        Node::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        element(k).as_str().unwrap_or_default().to_string(),
                        element(v),
                    )
                })
                .collect(),
        ),
        Node::Str(s) | Node::Ident(s) => Value::String(s.clone()),
        Node::Num(n) => number(n),
        Node::Bool(b) => Value::Bool(*b),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// A message value; `omit_zero_time` for the one Time field tagged `omitzero`.
fn message(name: &str, fields: &[(String, Node)], omit_zero_time: bool) -> Option<Value> {
    let get = |f: &str| {
        fields
            .iter()
            .find(|(n, _)| n == f)
            .and_then(|(_, v)| match v {
                Node::Some(inner) => Some(&**inner),
                Node::None => None,
                other => Some(other),
            })
    };
    let int = |f: &str| match get(f) {
        Some(Node::Num(n)) => n.parse::<i64>().ok(),
        _ => None,
    };
    match name {
        "Time" | "MicroTime" => {
            let (secs, nanos) = (int("seconds"), int("nanos"));
            if secs.is_none() && nanos.is_none() {
                // An empty message: Go's zero time, which its JSON writes as null.
                return (!omit_zero_time).then_some(Value::Null);
            }
            let nanos = u32::try_from(nanos.unwrap_or(0)).unwrap_or(0);
            Some(Value::String(rfc3339(
                secs.unwrap_or(0),
                nanos,
                name == "MicroTime",
            )))
        }
        "Quantity" => Some(match get("string") {
            Some(Node::Str(s)) => Value::String(s.clone()),
            _ => Value::String("0".into()),
        }),
        "IntOrString" => Some(match (int("type"), get("str_val")) {
            (Some(1), Some(Node::Str(s))) => Value::String(s.clone()),
            _ => Value::Number(int("int_val").unwrap_or(0).into()),
        }),
        // apiextensions' JSONSchemaProps unions: one of their fields is the JSON value.
        "JsonSchemaPropsOrArray" | "JsonSchemaPropsOrBool" | "JsonSchemaPropsOrStringArray" => {
            let either = match get("schema") {
                Some(Node::Struct(n, f)) => message(n, f, false),
                _ => None,
            };
            Some(either.unwrap_or_else(|| {
                fields
                    .iter()
                    .find(|(n, _)| n != "schema")
                    .map_or(Value::Null, |(_, v)| element(v))
            }))
        }
        "RawExtension" | "FieldsV1" | "Json" => Some(match get("raw") {
            Some(Node::List(items)) => {
                let b = as_bytes(items).unwrap_or_default();
                serde_json::from_slice(&b).unwrap_or_else(|_| Value::String(STANDARD.encode(&b)))
            }
            _ => Value::Null,
        }),
        _ => Some(Value::Object(object(name, fields))),
    }
}

/// Go's RFC 3339 in UTC: seconds for `Time`, microseconds for `MicroTime`.
fn rfc3339(secs: i64, nanos: u32, micros: bool) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let frac = if micros {
        format!(".{:06}", nanos / 1000)
    } else {
        String::new()
    };
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}{frac}Z")
}

fn as_bytes(items: &[Node]) -> Option<Vec<u8>> {
    items
        .iter()
        .map(|i| match i {
            Node::Num(n) => n.parse::<u8>().ok(),
            _ => None,
        })
        .collect()
}

fn bytes_value(items: &[Node]) -> Value {
    match as_bytes(items) {
        Some(b) => Value::String(STANDARD.encode(b)),
        None => Value::Array(items.iter().map(element).collect()),
    }
}

fn number(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = n.parse::<u64>() {
        return Value::Number(u.into());
    }
    n.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or_else(|| Value::String(n.to_string()), Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::etcd::decode::debug::parse;

    fn json(text: &str) -> Value {
        to_json(&parse(text).unwrap()).unwrap()
    }

    #[test]
    fn times_are_rfc3339_and_zero_times_null() {
        assert_eq!(rfc3339(1_700_000_000, 0, false), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(0, 0, false), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-62_135_596_800, 0, false), "0001-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(951_782_400, 123_456_789, true),
            "2000-02-29T00:00:00.123456Z"
        );
        let v = json(
            "PodCondition { last_probe_time: Some(Time { seconds: None, nanos: None }), \
             last_transition_time: Some(Time { seconds: Some(0), nanos: Some(0) }) }",
        );
        assert_eq!(v["lastProbeTime"], Value::Null);
        assert_eq!(v["lastTransitionTime"], "1970-01-01T00:00:00Z");
        let v =
            json("ObjectMeta { creation_timestamp: Some(Time { seconds: None, nanos: None }) }");
        assert_eq!(v, serde_json::json!({}));
    }

    #[test]
    fn crd_schemas_take_their_json_form() {
        let text = r#"JsonSchemaProps { r#type: Some("object"), x_kubernetes_preserve_unknown_fields: Some(true), additional_properties: Some(JsonSchemaPropsOrBool { allows: Some(false), schema: None }), items: Some(JsonSchemaPropsOrArray { schema: Some(JsonSchemaProps { r#type: Some("string") }), j_son_schemas: [] }), default: Some(Json { raw: Some([123, 125]) }), nullable: Some(false) }"#;
        let expected = serde_json::json!({"type": "object",
            "x-kubernetes-preserve-unknown-fields": true, "additionalProperties": false,
            "items": {"type": "string"}, "default": {}});
        assert_eq!(json(text), expected);
    }

    #[test]
    fn unset_pointers_without_omitempty_are_null() {
        let v = json(
            r#"TypedLocalObjectReference { api_group: None, kind: Some("PersistentVolumeClaim"), name: Some("a") }"#,
        );
        let expected =
            serde_json::json!({"apiGroup": null, "kind": "PersistentVolumeClaim", "name": "a"});
        assert_eq!(v, expected);
        let v = json(r#"ObjectReference { api_version: None, kind: Some("Pod") }"#);
        assert_eq!(v, serde_json::json!({"kind": "Pod"}));
    }

    #[test]
    fn apimachinery_types_take_their_json_form() {
        let text = r#"X { port: Some(IntOrString { r#type: Some(1), int_val: Some(0), str_val: Some("http") }), n: Some(IntOrString { r#type: Some(0), int_val: Some(8080), str_val: Some("") }), cpu: Some(Quantity { string: Some("100m") }), data: {"k": [104, 105]}, raw: Some([123, 125]) }"#;
        let v = json(text);
        assert_eq!(v["port"], "http");
        assert_eq!(v["n"], 8080);
        assert_eq!(v["cpu"], "100m");
        assert_eq!(v["data"]["k"], "aGk=");
        assert_eq!(v["raw"], "e30=");
    }
}
