//! From a k8s-pb object to Kubernetes JSON, through its `Debug` text.
//!
//! k8s-pb's types have no serde support and prost has no reflection, but prost derives a
//! `Debug` that prints every field by name in a regular grammar (`Pod { metadata: Some(
//! ObjectMeta { name: Some("web"), .. }), .. }`). This module parses that text into a tree and
//! converts it to the JSON Kubernetes itself would show:
//!
//! - field names back to the API's camelCase (`pod_ip` -> `podIP`, `host_ips` -> `hostIPs`:
//!   k8s-pb snake-cased the proto names, and the API's initialisms are restored from a table
//!   made from every field name k8s-pb has);
//! - unset fields, empty strings, empty lists and maps left out (as the API's `omitempty`
//!   does); empty but set objects kept (`emptyDir: {}` means something);
//! - the apimachinery types that JSON shows differently: `Time`/`MicroTime` as RFC 3339,
//!   `Quantity` as its string, `IntOrString` as a number or a string, `RawExtension` and
//!   `FieldsV1` as the JSON they hold, bytes fields as base64.
//!
//! This relies on prost's `Debug` format; the unit tests pin it on a real object, so a change
//! in it shows up as a failing test, not as wrong output.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value};

/// A parsed `Debug` value.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    None,
    Some(Box<Node>),
    Struct(String, Vec<(String, Node)>),
    Tuple(String, Vec<Node>),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Str(String),
    Num(String),
    Bool(bool),
    Ident(String),
}

