//! Protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`), as
//! kubectl sends them for typed creates (`kubectl create namespace X`, `kubectl create
//! configmap X --from-literal=...`): the `k8s\0` magic, a `runtime.Unknown` envelope with
//! apiVersion and kind, and the object in upstream's protobuf encoding (k8s-pb's generated
//! types). Decoded for Namespaces and ConfigMaps; other kinds answer 415. Responses stay
//! JSON, which kubectl also accepts.
//!
//! Why it exists: without it those kubectl commands fail with "not valid JSON".

use base64::Engine;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prost::Message;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// Kubernetes' protobuf media type.
const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
/// The prefix of every protobuf-encoded object.
// Upstream: staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go,
// protoEncodingPrefix.
const MAGIC: &[u8] = b"k8s\0";

/// Whether a request body is protobuf.
pub(crate) fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim() == MEDIA_TYPE)
}

fn unsupported(what: String) -> ApiError {
    ApiError::new(415, "UnsupportedMediaType", what)
}

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("the protobuf request body does not decode: {e}"))
}

/// The object a protobuf body holds, as the JSON the rest of the server works with.
// Upstream: protobuf.go, (*Serializer).Decode (magic, runtime.Unknown, then the typed raw).
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let Some(envelope) = body.strip_prefix(MAGIC) else {
        return Err(bad("the body does not start with the k8s magic"));
    };
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(envelope).map_err(bad)?;
    let meta = unknown.type_meta.unwrap_or_default();
    let api_version = meta.api_version.unwrap_or_default();
    let kind = meta.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let mut obj = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => {
            let ns = k8s_pb::api::core::v1::Namespace::decode(raw.as_slice()).map_err(bad)?;
            let mut o = json!({ "metadata": metadata(ns.metadata.unwrap_or_default()) });
            if let Some(spec) = ns.spec
                && !spec.finalizers.is_empty()
            {
                o["spec"] = json!({ "finalizers": spec.finalizers });
            }
            o
        }
        ("v1", "ConfigMap") => {
            let cm = k8s_pb::api::core::v1::ConfigMap::decode(raw.as_slice()).map_err(bad)?;
            let mut o = json!({ "metadata": metadata(cm.metadata.unwrap_or_default()) });
            if !cm.data.is_empty() {
                o["data"] = json!(cm.data);
            }
            if !cm.binary_data.is_empty() {
                let b64 = base64::engine::general_purpose::STANDARD;
                let encoded: Map<String, Value> = cm
                    .binary_data
                    .into_iter()
                    .map(|(k, v)| (k, json!(b64.encode(v))))
                    .collect();
                o["binaryData"] = Value::Object(encoded);
            }
            if let Some(immutable) = cm.immutable {
                o["immutable"] = json!(immutable);
            }
            o
        }
        _ => {
            return Err(unsupported(format!(
                "the fake API server decodes protobuf bodies of v1 Namespaces and ConfigMaps only, not {api_version} {kind}; send JSON"
            )));
        }
    };
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

/// The client-settable part of ObjectMeta (the server sets or keeps the rest).
fn metadata(m: ObjectMeta) -> Value {
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.insert(k.into(), json!(v));
        }
    };
    put("name", m.name);
    put("generateName", m.generate_name);
    put("namespace", m.namespace);
    put("resourceVersion", m.resource_version);
    put("uid", m.uid);
    if !m.labels.is_empty() {
        out.insert("labels".into(), json!(m.labels));
    }
    if !m.annotations.is_empty() {
        out.insert("annotations".into(), json!(m.annotations));
    }
    if !m.finalizers.is_empty() {
        out.insert("finalizers".into(), json!(m.finalizers));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some("v1".into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(unknown.encode_to_vec());
        out
    }

    #[test]
    fn a_configmap_and_a_namespace_decode_to_their_json() {
        let cm = k8s_pb::api::core::v1::ConfigMap {
            metadata: Some(ObjectMeta {
                name: Some("cm".into()),
                labels: [("a".to_string(), "b".to_string())].into(),
                ..Default::default()
            }),
            data: [("k".to_string(), "v".to_string())].into(),
            binary_data: [("bin".to_string(), vec![0u8, 1])].into(),
            ..Default::default()
        };
        let got = decode(&envelope("ConfigMap", cm.encode_to_vec())).expect("decodes");
        assert_eq!(
            got,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "cm", "labels": { "a": "b" } },
                "data": { "k": "v" }, "binaryData": { "bin": "AAE=" },
            })
        );
        let ns = k8s_pb::api::core::v1::Namespace {
            metadata: Some(ObjectMeta {
                name: Some("x".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let got = decode(&envelope("Namespace", ns.encode_to_vec())).expect("decodes");
        assert_eq!(
            got,
            json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "x" } })
        );
    }

    #[test]
    fn other_kinds_and_garbage_are_refused() {
        assert_eq!(
            decode(&envelope("Pod", Vec::new())).map_err(|e| e.code),
            Err(415)
        );
        assert_eq!(decode(b"{}").map_err(|e| e.code), Err(400));
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(!is_protobuf("application/json"));
    }
}
