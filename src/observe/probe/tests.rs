//! The probe statistics on hand-made samples, and single samples against their checks.

use std::time::Duration;

use super::*;
use crate::playbook::model::{AtLeast, AtMost, HttpMethod, LatencyBounds, Percent};
use crate::playbook::values::Duration as D;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Samples one second apart from t=0, `ok` given by the pattern (`#` ok, `.` failed), each
/// taking `10ms * (i + 1)`.
fn samples(pattern: &str) -> Vec<ProbeSample> {
    pattern
        .chars()
        .enumerate()
        .map(|(i, c)| ProbeSample {
            at: String::new(),
            t: Duration::from_secs(i as u64),
            latency: ms(10 * (i as u64 + 1)),
            ok: c == '#',
            observed: String::new(),
        })
        .collect()
}

#[test]
fn availability_is_ok_over_total() {
    let s = stats(&samples("##..#####."), Duration::from_secs(10));
    assert_eq!((s.total, s.ok), (10, 7));
    assert_eq!(s.availability, Some(70.0));
}

#[test]
fn the_longest_outage_runs_from_the_first_failure_to_the_next_ok_sample() {
    // Failures at 2,3 (ok at 4: 2s) and 6,7,8 (ok at 9: 3s).
    let s = stats(&samples("##..##...#"), Duration::from_secs(10));
    assert_eq!(s.longest_outage, Duration::from_secs(3));
    assert!(!s.failing_at_end);
}

#[test]
fn an_outage_still_going_at_the_end_lasts_until_the_probe_stopped() {
    let s = stats(&samples("###.."), ms(5_500));
    assert_eq!(s.longest_outage, ms(2_500));
    assert!(s.failing_at_end);
}

#[test]
fn outages_use_the_sample_times_not_their_count() {
    let mut v = samples("#.#");
    v[1].t = ms(1_250);
    v[2].t = ms(4_750);
    assert_eq!(stats(&v, ms(5_000)).longest_outage, ms(3_500));
}

#[test]
fn percentiles_are_nearest_rank_over_ok_samples() {
    let sorted: Vec<Duration> = (1..=20).map(|i| ms(i * 10)).collect();
    assert_eq!(nearest_rank(&sorted, 50), Some(ms(100)));
    assert_eq!(nearest_rank(&sorted, 90), Some(ms(180)));
    assert_eq!(nearest_rank(&sorted, 95), Some(ms(190)));
    assert_eq!(nearest_rank(&sorted, 99), Some(ms(200)));
    assert_eq!(nearest_rank(&sorted[..1], 99), Some(ms(10)));
    assert_eq!(nearest_rank(&[], 50), None);
    // Failed samples do not count: the ok ones took 10, 20, 50ms.
    let s = stats(&samples("##..#"), Duration::from_secs(5));
    assert_eq!(s.latency.p50, Some(ms(20)));
    assert_eq!(s.latency.p99, Some(ms(50)));
}

fn expect(availability: f64, outage: u64, p95: Option<u64>) -> ProbeExpect {
    ProbeExpect {
        availability: Some(AtLeast {
            at_least: Percent(availability),
        }),
        longest_outage: Some(AtMost {
            at_most: D(Duration::from_secs(outage)),
        }),
        latency: p95.map(|p| LatencyBounds {
            p95: Some(AtMost { at_most: D(ms(p)) }),
            ..LatencyBounds::default()
        }),
    }
}

#[test]
fn the_verdict_says_every_bound_and_what_was_seen() {
    let s = stats(&samples("##..##...#"), Duration::from_secs(10));
    let v = judge(&expect(50.0, 3, Some(100)), &s);
    assert!(v.holds, "{v:?}");
    assert_eq!(
        v.expected,
        "availability at least 50%, longest outage at most 3s, p95 latency at most 100ms"
    );
    assert_eq!(
        v.observed,
        "availability 50% (5/10), longest outage 3s, p95 100ms"
    );
    assert!(!judge(&expect(60.0, 3, Some(100)), &s).holds);
    assert!(!judge(&expect(50.0, 2, Some(100)), &s).holds);
    assert!(!judge(&expect(50.0, 3, Some(99)), &s).holds);
}

