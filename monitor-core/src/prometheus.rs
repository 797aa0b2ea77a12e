//! Prometheus text exposition (format 0.0.4) of every tool's counters.

use std::fmt::Write as _;

use crate::histogram::DURATION_BUCKETS_MS;
use crate::monitor::ToolExecutionMonitor;
use crate::shard::Totals;
use crate::status::{ErrorCategory, ExecutionStatus};

/// One tool's totals, as the exposition reads them.
struct Series {
    name: String,
    totals: Totals,
}

impl ToolExecutionMonitor {
    /// Every tool's counters in the Prometheus text format 0.0.4.
    ///
    /// Families, each with `# HELP` and `# TYPE`:
    /// - `tool_executions_total{tool, status}` (counter; every status, 0
    ///   included, so `rate()` sees a series from the first scrape);
    /// - `tool_errors_total{tool, category}` (counter; categories seen);
    /// - `tool_execution_duration_seconds{tool}` (histogram with the
    ///   reference's buckets as `le` in seconds, plus `+Inf`, `_sum`, `_count`);
    /// - `tool_input_size_bytes{tool}` and `tool_output_size_bytes{tool}`
    ///   (summaries with `_sum` and `_count`).
    ///
    /// Label values are escaped per the format. Only tool names become
    /// labels (bounded by `max_tools`); user and session ids never do.
    /// A reset makes the counters start again from 0, which Prometheus
    /// treats as a counter reset.
    ///
    /// # Examples
    ///
    /// ```
    /// let monitor = monitor_core::ToolExecutionMonitor::new();
    /// monitor.create_execution_context("search").finish_success();
    /// let text = monitor.render_prometheus();
    /// assert!(text.contains("tool_executions_total{tool=\"search\",status=\"success\"} 1\n"));
    /// ```
    #[must_use]
    pub fn render_prometheus(&self) -> String {
        exposition(
            self.registered_tools()
                .iter()
                .map(|tool| (tool.name.as_ref(), tool.counts())),
        )
    }
}

#[cfg(feature = "store")]
impl crate::store::Store {
    /// The store's running totals in the Prometheus text format, with the
    /// families of [`ToolExecutionMonitor::render_prometheus`]: the sums of
    /// every process that ever flushed to the file. They only grow (pruning
    /// old hours leaves them, a process that exits leaves its share), so
    /// Prometheus sees a counter reset only if the file is deleted or
    /// replaced.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn render_prometheus(&self) -> Result<String, crate::store::StoreError> {
        Ok(exposition(self.running_totals()?.into_iter()))
    }
}

fn exposition<S: AsRef<str>>(tools: impl Iterator<Item = (S, Totals)>) -> String {
    let series: Vec<Series> = tools
        .map(|(name, totals)| Series {
            name: escape_label(name.as_ref()),
            totals,
        })
        .collect();
    let mut out = String::with_capacity(256 + series.len() * 2048);
    // Writing to a String cannot fail.
    let _ = render(&mut out, &series);
    out
}

