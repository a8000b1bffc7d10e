//! The STATUS, COMPLETIONS and DURATION cells of `kubectl get jobs`.
//!
//! Why it exists: `kubectl wait` and the lab read a Job's conditions, but a person reads
//! `kubectl get jobs`; its cells must say what upstream's printer says for the same status.

use std::time::SystemTime;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::printers::human_duration;
use crate::util::{at, str_at};

fn time_at(o: &Value, field: &str) -> Option<i64> {
    str_at(o, &["status", field])
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(|t| t.unix_timestamp())
}

fn is_true(o: &Value, kind: &str) -> bool {
    at(o, &["status", "conditions"])
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == kind && c["status"] == "True")
        })
}

/// STATUS, COMPLETIONS and DURATION of a Job.
// Upstream: pkg/printers/internalversion/printers.go, printJob: Complete, Failed,
// Terminating, Suspended, FailureTarget, SuccessCriteriaMet, else Running;
// `succeeded/completions`, or `succeeded/1 of parallelism` without completions;
// completionTime - startTime once complete, else the time since startTime.
pub(super) fn job_cells(o: &Value, now: SystemTime) -> Vec<Value> {
    let status = if is_true(o, "Complete") {
        "Complete"
    } else if is_true(o, "Failed") {
        "Failed"
    } else if at(o, &["metadata", "deletionTimestamp"]).is_some_and(|t| !t.is_null()) {
        "Terminating"
    } else if is_true(o, "Suspended") {
        "Suspended"
    } else if is_true(o, "FailureTarget") {
        "FailureTarget"
    } else if is_true(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let n = |p: &[&str]| at(o, p).and_then(Value::as_i64);
    let succeeded = n(&["status", "succeeded"]).unwrap_or(0);
    let completions = match (n(&["spec", "completions"]), n(&["spec", "parallelism"])) {
        (Some(c), _) => format!("{succeeded}/{c}"),
        (None, Some(p)) if p > 1 => format!("{succeeded}/1 of {p}"),
        _ => format!("{succeeded}/1"),
    };
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let duration = match (time_at(o, "startTime"), time_at(o, "completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    vec![json!(status), json!(completions), json!(duration)]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cells(o: Value, now_secs: u64) -> Vec<Value> {
        job_cells(&o, SystemTime::UNIX_EPOCH + Duration::from_secs(now_secs))
    }

    #[test]
    fn a_running_job_shows_its_count_and_the_time_since_it_started() {
        let o = json!({
            "spec": { "completions": 3, "parallelism": 2 },
            "status": { "succeeded": 1, "startTime": "1970-01-01T00:00:00Z" },
        });
        assert_eq!(cells(o, 75), [json!("Running"), json!("1/3"), json!("75s")]);
    }

    #[test]
    fn a_complete_job_shows_how_long_it_took() {
        let o = json!({
            "spec": { "completions": 1, "parallelism": 1 },
            "status": {
                "succeeded": 1, "startTime": "1970-01-01T00:00:00Z",
                "completionTime": "1970-01-01T00:00:07Z",
                "conditions": [
                    { "type": "SuccessCriteriaMet", "status": "True" },
                    { "type": "Complete", "status": "True" },
                ],
            },
        });
        assert_eq!(
            cells(o, 9000),
            [json!("Complete"), json!("1/1"), json!("7s")]
        );
    }

    #[test]
    fn interim_conditions_and_work_queues_read_as_upstream_prints_them() {
        let o = json!({
            "spec": { "parallelism": 3 },
            "status": { "conditions": [{ "type": "FailureTarget", "status": "True" }] },
        });
        assert_eq!(
            cells(o, 0),
            [json!("FailureTarget"), json!("0/1 of 3"), json!("")]
        );
        let o = json!({
            "spec": { "completions": 2 },
            "status": { "conditions": [{ "type": "SuccessCriteriaMet", "status": "True" }] },
        });
        assert_eq!(cells(o, 0)[0], "SuccessCriteriaMet");
        let o = json!({
            "metadata": { "deletionTimestamp": "1970-01-01T00:00:00Z" },
            "spec": { "completions": 1 },
            "status": { "conditions": [{ "type": "Failed", "status": "True" }] },
        });
        assert_eq!(
            cells(o, 0)[0],
            "Failed",
            "a finished Job never reads Terminating"
        );
    }
}
