//! `-w json`: what `etcdctl -w json` prints, so scripts written for etcdctl read chaos's output
//! too: the response header (`cluster_id`, `member_id`, `revision`, `raft_term`), and `kvs[]`
//! with `key` and `value` base64 and `create_revision`, `mod_revision`, `version`, `lease`;
//! as etcdctl's encoder does, zero numbers and empty values are left out. `watch` writes one
//! line per event: `{"header": ..., "type": "PUT"|"DELETE", "kv": {...}}`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::backends::etcd::{Header, Kv, WatchEvent};

fn zero(n: &i64) -> bool {
    *n == 0
}

fn zero_u(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize)]
pub struct HeaderJson {
    #[serde(skip_serializing_if = "zero_u")]
    cluster_id: u64,
    #[serde(skip_serializing_if = "zero_u")]
    member_id: u64,
    #[serde(skip_serializing_if = "zero")]
    revision: i64,
    #[serde(skip_serializing_if = "zero_u")]
    raft_term: u64,
}

impl From<&Header> for HeaderJson {
    fn from(h: &Header) -> Self {
        HeaderJson {
            cluster_id: h.cluster_id,
            member_id: h.member_id,
            revision: h.revision,
            raft_term: h.raft_term,
        }
    }
}

#[derive(Serialize)]
pub struct KvJson {
    key: String,
    #[serde(skip_serializing_if = "zero")]
    create_revision: i64,
    #[serde(skip_serializing_if = "zero")]
    mod_revision: i64,
    #[serde(skip_serializing_if = "zero")]
    version: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    value: String,
    #[serde(skip_serializing_if = "zero")]
    lease: i64,
}

impl From<&Kv> for KvJson {
    fn from(kv: &Kv) -> Self {
        KvJson {
            key: STANDARD.encode(&kv.key),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            value: STANDARD.encode(&kv.value),
            lease: kv.lease,
        }
    }
}

/// etcdctl's answer to a range read.
#[derive(Serialize)]
pub struct RangeJson {
    header: HeaderJson,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kvs: Vec<KvJson>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    more: bool,
    #[serde(skip_serializing_if = "zero")]
    count: i64,
}

/// A `get` of one key, as `etcdctl get KEY -w json` prints it.
pub fn get(header: &Header, kv: Option<&Kv>) -> String {
    let range = RangeJson {
        header: header.into(),
        kvs: kv.into_iter().map(KvJson::from).collect(),
        more: false,
        count: i64::from(kv.is_some()),
    };
    serde_json::to_string(&range).unwrap_or_default()
}

/// The pieces of a streamed range answer: `ls` writes the opening with the first key, each
/// key, then the closing, so a listing of any size never sits in memory at once.
pub fn range_open(header: &Header) -> String {
    let header = serde_json::to_string(&HeaderJson::from(header)).unwrap_or_default();
    format!("{{\"header\":{header},\"kvs\":[")
}

/// One key of a streamed range answer.
pub fn kv(kv: &Kv) -> String {
    serde_json::to_string(&KvJson::from(kv)).unwrap_or_default()
}

/// The end of a streamed range answer (`opened`: whether any key was written).
pub fn range_close(header: &Header, opened: bool, more: bool, count: i64) -> String {
    let mut tail = String::new();
    if more {
        tail += ",\"more\":true";
    }
    if count != 0 {
        tail += &format!(",\"count\":{count}");
    }
    if opened {
        format!("]{tail}}}")
    } else {
        let header = serde_json::to_string(&HeaderJson::from(header)).unwrap_or_default();
        format!("{{\"header\":{header}{tail}}}")
    }
}

#[derive(Serialize)]
struct EventJson {
    header: HeaderJson,
    #[serde(rename = "type")]
    kind: &'static str,
    kv: KvJson,
}

/// One watch event on one line.
pub fn event(header: &Header, e: &WatchEvent) -> String {
    serde_json::to_string(&EventJson {
        header: header.into(),
        kind: if e.deleted { "DELETE" } else { "PUT" },
        kv: KvJson::from(&e.kv),
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> Header {
        Header {
            cluster_id: 14_841_639_068_965_178_418,
            member_id: 10_276_657_743_932_975_437,
            revision: 3,
            raft_term: 2,
        }
    }

    #[test]
    fn a_get_is_etcdctls_json_with_zeros_left_out() {
        let kv = Kv {
            key: b"foo".to_vec(),
            value: b"bar".to_vec(),
            create_revision: 2,
            mod_revision: 3,
            version: 2,
            lease: 0,
        };
        assert_eq!(
            get(&h(), Some(&kv)),
            r#"{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":3,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":3,"version":2,"value":"YmFy"}],"count":1}"#
        );
        assert_eq!(
            get(&h(), None),
            r#"{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":3,"raft_term":2}}"#
        );
    }

    #[test]
    fn a_streamed_range_is_one_json_document() {
        let kv1 = Kv {
            key: b"a".to_vec(),
            create_revision: 5,
            mod_revision: 5,
            version: 1,
            lease: 7_587_869_231_456_789,
            ..Kv::default()
        };
        let text = format!(
            "{}{},{}{}",
            range_open(&h()),
            kv(&kv1),
            kv(&kv1),
            range_close(&h(), true, true, 9)
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["kvs"][1]["lease"], 7_587_869_231_456_789_i64);
        assert_eq!(v["kvs"][0].get("value"), None);
        assert_eq!(v["more"], true);
        assert_eq!(v["count"], 9);
        let empty: serde_json::Value =
            serde_json::from_str(&range_close(&h(), false, false, 0)).unwrap();
        assert_eq!(empty["header"]["revision"], 3);
        assert_eq!(empty.get("kvs"), None);
    }
}
