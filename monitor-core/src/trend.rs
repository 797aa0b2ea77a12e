//! Hour-bucketed success counts for `trend_7d`, in constant memory per tool.
//!
//! Instead of counting per hour on the hot path, the trend keeps a ring of
//! *boundaries*: the tool's cumulative (executions, successes) just before the
//! first execution of each hour. The first call in a new hour takes a lock
//! once and snapshots the shard counters; every other call only reads one
//! atomic. The executions in hours `[a, b)` are `C(b) - C(a)`, where `C(x)`
//! is the boundary of the first recorded hour at or after `x` (or the current
//! totals when there is none). Calls racing with an hour change may be
//! counted in the neighbouring hour: a window edge may be off by one bucket.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::clock::NANOS_PER_HOUR;

/// Days in `trend_7d`.
pub(crate) const TREND_DAYS: usize = 7;
/// The trend's days of hours, plus the hour in progress and one spare.
const SLOTS: usize = TREND_DAYS * 24 + 2;

/// The hour (since the Unix epoch) that a wall time falls in.
pub(crate) fn hour_of(wall_nanos: i64) -> i64 {
    wall_nanos.div_euclid(NANOS_PER_HOUR)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Boundary {
    hour: i64,
    executions: u64,
    successes: u64,
}

#[derive(Debug)]
pub(crate) struct Trend {
    /// The latest hour with a boundary; `i64::MIN` before the first call.
    current_hour: AtomicI64,
    ring: Mutex<Vec<Option<Boundary>>>,
}

impl Default for Trend {
    fn default() -> Self {
        Self {
            current_hour: AtomicI64::new(i64::MIN),
            ring: Mutex::new(Vec::new()),
        }
    }
}

impl Trend {
    /// Called before an execution that started at `wall_nanos` is counted;
    /// `counts` gives the tool's cumulative (executions, successes).
    #[inline]
    pub(crate) fn before_record(&self, wall_nanos: i64, counts: impl FnOnce() -> (u64, u64)) {
        // Relaxed: a stale read only sends us to the lock, which re-checks.
        // Comparing against the bounds of the latest hour spares a division
        // by an hour on every call. A call up to an hour before it (a call
        // that started just before the hour turned) counts in that hour.
        let current = self.current_hour.load(Ordering::Relaxed);
        let start = current.saturating_mul(NANOS_PER_HOUR);
        if wall_nanos < start.saturating_add(NANOS_PER_HOUR)
            && wall_nanos >= start.saturating_sub(NANOS_PER_HOUR)
        {
            return;
        }
        self.start_hour(hour_of(wall_nanos), counts);
    }

    #[cold]
    fn start_hour(&self, hour: i64, counts: impl FnOnce() -> (u64, u64)) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current_hour.load(Ordering::Relaxed);
        if hour == current || hour == current.saturating_sub(1) {
            return;
        }
        if ring.is_empty() {
            ring.resize(SLOTS, None);
        }
        if hour < current {
            // The wall clock went back (an NTP step, a manual change): the
            // boundaries after `hour` are in a future that did not happen.
            // Forget them, so that the calls from now on are counted in the
            // windows that end now; those stamped in that future count as
            // before this hour.
            for slot in ring.iter_mut() {
                if slot.is_some_and(|b| b.hour > hour) {
                    *slot = None;
                }
            }
        }
        let (executions, successes) = counts();
        ring[slot(hour)] = Some(Boundary {
            hour,
            executions,
            successes,
        });
        self.current_hour.store(hour, Ordering::Relaxed);
    }

    /// Success % of each of the `days` 24-hour windows ending with the hour
    /// of `now_nanos`, oldest first; 0.0 for a window without executions.
    /// `totals` is the tool's current cumulative (executions, successes).
    pub(crate) fn daily_success_rates(
        &self,
        now_nanos: i64,
        days: usize,
        totals: (u64, u64),
    ) -> Vec<f64> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let cumulative_at = |hour: i64| {
            ring.iter()
                .flatten()
                .filter(|b| b.hour >= hour)
                .min_by_key(|b| b.hour)
                .map_or(totals, |b| (b.executions, b.successes))
        };
        let end = hour_of(now_nanos) + 1;
        let days_i64 = i64::try_from(days).unwrap_or(i64::MAX);
        (0..days_i64)
            .map(|day| {
                let from = cumulative_at(end - (days_i64 - day) * 24);
                let to = cumulative_at(end - (days_i64 - day - 1) * 24);
                let executions = to.0.saturating_sub(from.0);
                let successes = to.1.saturating_sub(from.1).min(executions);
                if executions == 0 {
                    0.0
                } else {
                    #[allow(clippy::cast_precision_loss)] // a percentage
                    let rate = successes as f64 / executions as f64 * 100.0;
                    rate
                }
            })
            .collect()
    }

    /// Panics while holding the lock (for tests of poisoning).
    #[cfg(feature = "test-hooks")]
    pub(crate) fn poison(&self) {
        let _ring = self.ring.lock();
        panic!("poisoning a trend's lock on purpose");
    }

    pub(crate) fn reset(&self) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.clear();
        self.current_hour.store(i64::MIN, Ordering::Relaxed);
    }
}

fn slot(hour: i64) -> usize {
    #[allow(clippy::cast_possible_wrap)] // SLOTS = 170
    usize::try_from(hour.rem_euclid(SLOTS as i64)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a trend with (hour, success) calls and returns its rates.
    fn rates(calls: &[(i64, bool)], now_hour: i64) -> Vec<f64> {
        let trend = Trend::default();
        let (mut executions, mut successes) = (0, 0);
        for &(hour, ok) in calls {
            trend.before_record(hour * NANOS_PER_HOUR, || (executions, successes));
            executions += 1;
            successes += u64::from(ok);
        }
        trend.daily_success_rates(
            now_hour * NANOS_PER_HOUR,
            TREND_DAYS,
            (executions, successes),
        )
    }

    #[test]
    fn windows_are_the_last_seven_days_oldest_first() {
        let now = 1000;
        let calls = [
            (now - 24 * 8, true), // older than the trend: ignored
            (now - 24 * 7 + 1, true),
            (now - 24 * 7 + 2, false),
            (now - 30, true),
            (now, true),
            (now, false),
            (now, false),
            (now, true),
        ];
        let got = rates(&calls, now);
        assert_eq!(got, vec![50.0, 0.0, 0.0, 0.0, 0.0, 100.0, 50.0]);
    }

    #[test]
    fn no_calls_gives_zeros_and_clock_going_back_stays_sane() {
        assert_eq!(rates(&[], 5), vec![0.0; 7]);
        // A call stamped an hour before the latest counts in the latest.
        let got = rates(&[(500, true), (499, false), (500, true)], 500);
        assert!((got[6] - 200.0 / 3.0).abs() < 1e-9, "{got:?}");
        // The wall clock moved back by days after future calls: the calls
        // after the step are counted in the windows that end now.
        let got = rates(&[(900, true), (100, false), (100, false)], 100);
        assert!(got[6].abs() < f64::EPSILON, "{got:?}");
        let got = rates(&[(100, true), (124, true), (100, false)], 100);
        assert!(got.iter().all(|r| (0.0..=100.0).contains(r)), "{got:?}");
    }
}
