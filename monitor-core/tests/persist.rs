//! The SQLite store: merged counts across monitors and processes, deltas
//! without loss or double counting, faults, retention and `kill -9`.
#![allow(clippy::unwrap_used, clippy::float_cmp)] // tests: a panic is a failure, exact floats are the point

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use monitor_core::{
    ErrorCategory, ExecutionStatus, ManualClock, Store, StoreConfig, StoreError,
    ToolExecutionMonitor,
};

const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// A fresh directory under the target dir for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("persist-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn monitor_at(path: &Path) -> ToolExecutionMonitor {
    ToolExecutionMonitor::builder()
        .store(StoreConfig::at(path))
        .build()
}

fn fail(monitor: &ToolExecutionMonitor, tool: &str, message: &str) {
    monitor.create_execution_context(tool).finish_classified(
        ExecutionStatus::Error,
        ErrorCategory::NetworkError,
        message,
    );
}

fn total(store: &Store, tool: &str) -> u64 {
    store
        .tool_stats(tool, WEEK)
        .unwrap()
        .map_or(0, |s| s.total_executions)
}

#[test]
fn two_monitors_merge_exactly() {
    let path = scratch("merge").join("tools.db");
    let a = monitor_at(&path);
    let b = monitor_at(&path);
    for i in 0..30 {
        a.create_execution_context("search").finish_success();
        if i % 3 == 0 {
            fail(&b, "search", &format!("refused #{i}"));
        } else {
            b.create_execution_context("search").finish_success();
        }
    }
    b.create_execution_context("fetch").finish_success();
    a.flush().unwrap();
    b.flush().unwrap();

    let store = Store::open(&path).unwrap();
    let merged = store.tool_stats("search", WEEK).unwrap().unwrap();
    let (sa, sb) = (
        a.tool_stats("search").unwrap(),
        b.tool_stats("search").unwrap(),
    );
    assert_eq!(merged.total_executions, 60);
    assert_eq!(merged.failed_executions, 10);
    assert_eq!(merged.error_distribution[&ErrorCategory::NetworkError], 10);
    assert_eq!(
        merged.min_duration_ms,
        sa.min_duration_ms.min(sb.min_duration_ms)
    );
    assert_eq!(
        merged.max_duration_ms,
        sa.max_duration_ms.max(sb.max_duration_ms)
    );
    let sum_ms = sa.avg_duration_ms * 30.0 + sb.avg_duration_ms * 30.0;
    assert!((merged.avg_duration_ms * 60.0 - sum_ms).abs() < 1e-6);
    assert_eq!(merged.trend_7d.len(), 7);
    assert!((merged.trend_7d[6] - 100.0 * 50.0 / 60.0).abs() < 1e-9);
    let histogram = store.duration_histogram("search", WEEK).unwrap();
    assert_eq!(histogram.total(), 60);

    let all = store.all_tool_stats(WEEK).unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["fetch", "search"]);
    let errors = store.recent_errors(Some("search"), 24).unwrap();
    assert_eq!(errors.len(), 10);
    assert_eq!(errors[0].error_message.as_deref(), Some("refused #0"));
    assert!(
        errors
            .windows(2)
            .all(|w| w[0].start_time <= w[1].start_time)
    );
    assert_eq!(store.recent_executions(None, 5).unwrap().len(), 5);
    assert_eq!(store.recent_executions(Some("fetch"), 5).unwrap().len(), 1);

    let info = store.info().unwrap();
    assert_eq!((info.processes, info.tools, info.executions), (2, 2, 61));
    assert_eq!(info.schema_version, monitor_core::SCHEMA_VERSION);
}

