//! Behaviour of the store through its public API: history, errors, reset,
//! sink, cardinality, clock jumps and odd input.
#![allow(clippy::unwrap_used, clippy::float_cmp)] // tests: a panic is a failure, and exact floats are the point

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use monitor_core::{
    Clock, ErrorCategory, ExecutionStatus, MAX_ERROR_MESSAGE_BYTES, MAX_TOOL_NAME_BYTES,
    ManualClock, MetricsSink, OVERFLOW_TOOL_NAME, ToolExecutionMonitor,
};

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn manual() -> (ManualClock, ToolExecutionMonitor) {
    let clock = ManualClock::new(start());
    let monitor = ToolExecutionMonitor::builder().clock(clock.clone()).build();
    (clock, monitor)
}

#[test]
fn a_record_has_every_field_of_the_call() {
    let (clock, monitor) = manual();
    let mut call = monitor
        .create_execution_context("search")
        .with_user_id("u-1")
        .with_session_id("s-1");
    call.set_input_size(10);
    call.set_output_size(20);
    call.set_memory_usage(1.5);
    call.add_metadata("attempt", 2);
    clock.advance(Duration::from_millis(250));
    call.finish_success();

    let record = &monitor.recent_executions(None, 1)[0];
    assert_eq!(record.tool_name, "search");
    assert!(record.execution_id.starts_with("search-"));
    assert_eq!(record.start_time, start());
    assert_eq!(
        record.end_time,
        Some(start() + TimeDelta::milliseconds(250))
    );
    assert_eq!(record.duration_ms, Some(250.0));
    assert_eq!(record.status, ExecutionStatus::Success);
    assert_eq!(
        (record.input_size_bytes, record.output_size_bytes),
        (10, 20)
    );
    assert_eq!(record.memory_usage_mb, Some(1.5));
    assert_eq!(record.user_id.as_deref(), Some("u-1"));
    assert_eq!(record.session_id.as_deref(), Some("s-1"));
    assert_eq!(record.metadata["attempt"], 2);
    let stats = monitor.tool_stats("search").unwrap();
    assert_eq!(stats.last_execution, record.end_time);
}

#[test]
fn history_keeps_the_newest_records_oldest_first() {
    let (clock, _) = manual();
    let monitor = ToolExecutionMonitor::builder()
        .clock(clock.clone())
        .history_capacity(5)
        .build();
    for i in 0..12 {
        let tool = if i % 2 == 0 { "even" } else { "odd" };
        let mut call = monitor.create_execution_context(tool);
        call.set_input_size(i);
        clock.advance(Duration::from_millis(1));
        call.finish_success();
    }
    let sizes: Vec<u64> = monitor
        .recent_executions(None, 100)
        .iter()
        .map(|r| r.input_size_bytes)
        .collect();
    assert_eq!(sizes, [7, 8, 9, 10, 11]);
    let even: Vec<u64> = monitor
        .recent_executions(Some("even"), 100)
        .iter()
        .map(|r| r.input_size_bytes)
        .collect();
    assert_eq!(even, [8, 10]);
    assert_eq!(monitor.recent_executions(None, 2).len(), 2);
    assert!(monitor.recent_executions(None, 0).is_empty());
}

#[test]
fn recent_errors_filter_by_tool_and_hours() {
    let (clock, monitor) = manual();
    let fail = |tool: &str| {
        let call = monitor.create_execution_context(tool);
        monitor_core::finish_error!(call, &std::io::Error::from(std::io::ErrorKind::TimedOut));
    };
    fail("a");
    clock.advance(Duration::from_secs(3 * 3600));
    fail("b");
    monitor.create_execution_context("a").finish_success();
    clock.advance(Duration::from_secs(60));

    assert_eq!(monitor.recent_errors(None, 24).len(), 2);
    assert_eq!(monitor.recent_errors(None, 1).len(), 1);
    assert_eq!(monitor.recent_errors(Some("a"), 24).len(), 1);
    assert!(monitor.recent_errors(Some("a"), 1).is_empty());
    assert!(monitor.recent_errors(Some("unknown"), 24).is_empty());
    assert!(monitor.recent_errors(None, 0).is_empty());
    let all = monitor.recent_errors(None, u32::MAX);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].tool_name, "a", "oldest first");
    assert_eq!(all[0].error_category, Some(ErrorCategory::TimeoutError));
    assert_eq!(all[0].status, ExecutionStatus::Error);
}

#[test]
fn reset_of_one_tool_keeps_history_and_reset_of_all_clears_it() {
    let (_, monitor) = manual();
    monitor.create_execution_context("a").finish_success();
    monitor.create_execution_context("b").finish_classified(
        ExecutionStatus::Error,
        ErrorCategory::UnknownError,
        "x",
    );
    monitor.reset_stats(Some("a"));
    monitor.reset_stats(Some("never-seen"));
    assert!(monitor.tool_stats("a").is_none());
    assert_eq!(monitor.duration_histogram("a").total(), 0);
    assert!(monitor.tool_stats("b").is_some());
    assert_eq!(monitor.recent_executions(None, 10).len(), 2);
    assert_eq!(monitor.all_tool_stats().len(), 1);

    monitor.create_execution_context("a").finish_success();
    assert_eq!(monitor.tool_stats("a").unwrap().total_executions, 1);

    monitor.reset_stats(None);
    assert!(monitor.all_tool_stats().is_empty());
    assert!(monitor.recent_executions(None, 10).is_empty());
    assert!(monitor.recent_errors(None, 24).is_empty());
}