fn render(out: &mut String, series: &[Series]) -> std::fmt::Result {
    family(
        out,
        "tool_executions_total",
        "counter",
        "Tool executions by final status.",
    )?;
    for s in series {
        for status in ExecutionStatus::ALL {
            writeln!(
                out,
                "tool_executions_total{{tool=\"{}\",status=\"{}\"}} {}",
                s.name,
                status.as_str(),
                s.totals.statuses[status.index()]
            )?;
        }
    }
    family(
        out,
        "tool_errors_total",
        "counter",
        "Failed tool executions by error category.",
    )?;
    for s in series {
        for category in ErrorCategory::ALL {
            let count = s.totals.categories[category.index()];
            if count > 0 {
                writeln!(
                    out,
                    "tool_errors_total{{tool=\"{}\",category=\"{}\"}} {count}",
                    s.name,
                    category.as_str(),
                )?;
            }
        }
    }
    family(
        out,
        "tool_execution_duration_seconds",
        "histogram",
        "Tool execution duration in seconds.",
    )?;
    for s in series {
        let mut cumulative = 0;
        for (i, le_ms) in DURATION_BUCKETS_MS.iter().enumerate() {
            cumulative += s.totals.buckets[i];
            #[allow(clippy::cast_precision_loss)] // bucket bounds are small
            let le = *le_ms as f64 / 1000.0;
            writeln!(
                out,
                "tool_execution_duration_seconds_bucket{{tool=\"{}\",le=\"{le}\"}} {cumulative}",
                s.name
            )?;
        }
        // From the buckets themselves, so `+Inf` is never below a finite
        // bucket when calls land while the counters are read.
        let count = cumulative + s.totals.buckets[DURATION_BUCKETS_MS.len()];
        writeln!(
            out,
            "tool_execution_duration_seconds_bucket{{tool=\"{}\",le=\"+Inf\"}} {count}",
            s.name
        )?;
        #[allow(clippy::cast_precision_loss)] // nanoseconds to seconds
        let seconds = s.totals.total_nanos as f64 / 1e9;
        writeln!(
            out,
            "tool_execution_duration_seconds_sum{{tool=\"{}\"}} {seconds}",
            s.name
        )?;
        writeln!(
            out,
            "tool_execution_duration_seconds_count{{tool=\"{}\"}} {count}",
            s.name
        )?;
    }
    for (metric, help, pick) in [
        (
            "tool_input_size_bytes",
            "Size of tool arguments in bytes (of their Debug text).",
            (|t: &Totals| t.input_bytes) as fn(&Totals) -> u64,
        ),
        (
            "tool_output_size_bytes",
            "Size of tool results in bytes (of their Debug text).",
            |t: &Totals| t.output_bytes,
        ),
    ] {
        family(out, metric, "summary", help)?;
        for s in series {
            writeln!(
                out,
                "{metric}_sum{{tool=\"{}\"}} {}",
                s.name,
                pick(&s.totals)
            )?;
            writeln!(
                out,
                "{metric}_count{{tool=\"{}\"}} {}",
                s.name,
                s.totals.executions()
            )?;
        }
    }
    Ok(())
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) -> std::fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use std::time::Duration;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn exposition_has_every_family_with_cumulative_buckets() {
        let clock = ManualClock::new(chrono::DateTime::UNIX_EPOCH);
        let monitor = ToolExecutionMonitor::builder().clock(clock.clone()).build();
        for ms in [1, 7, 20_000] {
            let mut call = monitor.create_execution_context("we\"ird");
            call.set_input_size(10);
            clock.advance(Duration::from_millis(ms));
            call.finish_success();
        }
        monitor
            .create_execution_context("we\"ird")
            .finish_classified(
                ExecutionStatus::Timeout,
                ErrorCategory::TimeoutError,
                "late",
            );
        let text = monitor.render_prometheus();
        for line in [
            "# TYPE tool_executions_total counter",
            "tool_executions_total{tool=\"we\\\"ird\",status=\"success\"} 3",
            "tool_executions_total{tool=\"we\\\"ird\",status=\"timeout\"} 1",
            "tool_executions_total{tool=\"we\\\"ird\",status=\"cancelled\"} 0",
            "tool_errors_total{tool=\"we\\\"ird\",category=\"TIMEOUT_ERROR\"} 1",
            "# TYPE tool_execution_duration_seconds histogram",
            "tool_execution_duration_seconds_bucket{tool=\"we\\\"ird\",le=\"0.001\"} 2",
            "tool_execution_duration_seconds_bucket{tool=\"we\\\"ird\",le=\"0.01\"} 3",
            "tool_execution_duration_seconds_bucket{tool=\"we\\\"ird\",le=\"10\"} 3",
            "tool_execution_duration_seconds_bucket{tool=\"we\\\"ird\",le=\"+Inf\"} 4",
            "tool_execution_duration_seconds_sum{tool=\"we\\\"ird\"} 20.008",
            "tool_execution_duration_seconds_count{tool=\"we\\\"ird\"} 4",
            "# TYPE tool_input_size_bytes summary",
            "tool_input_size_bytes_sum{tool=\"we\\\"ird\"} 30",
            "tool_output_size_bytes_count{tool=\"we\\\"ird\"} 4",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
