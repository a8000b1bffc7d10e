//! `chaos etcd get` shows a stored object as `kubectl get -o json` would.
//!
//! Each test encodes one object of a kind that a kind cluster stores the way the Go API server
//! writes it to etcd (`k8s\0`, a `runtime.Unknown` envelope, the object's protobuf with every
//! non-pointer field written even when zero, empty `Time` messages for zero times, nested
//! templates), renders it with the decoder and compares it with the JSON the API server
//! returns for that object, written out by hand. The objects are built with k8s-pb's prost
//! types: prost writes an optional field that is `Some(default)`, as Go writes a non-pointer
//! field.

use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use kind_chaos::backends::etcd::decode::{Format, render};
use prost::Message;
use serde_json::{Value, json};

#[path = "etcd_decode/cluster_kinds.rs"]
mod cluster_kinds;
#[path = "etcd_decode/controller_kinds.rs"]
mod controller_kinds;
#[path = "etcd_decode/rbac_kinds.rs"]
mod rbac_kinds;
#[path = "etcd_decode/workload_kinds.rs"]
mod workload_kinds;

/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;
pub const T0_JSON: &str = "2026-01-01T00:00:00Z";

/// The bytes the API server stores for `obj`.
pub fn stored<T: Message + k8s_pb::Resource>(obj: &T) -> Vec<u8> {
    stored_as(T::API_VERSION, T::KIND, obj)
}

/// The bytes the API server stores for `obj`, of `kind` in `api_version`.
pub fn stored_as(api_version: &str, kind: &str, obj: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(obj.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

/// A set time (Go writes seconds and nanos, zero or not).
pub fn time(secs: i64) -> Option<meta::Time> {
    Some(meta::Time {
        seconds: Some(secs),
        nanos: Some(0),
    })
}

/// Go's zero time: an empty message.
pub fn zero_time() -> Option<meta::Time> {
    Some(meta::Time::default())
}

/// Object metadata as Go writes it: every non-pointer field, `generation: 0` included, and
/// no resourceVersion (the API server clears it before writing to etcd).
pub fn meta(name: &str, namespace: &str, uid: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: Some(name.into()),
        generate_name: Some(String::new()),
        namespace: Some(namespace.into()),
        self_link: Some(String::new()),
        uid: Some(uid.into()),
        resource_version: Some(String::new()),
        generation: Some(0),
        creation_timestamp: time(T0),
        ..Default::default()
    })
}

/// What `chaos etcd get -o json` prints for the value, as JSON.
pub fn rendered(value: &[u8]) -> Value {
    let text = render(value, Format::Json);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Renders `value` and compares it with the API's JSON; the YAML form must carry the same
/// value (no invented times either).
pub fn assert_renders(value: &[u8], expected: Value) {
    let got = rendered(value);
    assert!(
        got == expected,
        "rendered:\n{}\nexpected:\n{}",
        serde_json::to_string_pretty(&got).unwrap(),
        serde_json::to_string_pretty(&expected).unwrap()
    );
    let yaml = render(value, Format::Yaml);
    assert!(!yaml.contains("1970"), "{yaml}");
    let from_yaml: Value = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}:\n{yaml}"));
    assert_eq!(from_yaml, got, "the YAML reads back as the JSON:\n{yaml}");
}

#[test]
fn an_unknown_kind_shows_its_envelope_and_says_why() {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some("example.com/v1".into()),
            kind: Some("Widget".into()),
        }),
        raw: Some(vec![0x0a, 0x02, b'h', b'i']),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut value = b"k8s\0".to_vec();
    value.extend(unknown.encode_to_vec());
    let got = rendered(&value);
    assert_eq!(got["apiVersion"], "example.com/v1");
    assert_eq!(got["kind"], "Widget");
    let why = got["undecoded"].as_str().unwrap();
    assert!(why.contains("does not know example.com/v1 Widget"), "{why}");
    assert!(got["raw"].as_str().unwrap().contains("\\n\\x02hi"), "{got}");
}

#[test]
fn a_json_custom_resource_is_shown_as_stored() {
    let value = br#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","creationTimestamp":null},"spec":{"size":0,"on":false}}"#;
    assert_eq!(
        render(value, Format::Json),
        format!("{}\n", String::from_utf8_lossy(value))
    );
    assert_eq!(
        render(value, Format::Yaml),
        format!("{}\n", String::from_utf8_lossy(value))
    );
}

#[test]
fn yaml_shows_zero_times_as_null() {
    let pod = k8s_pb::api::core::v1::Pod {
        metadata: meta("p", "default", "u-1"),
        spec: None,
        status: Some(k8s_pb::api::core::v1::PodStatus {
            conditions: vec![k8s_pb::api::core::v1::PodCondition {
                r#type: Some("Ready".into()),
                status: Some("True".into()),
                last_probe_time: zero_time(),
                last_transition_time: time(T0),
                reason: Some(String::new()),
                message: Some(String::new()),
                observed_generation: Some(0),
            }],
            ..Default::default()
        }),
    };
    let yaml = render(&stored(&pod), Format::Yaml);
    assert!(yaml.contains("lastProbeTime: null\n"), "{yaml}");
    let line = yaml
        .lines()
        .find(|l| l.contains("lastTransitionTime:"))
        .unwrap();
    assert!(line.contains(T0_JSON), "{yaml}");
    assert!(!yaml.contains("generation"), "{yaml}");
    let expected = json!({"type": "Ready", "status": "True", "lastProbeTime": null,
        "lastTransitionTime": T0_JSON});
    assert_eq!(rendered(&stored(&pod))["status"]["conditions"][0], expected);
}
