//! The writing side: what a monitor has measured since its last flush,
//! kept in memory until a flush commits it.
//!
//! Every flush reads cumulative totals per tool and the records the
//! monitor holds; the difference to the previous flush goes into
//! `pending`, and leaves it only when a transaction that wrote it has
//! committed. A failed flush (locked, full or missing file) keeps it for
//! the next one: nothing is lost or written twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use chrono::Utc;
use rusqlite::{Connection, TransactionBehavior, params};

use super::counts::Counts;
use super::rows::{add_hour, insert_record, iso};
use super::schema::open_for_writing;
use super::{StoreConfig, StoreError};
use crate::clock::{NANOS_PER_HOUR, wall_from_nanos};
use crate::metrics::ToolExecutionMetrics;
use crate::trend::hour_of;

/// What a flush reads from the monitor.
pub(crate) struct Snapshot {
    pub(crate) now_wall_nanos: i64,
    pub(crate) tools: Vec<ToolSnapshot>,
    pub(crate) errors: Vec<ToolExecutionMetrics>,
    pub(crate) executions: Vec<ToolExecutionMetrics>,
}

/// One tool's cumulative counters at a flush.
pub(crate) struct ToolSnapshot {
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) epoch: u64,
    pub(crate) counts: Counts,
}

/// A monitor's link to its store file.
pub(crate) struct Persist {
    pub(crate) config: StoreConfig,
    state: Mutex<State>,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
    stopped: Mutex<bool>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    conn: Option<Connection>,
    /// This process's row in `processes`, once written.
    process_id: Option<i64>,
    started_at: String,
    /// Per tool index: the epoch and totals of the last flush.
    baselines: HashMap<u32, (u64, Counts)>,
    /// Not yet committed: per (tool, hour), what happened.
    pending: BTreeMap<(String, i64), Counts>,
    pending_errors: Vec<ToolExecutionMetrics>,
    pending_executions: Vec<ToolExecutionMetrics>,
    /// Execution ids of the records seen at the last flush.
    seen_errors: HashSet<String>,
    seen_executions: HashSet<String>,
    /// The wall-clock time of the latest snapshot, in nanoseconds.
    now: i64,
}

impl std::fmt::Debug for Persist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persist")
            .field("path", &self.config.path)
            .field("failures", &self.failures.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The records of `current` not in `seen`, and `seen` replaced by
/// `current`'s ids.
fn new_records(
    current: Vec<ToolExecutionMetrics>,
    seen: &mut HashSet<String>,
) -> Vec<ToolExecutionMetrics> {
    let ids: HashSet<String> = current.iter().map(|r| r.execution_id.clone()).collect();
    let fresh = current
        .into_iter()
        .filter(|r| !seen.contains(&r.execution_id))
        .collect();
    *seen = ids;
    fresh
}

impl Persist {
    pub(crate) fn new(config: StoreConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State {
                started_at: iso(Utc::now()),
                ..State::default()
            }),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        }
    }

    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes what changed since the last flush into memory, then writes all
    /// that is pending in one transaction. `snapshot` is called with the
    /// writer's lock held, so two flushes never interleave their reads.
    pub(crate) fn flush(&self, snapshot: impl FnOnce() -> Snapshot) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = snapshot();
        state.take(snapshot, self.config.max_executions > 0);
        let result = state.write(&self.config);
        if let Err(error) = &result {
            self.failures.fetch_add(1, Ordering::Relaxed);
            *self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
            // Reopen next time: the file may have been replaced or fixed.
            state.conn = None;
        }
        result
    }

    /// Waits up to the flush interval; `false` once stopped.
    pub(crate) fn wait(&self) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, self.config.flush_interval, |s| !*s)
            .unwrap_or_else(PoisonError::into_inner);
        !*stopped
    }

    /// Ends the background flusher (it finishes a flush in progress).
    pub(crate) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }
}

