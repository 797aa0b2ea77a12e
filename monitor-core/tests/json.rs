//! The JSON of metrics, stats and histogram has exactly the reference's keys
//! and value types.
#![allow(clippy::unwrap_used, clippy::float_cmp)] // tests: a panic is a failure, and exact floats are the point

use std::time::Duration;

use monitor_core::{ErrorCategory, ExecutionStatus, ManualClock, ToolExecutionMonitor};
use serde_json::Value;

/// Keys of the reference's `ToolExecutionMetrics.to_dict`.
const METRICS_KEYS: [&str; 15] = [
    "tool_name",
    "execution_id",
    "start_time",
    "end_time",
    "duration_ms",
    "status",
    "error_message",
    "error_category",
    "input_size_bytes",
    "output_size_bytes",
    "memory_usage_mb",
    "cpu_time_ms",
    "user_id",
    "session_id",
    "metadata",
];

/// Keys of the reference's `ToolPerformanceStats.to_dict`.
const STATS_KEYS: [&str; 16] = [
    "tool_name",
    "total_executions",
    "successful_executions",
    "failed_executions",
    "avg_duration_ms",
    "min_duration_ms",
    "max_duration_ms",
    "p95_duration_ms",
    "p99_duration_ms",
    "success_rate",
    "error_rate",
    "avg_input_size_bytes",
    "avg_output_size_bytes",
    "last_execution",
    "error_distribution",
    "trend_7d",
];

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn sorted<const N: usize>(mut keys: [&'static str; N]) -> Vec<&'static str> {
    keys.sort_unstable();
    keys.to_vec()
}

fn monitor() -> ToolExecutionMonitor {
    let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap());
    let monitor = ToolExecutionMonitor::builder().clock(clock.clone()).build();
    let mut ok = monitor.create_execution_context("search").with_user_id("u");
    ok.add_metadata("k", "v");
    clock.advance(Duration::from_millis(12));
    ok.finish_success();
    let failed = monitor.create_execution_context("search");
    clock.advance(Duration::from_millis(3));
    failed.finish_classified(
        ExecutionStatus::ValidationFailed,
        ErrorCategory::ValidationError,
        "bad",
    );
    monitor
}

#[test]
fn metrics_json_has_the_reference_keys_and_types() {
    let monitor = monitor();
    let records = monitor.recent_executions(None, 10);
    let ok = serde_json::to_value(&records[0]).unwrap();
    let failed = serde_json::to_value(&records[1]).unwrap();
    assert_eq!(keys(&ok), sorted(METRICS_KEYS));
    assert_eq!(ok["start_time"], "2026-01-01T00:00:00Z");
    assert_eq!(ok["end_time"], "2026-01-01T00:00:00.012Z");
    assert_eq!(ok["duration_ms"], 12.0);
    assert_eq!(ok["status"], "success");
    assert!(ok["error_message"].is_null() && ok["error_category"].is_null());
    assert!(ok["input_size_bytes"].is_u64() && ok["memory_usage_mb"].is_null());
    assert!(ok["cpu_time_ms"].is_null() && ok["session_id"].is_null());
    assert_eq!(ok["user_id"], "u");
    assert_eq!(ok["metadata"], serde_json::json!({"k": "v"}));
    assert_eq!(failed["status"], "validation_failed");
    assert_eq!(failed["error_category"], "VALIDATION_ERROR");
    assert_eq!(failed["error_message"], "bad");
    let back: monitor_core::ToolExecutionMetrics = serde_json::from_value(failed).unwrap();
    assert_eq!(back, records[1]);
}

#[test]
fn stats_json_has_the_reference_keys_and_types() {
    let monitor = monitor();
    let stats = monitor.tool_stats("search").unwrap();
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(keys(&json), sorted(STATS_KEYS));
    for key in [
        "total_executions",
        "successful_executions",
        "failed_executions",
    ] {
        assert!(json[key].is_u64(), "{key}");
    }
    for key in [
        "avg_duration_ms",
        "min_duration_ms",
        "max_duration_ms",
        "p95_duration_ms",
        "p99_duration_ms",
        "success_rate",
        "error_rate",
        "avg_input_size_bytes",
        "avg_output_size_bytes",
    ] {
        assert!(json[key].is_f64(), "{key}");
    }
    assert_eq!(json["success_rate"], 50.0);
    assert_eq!(json["last_execution"], "2026-01-01T00:00:00.015Z");
    assert_eq!(
        json["error_distribution"],
        serde_json::json!({"VALIDATION_ERROR": 1})
    );
    assert_eq!(json["trend_7d"].as_array().unwrap().len(), 7);
    assert!(
        json["trend_7d"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_f64)
    );
    let back: monitor_core::ToolPerformanceStats = serde_json::from_value(json).unwrap();
    assert_eq!(back, stats);
}

#[test]
fn histogram_json_is_the_reference_buckets_plus_overflow() {
    let monitor = monitor();
    let json = serde_json::to_string(&monitor.duration_histogram("search")).unwrap();
    assert_eq!(
        json,
        r#"{"<= 1ms":0,"<= 5ms":1,"<= 10ms":0,"<= 50ms":1,"<= 100ms":0,"<= 500ms":0,"<= 1000ms":0,"<= 5000ms":0,"<= 10000ms":0,"> 10000ms":0}"#
    );
}
