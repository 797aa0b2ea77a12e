//! Time sources: a monotonic clock for durations, a wall clock for timestamps.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Nanoseconds in an hour: the trend's bucket and the unit of
/// `recent_errors`' window.
pub(crate) const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// A source of time for a [`ToolExecutionMonitor`](crate::ToolExecutionMonitor).
///
/// Durations come from [`monotonic_nanos`](Clock::monotonic_nanos), which
/// never goes back; timestamps, the 7-day trend and the `hours` of
/// `recent_errors` come from [`wall_now`](Clock::wall_now), which may jump.
/// The default is [`SystemClock`]; tests inject a [`ManualClock`] to drive a
/// week of executions in milliseconds.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Nanoseconds since an arbitrary origin; never decreases.
    fn monotonic_nanos(&self) -> u64;

    /// The current wall-clock time.
    fn wall_now(&self) -> DateTime<Utc>;
}

/// The real clock: the CPU's time-stamp counter for durations (through
/// `quanta`, calibrated once per process against the OS monotonic clock,
/// with the OS clock as the fallback where the counter is not invariant),
/// and one `Utc::now()` taken at creation plus the monotonic offset for
/// timestamps.
///
/// A time-stamp counter read is several times cheaper than
/// `Instant::now()`, and two reads per call are most of the cost of
/// recording (BENCHMARKS.md). Deriving wall time from the monotonic clock
/// keeps a call at those two reads; the price is that a process running for
/// months drifts from an NTP-corrected wall clock by as much as the
/// machine's clock drifts.
#[derive(Debug, Clone)]
pub struct SystemClock {
    counter: quanta::Clock,
    origin_raw: u64,
    origin_wall_nanos: i64,
}

impl SystemClock {
    /// The process's system clock. Every `SystemClock` shares one origin,
    /// so readings of two monitors' clocks are comparable. The first call
    /// in a process calibrates the counter, which takes up to 200 ms.
    #[must_use]
    pub fn new() -> Self {
        process_clock().clone()
    }
}

/// The one system clock of the process.
#[inline]
pub(crate) fn process_clock() -> &'static SystemClock {
    static PROCESS: OnceLock<SystemClock> = OnceLock::new();
    PROCESS.get_or_init(|| {
        let counter = quanta::Clock::new();
        SystemClock {
            origin_raw: counter.raw(),
            counter,
            origin_wall_nanos: Utc::now().timestamp_nanos_opt().unwrap_or(0),
        }
    })
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn monotonic_nanos(&self) -> u64 {
        self.now().mono_nanos
    }

    fn wall_now(&self) -> DateTime<Utc> {
        wall_from_nanos(self.now().wall_nanos)
    }
}

/// A clock that moves only when told to, for tests.
///
/// Clones share one time. [`advance`](ManualClock::advance) moves both the
/// monotonic and the wall clock; [`jump_wall`](ManualClock::jump_wall) moves
/// only the wall clock, as an NTP step or a manual date change would.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use monitor_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new(chrono::DateTime::UNIX_EPOCH);
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(clock.monotonic_nanos(), 1_500_000_000);
/// assert_eq!(clock.wall_now().timestamp_millis(), 1500);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    monotonic: AtomicU64,
    wall_nanos: AtomicI64,
}

impl ManualClock {
    /// A clock whose wall time is `start` and whose monotonic time is 0.
    #[must_use]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            inner: Arc::new(ManualInner {
                monotonic: AtomicU64::new(0),
                wall_nanos: AtomicI64::new(start.timestamp_nanos_opt().unwrap_or(0)),
            }),
        }
    }

    /// Moves both clocks forward by `by` (saturating: the monotonic clock
    /// never wraps back).
    pub fn advance(&self, by: Duration) {
        let nanos = duration_nanos(by);
        // Relaxed: each clock is one independent counter.
        let _ = self
            .inner
            .monotonic
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |m| {
                Some(m.saturating_add(nanos))
            });
        let wall = i64::try_from(nanos).unwrap_or(i64::MAX);
        let _ = self
            .inner
            .wall_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some(w.saturating_add(wall))
            });
    }

    /// Moves only the wall clock, forward or back; durations are unaffected.
    pub fn jump_wall(&self, by: chrono::TimeDelta) {
        let nanos = by.num_nanoseconds().unwrap_or(0);
        self.inner.wall_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn monotonic_nanos(&self) -> u64 {
        self.inner.monotonic.load(Ordering::Relaxed)
    }

    fn wall_now(&self) -> DateTime<Utc> {
        wall_from_nanos(self.inner.wall_nanos.load(Ordering::Relaxed))
    }
}

/// One reading of both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Reading {
    pub(crate) mono_nanos: u64,
    /// Nanoseconds since the Unix epoch.
    pub(crate) wall_nanos: i64,
}

/// The clock a monitor holds: the process's system clock without dynamic
/// dispatch, or an injected one.
#[derive(Debug, Clone)]
pub(crate) enum ClockHandle {
    System,
    Custom(Arc<dyn Clock>),
}

impl ClockHandle {
    #[inline]
    pub(crate) fn now(&self) -> Reading {
        match self {
            Self::System => process_clock().now(),
            Self::Custom(clock) => Reading {
                mono_nanos: clock.monotonic_nanos(),
                wall_nanos: clock.wall_now().timestamp_nanos_opt().unwrap_or(0),
            },
        }
    }
}

impl SystemClock {
    #[inline]
    pub(crate) fn now(&self) -> Reading {
        // `delta_as_nanos` is 0 if a counter on another core reads a hair
        // behind the origin: never negative.
        let mono_nanos = self
            .counter
            .delta_as_nanos(self.origin_raw, self.counter.raw());
        Reading {
            mono_nanos,
            wall_nanos: self.origin_wall_nanos.saturating_add_unsigned(mono_nanos),
        }
    }
}

fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn wall_from_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_wall_follows_monotonic() {
        let clock = SystemClock::new();
        let a = clock.now();
        let b = clock.now();
        assert!(b.mono_nanos >= a.mono_nanos);
        assert_eq!(
            b.wall_nanos - a.wall_nanos,
            i64::try_from(b.mono_nanos - a.mono_nanos).unwrap()
        );
        let drift = (clock.wall_now() - Utc::now()).num_seconds().abs();
        assert!(drift < 5, "drift {drift}");
    }

    #[test]
    fn manual_clock_jumps_only_the_wall() {
        let clock = ManualClock::new(DateTime::UNIX_EPOCH);
        clock.advance(Duration::from_secs(10));
        clock.jump_wall(chrono::TimeDelta::days(-3));
        assert_eq!(clock.monotonic_nanos(), 10_000_000_000);
        assert_eq!(
            clock.wall_now(),
            DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(10) - chrono::TimeDelta::days(3)
        );
        let handle = ClockHandle::Custom(Arc::new(clock.clone()));
        assert_eq!(handle.now().mono_nanos, 10_000_000_000);
    }
}
