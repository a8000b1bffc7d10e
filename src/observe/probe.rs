//! Judging probes with no I/O: one sample of an HTTP or exec check against what came back,
//! and a probe's samples against its expectations (availability, longest outage, latency
//! percentiles). Pure, so the statistics are tested on hand-made samples, exactly. [`stats`]
//! adds up samples held whole (the reference); a running probe adds them up as they come in
//! bounded memory ([`Tally`]).

mod tally;

use std::time::Duration;

pub use tally::{KEEP, Latencies, TURNS, Tally};

use serde::{Deserialize, Serialize};

use super::{Verdict, secs};
use crate::backends::ExecOutput;
use crate::backends::http::HttpReply;
use crate::playbook::model::{
    ExecCheck, ExecTarget, HttpCheck, HttpTarget, ProbeCheck, ProbeExpect,
};
use crate::playbook::values::format_duration;

/// What a probe check claims, in words: `GET http://web:8080/ answers 200`.
pub fn words(c: &ProbeCheck) -> String {
    match c {
        ProbeCheck::Http(h) => http_words(h),
        ProbeCheck::Exec(x) => exec_words(x),
        ProbeCheck::Condition(c) => super::words::condition(c),
    }
}

fn http_words(h: &HttpCheck) -> String {
    let target = match &h.target {
        HttpTarget::Url(u) => u.clone(),
        HttpTarget::Node { node, port, path } => format!("http://{node}:{port}{path}"),
    };
    let codes: Vec<String> = h.status.iter().map(u16::to_string).collect();
    let mut s = format!(
        "{} {target} answers {}",
        h.method.as_str(),
        codes.join(" or ")
    );
    if let Some(b) = &h.body {
        s += &format!(" with a body matching `{b}`");
    }
    s
}

fn exec_words(x: &ExecCheck) -> String {
    let place = match &x.target {
        ExecTarget::Node(n) => n.to_string(),
        ExecTarget::Pod(p) => p.to_string(),
    };
    let mut s = format!("`{}` in {place} exits {}", x.command.join(" "), x.exit_code);
    if let Some(o) = &x.output {
        s += &format!(" with output matching `{o}`");
    }
    s
}

/// One HTTP sample: the reply, or why none came.
pub fn http(h: &HttpCheck, reply: Result<&HttpReply, &str>) -> Verdict {
    let expected = http_words(h);
    let reply = match reply {
        Ok(r) => r,
        Err(why) => return Verdict::new(false, expected, why),
    };
    if !h.status.contains(&reply.status) {
        return Verdict::new(false, expected, format!("status {}", reply.status));
    }
    let head = format!("status {}", reply.status);
    then_matching(expected, head, h.body.as_deref(), "body", &reply.body)
}

/// One exec sample: how the command ended.
pub fn exec(x: &ExecCheck, out: &ExecOutput) -> Verdict {
    let expected = exec_words(x);
    if out.exit_code != x.exit_code {
        let mut observed = format!("exit {}", out.exit_code);
        let err = out.stderr.trim();
        if !err.is_empty() {
            observed += &format!(": {}", excerpt(err));
        }
        return Verdict::new(false, expected, observed);
    }
    let head = format!("exit {}", out.exit_code);
    then_matching(expected, head, x.output.as_deref(), "output", &out.stdout)
}

/// The verdict of a sample whose `head` (`status 200`, `exit 0`) is as expected: it holds
/// unless there is a `pattern` and the `what` (`body`, `output`) does not match it.
fn then_matching(
    expected: String,
    head: String,
    pattern: Option<&str>,
    what: &str,
    text: &str,
) -> Verdict {
    match pattern {
        Some(p) if !matches(p, text) => {
            let observed = format!("{head}, {what} not matching: {}", excerpt(text));
            Verdict::new(false, expected, observed)
        }
        _ => Verdict::new(true, expected, head),
    }
}

/// Whether `text` matches, with `^` and `$` at every line's start and end (a body `ok\n`
/// matches `^ok$`). Patterns were compiled once at validation; one that does not compile here
/// matches nothing.
fn matches(pattern: &str, text: &str) -> bool {
    regex::RegexBuilder::new(pattern)
        .multi_line(true)
        .build()
        .is_ok_and(|r| r.is_match(text))
}

/// The start of a text, on one line, for a report.
fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// One sample of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSample {
    /// When the sample started, by the wall clock (RFC 3339, milliseconds).
    pub at: String,
    /// When it started, in seconds after the probe started.
    #[serde(serialize_with = "secs::ser", deserialize_with = "secs::de")]
    pub t: Duration,
    /// How long the sample took, in seconds.
    #[serde(serialize_with = "secs::ser", deserialize_with = "secs::de")]
    pub latency: Duration,
    pub ok: bool,
    /// What was seen (`status 200`, `connection refused`, a condition's observation).
    pub observed: String,
}

