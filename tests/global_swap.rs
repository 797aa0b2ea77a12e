//! A call in flight while the global monitor is replaced is recorded in the
//! new monitor, stamped by the new monitor's clock (one test: the global
//! monitor is process-wide).
#![allow(clippy::unwrap_used, clippy::float_cmp)] // tests: a panic is a failure; exact floats are the point

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use monitor_core::{ManualClock, ToolExecutionMonitor, monitored_tool, set_global_monitor};

#[monitored_tool(name = "in-flight")]
async fn in_flight() -> u8 {
    common::YieldOnce::default().await;
    7
}

/// Polls `in_flight` once, runs `between`, then polls it to the end.
fn across(between: impl FnOnce()) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(in_flight());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    between();
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(7));
}

#[test]
fn calls_across_a_swap_are_stamped_by_the_new_monitor() {
    // Manual clock (years back) -> system clock: no uptime-long duration,
    // no timestamp from the old clock.
    let old_clock = ManualClock::new(Utc::now() - TimeDelta::days(3650));
    set_global_monitor(Arc::new(
        ToolExecutionMonitor::builder()
            .clock(old_clock.clone())
            .build(),
    ));
    let system = Arc::new(ToolExecutionMonitor::new());
    across(|| {
        old_clock.advance(Duration::from_secs(5));
        set_global_monitor(Arc::clone(&system));
    });
    let record = &system.recent_executions(Some("in-flight"), 1)[0];
    assert_eq!(
        record.duration_ms,
        Some(0.0),
        "the two clocks do not compare"
    );
    assert!(
        (Utc::now() - record.start_time).num_seconds().abs() < 60,
        "{record:?}"
    );

    // System clock -> a manual clock 30 days back: the record and the trend
    // follow the new clock, not a "future" stamp.
    let back = ManualClock::new(Utc::now() - TimeDelta::days(30));
    let manual = Arc::new(ToolExecutionMonitor::builder().clock(back.clone()).build());
    across(|| {
        std::thread::sleep(Duration::from_millis(2));
        set_global_monitor(Arc::clone(&manual));
    });
    let record = &manual.recent_executions(Some("in-flight"), 1)[0];
    assert_eq!(record.end_time, Some(monitor_core::Clock::wall_now(&back)));
    let duration = record.duration_ms.unwrap();
    assert!(
        duration >= 2.0,
        "measured on the system clock it started with: {duration} {record:?}"
    );
    for _ in 0..3 {
        across(|| ());
    }
    let stats = manual.tool_stats("in-flight").unwrap();
    assert_eq!(stats.total_executions, 4);
    assert_eq!(stats.trend_7d[6], 100.0, "{:?}", stats.trend_7d);
    set_global_monitor(Arc::new(ToolExecutionMonitor::new()));
}