#[test]
fn each_flush_writes_only_what_is_new() {
    let path = scratch("deltas").join("tools.db");
    let monitor = monitor_at(&path);
    for round in 1..=4u64 {
        for _ in 0..round {
            monitor.create_execution_context("t").finish_success();
        }
        fail(&monitor, "t", &format!("round {round}"));
        monitor.flush().unwrap();
        monitor.flush().unwrap(); // nothing new: nothing written twice
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(total(&store, "t"), 1 + 2 + 3 + 4 + 4);
    assert_eq!(store.recent_errors(None, 1).unwrap().len(), 4);
    assert_eq!(store.recent_executions(None, 100).unwrap().len(), 14);
}

#[test]
fn a_reset_clears_this_process_only_and_the_store_keeps_every_call() {
    let path = scratch("reset").join("tools.db");
    let monitor = monitor_at(&path);
    for _ in 0..5 {
        monitor.create_execution_context("t").finish_success();
    }
    assert!(monitor.reset_tool("t"));
    assert_eq!(monitor.store_last_error(), None);
    for _ in 0..3 {
        monitor.create_execution_context("t").finish_success();
    }
    monitor.flush().unwrap();
    monitor.reset_all();
    monitor.create_execution_context("t").finish_success();
    monitor.flush().unwrap();
    assert_eq!(monitor.tool_stats("t").unwrap().total_executions, 1);
    assert_eq!(total(&Store::open(&path).unwrap(), "t"), 9);
}

#[test]
fn dropping_the_monitor_flushes_and_a_shared_one_flushes_in_the_background() {
    let dir = scratch("drop");
    let dropped = dir.join("dropped.db");
    let monitor = monitor_at(&dropped);
    monitor.create_execution_context("t").finish_success();
    drop(monitor);
    assert_eq!(total(&Store::open(&dropped).unwrap(), "t"), 1);

    let shared_path = dir.join("shared.db");
    let shared = ToolExecutionMonitor::builder()
        .store(StoreConfig::at(&shared_path).flush_interval(Duration::from_millis(20)))
        .build_shared();
    shared.create_execution_context("t").finish_success();
    // Bounded wait for the flusher (not a timing assertion).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    while seen == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        seen = Store::open(&shared_path).map_or(0, |s| total(&s, "t"));
    }
    assert_eq!(seen, 1);
    drop(shared);
}

#[test]
fn bad_files_get_clear_errors() {
    let dir = scratch("bad");
    let open = |path: &Path| Store::open(path).unwrap_err();
    assert!(
        matches!(open(&dir), StoreError::Invalid { .. }),
        "a directory"
    );
    assert!(open(&dir).to_string().contains("is a directory"));
    assert!(
        open(&dir.join("missing.db"))
            .to_string()
            .contains("no such file")
    );

    let garbage = dir.join("garbage.db");
    std::fs::write(&garbage, b"this is not a database, just text ".repeat(200)).unwrap();
    let error = open(&garbage);
    assert!(matches!(error, StoreError::Sqlite { .. }), "{error}");

    let foreign = dir.join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT)")
        .unwrap();
    assert!(open(&foreign).to_string().contains("another program"));

    let future = dir.join("future.db");
    monitor_at(&future).flush().unwrap();
    rusqlite::Connection::open(&future)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let error = open(&future);
    assert!(
        matches!(error, StoreError::FutureSchema { found: 99, .. }),
        "{error}"
    );
    // A monitor writing to it fails its flushes, and only them.
    let monitor = monitor_at(&future);
    monitor.create_execution_context("t").finish_success();
    assert!(monitor.flush().is_err());
    assert_eq!(monitor.store_failures(), 1);
    assert!(
        monitor
            .store_last_error()
            .unwrap()
            .contains("newer version")
    );
    assert_eq!(monitor.tool_stats("t").unwrap().total_executions, 1);
}

#[test]
fn an_unwritable_or_full_store_never_fails_a_call() {
    let monitor = monitor_at(Path::new("/proc/no-such-dir/tools.db"));
    monitor.create_execution_context("t").finish_success();
    assert!(matches!(monitor.flush(), Err(StoreError::Io { .. })));
    assert_eq!(monitor.store_failures(), 1);
    assert_eq!(monitor.tool_stats("t").unwrap().total_executions, 1);

    // A full disk, as SQLite sees one: the file may not grow further.
    let path = scratch("full").join("tools.db");
    let monitor = ToolExecutionMonitor::builder()
        .store(StoreConfig::at(&path).max_size_bytes(64 * 1024))
        .build();
    for i in 0..400 {
        fail(
            &monitor,
            &format!("tool-{i}-{}", "x".repeat(100)),
            &"m".repeat(900),
        );
    }
    let error = monitor.flush().unwrap_err();
    assert!(error.to_string().contains("full"), "{error}");
    assert_eq!(monitor.store_failures(), 1);
    monitor.create_execution_context("after").finish_success();
    assert_eq!(monitor.tool_stats("after").unwrap().total_executions, 1);
}