#[test]
fn availability_below_the_bound_fails() {
    let s = stats(&samples("#########."), Duration::from_secs(10));
    assert!(!judge(&expect(99.0, 60, None), &s).holds);
    assert!(judge(&expect(90.0, 60, None), &s).holds);
}

#[test]
fn no_samples_never_pass() {
    let s = stats(&[], Duration::from_secs(1));
    let v = judge(&ProbeExpect::default(), &s);
    assert!(!v.holds);
    assert_eq!(v.observed, "no samples");
}

#[test]
fn a_latency_bound_without_ok_samples_fails() {
    let s = stats(&samples("..."), Duration::from_secs(3));
    let v = judge(
        &ProbeExpect {
            latency: Some(LatencyBounds {
                p50: Some(AtMost {
                    at_most: D(ms(100)),
                }),
                ..LatencyBounds::default()
            }),
            ..ProbeExpect::default()
        },
        &s,
    );
    assert!(!v.holds);
    assert_eq!(v.observed, "p50: no ok sample");
}

fn http_check(body: Option<&str>) -> HttpCheck {
    HttpCheck {
        target: HttpTarget::Node {
            node: "w".into(),
            port: 8080,
            path: "/".into(),
        },
        method: HttpMethod::Get,
        status: vec![200, 204],
        body: body.map(str::to_string),
        timeout: None,
    }
}

#[test]
fn an_http_sample_needs_an_expected_status_and_body() {
    let reply = |status, body: &str| HttpReply {
        status,
        body: body.into(),
    };
    let c = http_check(Some("^ok"));
    assert_eq!(
        http(&c, Ok(&reply(200, "ok\n"))),
        Verdict::new(
            true,
            "GET http://w:8080/ answers 200 or 204 with a body matching `^ok`",
            "status 200"
        )
    );
    assert_eq!(http(&c, Ok(&reply(503, "ok"))).observed, "status 503");
    // `^` and `$` match at line ends: a body with a trailing newline matches `^ok$`.
    assert!(http(&http_check(Some("^ok$")), Ok(&reply(200, "ok\n"))).holds);
    assert!(!http(&http_check(Some("^ok$")), Ok(&reply(200, "ok then\n"))).holds);
    assert_eq!(
        http(&c, Ok(&reply(200, "not  ok\n"))).observed,
        "status 200, body not matching: not ok"
    );
    let refused = http(&c, Err("connection refused"));
    assert!(!refused.holds);
    assert_eq!(refused.observed, "connection refused");
}

#[test]
fn an_exec_sample_needs_the_exit_code_and_output() {
    let c = ExecCheck {
        target: ExecTarget::Node("w".into()),
        command: vec!["cat".into(), "/ready".into()],
        exit_code: 0,
        output: Some("yes".into()),
        timeout: None,
    };
    let out = |code, stdout: &str| ExecOutput {
        exit_code: code,
        stdout: stdout.into(),
        stderr: "no such file".into(),
    };
    assert!(exec(&c, &out(0, "yes")).holds);
    assert_eq!(exec(&c, &out(1, "")).observed, "exit 1: no such file");
    assert_eq!(
        exec(&c, &out(0, "no")).observed,
        "exit 0, output not matching: no"
    );
    assert_eq!(
        words(&ProbeCheck::Exec(c)),
        "`cat /ready` in w exits 0 with output matching `yes`"
    );
}

#[test]
fn an_exec_in_a_pod_says_which_pod_and_container() {
    use crate::playbook::model::{PodExec, PodLookup};
    let c = |pod, container: Option<&str>| {
        ProbeCheck::Exec(ExecCheck {
            target: ExecTarget::Pod(PodExec {
                namespace: "lab".into(),
                pod,
                container: container.map(String::from),
            }),
            command: vec!["test".into(), "-e".into(), "/tmp/x".into()],
            exit_code: 0,
            output: None,
            timeout: None,
        })
    };
    assert_eq!(
        words(&c(PodLookup::Name("web".into()), None)),
        "`test -e /tmp/x` in pod lab/web exits 0"
    );
    assert_eq!(
        words(&c(PodLookup::Selector("app=web".into()), Some("side"))),
        "`test -e /tmp/x` in pod `app=web` in lab (container side) exits 0"
    );
}
