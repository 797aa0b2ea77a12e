//! `ToolPerformanceStats`: one tool's statistics, computed from its counters.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::wall_from_nanos;
use crate::shard::Totals;
use crate::status::ErrorCategory;

/// Quantiles reported, as the reference computes them.
const P95: f64 = 0.95;
const P99: f64 = 0.99;

/// Performance statistics of one tool since its last reset.
///
/// Every field of the reference's `ToolPerformanceStats`, with the same JSON
/// keys. Counts, sums, means, minimum and maximum are exact. `p95`/`p99` are
/// the value at sorted index `floor(n·q)` (clamped to `n-1`), as the
/// reference, within 1% relative error, over *all* executions since the last
/// reset (the reference looks at the last 500 to 1000 only).
///
/// # Examples
///
/// ```
/// let monitor = monitor_core::ToolExecutionMonitor::new();
/// monitor.create_execution_context("add").finish_success();
/// let stats = monitor.tool_stats("add").unwrap();
/// let json = serde_json::to_value(&stats).unwrap();
/// assert_eq!(json["successful_executions"], 1);
/// assert_eq!(json["trend_7d"].as_array().unwrap().len(), 7);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolPerformanceStats {
    /// The tool's name.
    pub tool_name: String,
    /// Executions recorded.
    pub total_executions: u64,
    /// Executions with status success.
    pub successful_executions: u64,
    /// Executions with any other status.
    pub failed_executions: u64,
    /// Mean duration in milliseconds.
    pub avg_duration_ms: f64,
    /// Shortest duration in milliseconds.
    pub min_duration_ms: f64,
    /// Longest duration in milliseconds.
    pub max_duration_ms: f64,
    /// 95th percentile duration in milliseconds (within 1%).
    pub p95_duration_ms: f64,
    /// 99th percentile duration in milliseconds (within 1%).
    pub p99_duration_ms: f64,
    /// Successful executions in percent, 0–100.
    pub success_rate: f64,
    /// Failed executions in percent, 0–100.
    pub error_rate: f64,
    /// Mean input size in bytes.
    pub avg_input_size_bytes: f64,
    /// Mean output size in bytes.
    pub avg_output_size_bytes: f64,
    /// When the latest execution ended.
    pub last_execution: Option<DateTime<Utc>>,
    /// Failed executions by error category (only categories that occurred).
    pub error_distribution: BTreeMap<ErrorCategory, u64>,
    /// Success % of each of the last seven 24-hour windows ending now,
    /// oldest first; 0.0 for a window without executions.
    pub trend_7d: Vec<f64>,
}

#[allow(clippy::cast_precision_loss)] // counts and nanoseconds as f64 statistics
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[allow(clippy::cast_precision_loss)] // nanoseconds to fractional ms
fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

impl ToolPerformanceStats {
    /// Statistics from a tool's summed counters; `None` if it has none.
    pub(crate) fn from_totals(name: &str, totals: &Totals, trend_7d: Vec<f64>) -> Option<Self> {
        let total = totals.executions();
        if total == 0 {
            return None;
        }
        let successes = totals.successes();
        let (min, max) = (totals.min_nanos.min(totals.max_nanos), totals.max_nanos);
        let quantile = |q| ms(totals.latency.quantile(q, min, max).unwrap_or(max));
        Some(Self {
            tool_name: name.to_owned(),
            total_executions: total,
            successful_executions: successes,
            failed_executions: total - successes,
            avg_duration_ms: ratio(totals.total_nanos, total) / 1e6,
            min_duration_ms: ms(min),
            max_duration_ms: ms(max),
            p95_duration_ms: quantile(P95),
            p99_duration_ms: quantile(P99),
            success_rate: ratio(successes, total) * 100.0,
            error_rate: ratio(total - successes, total) * 100.0,
            avg_input_size_bytes: ratio(totals.input_bytes, total),
            avg_output_size_bytes: ratio(totals.output_bytes, total),
            last_execution: (totals.last_wall_nanos != i64::MIN)
                .then(|| wall_from_nanos(totals.last_wall_nanos)),
            error_distribution: ErrorCategory::ALL
                .iter()
                .zip(totals.categories)
                .filter(|(_, n)| *n > 0)
                .map(|(c, n)| (*c, n))
                .collect(),
            trend_7d,
        })
    }
}
