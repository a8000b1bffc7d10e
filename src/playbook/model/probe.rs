//! Probes: what a service feels while faults are in place. A probe is one check (an HTTP
//! request, a command in a node container or a pod, or any condition) that is sampled: once for each
//! item of `steady-state`, or in the background at an interval while the steps of a `probe:`
//! step's `during` run, with the samples judged afterwards (availability, longest outage,
//! latency percentiles). Apart from `actions.rs` only to keep that file short.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, de};

use super::super::de::Recover;
use super::super::values::Duration;
use super::conditions::Condition;
use super::probe_exec::ExecCheck;
use super::step::Step;
use super::target::NodeTarget;
use super::written::read_as_written;

/// One check a probe samples: exactly one of `http`, `exec` or `condition`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(transform = crate::playbook::schema::keyed_alternatives)]
pub enum ProbeCheck {
    /// An HTTP request; a sample is ok when the answer has an expected status (and body).
    Http(HttpCheck),
    /// A command in a node container or a pod; ok when it exits as expected (and prints the
    /// pattern).
    Exec(ExecCheck),
    /// Any condition of `assert`; ok when it holds.
    Condition(Condition),
}

impl ProbeCheck {
    /// The node the check reaches, when it names one (`http` to a node's address, `exec` in a
    /// node container): resolved once by the preflight, like a fault's node.
    pub fn node_target_mut(&mut self) -> Option<&mut NodeTarget> {
        match self {
            ProbeCheck::Http(HttpCheck {
                target: HttpTarget::Node { node, .. },
                ..
            }) => Some(node),
            ProbeCheck::Exec(x) => match &mut x.target {
                super::probe_exec::ExecTarget::Node(n) => Some(n),
                super::probe_exec::ExecTarget::Pod(_) => None,
            },
            ProbeCheck::Http(_) | ProbeCheck::Condition(_) => None,
        }
    }
}

/// `probe:`: samples a check in the background while the steps of `during` run, then judges
/// the samples. Faults inside `during` are undone like a group's.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeStep {
    /// What is sampled.
    pub check: ProbeCheck,
    /// Time between the starts of two samples (default 1s).
    pub interval: Option<Duration>,
    /// The steps the probe runs during.
    pub during: Vec<Recover<Step>>,
    /// What the samples must show (default: every sample ok).
    pub expect: Option<ProbeExpect>,
}

/// `probe:` as written: the check's key (`http`, `exec` or `condition`) sits beside
/// `interval`, `during` and `expect`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "ProbeStep", transform = one_check)]
struct ProbeStepWritten {
    /// Sample an HTTP request.
    #[serde(default)]
    http: Option<HttpCheck>,
    /// Sample a command in a node container or a pod.
    #[serde(default)]
    exec: Option<ExecCheck>,
    /// Sample a condition (the conditions of `assert`).
    #[serde(default)]
    condition: Option<Condition>,
    /// Time between the starts of two samples, like `1s` (default 1s).
    #[serde(default)]
    interval: Option<Duration>,
    /// The steps to probe during; they run like a group's steps.
    during: Vec<Recover<Step>>,
    /// What the samples must show (default: every sample ok).
    #[serde(default)]
    expect: Option<ProbeExpect>,
}

const PROBE_FIELDS: &[&str] = &["http", "exec", "condition", "interval", "during", "expect"];

/// The schema says what the parser checks: exactly one of the check keys.
fn one_check(schema: &mut Schema) {
    schema.insert(
        "oneOf".into(),
        serde_json::json!([
            {"required": ["http"]},
            {"required": ["exec"]},
            {"required": ["condition"]},
        ]),
    );
    // validate/steps.rs: "an empty probe".
    if let Some(d) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("during"))
        .and_then(|d| d.as_object_mut())
    {
        d.insert("minItems".into(), serde_json::json!(1));
    }
}

impl ProbeStepWritten {
    fn check(self) -> Result<ProbeStep, String> {
        let check = match (self.http, self.exec, self.condition) {
            (Some(h), None, None) => ProbeCheck::Http(h),
            (None, Some(x), None) => ProbeCheck::Exec(x),
            (None, None, Some(c)) => ProbeCheck::Condition(c),
            (None, None, None) => {
                return Err("a probe needs what to sample: `http`, `exec` or `condition`".into());
            }
            _ => {
                return Err(
                    "a probe samples one check: only one of `http`, `exec` or `condition`".into(),
                );
            }
        };
        Ok(ProbeStep {
            check,
            interval: self.interval,
            during: self.during,
            expect: self.expect,
        })
    }
}