/// Converts the `Debug` text of a k8s-pb object to its JSON form.
pub fn to_json(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let node = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at byte {}", p.i));
    }
    Ok(convert(&node, None).unwrap_or(Value::Object(Map::new())))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Node, String> {
        match self.peek() {
            Some(b'"') => self.string().map(Node::Str),
            Some(b'[') => {
                self.i += 1;
                let items = self.seq(b']', Self::value)?;
                Ok(Node::List(items))
            }
            Some(b'{') => {
                self.i += 1;
                let pairs = self.seq(b'}', |p| {
                    let k = p.value()?;
                    p.eat(b':')?;
                    Ok((k, p.value()?))
                })?;
                Ok(Node::Map(pairs))
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => Ok(Node::Num(self.number())),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.named(),
            Some(c) => Err(format!("unexpected `{}` at byte {}", c as char, self.i)),
            None => Err("unexpected end".into()),
        }
    }

    /// Items separated by commas up to `close` (a trailing comma allowed).
    fn seq<T>(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let mut out = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(out);
            }
            out.push(item(self)?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => {
                    return Err(format!(
                        "expected `,` or `{}` at byte {}",
                        close as char, self.i
                    ));
                }
            }
        }
    }

    fn ident(&mut self) -> String {
        self.ws();
        let start = self.i;
        if self.s[self.i..].starts_with(b"r#") {
            self.i += 2;
        }
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        let raw = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        raw.trim_start_matches("r#").to_string()
    }

    fn named(&mut self) -> Result<Node, String> {
        let name = self.ident();
        if name.is_empty() {
            return Err(format!("expected a name at byte {}", self.i));
        }
        match (name.as_str(), self.peek()) {
            ("None", _) => Ok(Node::None),
            ("true", _) => Ok(Node::Bool(true)),
            ("false", _) => Ok(Node::Bool(false)),
            ("inf" | "NaN", _) => Ok(Node::Num(name)),
            ("Some", Some(b'(')) => {
                self.i += 1;
                let v = self.value()?;
                self.eat(b')')?;
                Ok(Node::Some(Box::new(v)))
            }
            (_, Some(b'(')) => {
                self.i += 1;
                Ok(Node::Tuple(name, self.seq(b')', Self::value)?))
            }
            (_, Some(b'{')) => {
                self.i += 1;
                let fields = self.seq(b'}', |p| {
                    let f = p.ident();
                    p.eat(b':')?;
                    Ok((f, p.value()?))
                })?;
                Ok(Node::Struct(name, fields))
            }
            _ => Ok(Node::Ident(name)),
        }
    }

    fn number(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = self.s.get(self.i).copied().ok_or("unterminated escape")?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'0' => out.push(0),
                        b'u' => {
                            // \u{XXXX}
                            self.eat(b'{')?;
                            let start = self.i;
                            while self.s.get(self.i).is_some_and(|c| *c != b'}') {
                                self.i += 1;
                            }
                            let hex = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                            self.eat(b'}')?;
                            let ch = u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| format!("bad escape \\u{{{hex}}}"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
        Err("unterminated string".into())
    }
}

/// Fields whose lists of numbers are bytes (shown as base64, as the API does).
const BYTES_FIELDS: &[&str] = &[
    "raw",
    "ca_bundle",
    "request",
    "certificate",
    "data",
    "binary_data",
];

/// Fields that are embedded structs in Go, so their fields show at the parent's level in JSON
/// (`volumes[].emptyDir`, not `volumes[].volumeSource.emptyDir`).
const INLINE_FIELDS: &[&str] = &[
    "volume_source",
    "persistent_volume_source",
    "handler",
    "ephemeral_container_common",
];

/// Converts a node; `None` for what JSON leaves out (unset, empty strings/lists/maps).
fn convert(node: &Node, field: Option<&str>) -> Option<Value> {
    let bytes_field = field.is_some_and(|f| BYTES_FIELDS.contains(&f));
    match node {
        Node::None => None,
        Node::Some(inner) => match &**inner {
            // A set message is kept even when empty (`emptyDir: {}`).
            s @ Node::Struct(..) => convert(s, field).or_else(|| Some(Value::Object(Map::new()))),
            other => convert(other, field),
        },
        Node::Str(s) if s.is_empty() => None,
        Node::Str(s) => Some(Value::String(s.clone())),
        Node::Bool(b) => Some(Value::Bool(*b)),
        Node::Num(n) => Some(number(n)),
        Node::Ident(i) => Some(Value::String(i.clone())),
        Node::List(items) if items.is_empty() => None,
        Node::List(items) if bytes_field => as_bytes(items).map(|b| bytes_value(&b, field)),
        Node::List(items) => Some(Value::Array(
            items
                .iter()
                .map(|i| match i {
                    Node::Str(s) => Value::String(s.clone()),
                    other => convert(other, None).unwrap_or(Value::Object(Map::new())),
                })
                .collect(),
        )),
        Node::Map(pairs) if pairs.is_empty() => None,
        Node::Map(pairs) => {
            let mut m = Map::new();
            for (k, v) in pairs {
                let key = match k {
                    Node::Str(s) => s.clone(),
                    other => convert(other, None)
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                };
                // Map values are kept even when empty: a label `a: ""` is a label.
                let value = match v {
                    Node::List(items) if bytes_field => as_bytes(items)
                        .map(|b| bytes_value(&b, None))
                        .unwrap_or(Value::String(String::new())),
                    Node::Str(s) => Value::String(s.clone()),
                    other => convert(other, None).unwrap_or(Value::Null),
                };
                m.insert(key, value);
            }
            Some(Value::Object(m))
        }
        Node::Tuple(_, items) => match items.as_slice() {
            [one] => convert(one, field),
            many => Some(Value::Array(
                many.iter().filter_map(|i| convert(i, None)).collect(),
            )),
        },
        Node::Struct(name, fields) => special(name, fields).or_else(|| {
            let mut m = Map::new();
            for (f, v) in fields {
                match convert(v, Some(f)) {
                    // Go embeds these structs (`json:",inline"`): their fields are the parent's.
                    Some(Value::Object(inner)) if INLINE_FIELDS.contains(&f.as_str()) => {
                        m.extend(inner);
                    }
                    Some(v) => {
                        m.insert(camel(f), v);
                    }
                    None => {}
                }
            }
            Some(Value::Object(m))
        }),
    }
}

/// The apimachinery types whose JSON form is not their fields.
fn special(name: &str, fields: &[(String, Node)]) -> Option<Value> {
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
            let secs = u64::try_from(int("seconds").unwrap_or(0)).ok()?;
            let nanos = u32::try_from(int("nanos").unwrap_or(0)).unwrap_or(0);
            let t = std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
            Some(Value::String(if name == "Time" {
                humantime::format_rfc3339_seconds(t).to_string()
            } else {
                humantime::format_rfc3339_micros(t).to_string()
            }))
        }
        "Quantity" => match get("string") {
            Some(Node::Str(s)) => Some(Value::String(s.clone())),
            _ => None,
        },
        "IntOrString" => match (int("type"), get("str_val")) {
            (Some(1), Some(Node::Str(s))) => Some(Value::String(s.clone())),
            _ => Some(Value::Number(int("int_val").unwrap_or(0).into())),
        },
        "RawExtension" | "FieldsV1" => match get("raw") {
            Some(Node::List(items)) => {
                let b = as_bytes(items)?;
                Some(serde_json::from_slice(&b).unwrap_or_else(|_| bytes_value(&b, None)))
            }
            _ => None,
        },
        _ => None,
    }
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