#[test]
fn a_locked_file_delays_a_flush_and_loses_nothing() {
    let path = scratch("locked").join("tools.db");
    let monitor = ToolExecutionMonitor::builder()
        .store(StoreConfig::at(&path).busy_timeout(Duration::from_millis(50)))
        .build();
    monitor.create_execution_context("t").finish_success();
    monitor.flush().unwrap();

    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for _ in 0..4 {
        monitor.create_execution_context("t").finish_success();
    }
    fail(&monitor, "t", "while locked");
    let error = monitor.flush().unwrap_err();
    assert!(error.to_string().contains("locked"), "{error}");
    assert_eq!(monitor.store_failures(), 1);
    monitor.create_execution_context("t").finish_success();
    other.execute_batch("COMMIT").unwrap();

    monitor.flush().unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(total(&store, "t"), 7);
    assert_eq!(store.recent_errors(Some("t"), 1).unwrap().len(), 1);
}

#[test]
fn a_year_of_hours_keeps_the_file_bounded() {
    let path = scratch("year").join("tools.db");
    let start = Utc::now() - TimeDelta::days(365);
    let clock = ManualClock::new(start);
    let monitor = ToolExecutionMonitor::builder()
        .clock(clock.clone())
        .store(StoreConfig::at(&path).max_errors(500).max_executions(500))
        .build();
    let steps = 365 * 4; // every 6 hours
    for step in 0..steps {
        for tool in ["search", "fetch", "write"] {
            monitor.create_execution_context(tool).finish_success();
        }
        fail(
            &monitor,
            "fetch",
            &format!("error {step}: {}", "e".repeat(200)),
        );
        monitor.flush().unwrap();
        clock.advance(Duration::from_secs(6 * 3600));
    }
    let store = Store::open(&path).unwrap();
    // While written: the file and its log (checkpointed every ~4 MiB).
    let busy = store.info().unwrap().size_bytes;
    assert!(busy < 6 * 1024 * 1024, "{busy}");
    drop((monitor, store));
    // Closed by its last connection, the log is checkpointed and removed.
    let store = Store::open(&path).unwrap();
    let info = store.info().unwrap();
    // 35 days × 4 rows a day × 3 tools, plus at most 500 + 500 records.
    assert!(info.size_bytes < 1024 * 1024, "{info:?}");
    let oldest = info.first_hour.unwrap();
    assert!(oldest >= Utc::now() - TimeDelta::days(36), "{oldest}");
    assert!(store.recent_errors(None, u32::MAX).unwrap().len() <= 500);
    // What is kept is exact: the last 35 days' calls.
    let month = store
        .tool_stats("search", Duration::from_secs(30 * 24 * 3600))
        .unwrap()
        .unwrap();
    assert!(
        (119..=121).contains(&month.total_executions),
        "{}",
        month.total_executions
    );
}

/// Run as a child process by the tests below (`STORE_CHILD` names the
/// mode and the file); without it, this test has nothing to do.
#[test]
fn store_child_process() {
    let Ok(mode) = std::env::var("STORE_CHILD") else {
        return;
    };
    let path = PathBuf::from(std::env::var("STORE_CHILD_DB").unwrap());
    let monitor = ToolExecutionMonitor::builder()
        .store(StoreConfig::at(&path).flush_interval(Duration::from_millis(50)))
        .build_shared();
    let pid = std::process::id();
    let mut calls = 0u64;
    let call = |monitor: &Arc<ToolExecutionMonitor>, calls: &mut u64| {
        *calls += 1;
        let tool = ["a", "b", "c"][usize::try_from(*calls % 3).unwrap()];
        if *calls % 10 == 0 {
            fail(monitor, tool, &format!("process {pid} call {calls}"));
        } else {
            monitor.create_execution_context(tool).finish_success();
        }
    };
    if mode == "writer" {
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            call(&monitor, &mut calls);
            if calls % 500 == 0 {
                std::thread::yield_now();
            }
        }
        monitor.flush().unwrap();
        println!("calls {calls}");
    } else {
        // "killed": flushes after every 100 calls and says so, until killed.
        loop {
            for _ in 0..100 {
                call(&monitor, &mut calls);
            }
            monitor.flush().unwrap();
            println!("flushed {calls}");
        }
    }
}

