//! Rows to and from the values the monitor already knows: [`Counts`] for
//! `tool_hours`, [`ToolExecutionMetrics`] for `errors` and `executions`.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Row, Transaction, params};
use serde_json::{Map, Value};

use super::counts::Counts;
use crate::histogram::DURATION_BUCKET_COUNT;
use crate::metrics::ToolExecutionMetrics;
use crate::status::{ErrorCategory, ExecutionStatus};

/// The columns of `tool_hours` that hold counts, in [`read_counts`] order.
pub(crate) const COUNT_COLUMNS: &str = "statuses, categories, total_duration_ns, min_duration_ns, \
     max_duration_ns, input_bytes, output_bytes, last_execution_ns, duration_buckets, \
     latency_histogram";

/// The columns of `errors` and `executions`, in [`read_record`] order.
pub(crate) const RECORD_COLUMNS: &str = "execution_id, tool, started_at, ended_at, duration_ms, \
     status, category, message, input_bytes, output_bytes, memory_mb, user_id, session_id, metadata";

pub(crate) fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uint(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// The count columns of a row, encoded: what [`COUNT_COLUMNS`] name, after
/// `executions`, `successes` and `failures`.
fn encode(counts: &Counts) -> [rusqlite::types::Value; 13] {
    use rusqlite::types::Value as Sql;
    let statuses: Map<String, Value> = ExecutionStatus::ALL
        .iter()
        .zip(counts.statuses)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| (s.as_str().to_owned(), n.into()))
        .collect();
    let categories: Map<String, Value> = ErrorCategory::ALL
        .iter()
        .zip(counts.categories)
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| (c.as_str().to_owned(), n.into()))
        .collect();
    let latency: Map<String, Value> = counts
        .latency
        .iter()
        .map(|(i, n)| (i.to_string(), (*n).into()))
        .collect();
    let executions = counts.executions();
    let some = executions > 0;
    let optional = |value: Option<i64>| value.map_or(Sql::Null, Sql::Integer);
    [
        Sql::Integer(int(executions)),
        Sql::Integer(int(counts.successes())),
        Sql::Integer(int(executions - counts.successes())),
        Sql::Text(Value::Object(statuses).to_string()),
        Sql::Text(Value::Object(categories).to_string()),
        Sql::Integer(int(counts.total_nanos)),
        optional(some.then(|| int(counts.min_nanos))),
        optional(some.then(|| int(counts.max_nanos))),
        Sql::Integer(int(counts.input_bytes)),
        Sql::Integer(int(counts.output_bytes)),
        optional((counts.last_wall_nanos != i64::MIN).then_some(counts.last_wall_nanos)),
        Sql::Text(Value::from(counts.buckets.to_vec()).to_string()),
        Sql::Text(Value::Object(latency).to_string()),
    ]
}

/// All columns of `tool_hours` and `tool_totals` after their keys.
const VALUE_COLUMNS: &str = "executions, successes, failures, statuses, categories, \
     total_duration_ns, min_duration_ns, max_duration_ns, input_bytes, output_bytes, \
     last_execution_ns, duration_buckets, latency_histogram";

fn not_found_is_empty(result: rusqlite::Result<Counts>) -> rusqlite::Result<Counts> {
    result.or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(Counts::default()),
        e => Err(e),
    })
}

