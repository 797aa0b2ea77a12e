//! The tool report: a per-tool table, the duration histograms, the 7-day
//! trend and the last errors, from a live monitor or from a store. The
//! same code renders `tool-monitor report` and `cargo run --example agent`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::Duration;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use monitor_core::{
    DurationHistogram, ErrorCategory, Store, StoreError, ToolExecutionMetrics,
    ToolExecutionMonitor, ToolPerformanceStats,
};
use owo_colors::{OwoColorize, Style};

/// How the report looks: colours and a drawn table on a terminal, plain
/// text otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// ANSI colours.
    pub color: bool,
    /// A table with borders instead of aligned plain columns.
    pub table: bool,
}

impl Look {
    /// Colours and a table when standard output is a terminal; no colours
    /// when `NO_COLOR` is set (to anything but the empty string).
    #[must_use]
    pub fn for_stdout() -> Self {
        let terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: terminal && !no_color,
            table: terminal,
        }
    }

    /// Plain text: no colours, no borders.
    #[must_use]
    pub const fn plain() -> Self {
        Self {
            color: false,
            table: false,
        }
    }

    fn paint(self, text: &str, style: Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_owned()
        }
    }
}

/// What a report shows.
#[derive(Debug, Clone)]
pub struct Report {
    /// The line after the title: what the report covers.
    pub header: String,
    /// Statistics per tool.
    pub stats: BTreeMap<String, ToolPerformanceStats>,
    /// Median duration per tool, in milliseconds.
    pub p50_ms: BTreeMap<String, f64>,
    /// Duration histogram per tool.
    pub histograms: BTreeMap<String, DurationHistogram>,
    /// The recent failures, oldest first.
    pub errors: Vec<ToolExecutionMetrics>,
}

