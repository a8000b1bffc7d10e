//! Judging conditions against observations, with no I/O: the engine fetches what the backends
//! report and these functions say whether a condition holds, what was expected and what was
//! seen. Keeping this pure makes every verdict unit-testable and every timeout message precise
//! ("expected 1 NotReady node; kind-worker still Ready").

mod api;
mod drift;
pub mod probe;
pub mod secs;
pub mod words;

pub use api::*;
pub use drift::*;

use serde::{Deserialize, Serialize};

use crate::playbook::model::DurationCondition;
use crate::playbook::values::{Count, format_duration};

/// The outcome of checking a condition once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub holds: bool,
    pub expected: String,
    pub observed: String,
    /// What the check saw that a later condition of a named step may compare with; not part of
    /// any report.
    #[serde(skip)]
    pub seen: Seen,
}

impl Verdict {
    pub fn new(holds: bool, expected: impl Into<String>, observed: impl Into<String>) -> Self {
        Verdict {
            holds,
            expected: expected.into(),
            observed: observed.into(),
            seen: Seen::Nothing,
        }
    }

    fn seeing(self, seen: Seen) -> Self {
        Verdict { seen, ..self }
    }
}

/// What a `pods` or `shims` check saw, kept by the engine under the step's name so a later
/// condition can say "a replacement of what that step saw" (`replaces`) or "as many as then"
/// (`same-as`): the seeds compare before and after a fault, not with a fixed number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Seen {
    #[default]
    Nothing,
    /// The pods that matched, by key and UID.
    Pods(Vec<SeenPod>),
    /// The live shims counted on a node.
    Shims(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenPod {
    pub key: crate::backends::PodKey,
    pub uid: String,
}

/// Joins verdicts: holds when all hold; the text lists every part, failing parts first.
pub fn all(parts: Vec<Verdict>) -> Verdict {
    let holds = parts.iter().all(|p| p.holds);
    let mut sorted = parts;
    sorted.sort_by_key(|p| p.holds);
    let shown: Vec<&Verdict> = if holds {
        sorted.iter().collect()
    } else {
        sorted.iter().filter(|p| !p.holds).collect()
    };
    Verdict {
        holds,
        expected: shown
            .iter()
            .map(|p| p.expected.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        observed: shown
            .iter()
            .map(|p| p.observed.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        seen: Seen::Nothing,
    }
}

pub(crate) fn count_verdict(what: &str, want: &Count, got: u64) -> Verdict {
    Verdict::new(
        want.matches(got),
        format!("{want} {what}"),
        format!("{got} {what}"),
    )
}

/// A step's measured duration against bounds.
pub fn duration(cond: &DurationCondition, took: Option<std::time::Duration>) -> Verdict {
    let expected = words::duration(cond);
    match took {
        None => Verdict::new(false, expected, format!("step `{}` has not run", cond.step)),
        Some(t) => {
            let ok =
                cond.at_least.is_none_or(|l| t >= l.0) && cond.at_most.is_none_or(|m| t <= m.0);
            Verdict::new(ok, expected, format!("it took {}", format_duration(t)))
        }
    }
}

#[cfg(test)]
mod tests;
