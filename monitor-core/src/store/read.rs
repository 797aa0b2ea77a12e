//! The reading side: [`Store`], the merged view of every process that
//! wrote a file, with the types in-process reads return.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::StoreError;
use super::counts::Counts;
use super::rows::{COUNT_COLUMNS, RECORD_COLUMNS, read_counts, read_record};
use super::schema::open_for_reading;
use crate::clock::NANOS_PER_HOUR;
use crate::histogram::DurationHistogram;
use crate::metrics::ToolExecutionMetrics;
use crate::shard::Totals;
use crate::stats::ToolPerformanceStats;
use crate::trend::TREND_DAYS;

/// How long a read waits for a writer's commit before it fails (WAL readers
/// do not wait for writers; only a checkpoint or schema change can make
/// them).
const READ_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A store file, read: statistics merged over every process and hour that
/// wrote to it.
///
/// Counts, sums, minimum, maximum and the duration buckets are exact over
/// the rows merged; p95/p99 come from the merged log-linear histograms,
/// within 1% as in-process. A window is whole hours: `Duration::from_secs(
/// 24 * 3600)` covers the current hour and the 23 before it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use monitor_core::{Store, StoreConfig, ToolExecutionMonitor};
///
/// let path = std::env::temp_dir().join(format!("doc-store-{}.db", std::process::id()));
/// let monitor = ToolExecutionMonitor::builder().store(StoreConfig::at(&path)).build();
/// monitor.create_execution_context("search").finish_success();
/// monitor.flush().unwrap();
///
/// let store = Store::open(&path).unwrap();
/// let week = Duration::from_secs(7 * 24 * 3600);
/// assert_eq!(store.tool_stats("search", week).unwrap().unwrap().total_executions, 1);
/// # drop(monitor); drop(store);
/// # for ext in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{ext}", path.display())); }
/// ```
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// What a store file holds, in brief.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct StoreInfo {
    /// The file.
    pub path: PathBuf,
    /// Its schema version (`PRAGMA user_version`).
    pub schema_version: i64,
    /// Its size on disk in bytes, write-ahead log included.
    pub size_bytes: u64,
    /// The start of the oldest hour with rows.
    pub first_hour: Option<DateTime<Utc>>,
    /// The start of the newest hour with rows.
    pub last_hour: Option<DateTime<Utc>>,
    /// Tools with rows.
    pub tools: u64,
    /// Processes that wrote to it.
    pub processes: u64,
    /// Executions in all its rows.
    pub executions: u64,
}

/// One tool's hour, merged over the processes that ran it: a row of
/// `tool-monitor export`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct HourRow {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    /// The tool.
    pub tool: String,
    /// Processes that ran it in that hour.
    pub processes: u64,
    /// Executions.
    pub executions: u64,
    /// Executions with status success.
    pub successes: u64,
    /// Executions with any other status.
    pub failures: u64,
    /// Mean duration in milliseconds.
    pub avg_duration_ms: f64,
    /// Median duration in milliseconds (within 1%).
    pub p50_duration_ms: f64,
    /// 95th percentile duration in milliseconds (within 1%).
    pub p95_duration_ms: f64,
    /// 99th percentile duration in milliseconds (within 1%).
    pub p99_duration_ms: f64,
    /// Shortest duration in milliseconds.
    pub min_duration_ms: f64,
    /// Longest duration in milliseconds.
    pub max_duration_ms: f64,
    /// Sum of input sizes in bytes.
    pub input_bytes: u64,
    /// Sum of output sizes in bytes.
    pub output_bytes: u64,
}

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Pruned {
    /// Hourly rows (tool × hour × process).
    pub hours: u64,
    /// Error records.
    pub errors: u64,
    /// Execution records.
    pub executions: u64,
}

/// Which hours and processes a window of a store covers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Coverage {
    /// The start of the oldest hour with rows in the window.
    pub first_hour: Option<DateTime<Utc>>,
    /// The start of the newest hour with rows in the window.
    pub last_hour: Option<DateTime<Utc>>,
    /// Processes with rows in the window.
    pub processes: u64,
    /// Executions in the window.
    pub executions: u64,
}

fn window_start_hour(now: DateTime<Utc>, window: Duration) -> i64 {
    let now_nanos = now.timestamp_nanos_opt().unwrap_or(i64::MAX);
    let window = i64::try_from(window.as_nanos()).unwrap_or(i64::MAX);
    // The current hour counts whole: a 1-hour window is this hour.
    (now_nanos.div_euclid(NANOS_PER_HOUR) + 1)
        .saturating_sub(window.div_euclid(NANOS_PER_HOUR).max(1))
}