read_as_written!(
    ProbeStep,
    ProbeStepWritten,
    PROBE_FIELDS,
    ProbeStepWritten::check
);

/// Where an HTTP probe sends its request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpTarget {
    /// A literal `http://` URL.
    Url(String),
    /// A node container's address on the `kind` network, a port and a path. The node is named
    /// as a fault names its node (by name, by role and `index` or `pick: random`, or
    /// `target-of` a named step), resolved once by the preflight.
    Node {
        node: NodeTarget,
        port: u16,
        path: String,
    },
}

/// An HTTP request a probe sends.
#[derive(Debug, Clone, Serialize)]
pub struct HttpCheck {
    pub target: HttpTarget,
    pub method: HttpMethod,
    /// Status codes that count as ok.
    pub status: Vec<u16>,
    /// A regular expression the body must match, if any.
    pub body: Option<String>,
    /// How long one request may take (default 2s).
    pub timeout: Option<Duration>,
}

/// An HTTP probe as written: `url`, or `node` and `port` (and `path`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "HttpCheck", transform = url_or_node)]
struct HttpCheckWritten {
    /// A literal URL, `http://HOST[:PORT]/PATH` (no `https`).
    #[serde(default)]
    url: Option<String>,
    /// A node container, reached at its address on the `kind` network (with `port`): a name,
    /// `{role: worker}` (with `index` or `pick: random`) or `{target-of: STEP}`, as a fault
    /// names its node.
    #[serde(default)]
    node: Option<NodeTarget>,
    /// The port on the node (a `hostPort`, a `NodePort` or `hostNetwork`).
    #[serde(default)]
    port: Option<u16>,
    /// The path on the node (default `/`).
    #[serde(default)]
    path: Option<String>,
    /// The method (default GET).
    #[serde(default)]
    method: Option<HttpMethod>,
    /// The status codes that count as ok (default `[200]`).
    #[serde(default)]
    status: Option<Vec<u16>>,
    /// A regular expression the body must match (Rust `regex` syntax).
    #[serde(default)]
    body: Option<String>,
    /// How long one request may take, like `2s` (default 2s).
    #[serde(default)]
    timeout: Option<Duration>,
}

const HTTP_FIELDS: &[&str] = &[
    "url", "node", "port", "path", "method", "status", "body", "timeout",
];

fn url_or_node(schema: &mut Schema) {
    schema.insert(
        "oneOf".into(),
        serde_json::json!([
            {"required": ["url"], "not": {"anyOf": [
                {"required": ["node"]}, {"required": ["port"]}, {"required": ["path"]}
            ]}},
            {"required": ["node", "port"], "not": {"required": ["url"]}},
        ]),
    );
    if let Some(p) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("url"))
        .and_then(|u| u.as_object_mut())
    {
        p.insert("pattern".into(), serde_json::json!("^http://[^/?#]+"));
    }
    if let Some(p) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("status"))
        .and_then(|u| u.as_object_mut())
    {
        p.insert("minItems".into(), serde_json::json!(1));
        p.insert(
            "items".into(),
            serde_json::json!({"type": "integer", "minimum": 100, "maximum": 599}),
        );
    }
}

impl HttpCheckWritten {
    fn check(self) -> Result<HttpCheck, String> {
        let target = match (self.url, self.node, self.port) {
            (Some(url), None, None) if self.path.is_none() => {
                check_url(&url)?;
                HttpTarget::Url(url)
            }
            (None, Some(node), Some(port)) => {
                let path = self.path.unwrap_or_else(|| "/".into());
                if !path.starts_with('/') {
                    return Err(format!("path `{path}` must start with `/`"));
                }
                HttpTarget::Node { node, port, path }
            }
            (None, Some(_), None) => return Err("`node` needs a `port`".into()),
            (None, None, Some(_)) => return Err("`port` needs a `node`".into()),
            (None, None, None) => {
                return Err("an HTTP probe needs `url`, or `node` and `port`".into());
            }
            _ => {
                return Err(
                    "an HTTP probe takes `url`, or `node`, `port` and `path`, not both".into(),
                );
            }
        };
        let status = self.status.unwrap_or_else(|| vec![200]);
        if status.is_empty() {
            return Err("`status` lists at least one status code".into());
        }
        if let Some(bad) = status.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(format!(
                "status {bad} is not an HTTP status code (100 to 599)"
            ));
        }
        check_answer(self.body.as_deref(), self.timeout)?;
        Ok(HttpCheck {
            target,
            method: self.method.unwrap_or_default(),
            status,
            body: self.body,
            timeout: self.timeout,
        })
    }
}

