//! Showing an etcd value to a person.
//!
//! The API server stores most objects as protobuf: the bytes `k8s\0`, then a
//! `runtime.Unknown` envelope holding the object's apiVersion, kind and the object's own
//! protobuf bytes. Those are decoded with k8s-pb into the typed object ([`kinds`]), read back
//! as a tree through prost's `Debug` ([`debug`]) and turned into the JSON the API server would
//! return for the object ([`json`], with the Go facts of [`go_types`]): what `kubectl get -o
//! json` shows, in YAML or JSON. Values
//! that are JSON already (custom resources, most non-Kubernetes data) are shown as they are;
//! anything else as escaped bytes (`\x00`, `\n`...), so a terminal never receives raw control
//! characters.

mod debug;
mod generated;
mod go_types;
mod json;
mod kinds;
pub mod yaml;

use prost::Message;
use serde_json::{Map, Value};

pub use kinds::known_kinds;

/// The magic prefix of the API server's protobuf encoding.
pub const K8S_MAGIC: &[u8] = b"k8s\0";

/// How to show a decoded object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

/// What a value turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A Kubernetes object in protobuf, decoded (`object` is its JSON form).
    Kubernetes {
        api_version: String,
        kind: String,
        object: Value,
    },
    /// A Kubernetes protobuf envelope whose kind this build does not know (or whose body does
    /// not decode): the envelope's type and why.
    KubernetesOpaque {
        api_version: String,
        kind: String,
        reason: String,
    },
    /// A JSON document (shown as stored).
    Json,
    /// Anything else.
    Bytes,
}

/// Classifies and decodes a value.
pub fn decode(value: &[u8]) -> Decoded {
    if let Some(body) = value.strip_prefix(K8S_MAGIC) {
        return decode_k8s(body);
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(value).is_ok() {
        return Decoded::Json;
    }
    Decoded::Bytes
}

fn decode_k8s(body: &[u8]) -> Decoded {
    let unknown = match k8s_pb::apimachinery::pkg::runtime::Unknown::decode(body) {
        Ok(u) => u,
        Err(e) => {
            return Decoded::KubernetesOpaque {
                api_version: String::new(),
                kind: String::new(),
                reason: format!("the envelope does not decode: {e}"),
            };
        }
    };
    let meta = unknown.type_meta.unwrap_or_default();
    let api_version = meta.api_version.unwrap_or_default();
    let kind = meta.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let opaque = |reason: String| Decoded::KubernetesOpaque {
        api_version: api_version.clone(),
        kind: kind.clone(),
        reason,
    };
    match kinds::debug_of(&api_version, &kind, &raw) {
        None => opaque(format!(
            "this build of chaos does not know {api_version} {kind}; its {} protobuf bytes are not decoded",
            raw.len()
        )),
        Some(Err(e)) => opaque(format!("the object does not decode as {kind}: {e}")),
        Some(Ok(text)) => match debug::parse(&text).and_then(|tree| json::to_json(&tree)) {
            Err(e) => opaque(format!("cannot convert the decoded {kind}: {e}")),
            Ok(body) => {
                let mut object = Map::new();
                object.insert("apiVersion".into(), Value::String(api_version.clone()));
                object.insert("kind".into(), Value::String(kind.clone()));
                if let Value::Object(fields) = body {
                    object.extend(fields);
                }
                Decoded::Kubernetes {
                    api_version,
                    kind,
                    object: Value::Object(object),
                }
            }
        },
    }
}

/// The text `chaos etcd get` prints for a value (always ending in a newline).
pub fn render(value: &[u8], format: Format) -> String {
    let mut out = match decode(value) {
        Decoded::Kubernetes { object, .. } => match format {
            Format::Yaml => yaml::to_yaml(&object),
            Format::Json => serde_json::to_string_pretty(&object).unwrap_or_default(),
        },
        Decoded::KubernetesOpaque {
            api_version,
            kind,
            reason,
        } => {
            let body = value.strip_prefix(K8S_MAGIC).unwrap_or(value);
            let mut o = Map::new();
            o.insert("apiVersion".into(), Value::String(api_version));
            o.insert("kind".into(), Value::String(kind));
            o.insert("undecoded".into(), Value::String(reason));
            o.insert("raw".into(), Value::String(escape(body)));
            let o = Value::Object(o);
            match format {
                Format::Yaml => yaml::to_yaml(&o),
                Format::Json => serde_json::to_string_pretty(&o).unwrap_or_default(),
            }
        }
        Decoded::Json => String::from_utf8_lossy(value).into_owned(),
        Decoded::Bytes => escape(value),
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Bytes as printable ASCII: `\n`, `\t`, `\"`, `\\`, `\xNN` for the rest (valid UTF-8 text
/// beyond ASCII is kept as it is).
pub fn escape(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for chunk in value.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii() {
                out.extend(std::ascii::escape_default(c as u8).map(char::from));
            } else if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_classified() {
        assert_eq!(decode(br#"{"a": 1}"#), Decoded::Json);
        assert_eq!(decode(b"hello\x00\xff"), Decoded::Bytes);
        assert_eq!(escape(b"a\n\x00\xff\"\xc3\xa9"), "a\\n\\x00\\xff\\\"\u{e9}");
    }

    #[test]
    fn a_garbled_envelope_is_reported_not_fatal() {
        let out = render(b"k8s\0\xff\xff\xff", Format::Yaml);
        assert!(out.contains("undecoded"), "{out}");
    }
}