impl Store {
    /// Opens a store to read it (the file must exist). Another process may
    /// write it at the same time; each read is a consistent snapshot.
    ///
    /// # Errors
    ///
    /// A missing file, a directory, a file that is not SQLite or not a
    /// store, or one of a newer schema version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), false)
    }

    /// As [`open`](Self::open), without write access to the file.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), true)
    }

    fn open_with(path: &Path, read_only: bool) -> Result<Self, StoreError> {
        let conn = open_for_reading(path, read_only, READ_BUSY_TIMEOUT)?;
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        read(&conn).map_err(|e| StoreError::sqlite(&self.path, e))
    }

    /// The statistics of `tool` over the hours of `window` ending now,
    /// merged over every process; `None` if it has no executions there.
    /// `trend_7d` is its success % of each of the last seven 24-hour
    /// windows, as in-process.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn tool_stats(
        &self,
        tool: &str,
        window: Duration,
    ) -> Result<Option<ToolPerformanceStats>, StoreError> {
        Ok(self.stats(Some(tool), window)?.remove(tool))
    }

    /// [`tool_stats`](Self::tool_stats) of every tool with executions in
    /// the window, by name.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn all_tool_stats(
        &self,
        window: Duration,
    ) -> Result<BTreeMap<String, ToolPerformanceStats>, StoreError> {
        self.stats(None, window)
    }

    /// The merged counts per tool over the hours from `from_hour`.
    fn merged(
        &self,
        tool: Option<&str>,
        from_hour: i64,
    ) -> Result<BTreeMap<String, Counts>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COUNT_COLUMNS}, tool FROM tool_hours \
                 WHERE hour_start >= ?1 AND (?2 IS NULL OR tool = ?2)"
            ))?;
            let mut merged: BTreeMap<String, Counts> = BTreeMap::new();
            let mut rows = statement.query(params![from_hour.saturating_mul(3600), tool])?;
            while let Some(row) = rows.next()? {
                let counts = read_counts(row)?;
                let name: String = row.get(10)?;
                merged.entry(name).or_default().add(&counts);
            }
            Ok(merged)
        })
    }

    fn stats(
        &self,
        tool: Option<&str>,
        window: Duration,
    ) -> Result<BTreeMap<String, ToolPerformanceStats>, StoreError> {
        let now = Utc::now();
        let merged = self.merged(tool, window_start_hour(now, window))?;
        let trends = self.trends(tool, now)?;
        Ok(merged
            .into_iter()
            .filter_map(|(name, counts)| {
                let trend = trends
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| vec![0.0; TREND_DAYS]);
                let stats = ToolPerformanceStats::from_totals(&name, &counts.to_totals(), trend)?;
                Some((name, stats))
            })
            .collect())
    }

    /// Success % per 24-hour window of the last seven, per tool.
    fn trends(
        &self,
        tool: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Vec<f64>>, StoreError> {
        let days = i64::try_from(TREND_DAYS).unwrap_or(7);
        let end = window_start_hour(now, Duration::from_secs(3600)) + 1;
        let start = end - days * 24;
        let hours: Vec<(String, i64, u64, u64)> = self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT tool, hour_start, sum(executions), sum(successes) FROM tool_hours \
                 WHERE hour_start >= ?1 AND (?2 IS NULL OR tool = ?2) GROUP BY tool, hour_start",
            )?;
            statement
                .query_map(params![start * 3600, tool], |row| {
                    Ok((
                        row.get(0)?,
                        row.get::<_, i64>(1)? / 3600,
                        u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                        u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
                    ))
                })?
                .collect()
        })?;
        let mut sums: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
        for (name, hour, executions, successes) in hours {
            let Ok(day) = usize::try_from((hour - start).div_euclid(24)) else {
                continue;
            };
            let days = sums.entry(name).or_insert_with(|| vec![(0, 0); TREND_DAYS]);
            if let Some(slot) = days.get_mut(day) {
                slot.0 += executions;
                slot.1 += successes;
            }
        }
        #[allow(clippy::cast_precision_loss)] // a percentage
        let rate = |(n, ok): (u64, u64)| {
            if n == 0 {
                0.0
            } else {
                ok as f64 / n as f64 * 100.0
            }
        };
        Ok(sums
            .into_iter()
            .map(|(name, days)| (name, days.into_iter().map(rate).collect()))
            .collect())
    }

    /// Executions of `tool` by duration over the hours of `window`, in the
    /// reference's buckets plus the overflow bucket; all zero without rows.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn duration_histogram(
        &self,
        tool: &str,
        window: Duration,
    ) -> Result<DurationHistogram, StoreError> {
        let merged = self.merged(Some(tool), window_start_hour(Utc::now(), window))?;
        Ok(merged
            .get(tool)
            .map(|counts| DurationHistogram::from_counts(counts.buckets))
            .unwrap_or_default())
    }

    /// The duration below which a fraction `q` of the executions of `tool`
    /// in the hours of `window` fall, within 1%, as
    /// [`ToolExecutionMonitor::duration_quantile`](crate::ToolExecutionMonitor::duration_quantile)
    /// computes it; `None` without executions or for a `q` outside
    /// `0.0..=1.0`.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn duration_quantile(
        &self,
        tool: &str,
        window: Duration,
        q: f64,
    ) -> Result<Option<Duration>, StoreError> {
        if !(0.0..=1.0).contains(&q) {
            return Ok(None);
        }
        let merged = self.merged(Some(tool), window_start_hour(Utc::now(), window))?;
        Ok(merged.get(tool).and_then(|counts| {
            let totals = counts.to_totals();
            let (min, max) = (totals.min_nanos.min(totals.max_nanos), totals.max_nanos);
            totals
                .latency
                .quantile(q, min, max)
                .map(Duration::from_nanos)
        }))
    }

    /// The failures of `tool` (every tool with `None`) that started within
    /// the last `hours`, oldest first, from every process: as
    /// [`ToolExecutionMonitor::recent_errors`](crate::ToolExecutionMonitor::recent_errors).
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn recent_errors(
        &self,
        tool: Option<&str>,
        hours: u32,
    ) -> Result<Vec<ToolExecutionMetrics>, StoreError> {
        self.recent_errors_within(tool, Duration::from_secs(u64::from(hours) * 3600))
    }

    /// The failures that started within `window` of now, oldest first.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn recent_errors_within(
        &self,
        tool: Option<&str>,
        window: Duration,
    ) -> Result<Vec<ToolExecutionMetrics>, StoreError> {
        let now = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(i64::try_from(window.as_nanos()).unwrap_or(i64::MAX));
        self.records(
            "SELECT * FROM (SELECT {columns}, started_ns FROM errors \
             WHERE started_ns > ?1 AND (?2 IS NULL OR tool = ?2) \
             ORDER BY started_ns DESC LIMIT ?3) ORDER BY started_ns",
            cutoff,
            tool,
            i64::MAX,
        )
    }

    /// The newest `limit` executions of `tool` (every tool with `None`)
    /// from every process, oldest first.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn recent_executions(
        &self,
        tool: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ToolExecutionMetrics>, StoreError> {
        self.records(
            "SELECT * FROM (SELECT {columns}, started_ns FROM executions \
             WHERE started_ns > ?1 AND (?2 IS NULL OR tool = ?2) \
             ORDER BY started_ns DESC LIMIT ?3) ORDER BY started_ns",
            i64::MIN,
            tool,
            i64::try_from(limit).unwrap_or(i64::MAX),
        )
    }

    fn records(
        &self,
        query: &str,
        after_nanos: i64,
        tool: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ToolExecutionMetrics>, StoreError> {
        let query = query.replace("{columns}", RECORD_COLUMNS);
        self.with(|conn| {
            let mut statement = conn.prepare_cached(&query)?;
            let rows = statement.query_map(params![after_nanos, tool, limit], read_record)?;
            rows.filter_map(Result::transpose)
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    /// The hours and processes with rows in the hours of `window`.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn coverage(&self, window: Duration) -> Result<Coverage, StoreError> {
        let from = window_start_hour(Utc::now(), window).saturating_mul(3600);
        let hour = |seconds: Option<i64>| seconds.and_then(|s| DateTime::from_timestamp(s, 0));
        self.with(|conn| {
            conn.query_row(
                "SELECT min(hour_start), max(hour_start), count(DISTINCT process_id), sum(executions) \
                 FROM tool_hours WHERE hour_start >= ?1",
                [from],
                |row| {
                    Ok(Coverage {
                        first_hour: hour(row.get(0)?),
                        last_hour: hour(row.get(1)?),
                        processes: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                        executions: row
                            .get::<_, Option<i64>>(3)?
                            .and_then(|n| u64::try_from(n).ok())
                            .unwrap_or(0),
                    })
                },
            )
        })
    }

    /// Hourly rows of `tool` (every tool with `None`) in the hours of
    /// `window`, oldest first, merged over processes.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn hourly(&self, tool: Option<&str>, window: Duration) -> Result<Vec<HourRow>, StoreError> {
        let from = window_start_hour(Utc::now(), window).saturating_mul(3600);
        let rows: Vec<(i64, String, Counts, i64)> = self.with(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COUNT_COLUMNS}, tool, hour_start, process_id FROM tool_hours \
                 WHERE hour_start >= ?1 AND (?2 IS NULL OR tool = ?2) ORDER BY hour_start, tool"
            ))?;
            let rows = statement.query_map(params![from, tool], |row| {
                Ok((row.get(11)?, row.get(10)?, read_counts(row)?, row.get(12)?))
            })?;
            rows.collect()
        })?;
        let mut merged: BTreeMap<(i64, String), (Counts, u64)> = BTreeMap::new();
        for (hour, name, counts, _process) in rows {
            let entry = merged.entry((hour, name)).or_default();
            entry.0.add(&counts);
            entry.1 += 1;
        }
        #[allow(clippy::cast_precision_loss)] // nanoseconds as fractional ms
        let ms = |nanos: u64| nanos as f64 / 1e6;
        Ok(merged
            .into_iter()
            .filter_map(|((hour, tool), (counts, processes))| {
                let totals = counts.to_totals();
                let executions = counts.executions();
                let (min, max) = (totals.min_nanos.min(totals.max_nanos), totals.max_nanos);
                let q = |q| ms(totals.latency.quantile(q, min, max).unwrap_or(max));
                #[allow(clippy::cast_precision_loss)] // a mean
                let avg = ms(counts.total_nanos) / executions.max(1) as f64;
                Some(HourRow {
                    hour: DateTime::from_timestamp(hour, 0)?,
                    tool,
                    processes,
                    executions,
                    successes: counts.successes(),
                    failures: executions - counts.successes(),
                    avg_duration_ms: avg,
                    p50_duration_ms: q(0.5),
                    p95_duration_ms: q(0.95),
                    p99_duration_ms: q(0.99),
                    min_duration_ms: ms(min),
                    max_duration_ms: ms(max),
                    input_bytes: counts.input_bytes,
                    output_bytes: counts.output_bytes,
                })
            })
            .collect())
    }

    /// Deletes hourly rows, error and execution records older than
    /// `older_than`; the running totals (and so Prometheus counters) stay.
    /// Writers prune by their own retention on every flush; this is for a
    /// shorter one, by hand.
    ///
    /// # Errors
    ///
    /// The file could not be written (opened with
    /// [`open_read_only`](Self::open_read_only), or locked for longer than
    /// the busy timeout).
    pub fn prune(&self, older_than: Duration) -> Result<Pruned, StoreError> {
        let now = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(i64::try_from(older_than.as_nanos()).unwrap_or(i64::MAX));
        let cutoff_hour = cutoff.div_euclid(NANOS_PER_HOUR) * 3600;
        self.with(|conn| {
            let tx = conn.unchecked_transaction()?;
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            let pruned = Pruned {
                hours: count(tx.execute(
                    "DELETE FROM tool_hours WHERE hour_start < ?1",
                    [cutoff_hour],
                )?),
                errors: count(tx.execute("DELETE FROM errors WHERE started_ns < ?1", [cutoff])?),
                executions: count(
                    tx.execute("DELETE FROM executions WHERE started_ns < ?1", [cutoff])?,
                ),
            };
            tx.commit()?;
            Ok(pruned)
        })
    }

    /// Every tool's running totals over all that was ever flushed to the
    /// file (pruning leaves them), by name: what Prometheus counters read.
    pub(crate) fn running_totals(&self) -> Result<Vec<(String, Totals)>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COUNT_COLUMNS}, tool FROM tool_totals ORDER BY tool"
            ))?;
            let rows =
                statement.query_map([], |row| Ok((row.get(10)?, read_counts(row)?.to_totals())))?;
            rows.collect()
        })
    }

    /// The file, its schema version, size, span, tools and processes.
    ///
    /// # Errors
    ///
    /// The file could not be read.
    pub fn info(&self) -> Result<StoreInfo, StoreError> {
        let size = |suffix: &str| {
            let mut name = self.path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).map_or(0, |m| m.len())
        };
        let hour = |seconds: Option<i64>| seconds.and_then(|s| DateTime::from_timestamp(s, 0));
        self.with(|conn| {
            let schema_version = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            let (first, last, tools, executions): (Option<i64>, Option<i64>, i64, Option<i64>) = conn
                .query_row(
                    "SELECT min(hour_start), max(hour_start), count(DISTINCT tool), sum(executions) \
                     FROM tool_hours",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )?;
            let processes: i64 = conn.query_row("SELECT count(*) FROM processes", [], |row| row.get(0))?;
            Ok(StoreInfo {
                path: self.path.clone(),
                schema_version,
                size_bytes: size("") + size("-wal"),
                first_hour: hour(first),
                last_hour: hour(last),
                tools: u64::try_from(tools).unwrap_or(0),
                processes: u64::try_from(processes).unwrap_or(0),
                executions: executions.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
            })
        })
    }
}