fn child(mode: &str, path: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STORE_CHILD", mode)
        .env("STORE_CHILD_DB", path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The number after `word` in a line of the child's output (libtest may
/// print its own text before it on the same line).
fn number_after(line: &str, word: &str) -> Option<u64> {
    let (_, rest) = line.split_once(&format!("{word} "))?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn four_processes_and_a_reader_share_one_file() {
    let path = scratch("four").join("tools.db");
    let children: Vec<_> = (0..4).map(|_| child("writer", &path)).collect();
    // Meanwhile a reader: every answer consistent, never `database is locked`.
    let mut reads = 0;
    let mut last = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && reads < 40 {
        if let Ok(store) = Store::open(&path) {
            let all = store.all_tool_stats(WEEK).unwrap();
            let sum: u64 = all.values().map(|s| s.total_executions).sum();
            assert!(sum >= last, "counts never go back: {sum} after {last}");
            last = sum;
            reads += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut made = 0;
    let mut failures = 0;
    for mut child in children {
        let stdout = BufReader::new(child.stdout.take().unwrap());
        for line in stdout.lines() {
            if let Some(n) = number_after(&line.unwrap(), "calls") {
                made += n;
                failures += n / 10;
            }
        }
        assert!(child.wait().unwrap().success());
    }
    let store = Store::open(&path).unwrap();
    let all = store.all_tool_stats(WEEK).unwrap();
    assert!(made > 1000, "{made}");
    assert_eq!(all.values().map(|s| s.total_executions).sum::<u64>(), made);
    assert_eq!(
        all.values().map(|s| s.failed_executions).sum::<u64>(),
        failures
    );
    assert_eq!(store.info().unwrap().processes, 4);
}

#[test]
fn a_killed_writer_loses_at_most_its_last_interval() {
    let path = scratch("kill").join("tools.db");
    let mut writer = child("killed", &path);
    let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    let mut flushed = 0;
    let mut seen = 0;
    while seen < 20 {
        if let Some(n) = number_after(&lines.next().unwrap().unwrap(), "flushed") {
            flushed = n;
            seen += 1;
        }
    }
    writer.kill().unwrap(); // SIGKILL: no destructor, no last flush
    writer.wait().unwrap();
    let store = Store::open(&path).unwrap();
    let all = store.all_tool_stats(WEEK).unwrap();
    let stored: u64 = all.values().map(|s| s.total_executions).sum();
    // Everything flushed before the kill is there; at most the batch in
    // progress (100 calls, flushed by the background flusher or not) more.
    assert!(
        (flushed..=flushed + 100).contains(&stored),
        "{stored} stored, {flushed} flushed"
    );
}

#[test]
fn prometheus_counters_of_a_store_survive_pruning_and_exited_processes() {
    let path = scratch("prometheus").join("tools.db");
    let clock = ManualClock::new(Utc::now() - TimeDelta::days(60));
    let old = ToolExecutionMonitor::builder()
        .clock(clock.clone())
        .store(StoreConfig::at(&path))
        .build();
    for _ in 0..4 {
        old.create_execution_context("search").finish_success();
    }
    fail(&old, "search", "old failure");
    old.flush().unwrap();
    drop(old); // that process is gone
    let now = monitor_at(&path);
    now.create_execution_context("search").finish_success();
    now.flush().unwrap(); // prunes the 60-day-old hour

    let store = Store::open(&path).unwrap();
    assert_eq!(total(&store, "search"), 1, "the old hour was pruned");
    let text = store.render_prometheus().unwrap();
    assert!(
        text.contains("tool_executions_total{tool=\"search\",status=\"success\"} 5\n"),
        "{text}"
    );
    assert!(text.contains("tool_executions_total{tool=\"search\",status=\"error\"} 1\n"));
    assert!(text.contains("tool_errors_total{tool=\"search\",category=\"NETWORK_ERROR\"} 1\n"));
    assert!(text.contains("tool_execution_duration_seconds_count{tool=\"search\"} 6\n"));
}