fn millis(duration: Option<Duration>) -> f64 {
    duration.map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

impl Report {
    /// The report of a live monitor, under `header`.
    #[must_use]
    pub fn of_monitor(monitor: &ToolExecutionMonitor, header: impl Into<String>) -> Self {
        let stats = monitor.all_tool_stats();
        Self {
            header: header.into(),
            p50_ms: stats
                .keys()
                .map(|name| (name.clone(), millis(monitor.duration_quantile(name, 0.5))))
                .collect(),
            histograms: stats
                .keys()
                .map(|name| (name.clone(), monitor.duration_histogram(name)))
                .collect(),
            errors: monitor.recent_errors(None, 24),
            stats,
        }
    }

    /// The report of a store over the hours of `since`, for the tools in
    /// `tools` (every tool if empty); its header says the span it covers
    /// and how many processes wrote it. Errors are those of the last 24
    /// hours (or of `since`, if shorter).
    ///
    /// # Errors
    ///
    /// The store could not be read.
    pub fn of_store(store: &Store, since: Duration, tools: &[String]) -> Result<Self, StoreError> {
        let mut stats = store.all_tool_stats(since)?;
        if !tools.is_empty() {
            stats.retain(|name, _| tools.contains(name));
        }
        let mut p50_ms = BTreeMap::new();
        let mut histograms = BTreeMap::new();
        for name in stats.keys() {
            p50_ms.insert(
                name.clone(),
                millis(store.duration_quantile(name, since, 0.5)?),
            );
            histograms.insert(name.clone(), store.duration_histogram(name, since)?);
        }
        let mut errors =
            store.recent_errors_within(None, since.min(Duration::from_secs(24 * 3600)))?;
        if !tools.is_empty() {
            errors.retain(|e| tools.contains(&e.tool_name));
        }
        let coverage = store.coverage(since)?;
        let calls: u64 = stats.values().map(|s| s.total_executions).sum();
        let span = match (coverage.first_hour, coverage.last_hour) {
            (Some(first), Some(last)) => format!(
                "hours {} to {} UTC",
                first.format("%Y-%m-%d %H:00"),
                (last + chrono::TimeDelta::hours(1)).format("%Y-%m-%d %H:00")
            ),
            _ => "no hours with calls".to_owned(),
        };
        let processes = coverage.processes;
        let header = format!(
            "{calls} tool calls in the last {} of {}, written by {processes} process{} ({span})",
            crate::span::format(since),
            store.path().display(),
            if processes == 1 { "" } else { "es" },
        );
        Ok(Self {
            header,
            stats,
            p50_ms,
            histograms,
            errors,
        })
    }

    /// The report as JSON: `header`, `tools` (the stats with the
    /// reference's keys, plus `p50_duration_ms`), `duration_histograms`
    /// and `recent_errors`.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let tools: serde_json::Map<String, serde_json::Value> = self
            .stats
            .iter()
            .map(|(name, s)| {
                let mut value = serde_json::to_value(s).unwrap_or_default();
                value["p50_duration_ms"] = self.p50_ms.get(name).copied().unwrap_or(0.0).into();
                (name.clone(), value)
            })
            .collect();
        let histograms: serde_json::Map<String, serde_json::Value> = self
            .histograms
            .iter()
            .map(|(name, h)| {
                let buckets: serde_json::Map<String, serde_json::Value> = h
                    .buckets()
                    .map(|(label, _, n)| (label.to_owned(), n.into()))
                    .collect();
                (name.clone(), buckets.into())
            })
            .collect();
        serde_json::json!({
            "header": self.header,
            "tools": tools,
            "duration_histograms": histograms,
            "recent_errors": self.errors,
        })
    }

    /// The report as text under `title`.
    #[must_use]
    pub fn render(&self, title: &str, look: Look) -> String {
        let mut out = String::new();
        let heading = |text: &str| look.paint(text, Style::new().bold().underline());
        let _ = writeln!(out, "{} {}\n", heading(title), self.header);
        out.push_str(&self.table(look));
        out.push('\n');

        let _ = writeln!(out, "{}", heading("Duration histograms"));
        for name in self.stats.keys() {
            let _ = writeln!(out, "  {}", look.paint(name, Style::new().bold()));
            let histogram = self.histograms.get(name).copied().unwrap_or_default();
            let most = histogram.counts().into_iter().max().unwrap_or(0).max(1);
            for (label, _, count) in histogram.buckets().filter(|(_, _, n)| *n > 0) {
                let width = usize::try_from(count * 40 / most).unwrap_or(40).max(1);
                let bar = if look.table { "█" } else { "#" }.repeat(width);
                let _ = writeln!(
                    out,
                    "    {label:>11} {} {count}",
                    look.paint(&bar, Style::new().cyan())
                );
            }
        }

        let _ = writeln!(
            out,
            "\n{}",
            heading("7-day success trend (oldest day first)")
        );
        for (name, s) in &self.stats {
            let days: Vec<String> = s.trend_7d.iter().map(|r| format!("{r:5.1}")).collect();
            let _ = writeln!(out, "  {name:>16}  {}", days.join(" "));
        }

        let _ = writeln!(out, "\n{}", heading("Last five errors"));
        for error in self.errors.iter().rev().take(5).rev() {
            let category = error.error_category.map_or("-", ErrorCategory::as_str);
            let _ = writeln!(
                out,
                "  {} {:>14} {:<16} {}",
                error
                    .end_time
                    .unwrap_or(error.start_time)
                    .format("%H:%M:%S%.3f"),
                error.tool_name,
                look.paint(category, Style::new().red()),
                error.error_message.as_deref().unwrap_or("")
            );
        }
        if self.errors.is_empty() {
            out.push_str("  none\n");
        }
        out
    }

    fn table(&self, look: Look) -> String {
        const HEADER: [&str; 9] = [
            "tool",
            "calls",
            "success %",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "avg in B",
            "avg out B",
            "top error",
        ];
        let rows: Vec<[String; 9]> = self
            .stats
            .iter()
            .map(|(name, s)| {
                // Failures without a category are cancellations.
                let cancelled = s.failed_executions - s.error_distribution.values().sum::<u64>();
                let top_error = s
                    .error_distribution
                    .iter()
                    .map(|(c, n)| (c.as_str(), *n))
                    .chain([("cancelled", cancelled)])
                    .filter(|(_, n)| *n > 0)
                    .max_by_key(|(_, n)| *n)
                    .map_or_else(|| "-".to_owned(), |(what, n)| format!("{what} ({n})"));
                [
                    name.clone(),
                    s.total_executions.to_string(),
                    format!("{:.1}", s.success_rate),
                    ms(self.p50_ms.get(name).copied().unwrap_or(0.0)),
                    ms(s.p95_duration_ms),
                    ms(s.p99_duration_ms),
                    format!("{:.0}", s.avg_input_size_bytes),
                    format!("{:.0}", s.avg_output_size_bytes),
                    top_error,
                ]
            })
            .collect();
        if look.table {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_header(HEADER);
            for row in rows {
                table.add_row(row.to_vec());
            }
            for column in 1..8 {
                if let Some(column) = table.column_mut(column) {
                    column.set_cell_alignment(CellAlignment::Right);
                }
            }
            format!("{table}\n")
        } else {
            // Aligned columns of plain text: the name left, numbers right.
            let widths: Vec<usize> = (0..9)
                .map(|i| {
                    rows.iter()
                        .map(|r| r[i].chars().count())
                        .chain([HEADER[i].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |cells: &[&str]| {
                let mut line = String::new();
                for (i, cell) in cells.iter().enumerate() {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    if i == 0 || i == 8 {
                        let _ = write!(line, "{cell}{}", " ".repeat(if i == 8 { 0 } else { pad }));
                    } else {
                        let _ = write!(line, "{}{cell}", " ".repeat(pad));
                    }
                    if i < 8 {
                        line.push_str("  ");
                    }
                }
                line.trim_end().to_owned() + "\n"
            };
            let mut out = line(&HEADER);
            for row in &rows {
                out.push_str(&line(&row.each_ref().map(String::as_str)));
            }
            out
        }
    }
}

/// Milliseconds with the precision that reads well at their size.
fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.1}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}