impl State {
    fn take(&mut self, snapshot: Snapshot, history: bool) {
        let hour = hour_of(snapshot.now_wall_nanos);
        for tool in snapshot.tools {
            let delta = match self.baselines.get(&tool.index) {
                // Same epoch: the difference. A reset since (new epoch):
                // everything since the reset; what ran between the last
                // flush and the reset is lost (the reset cleared it first).
                Some((epoch, earlier)) if *epoch == tool.epoch => tool.counts.since(earlier),
                _ => tool.counts.clone(),
            };
            if delta.executions() > 0 {
                self.pending
                    .entry((tool.name.clone(), hour))
                    .or_default()
                    .add(&delta);
            }
            self.baselines.insert(tool.index, (tool.epoch, tool.counts));
        }
        let errors = new_records(snapshot.errors, &mut self.seen_errors);
        self.pending_errors.extend(errors);
        if history {
            let executions = new_records(snapshot.executions, &mut self.seen_executions);
            self.pending_executions.extend(executions);
        }
        self.now = snapshot.now_wall_nanos;
    }

    fn write(&mut self, config: &StoreConfig) -> Result<(), StoreError> {
        let retention_nanos = i64::try_from(config.retention.as_nanos()).unwrap_or(i64::MAX);
        let path = &config.path;
        if self.conn.is_none() {
            self.conn = Some(open_for_writing(
                path,
                config.busy_timeout,
                config.max_size_bytes,
            )?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let sqlite = |e| StoreError::sqlite(path, e);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let process = if let Some(id) = self.process_id {
            // The file may be new since (deleted, replaced): the row again.
            tx.execute(
                "INSERT OR IGNORE INTO processes (process_id, pid, program, started_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, std::process::id(), program(), self.started_at],
            )
            .map_err(sqlite)?;
            id
        } else {
            tx.execute(
                "INSERT INTO processes (pid, program, started_at) VALUES (?1, ?2, ?3)",
                params![std::process::id(), program(), self.started_at],
            )
            .map_err(sqlite)?;
            tx.last_insert_rowid()
        };
        for ((tool, hour), counts) in &self.pending {
            add_hour(&tx, tool, *hour, process, counts).map_err(sqlite)?;
        }
        for record in &self.pending_errors {
            insert_record(&tx, "errors", process, record).map_err(sqlite)?;
        }
        for record in &self.pending_executions {
            insert_record(&tx, "executions", process, record).map_err(sqlite)?;
        }
        let now = self.now;
        tx.execute(
            "UPDATE processes SET last_flush_at = ?1 WHERE process_id = ?2",
            params![iso(wall_from_nanos(now)), process],
        )
        .map_err(sqlite)?;
        prune(&tx, config, now.saturating_sub(retention_nanos)).map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        self.process_id = Some(process);
        self.pending.clear();
        self.pending_errors.clear();
        self.pending_executions.clear();
        Ok(())
    }
}

/// Drops hourly rows and records older than the retention, and records
/// beyond their count caps (oldest first).
fn prune(
    tx: &rusqlite::Transaction<'_>,
    config: &StoreConfig,
    cutoff_nanos: i64,
) -> rusqlite::Result<()> {
    let cutoff_hour = cutoff_nanos.div_euclid(NANOS_PER_HOUR) * 3600;
    tx.execute(
        "DELETE FROM tool_hours WHERE hour_start < ?1",
        [cutoff_hour],
    )?;
    for (table, keep) in [
        ("errors", config.max_errors),
        ("executions", config.max_executions),
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE started_ns < ?1"),
            [cutoff_nanos],
        )?;
        tx.execute(
            &format!(
                "DELETE FROM {table} WHERE rowid IN \
                 (SELECT rowid FROM {table} ORDER BY started_ns DESC LIMIT -1 OFFSET ?1)"
            ),
            [i64::try_from(keep).unwrap_or(i64::MAX)],
        )?;
    }
    Ok(())
}

/// The executable's file name, for the `processes` table.
fn program() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}
