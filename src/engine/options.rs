//! How a run is set up from outside the playbook: `--retain`, the wall clock that stamps
//! reports and the timeline, how often waits sample the nodes' reality, and the timeline's cap.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{sample, timeline};

/// Run settings that come from the environment (flags, the clock).
#[derive(Clone)]
pub struct RunOptions {
    /// Leave faults in place (`--retain`).
    pub retain: bool,
    /// Wall clock for report timestamps (durations use tokio's clock, which tests can pause).
    pub clock: Arc<dyn Fn() -> SystemTime + Send + Sync>,
    /// How often waits sample the nodes' reality for the timeline (at most); `None`: never.
    pub sample_every: Option<Duration>,
    /// At most this many timeline entries; older samples are thinned out beyond.
    pub timeline_cap: usize,
}

/// The default of [`RunOptions::sample_every`], and its bounds for `--sample-every`.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
pub const SAMPLE_MIN: Duration = sample::MIN_EVERY;
pub const SAMPLE_MAX: Duration = Duration::from_secs(3600);

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            retain: false,
            clock: Arc::new(SystemTime::now),
            sample_every: Some(SAMPLE_EVERY),
            timeline_cap: timeline::DEFAULT_CAP,
        }
    }
}