read_as_written!(
    HttpCheck,
    HttpCheckWritten,
    HTTP_FIELDS,
    HttpCheckWritten::check
);

/// Only plain `http://` with a host: the probe speaks HTTP/1.1 over TCP, nothing else.
fn check_url(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!(
            "URL `{url}` must start with `http://` (https is not supported)"
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("URL `{url}` has no host"));
    }
    Ok(())
}

/// What an HTTP and an exec check ask of their answer alike: the pattern it must match (the
/// body, the output) compiles, so a typo is found before the run, and the timeout, when given,
/// is more than zero.
pub(super) fn check_answer(pattern: Option<&str>, timeout: Option<Duration>) -> Result<(), String> {
    if let Some(p) = pattern {
        regex::RegexBuilder::new(p)
            .multi_line(true)
            .build()
            .map_err(|e| format!("invalid pattern `{p}`: {e}"))?;
    }
    if timeout.is_some_and(|t| t.0.is_zero()) {
        return Err("a probe timeout must be greater than zero".into());
    }
    Ok(())
}

/// An HTTP method a probe may send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Options => "OPTIONS",
        }
    }
}

/// What a probe's samples must show; each bound left out is not checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProbeExpect {
    /// The share of samples that were ok: `{at-least: 99%}`.
    #[serde(default)]
    pub availability: Option<AtLeast>,
    /// The longest outage (from the first failed sample to the next ok one): `{at-most: 10s}`.
    #[serde(default)]
    pub longest_outage: Option<AtMost>,
    /// Latency percentiles of the ok samples (nearest rank): `{p95: {at-most: 500ms}}`.
    #[serde(default)]
    pub latency: Option<LatencyBounds>,
}

/// A lower bound on a share.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AtLeast {
    pub at_least: Percent,
}

/// An upper bound on a duration.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AtMost {
    pub at_most: Duration,
}

/// Upper bounds on latency percentiles.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyBounds {
    #[serde(default)]
    pub p50: Option<AtMost>,
    #[serde(default)]
    pub p90: Option<AtMost>,
    #[serde(default)]
    pub p95: Option<AtMost>,
    #[serde(default)]
    pub p99: Option<AtMost>,
}

impl LatencyBounds {
    /// The bounds that are set, as (percentile, bound).
    pub fn bounds(&self) -> Vec<(u8, std::time::Duration)> {
        [
            (50, self.p50),
            (90, self.p90),
            (95, self.p95),
            (99, self.p99),
        ]
        .into_iter()
        .filter_map(|(p, b)| Some((p, b?.at_most.0)))
        .collect()
    }
}

/// A share written as a percentage, `99%` or `99.5%`, from 0% to 100%.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Parses `99%`, `99.9%`, `100%`.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let hint = "expected a percentage like `99%` or `99.5%`";
    let Some(number) = text.trim().strip_suffix('%') else {
        return Err(format!("invalid percentage `{text}`: {hint}"));
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = match number.split_once('.') {
        Some((a, b)) => digits(a) && digits(b),
        None => digits(number),
    };
    let value: f64 = match number.parse() {
        Ok(v) if ok => v,
        _ => return Err(format!("invalid percentage `{text}`: {hint}")),
    };
    if value > 100.0 {
        return Err(format!("invalid percentage `{text}`: at most 100%"));
    }
    Ok(value)
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_percent(&s).map(Percent).map_err(de::Error::custom)
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(100(\\.0+)?|[0-9]{1,2}(\\.[0-9]+)?)%$",
            "description": "A percentage from 0% to 100%, like `99%` or `99.5%`.",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_strictly() {
        assert_eq!(parse_percent("99%"), Ok(99.0));
        assert_eq!(parse_percent("99.5%"), Ok(99.5));
        assert_eq!(parse_percent("100%"), Ok(100.0));
        for bad in ["99", "%", "101%", "-1%", "1e2%", ".5%", "5.%", "nan%"] {
            assert!(parse_percent(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn urls_must_be_plain_http_with_a_host() {
        assert!(check_url("http://10.0.0.1:8080/").is_ok());
        assert!(check_url("http://web").is_ok());
        assert!(check_url("https://web/").is_err());
        assert!(check_url("http:///x").is_err());
        assert!(check_url("ftp://x").is_err());
    }
}
