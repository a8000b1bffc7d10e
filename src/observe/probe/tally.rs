//! A probe's samples added up as they arrive, in bounded memory, so a day-long game day
//! sampled every second (86,400 samples) costs what a minute does. Counts, the longest outage
//! and whether the probe ends failing are exact; latency percentiles come from a log-linear
//! histogram ([`Latencies`]): exact to the microsecond up to 2.048 ms, above that at most
//! 1/1024 (under 0.1 %) high, never low, so a latency bound that the exact percentile breaks
//! is never judged to hold. Only the first and last [`KEEP`] samples and the samples where
//! the probe turned (ok to failing or back, at most [`TURNS`]) are kept for the report; how
//! many were left out is counted.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::{Percentiles, ProbeSample, ProbeStats};

/// The first and the last this many samples are kept for the report.
pub const KEEP: usize = 100;
/// At most this many samples where the probe turned are kept besides.
pub const TURNS: usize = 1_000;

/// Significant bits a latency (in microseconds) keeps in the histogram.
const SIG_BITS: u32 = 11;

/// Latencies as counts per bucket: a value below 2^11 µs is its own bucket; above, a bucket
/// holds the values that share their 11 leading bits (its width is under 1/1024 of them).
/// At most 11 × 1024 buckets per power of two of range: a few thousand for real latencies.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    buckets: BTreeMap<u64, u64>,
    count: u64,
    max: u64,
}

impl Latencies {
    pub fn add(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        *self.buckets.entry(key(us)).or_insert(0) += 1;
        self.count += 1;
        self.max = self.max.max(us);
    }

    /// How many buckets are held (what the memory grows with).
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// The nearest-rank percentile: the upper end of the bucket holding rank ceil(p/100 * n),
    /// but never above the largest value seen.
    pub fn percentile(&self, p: u8) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = (u64::from(p) * self.count)
            .div_ceil(100)
            .clamp(1, self.count);
        let mut seen = 0;
        for (k, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(upper(*k).min(self.max)));
            }
        }
        Some(Duration::from_micros(self.max))
    }
}

/// The bucket of a value, ordered like the values.
fn key(us: u64) -> u64 {
    let bits = 64 - us.leading_zeros();
    if bits <= SIG_BITS {
        return us;
    }
    let shift = bits - SIG_BITS;
    (u64::from(shift) << SIG_BITS) + (us >> shift)
}

/// The largest value of a bucket.
fn upper(key: u64) -> u64 {
    if key < 1 << SIG_BITS {
        return key;
    }
    let shift = key >> SIG_BITS;
    let mantissa = key - (shift << SIG_BITS);
    ((mantissa + 1) << shift) - 1
}

/// A probe's samples so far: the statistics, and the samples kept for the report.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    total: usize,
    ok: usize,
    longest: Duration,
    outage_start: Option<Duration>,
    last_ok: Option<bool>,
    latencies: Latencies,
    first: Vec<ProbeSample>,
    turns: Vec<(usize, ProbeSample)>,
    last: VecDeque<(usize, ProbeSample)>,
}

impl Tally {
    /// Adds a sample; samples come in start order.
    pub fn add(&mut self, s: ProbeSample) {
        let i = self.total;
        self.total += 1;
        if s.ok {
            self.ok += 1;
            self.latencies.add(s.latency);
        }
        match (s.ok, self.outage_start) {
            (false, None) => self.outage_start = Some(s.t),
            (true, Some(start)) => {
                self.longest = self.longest.max(s.t.saturating_sub(start));
                self.outage_start = None;
            }
            _ => {}
        }
        let turned = self.last_ok.is_some_and(|was| was != s.ok);
        self.last_ok = Some(s.ok);
        if i < KEEP {
            self.first.push(s);
            return;
        }
        if turned && self.turns.len() < TURNS {
            self.turns.push((i, s.clone()));
        }
        self.last.push_back((i, s));
        if self.last.len() > KEEP {
            self.last.pop_front();
        }
    }

    /// How many samples are held now (bounded by 2 × [`KEEP`] + [`TURNS`]).
    pub fn held(&self) -> usize {
        self.first.len() + self.turns.len() + self.last.len()
    }

    /// How many latency buckets are held.
    pub fn latency_buckets(&self) -> usize {
        self.latencies.buckets()
    }

