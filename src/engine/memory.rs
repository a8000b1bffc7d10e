//! What the named steps of a run measured and saw, for the conditions that refer back to one:
//! `duration` (how long it took), `pods: {replaces: STEP}` and `shims: {same-as: STEP}` (what
//! its check saw). The seeds judge an outcome against what was there before the fault ("a new
//! pod name", "the same number of containers"), not against a fixed number.

use std::collections::HashMap;
use std::time::Duration;

use crate::observe::Seen;

#[derive(Debug, Default, Clone)]
pub struct Memory {
    /// How long each named step took.
    pub durations: HashMap<String, Duration>,
    /// What the last passing check of each named step saw.
    pub seen: HashMap<String, Seen>,
}

impl Memory {
    /// Keeps what a named step's passing check saw (a later pass of the same name replaces it).
    pub fn saw(&mut self, step: &str, seen: &Seen) {
        if *seen != Seen::Nothing {
            self.seen.insert(step.to_string(), seen.clone());
        }
    }
}