#[test]
fn dropped_contexts_record_once_as_cancelled_or_panicked() {
    let (_, monitor) = manual();
    drop(monitor.create_execution_context("dropped"));
    let record = &monitor.recent_executions(Some("dropped"), 10)[0];
    assert_eq!(record.status, ExecutionStatus::Cancelled);
    assert_eq!(
        record.error_category, None,
        "a cancellation is not the tool's error"
    );
    let stats = monitor.tool_stats("dropped").unwrap();
    assert_eq!(
        (stats.failed_executions, stats.error_distribution.len()),
        (1, 0)
    );

    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _call = monitor.create_execution_context("panics");
        panic!("tool blew up");
    }));
    assert!(result.is_err());
    let records = monitor.recent_executions(Some("panics"), 10);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, ExecutionStatus::Error);
    assert_eq!(records[0].error_category, Some(ErrorCategory::SystemError));
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>);

impl MetricsSink for Recorder {
    fn increment_counter(&self, name: &str) {
        self.0.lock().unwrap().push(format!("counter {name}"));
    }
    fn record_timer(&self, name: &str, duration_ms: f64) {
        self.0
            .lock()
            .unwrap()
            .push(format!("timer {name} {duration_ms}"));
    }
    fn set_gauge(&self, name: &str, value: f64) {
        self.0.lock().unwrap().push(format!("gauge {name} {value}"));
    }
}

#[derive(Debug)]
struct Panics;

impl MetricsSink for Panics {
    fn increment_counter(&self, _: &str) {
        panic!("sink down");
    }
    fn record_timer(&self, _: &str, _: f64) {}
    fn set_gauge(&self, _: &str, _: f64) {}
}

#[test]
fn the_sink_gets_the_reference_names() {
    let clock = ManualClock::new(start());
    let sink = Arc::new(Recorder::default());
    let monitor = ToolExecutionMonitor::builder()
        .clock(clock.clone())
        .sink(sink.clone())
        .build();
    let mut call = monitor.create_execution_context("get-user");
    call.set_input_size(4);
    clock.advance(Duration::from_millis(3));
    call.finish_classified(ExecutionStatus::Error, ErrorCategory::UserInput, "no user");
    assert_eq!(
        *sink.0.lock().unwrap(),
        [
            "counter tool.get-user.executions.total",
            "counter tool.get-user.executions.failure",
            "timer tool.get-user.duration 3",
            "gauge tool.get-user.input_size_bytes 4",
            "gauge tool.get-user.output_size_bytes 0",
        ]
    );
}

#[test]
fn a_panicking_sink_is_counted_and_loses_nothing() {
    let monitor = ToolExecutionMonitor::builder()
        .sink(Arc::new(Panics))
        .build();
    for _ in 0..3 {
        monitor.create_execution_context("t").finish_success();
    }
    assert_eq!(monitor.sink_failures(), 3);
    assert_eq!(monitor.tool_stats("t").unwrap().total_executions, 3);
}

#[test]
fn distinct_tools_are_bounded_by_an_overflow_entry() {
    let monitor = ToolExecutionMonitor::builder()
        .max_tools(100)
        .history_capacity(10)
        .build();
    for i in 0..10_000 {
        monitor
            .create_execution_context(&format!("tool-{i}"))
            .finish_success();
    }
    let all = monitor.all_tool_stats();
    assert_eq!(all.len(), 101);
    assert_eq!(all[OVERFLOW_TOOL_NAME].total_executions, 9_900);
    assert!(monitor.tool_stats("tool-5000").is_none());
    assert_eq!(monitor.tool_stats("tool-99").unwrap().total_executions, 1);
}