    /// The statistics (`end`: when the probe stopped, after its start) and the samples kept,
    /// in start order.
    pub fn finish(self, end: Duration) -> (ProbeStats, Vec<ProbeSample>) {
        let mut longest = self.longest;
        if let Some(start) = self.outage_start {
            longest = longest.max(end.saturating_sub(start));
        }
        let l = &self.latencies;
        let stats = ProbeStats {
            total: self.total,
            ok: self.ok,
            availability: (self.total > 0).then(|| self.ok as f64 * 100.0 / self.total as f64),
            longest_outage: longest,
            failing_at_end: self.outage_start.is_some(),
            latency: Percentiles {
                p50: l.percentile(50),
                p90: l.percentile(90),
                p95: l.percentile(95),
                p99: l.percentile(99),
            },
            samples_left_out: 0,
        };
        let mut rest: BTreeMap<usize, ProbeSample> = self.turns.into_iter().collect();
        rest.extend(self.last);
        let mut samples = self.first;
        samples.extend(rest.into_values());
        let left_out = (stats.total - samples.len()) as u64;
        (
            ProbeStats {
                samples_left_out: left_out,
                ..stats
            },
            samples,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::{judge, stats};
    use super::*;
    use crate::playbook::model::{AtLeast, AtMost, LatencyBounds, Percent, ProbeExpect};
    use crate::playbook::values::Duration as D;

    /// A day-long probe in miniature: 100,000 samples a second apart, latencies from 0.3 ms
    /// to about 1.5 s (a deterministic PRNG), outages of growing length every so often, and
    /// failing at the end.
    fn day() -> Vec<ProbeSample> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..100_000u64)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let outage = (i % 7_919) < (i / 10_000) + 1 || i >= 99_990;
                ProbeSample {
                    at: String::new(),
                    t: Duration::from_secs(i),
                    latency: Duration::from_micros(300 + x % 1_500_000 / (1 + x % 7)),
                    ok: !outage,
                    observed: String::new(),
                }
            })
            .collect()
    }

    fn expect(p50: Duration, p99: Duration) -> ProbeExpect {
        let at_most = |d: Duration| Some(AtMost { at_most: D(d) });
        ProbeExpect {
            availability: Some(AtLeast {
                at_least: Percent(99.0),
            }),
            longest_outage: Some(AtMost {
                at_most: D(Duration::from_secs(11)),
            }),
            latency: Some(LatencyBounds {
                p50: at_most(p50),
                p90: None,
                p95: None,
                p99: at_most(p99),
            }),
        }
    }

    #[test]
    fn a_hundred_thousand_samples_in_bounded_memory_judge_like_all_of_them() {
        let all = day();
        let end = Duration::from_secs(100_000);
        let exact = stats(&all, end);
        let mut tally = Tally::default();
        let mut most_held = 0;
        for s in all.iter().cloned() {
            tally.add(s);
            most_held = most_held.max(tally.held());
        }
        let buckets = tally.latency_buckets();
        let (bounded, kept) = tally.finish(end);
        // What is kept: at most the first and last KEEP and TURNS turns, never more.
        assert!(most_held <= 2 * KEEP + TURNS, "{most_held}");
        assert!(buckets < 20_000, "{buckets} latency buckets");
        assert_eq!(kept.len() as u64 + bounded.samples_left_out, 100_000);
        assert!(kept.windows(2).all(|w| w[0].t < w[1].t), "in start order");
        assert_eq!(kept[..KEEP], all[..KEEP]);
        assert_eq!(kept[kept.len() - KEEP..], all[all.len() - KEEP..]);
        // Counts and the outage are exact.
        assert_eq!(
            (bounded.total, bounded.ok, bounded.availability),
            (exact.total, exact.ok, exact.availability)
        );
        assert_eq!(bounded.longest_outage, exact.longest_outage);
        assert!(bounded.failing_at_end && exact.failing_at_end);
        // Percentiles: never low, at most 1/1024 high.
        for p in [50, 90, 95, 99] {
            let (b, e) = (
                bounded.latency.get(p).unwrap().as_micros(),
                exact.latency.get(p).unwrap().as_micros(),
            );
            assert!(b >= e && (b - e) * 1024 <= e, "p{p}: {b} vs {e}");
        }
        // The verdicts agree on bounds either side of what was seen (a bound within 1/1024
        // above the exact percentile may be judged broken: the error is never in its favour).
        let (p50, p99) = (exact.latency.p50.unwrap(), exact.latency.p99.unwrap());
        let cases = [
            (p50 * 101 / 100, p99 * 101 / 100, true),
            (p50 * 11 / 10, p99 * 11 / 10, true),
            (p50 * 9 / 10, p99, false),
            (p50, p99 * 9 / 10, false),
        ];
        for (a, b, holds) in cases {
            let e = expect(a, b);
            assert_eq!(judge(&e, &exact).holds, holds, "{a:?} {b:?}");
            assert_eq!(judge(&e, &bounded).holds, holds, "{a:?} {b:?}");
        }
    }

    #[test]
    fn a_flapping_probe_keeps_at_most_its_turns() {
        let mut tally = Tally::default();
        for i in 0..50_000u64 {
            tally.add(ProbeSample {
                at: String::new(),
                t: Duration::from_secs(i),
                latency: Duration::from_millis(1),
                ok: i % 2 == 0,
                observed: String::new(),
            });
        }
        assert_eq!(tally.held(), 2 * KEEP + TURNS);
        let (s, kept) = tally.finish(Duration::from_secs(50_000));
        assert_eq!(s.total, 50_000);
        assert_eq!(s.ok, 25_000);
        assert_eq!(s.longest_outage, Duration::from_secs(1));
        assert_eq!(kept.len() as u64 + s.samples_left_out, 50_000);
    }

    #[test]
    fn buckets_are_ordered_like_values_and_tight() {
        let mut prev = 0;
        for us in (0..5_000_000u64).step_by(997) {
            let k = key(us);
            assert!(k >= prev, "{us}");
            prev = k;
            let up = upper(k);
            assert!(up >= us, "{us}: upper {up}");
            if us < 2048 {
                assert_eq!(up, us);
            } else {
                assert!((up - us) * 1024 <= us, "{us}: upper {up} too far");
            }
        }
    }
}