/// Adds `counts` to the row of (`tool`, `hour`, `process`) in
/// `tool_hours`, and to the tool's running totals in `tool_totals`, which
/// pruning never touches (so counters exported from them only grow).
pub(crate) fn add_hour(
    tx: &Transaction<'_>,
    tool: &str,
    hour: i64,
    process: i64,
    counts: &Counts,
) -> rusqlite::Result<()> {
    let mut row = not_found_is_empty(tx.query_row(
        &format!(
            "SELECT {COUNT_COLUMNS} FROM tool_hours \
             WHERE tool = ?1 AND hour_start = ?2 AND process_id = ?3"
        ),
        params![tool, hour * 3600, process],
        read_counts,
    ))?;
    row.add(counts);
    let hour_text = DateTime::from_timestamp(hour * 3600, 0).map_or_else(String::new, |t| {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    });
    let mut values: Vec<rusqlite::types::Value> = vec![
        tool.to_owned().into(),
        (hour * 3600).into(),
        hour_text.into(),
        process.into(),
    ];
    values.extend(encode(&row));
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO tool_hours (tool, hour_start, hour, process_id, {VALUE_COLUMNS}) \
         VALUES ({})",
        placeholders(17)
    ))?
    .execute(rusqlite::params_from_iter(values))?;

    let mut total = not_found_is_empty(tx.query_row(
        &format!("SELECT {COUNT_COLUMNS} FROM tool_totals WHERE tool = ?1"),
        [tool],
        read_counts,
    ))?;
    total.add(counts);
    let mut values: Vec<rusqlite::types::Value> = vec![tool.to_owned().into()];
    values.extend(encode(&total));
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO tool_totals (tool, {VALUE_COLUMNS}) VALUES ({})",
        placeholders(14)
    ))?
    .execute(rusqlite::params_from_iter(values))?;
    Ok(())
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn json_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(index)?;
    // A hand-edited cell that is not JSON counts as empty, not as an error.
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// One `tool_hours` row's counts, from the [`COUNT_COLUMNS`] at the start
/// of the row. Keys this version does not know (a status a later version
/// added) are skipped.
pub(crate) fn read_counts(row: &Row<'_>) -> rusqlite::Result<Counts> {
    let mut counts = Counts::default();
    let statuses = json_column(row, 0)?;
    for (i, status) in ExecutionStatus::ALL.iter().enumerate() {
        counts.statuses[i] = statuses[status.as_str()].as_u64().unwrap_or(0);
    }
    let categories = json_column(row, 1)?;
    for (i, category) in ErrorCategory::ALL.iter().enumerate() {
        counts.categories[i] = categories[category.as_str()].as_u64().unwrap_or(0);
    }
    counts.total_nanos = uint(row.get(2)?);
    let min: Option<i64> = row.get(3)?;
    let max: Option<i64> = row.get(4)?;
    if let (Some(min), Some(max)) = (min, max) {
        counts.min_nanos = uint(Some(min));
        counts.max_nanos = uint(Some(max));
    }
    counts.input_bytes = uint(row.get(5)?);
    counts.output_bytes = uint(row.get(6)?);
    counts.last_wall_nanos = row.get::<_, Option<i64>>(7)?.unwrap_or(i64::MIN);
    if let Value::Array(buckets) = json_column(row, 8)? {
        for (i, n) in buckets.iter().take(DURATION_BUCKET_COUNT).enumerate() {
            counts.buckets[i] = n.as_u64().unwrap_or(0);
        }
    }
    if let Value::Object(latency) = json_column(row, 9)? {
        for (index, n) in latency {
            if let (Ok(index), Some(n)) = (index.parse(), n.as_u64()) {
                counts.latency.insert(index, n);
            }
        }
    }
    Ok(counts)
}

/// Adds one record to `table` (`errors` or `executions`); a record
/// already there (same process and execution id) is left as it is.
pub(crate) fn insert_record(
    tx: &Transaction<'_>,
    table: &str,
    process: i64,
    record: &ToolExecutionMetrics,
) -> rusqlite::Result<()> {
    let started_ns = record.start_time.timestamp_nanos_opt().unwrap_or(i64::MAX);
    tx.prepare_cached(&format!(
        "INSERT OR IGNORE INTO {table} (process_id, started_ns, {RECORD_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))?
    .execute(params![
        process,
        started_ns,
        record.execution_id,
        record.tool_name,
        iso(record.start_time),
        record.end_time.map(iso),
        record.duration_ms,
        record.status.as_str(),
        record.error_category.map(ErrorCategory::as_str),
        record.error_message,
        int(record.input_size_bytes),
        int(record.output_size_bytes),
        record.memory_usage_mb,
        record.user_id,
        record.session_id,
        Value::Object(record.metadata.clone()).to_string(),
    ])?;
    Ok(())
}

fn time(text: Option<String>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// One record from the [`RECORD_COLUMNS`]; `None` for a row whose status
/// this version does not know.
pub(crate) fn read_record(row: &Row<'_>) -> rusqlite::Result<Option<ToolExecutionMetrics>> {
    let status: String = row.get(5)?;
    let Some(status) = ExecutionStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == status)
    else {
        return Ok(None);
    };
    let category: Option<String> = row.get(6)?;
    let Some(start_time) = time(row.get(2)?) else {
        return Ok(None);
    };
    Ok(Some(ToolExecutionMetrics {
        execution_id: row.get(0)?,
        tool_name: row.get(1)?,
        start_time,
        end_time: time(row.get(3)?),
        duration_ms: row.get(4)?,
        status,
        error_category: category
            .and_then(|c| ErrorCategory::ALL.into_iter().find(|k| k.as_str() == c)),
        error_message: row.get(7)?,
        input_size_bytes: uint(row.get(8)?),
        output_size_bytes: uint(row.get(9)?),
        memory_usage_mb: row.get(10)?,
        cpu_time_ms: None,
        user_id: row.get(11)?,
        session_id: row.get(12)?,
        metadata: match json_column(row, 13)? {
            Value::Object(map) => map,
            _ => Map::new(),
        },
    }))
}