fn bytes_value(b: &[u8], _field: Option<&str>) -> Value {
    Value::String(STANDARD.encode(b))
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

/// prost's snake_case field name back to the API's camelCase, initialisms restored.
pub fn camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for (i, p) in field.split('_').filter(|p| !p.is_empty()).enumerate() {
        match p {
            _ if i == 0 => out.push_str(p),
            "ips" => out.push_str("IPs"),
            "cidrs" => out.push_str("CIDRs"),
            "ip" | "id" | "uid" | "cidr" | "uuid" | "uri" | "url" | "tls" | "pid" | "ipc"
            | "cpu" | "io" | "api" => out.push_str(&p.to_ascii_uppercase()),
            _ => {
                let mut cs = p.chars();
                if let Some(c) = cs.next() {
                    out.extend(c.to_uppercase());
                    out.push_str(cs.as_str());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_get_the_apis_spelling() {
        for (snake, api) in [
            ("pod_ip", "podIP"),
            ("host_ips", "hostIPs"),
            ("downward_api", "downwardAPI"),
            (
                "target_cpu_utilization_percentage",
                "targetCPUUtilizationPercentage",
            ),
            ("container_id", "containerID"),
            ("pod_cidrs", "podCIDRs"),
            ("generate_name", "generateName"),
            ("fields_v1", "fieldsV1"),
            ("uid", "uid"),
            ("host_pid", "hostPID"),
            ("insecure_skip_tls_verify", "insecureSkipTLSVerify"),
            (
                "termination_grace_period_seconds",
                "terminationGracePeriodSeconds",
            ),
        ] {
            assert_eq!(camel(snake), api);
        }
    }

    #[test]
    fn debug_text_becomes_json() {
        let text = r#"Pod { metadata: Some(ObjectMeta { name: Some("web"), generate_name: Some(""), labels: {"app": "x", "empty": ""}, creation_timestamp: Some(Time { seconds: Some(1700000000), nanos: Some(0) }) }), spec: Some(PodSpec { volumes: [Volume { name: Some("v"), volume_source: Some(VolumeSource { empty_dir: Some(EmptyDirVolumeSource { medium: Some(""), size_limit: None }) }) }], host_pid: Some(false), r#type: Some("a \"q\" \u{1b}") }) }"#;
        let v = to_json(text).unwrap();
        assert_eq!(v["metadata"]["name"], "web");
        assert!(v["metadata"].get("generateName").is_none());
        assert_eq!(v["metadata"]["labels"]["empty"], "");
        assert_eq!(v["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(v["spec"]["volumes"][0]["emptyDir"], serde_json::json!({}));
        assert_eq!(v["spec"]["hostPID"], false);
        assert_eq!(v["spec"]["type"], "a \"q\" \u{1b}");
    }

    #[test]
    fn apimachinery_types_take_their_json_form() {
        let text = r#"X { port: Some(IntOrString { r#type: Some(1), int_val: Some(0), str_val: Some("http") }), n: Some(IntOrString { r#type: Some(0), int_val: Some(8080), str_val: Some("") }), cpu: Some(Quantity { string: Some("100m") }), data: {"k": [104, 105]}, raw: Some([123, 125]) }"#;
        let v = to_json(text).unwrap();
        assert_eq!(v["port"], "http");
        assert_eq!(v["n"], 8080);
        assert_eq!(v["cpu"], "100m");
        assert_eq!(v["data"]["k"], "aGk=");
        assert_eq!(v["raw"], "e30=");
    }
}
