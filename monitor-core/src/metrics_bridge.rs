//! A [`MetricsSink`] that forwards every execution to the `metrics` crate's
//! facade, so any exporter of that ecosystem (Prometheus, `StatsD`,
//! OpenTelemetry, …) sees the same names and labels as
//! [`render_prometheus`](crate::ToolExecutionMonitor::render_prometheus).

use metrics::{Counter, Histogram};

use crate::sink::{ExecutionEvent, MetricsSink};
use crate::status::{ErrorCategory, ExecutionStatus};

/// Forwards executions to the global `metrics` recorder.
///
/// Per execution of tool `t`: `tool_executions_total{tool=t, status}` +1,
/// `tool_errors_total{tool=t, category}` +1 for a failure,
/// `tool_execution_duration_seconds{tool=t}`, `tool_input_size_bytes{tool=t}`
/// and `tool_output_size_bytes{tool=t}` recorded as histograms.
///
/// Handles are registered once per tool, on its first execution, and kept
/// with the tool: forwarding a call builds no key and hashes nothing. So
/// install the recorder (e.g. `metrics-exporter-prometheus`) before the
/// first monitored call; handles made before that stay no-ops.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use monitor_core::{MetricsBridge, ToolExecutionMonitor};
///
/// let monitor = ToolExecutionMonitor::builder().sink(Arc::new(MetricsBridge)).build();
/// monitor.create_execution_context("search").finish_success();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsBridge;

/// The handles of one tool.
struct Handles {
    statuses: [Counter; ExecutionStatus::ALL.len()],
    categories: [Counter; ErrorCategory::ALL.len()],
    duration: Histogram,
    input: Histogram,
    output: Histogram,
}

impl Handles {
    fn new(tool: &str) -> Self {
        let tool = tool.to_owned();
        Self {
            statuses: ExecutionStatus::ALL.map(|status| {
                metrics::counter!("tool_executions_total", "tool" => tool.clone(), "status" => status.as_str())
            }),
            categories: ErrorCategory::ALL.map(|category| {
                metrics::counter!("tool_errors_total", "tool" => tool.clone(), "category" => category.as_str())
            }),
            duration: metrics::histogram!("tool_execution_duration_seconds", "tool" => tool.clone()),
            input: metrics::histogram!("tool_input_size_bytes", "tool" => tool.clone()),
            output: metrics::histogram!("tool_output_size_bytes", "tool" => tool),
        }
    }
}

impl MetricsSink for MetricsBridge {
    fn record_execution(&self, execution: &ExecutionEvent<'_>) {
        execution.with_tool_state(Handles::new, |handles| {
            handles.statuses[execution.status.index()].increment(1);
            if let Some(category) = execution.category {
                handles.categories[category.index()].increment(1);
            }
            handles.duration.record(execution.duration.as_secs_f64());
            #[allow(clippy::cast_precision_loss)] // metric values are f64
            {
                handles.input.record(execution.input_bytes as f64);
                handles.output.record(execution.output_bytes as f64);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;
    use crate::ToolExecutionMonitor;

    #[test]
    fn executions_reach_the_recorder_with_labels() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let monitor = ToolExecutionMonitor::builder()
                .sink(Arc::new(MetricsBridge))
                .build();
            for _ in 0..3 {
                monitor.create_execution_context("search").finish_success();
            }
            monitor
                .create_execution_context("search")
                .finish_classified(ExecutionStatus::Error, ErrorCategory::NetworkError, "down");
        });
        let snapshot = snapshotter.snapshot().into_vec();
        let find = |name: &str, label: (&str, &str)| {
            snapshot
                .iter()
                .find(|(key, ..)| {
                    let key = key.key();
                    key.name() == name
                        && key
                            .labels()
                            .any(|l| l.key() == "tool" && l.value() == "search")
                        && key
                            .labels()
                            .any(|l| l.key() == label.0 && l.value() == label.1)
                })
                .map(|(_, _, _, value)| value)
        };
        assert_eq!(
            find("tool_executions_total", ("status", "success")),
            Some(&DebugValue::Counter(3))
        );
        assert_eq!(
            find("tool_executions_total", ("status", "error")),
            Some(&DebugValue::Counter(1))
        );
        assert_eq!(
            find("tool_errors_total", ("category", "NETWORK_ERROR")),
            Some(&DebugValue::Counter(1))
        );
        let Some(DebugValue::Histogram(durations)) =
            find("tool_execution_duration_seconds", ("tool", "search"))
        else {
            panic!("no duration histogram in {snapshot:?}");
        };
        assert_eq!(durations.len(), 4);
    }
}