#[test]
fn odd_input_gives_documented_results() {
    let monitor = ToolExecutionMonitor::builder()
        .history_capacity(0)
        .error_capacity(0)
        .build();
    let mut call = monitor.create_execution_context("");
    call.set_memory_usage(f64::NAN);
    call.set_memory_usage(-1.0);
    call.finish_classified(
        ExecutionStatus::Error,
        ErrorCategory::UnknownError,
        "é".repeat(5000),
    );
    assert_eq!(monitor.tool_stats("").unwrap().total_executions, 1);
    assert!(monitor.recent_executions(None, usize::MAX).is_empty());
    assert!(monitor.recent_errors(None, u32::MAX).is_empty());
    assert!(monitor.tool_stats("missing").is_none());
    assert_eq!(monitor.duration_histogram("missing").total(), 0);

    let monitor = ToolExecutionMonitor::new();
    let mut call = monitor.create_execution_context("m");
    call.set_memory_usage(f64::INFINITY);
    call.finish_classified(
        ExecutionStatus::Error,
        ErrorCategory::UnknownError,
        "é".repeat(5000),
    );
    let record = &monitor.recent_errors(None, 1)[0];
    assert_eq!(record.memory_usage_mb, None);
    let message = record.error_message.as_deref().unwrap();
    assert!(
        message.len() <= MAX_ERROR_MESSAGE_BYTES && message.len() > MAX_ERROR_MESSAGE_BYTES - 4
    );

    let long = "x".repeat(10 * MAX_TOOL_NAME_BYTES);
    monitor.create_execution_context(&long).finish_success();
    let stats = monitor.tool_stats(&long).unwrap();
    assert_eq!(stats.tool_name.len(), MAX_TOOL_NAME_BYTES);

    let zero = ToolExecutionMonitor::builder().max_tools(0).build();
    zero.create_execution_context("any").finish_success();
    assert_eq!(
        zero.all_tool_stats().keys().collect::<Vec<_>>(),
        [OVERFLOW_TOOL_NAME]
    );
}

#[test]
fn huge_capacities_are_cut_not_fatal() {
    let monitor = ToolExecutionMonitor::builder()
        .history_capacity(usize::MAX)
        .error_capacity(usize::MAX)
        .background_sink(Arc::new(Recorder::default()), usize::MAX)
        .build();
    monitor.create_execution_context("big").finish_classified(
        ExecutionStatus::Error,
        ErrorCategory::UnknownError,
        "x",
    );
    assert_eq!(monitor.recent_executions(None, 10).len(), 1);
    assert_eq!(monitor.recent_errors(None, 1).len(), 1);
}

#[test]
fn wall_clock_jumps_keep_durations_and_trend_sane() {
    let (clock, monitor) = manual();
    for jump in [
        TimeDelta::days(-3),
        TimeDelta::days(10),
        TimeDelta::days(-20),
    ] {
        let call = monitor.create_execution_context("jumpy");
        clock.jump_wall(jump);
        clock.advance(Duration::from_millis(5));
        call.finish_success();
    }
    let stats = monitor.tool_stats("jumpy").unwrap();
    assert_eq!(stats.total_executions, 3);
    assert_eq!(stats.min_duration_ms, 5.0);
    assert_eq!(stats.max_duration_ms, 5.0);
    assert_eq!(stats.trend_7d.len(), 7);
    assert!(
        stats.trend_7d.iter().all(|r| (0.0..=100.0).contains(r)),
        "{:?}",
        stats.trend_7d
    );
    assert!(monitor.recent_errors(None, 24).is_empty());
}

#[test]
fn a_week_of_calls_fills_the_trend_oldest_first() {
    let (clock, monitor) = manual();
    // Day d (0 = six days ago) has d+1 calls, the first of which fails.
    for day in 0..7u32 {
        for i in 0..=day {
            let call = monitor.create_execution_context("daily");
            if i == 0 {
                call.finish_classified(ExecutionStatus::Error, ErrorCategory::UnknownError, "x");
            } else {
                call.finish_success();
            }
        }
        if day < 6 {
            clock.advance(Duration::from_secs(24 * 3600));
        }
    }
    let want: Vec<f64> = (0..7u32)
        .map(|d| f64::from(d) / f64::from(d + 1) * 100.0)
        .collect();
    assert_eq!(monitor.tool_stats("daily").unwrap().trend_7d, want);
    // A day later the oldest day has left the window.
    clock.advance(Duration::from_secs(24 * 3600));
    let trend = monitor.tool_stats("daily").unwrap().trend_7d;
    assert_eq!(trend[..6], want[1..]);
    assert_eq!(trend[6], 0.0);
    assert_eq!(clock.monotonic_nanos(), 7 * 24 * 3_600_000_000_000);
}

#[test]
fn threads_without_a_shard_of_their_own_count_and_reset_alike() {
    // shards(0): every thread writes the shared shard and the shared ring.
    for shards in [0, 1, 64] {
        let monitor = ToolExecutionMonitor::builder()
            .shards(shards)
            .history_capacity(50)
            .build();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        monitor.create_execution_context("t").finish_success();
                    }
                });
            }
        });
        assert_eq!(
            monitor.tool_stats("t").unwrap().total_executions,
            4000,
            "{shards}"
        );
        assert_eq!(monitor.recent_executions(None, 100).len(), 50, "{shards}");
        monitor.reset_stats(Some("t"));
        assert!(monitor.tool_stats("t").is_none(), "{shards}");
        // Owners clear their shards lazily, on their next call.
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| monitor.create_execution_context("t").finish_success());
            }
        });
        monitor.create_execution_context("t").finish_success();
        assert_eq!(
            monitor.tool_stats("t").unwrap().total_executions,
            3,
            "{shards}"
        );
        monitor.reset_stats(None);
        assert!(monitor.recent_executions(None, 100).is_empty(), "{shards}");
        monitor.create_execution_context("t").finish_success();
        assert_eq!(monitor.recent_executions(None, 100).len(), 1, "{shards}");
    }
}