/// What a probe's samples add up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeStats {
    pub total: usize,
    pub ok: usize,
    /// ok / total, in per cent; none without samples.
    pub availability: Option<f64>,
    /// The longest run of failed samples, from the first failed sample's start to the next ok
    /// sample's start (to the probe's end if none came), in seconds.
    #[serde(serialize_with = "secs::ser", deserialize_with = "secs::de")]
    pub longest_outage: Duration,
    /// Whether the probe ended while failing (the last outage was cut off by the end).
    pub failing_at_end: bool,
    /// Latency percentiles of the ok samples, nearest rank, in seconds.
    pub latency: Percentiles,
    /// How many samples the report leaves out (the statistics count every one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub samples_left_out: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Latency percentiles; none without ok samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    #[serde(serialize_with = "secs::ser_opt", deserialize_with = "secs::de_opt")]
    pub p50: Option<Duration>,
    #[serde(serialize_with = "secs::ser_opt", deserialize_with = "secs::de_opt")]
    pub p90: Option<Duration>,
    #[serde(serialize_with = "secs::ser_opt", deserialize_with = "secs::de_opt")]
    pub p95: Option<Duration>,
    #[serde(serialize_with = "secs::ser_opt", deserialize_with = "secs::de_opt")]
    pub p99: Option<Duration>,
}

impl Percentiles {
    pub fn get(&self, p: u8) -> Option<Duration> {
        match p {
            50 => self.p50,
            90 => self.p90,
            95 => self.p95,
            99 => self.p99,
            _ => None,
        }
    }
}

/// The statistics of samples in start order; `end` is when the probe stopped (after its start).
pub fn stats(samples: &[ProbeSample], end: Duration) -> ProbeStats {
    let total = samples.len();
    let ok = samples.iter().filter(|s| s.ok).count();
    let mut longest = Duration::ZERO;
    let mut outage_start: Option<Duration> = None;
    for s in samples {
        match (s.ok, outage_start) {
            (false, None) => outage_start = Some(s.t),
            (true, Some(start)) => {
                longest = longest.max(s.t.saturating_sub(start));
                outage_start = None;
            }
            _ => {}
        }
    }
    if let Some(start) = outage_start {
        longest = longest.max(end.saturating_sub(start));
    }
    let mut latencies: Vec<Duration> = samples.iter().filter(|s| s.ok).map(|s| s.latency).collect();
    latencies.sort();
    ProbeStats {
        total,
        ok,
        availability: (total > 0).then(|| ok as f64 * 100.0 / total as f64),
        longest_outage: longest,
        failing_at_end: outage_start.is_some(),
        latency: Percentiles {
            p50: nearest_rank(&latencies, 50),
            p90: nearest_rank(&latencies, 90),
            p95: nearest_rank(&latencies, 95),
            p99: nearest_rank(&latencies, 99),
        },
        samples_left_out: 0,
    }
}

/// The nearest-rank percentile of sorted values: the value at rank ceil(p/100 * n).
pub fn nearest_rank(sorted: &[Duration], p: u8) -> Option<Duration> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (usize::from(p) * n).div_ceil(100).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// The samples against the expectations: every bound that is set must hold, and a probe
/// without samples holds nothing.
pub fn judge(expect: &ProbeExpect, s: &ProbeStats) -> Verdict {
    let mut expected = Vec::new();
    let mut observed = Vec::new();
    let mut holds = s.total > 0;
    if let Some(a) = expect.availability {
        expected.push(format!("availability at least {}", a.at_least));
        match s.availability {
            Some(v) => {
                holds &= v >= a.at_least.0;
                observed.push(format!(
                    "availability {} ({}/{})",
                    percent(v),
                    s.ok,
                    s.total
                ));
            }
            None => observed.push("no samples".into()),
        }
    }
    if let Some(o) = expect.longest_outage {
        expected.push(format!("longest outage at most {}", o.at_most));
        holds &= s.longest_outage <= o.at_most.0;
        let still = if s.failing_at_end {
            ", still failing at the end"
        } else {
            ""
        };
        observed.push(format!(
            "longest outage {}{still}",
            format_duration(s.longest_outage)
        ));
    }
    for (p, bound) in expect
        .latency
        .as_ref()
        .map(|l| l.bounds())
        .unwrap_or_default()
    {
        expected.push(format!("p{p} latency at most {}", format_duration(bound)));
        match s.latency.get(p) {
            Some(v) => {
                holds &= v <= bound;
                observed.push(format!("p{p} {}", format_duration(v)));
            }
            None => {
                holds = false;
                observed.push(format!("p{p}: no ok sample"));
            }
        }
    }
    if expected.is_empty() {
        expected.push("samples".into());
    }
    if s.total == 0 {
        observed = vec!["no samples".into()];
    }
    Verdict::new(holds, expected.join(", "), observed.join(", "))
}

/// `99.5%`, `100%`: at most two decimals, no trailing zeros.
fn percent(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

#[cfg(test)]
mod tests;
