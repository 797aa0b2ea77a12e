//! Adversarial tests: monitoring never breaks a tool, never loses a count,
//! never leaks argument content.
#![allow(clippy::unwrap_used, clippy::float_cmp)] // tests: a panic is a failure; exact floats are the point

mod common;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll, Waker};

use monitor_core::{
    ErrorCategory, ExecutionStatus, MetricsSink, ToolExecutionMonitor, monitored_tool,
};

// ---------------------------------------------------------------------------
// Concurrency: every count exact under 8 threads of sync and async calls.

static CONCURRENT: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

const THREADS: u64 = 8;
const CALLS: u64 = 250_000;

/// Fails with a network error on every seventh value.
#[monitored_tool(monitor = CONCURRENT)]
fn alpha(i: u64) -> io::Result<u64> {
    if i % 7 == 0 {
        return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
    }
    Ok(i)
}

/// Fails with a validation error on every fifth value.
#[monitored_tool(monitor = CONCURRENT)]
async fn beta(i: u64) -> Result<u64, std::num::ParseIntError> {
    if i % 5 == 0 {
        return "x".parse();
    }
    Ok(i)
}

/// Never fails.
#[monitored_tool(monitor = CONCURRENT)]
async fn gamma(i: u64) -> u64 {
    i
}

#[test]
fn eight_threads_sync_and_async_count_exactly() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    // Four plain threads call the sync tool and drive async tools inline;
    // four tasks on the multi-thread runtime call the async tools.
    std::thread::scope(|scope| {
        for t in 0..THREADS / 2 {
            scope.spawn(move || {
                let local = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                for i in 0..CALLS {
                    match (t * CALLS + i) % 3 {
                        0 => drop(alpha(i)),
                        1 => drop(local.block_on(beta(i))),
                        _ => drop(local.block_on(gamma(i))),
                    }
                }
            });
        }
        runtime.block_on(async {
            let tasks: Vec<_> = (THREADS / 2..THREADS)
                .map(|t| {
                    tokio::spawn(async move {
                        for i in 0..CALLS {
                            match (t * CALLS + i) % 3 {
                                0 => drop(alpha(i)),
                                1 => drop(beta(i).await),
                                _ => drop(gamma(i).await),
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
    });

    // The oracle: the same loop, counted.
    let mut want: HashMap<&str, (u64, u64)> = HashMap::new();
    for t in 0..THREADS {
        for i in 0..CALLS {
            let (tool, fails) = match (t * CALLS + i) % 3 {
                0 => ("alpha", i % 7 == 0),
                1 => ("beta", i % 5 == 0),
                _ => ("gamma", false),
            };
            let entry = want.entry(tool).or_default();
            entry.0 += 1;
            entry.1 += u64::from(fails);
        }
    }
    let monitor = &*CONCURRENT;
    for (tool, category) in [
        ("alpha", Some(ErrorCategory::NetworkError)),
        ("beta", Some(ErrorCategory::ValidationError)),
        ("gamma", None),
    ] {
        let (total, failures) = want[tool];
        let stats = monitor.tool_stats(tool).unwrap();
        assert_eq!(stats.total_executions, total, "{tool}");
        assert_eq!(stats.failed_executions, failures, "{tool}");
        assert_eq!(stats.successful_executions, total - failures, "{tool}");
        assert_eq!(monitor.duration_histogram(tool).total(), total, "{tool}");
        let distribution: Vec<_> = stats.error_distribution.into_iter().collect();
        assert_eq!(
            distribution,
            category
                .map(|c| (c, failures))
                .into_iter()
                .collect::<Vec<_>>(),
            "{tool}"
        );
        #[allow(clippy::cast_precision_loss)]
        let rate = (total - failures) as f64 / total as f64 * 100.0;
        assert_eq!(stats.trend_7d[6], rate, "{tool}");
    }
    let history = monitor.recent_executions(None, usize::MAX);
    assert_eq!(
        history.len(),
        10_000,
        "the history holds exactly the last N"
    );
    let ids: HashSet<&str> = history.iter().map(|r| r.execution_id.as_str()).collect();
    assert_eq!(ids.len(), history.len(), "execution ids are unique");
}

// ---------------------------------------------------------------------------
// Faults.

static FAULTS: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[monitored_tool(monitor = FAULTS)]
fn explodes(x: u32) -> u32 {
    if x > 2 {
        std::panic::panic_any(Boom(x));
    }
    x
}

#[derive(Debug, PartialEq)]
struct Boom(u32);

/// A value whose `Debug` panics.
struct BadDebug(u32);

impl fmt::Debug for BadDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug of BadDebug");
    }
}

#[monitored_tool(monitor = FAULTS)]
fn doubles(bad: BadDebug, n: u32) -> u32 {
    bad.0 + n * 2
}

#[monitored_tool(monitor = FAULTS)]
fn returns_bad(n: u32) -> BadDebug {
    BadDebug(n)
}

#[test]
fn a_panicking_tool_is_recorded_once_and_its_panic_propagates_unchanged() {
    let payload = std::panic::catch_unwind(|| explodes(7)).unwrap_err();
    assert_eq!(
        payload.downcast_ref::<Boom>(),
        Some(&Boom(7)),
        "the same payload"
    );
    assert_eq!(explodes(1), 1);
    let records = FAULTS.recent_executions(Some("explodes"), 10);
    assert_eq!(records.len(), 2);
    let failed = &records[0];
    assert_eq!(failed.status, ExecutionStatus::Error);
    assert_eq!(failed.error_category, Some(ErrorCategory::SystemError));
}

#[test]
fn a_panicking_debug_costs_the_size_not_the_call() {
    let before = FAULTS.measurement_failures();
    assert_eq!(
        doubles(BadDebug(1), 20),
        41,
        "the tool runs and returns its value"
    );
    let record = &FAULTS.recent_executions(Some("doubles"), 1)[0];
    assert_eq!(record.status, ExecutionStatus::Success);
    assert_eq!(record.input_size_bytes, 2, "only `20` was measured");
    assert_eq!(returns_bad(5).0, 5);
    let record = &FAULTS.recent_executions(Some("returns-bad"), 1)[0];
    assert_eq!(record.output_size_bytes, 0);
    assert_eq!(FAULTS.measurement_failures() - before, 2);
}

/// A sink whose drop panics.
#[derive(Debug)]
struct PanicsOnDrop;

impl MetricsSink for PanicsOnDrop {}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("sink dropped");
    }
}

#[monitored_tool(name = "global-tool")]
fn global_tool(fail: bool) -> Result<u8, String> {
    if fail {
        Err("failed".to_owned())
    } else {
        Ok(1)
    }
}

#[test]
fn poisoned_locks_and_a_panicking_drop_do_not_stop_monitoring() {
    monitor_core::set_global_monitor(Arc::new(
        ToolExecutionMonitor::builder()
            .sink(Arc::new(PanicsOnDrop))
            .build(),
    ));
    // This thread now caches the monitor whose sink panics when dropped.
    assert_eq!(global_tool(false), Ok(1));
    let fresh = Arc::new(ToolExecutionMonitor::new());
    monitor_core::set_global_monitor(Arc::clone(&fresh));
    assert!(Arc::ptr_eq(&monitor_core::global_monitor(), &fresh));
    // The next call drops the cached old monitor, whose sink panics: the
    // tool never sees it.
    assert_eq!(global_tool(true), Err("failed".to_owned()));
    monitor_core::__private::poison_locks(&fresh);
    for _ in 0..3 {
        assert_eq!(global_tool(false), Ok(1));
        assert!(global_tool(true).is_err());
    }
    let stats = fresh.tool_stats("global-tool").unwrap();
    assert_eq!((stats.total_executions, stats.failed_executions), (7, 4));
    assert_eq!(fresh.recent_errors(Some("global-tool"), 1).len(), 4);
    assert_eq!(fresh.recent_executions(None, 100).len(), 7);
    fresh.reset_stats(Some("global-tool"));
    assert!(fresh.tool_stats("global-tool").is_none());
    monitor_core::set_global_monitor(Arc::new(ToolExecutionMonitor::new()));
}

// ---------------------------------------------------------------------------
// Cancellation and timeout.

static CANCEL: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[monitored_tool(monitor = CANCEL)]
async fn five_steps(label: u32) -> u32 {
    for _ in 0..5 {
        common::YieldOnce::default().await;
    }
    label
}

#[test]
fn a_future_dropped_at_any_await_point_records_one_cancellation() {
    let mut cx = Context::from_waker(Waker::noop());
    // Never polled: nothing recorded.
    drop(five_steps(0));
    assert!(CANCEL.tool_stats("five-steps").is_none());
    for polls in 1..=5 {
        let mut future = pin!(five_steps(polls));
        for _ in 0..polls {
            assert!(future.as_mut().poll(&mut cx).is_pending());
        }
    }
    let mut future = pin!(five_steps(99));
    let done = loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            break v;
        }
    };
    assert_eq!(done, 99);
    let records = CANCEL.recent_executions(Some("five-steps"), 100);
    let statuses: Vec<ExecutionStatus> = records.iter().map(|r| r.status).collect();
    let mut want = vec![ExecutionStatus::Cancelled; 5];
    want.push(ExecutionStatus::Success);
    assert_eq!(statuses, want);
}

/// The same tool under another name, so its records do not mix with the
/// exact list `five_steps` is checked against.
#[monitored_tool(monitor = CANCEL, name = "dropped-by-panic")]
async fn dropped_by_panic(label: u32) -> u32 {
    common::YieldOnce::default().await;
    label
}

#[test]
fn a_future_dropped_by_a_callers_panic_is_cancelled_not_failed() {
    let mut cx = Context::from_waker(Waker::noop());
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut future = Box::pin(dropped_by_panic(12_345));
        assert!(future.as_mut().poll(&mut cx).is_pending());
        panic!("the caller fails, not the tool");
    }));
    assert!(unwound.is_err());
    let records = CANCEL.recent_executions(Some("dropped-by-panic"), 100);
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.status, ExecutionStatus::Cancelled);
    assert_eq!(record.error_category, None);
}

static RACE: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[derive(Debug)]
enum RaceError {
    Late,
}

impl fmt::Display for RaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("late")
    }
}

impl From<monitor_core::TimeoutError> for RaceError {
    fn from(_: monitor_core::TimeoutError) -> Self {
        Self::Late
    }
}

/// Takes about as long as its deadline, so the two race.
#[monitored_tool(monitor = RACE, timeout = "1ms")]
async fn photo_finish(micros: u64) -> Result<u64, RaceError> {
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
    Ok(micros)
}

#[test]
fn a_timeout_racing_completion_records_exactly_once() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let calls = 400u64;
    let (ok, late) = runtime.block_on(async {
        let mut ok = 0u64;
        let mut late = 0u64;
        for i in 0..calls {
            match photo_finish(900 + (i % 5) * 50).await {
                Ok(_) => ok += 1,
                Err(RaceError::Late) => late += 1,
            }
        }
        (ok, late)
    });
    let stats = RACE.tool_stats("photo-finish").unwrap();
    assert_eq!(
        stats.total_executions, calls,
        "one record per call, never two"
    );
    assert_eq!(stats.successful_executions, ok);
    assert_eq!(stats.failed_executions, late);
    assert_eq!(
        stats
            .error_distribution
            .get(&ErrorCategory::TimeoutError)
            .copied()
            .unwrap_or(0),
        late
    );
}

// ---------------------------------------------------------------------------
// Privacy: argument content never leaves the tool, only its size.

const SECRET: &str = "hunter2-Zq8vX1-top-secret";

#[derive(Debug, Default)]
struct Capture(Mutex<Vec<String>>);

impl MetricsSink for Capture {
    fn increment_counter(&self, name: &str) {
        self.0.lock().unwrap().push(name.to_owned());
    }
    fn record_timer(&self, name: &str, duration_ms: f64) {
        self.0.lock().unwrap().push(format!("{name} {duration_ms}"));
    }
    fn set_gauge(&self, name: &str, value: f64) {
        self.0.lock().unwrap().push(format!("{name} {value}"));
    }
}

static CAPTURE: LazyLock<Arc<Capture>> = LazyLock::new(|| Arc::new(Capture::default()));
static PRIVATE: LazyLock<ToolExecutionMonitor> = LazyLock::new(|| {
    ToolExecutionMonitor::builder()
        .sink(Arc::clone(&*CAPTURE) as Arc<dyn MetricsSink>)
        .build()
});

#[monitored_tool(monitor = PRIVATE, session_id = "session-1")]
fn echo_secret(password: &str, fail: bool) -> Result<String, io::Error> {
    if fail {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "wrong password",
        ));
    }
    Ok(password.to_owned())
}

#[test]
fn secrets_appear_nowhere_but_their_sizes_do() {
    assert_eq!(echo_secret(SECRET, false).unwrap(), SECRET);
    assert!(echo_secret(SECRET, true).is_err());
    let monitor = &*PRIVATE;
    let mut everything = String::new();
    everything += &serde_json::to_string(&monitor.all_tool_stats()).unwrap();
    everything += &serde_json::to_string(&monitor.recent_executions(None, 100)).unwrap();
    everything += &serde_json::to_string(&monitor.recent_errors(None, 24)).unwrap();
    everything += &serde_json::to_string_pretty(&monitor.recent_executions(None, 100)).unwrap();
    everything.extend(
        monitor
            .recent_executions(None, 100)
            .iter()
            .map(|r| format!("{r:?}")),
    );
    everything += &CAPTURE.0.lock().unwrap().join("\n");
    everything += &monitor.render_prometheus();
    assert!(
        !everything.contains("hunter2"),
        "the secret leaked:\n{everything}"
    );
    let record = &monitor.recent_executions(Some("echo-secret"), 2)[0];
    let quoted = format!("{SECRET:?}").len() as u64;
    assert_eq!(record.input_size_bytes, quoted + "false".len() as u64);
    assert_eq!(record.output_size_bytes, quoted);
}

static HUGE: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[monitored_tool(monitor = HUGE)]
fn huge_error(size: usize) -> Result<(), String> {
    Err("é".repeat(size))
}

#[test]
fn one_huge_error_message_is_capped_at_1_kib() {
    assert_eq!(
        huge_error(1 << 20).unwrap_err().len(),
        2 << 20,
        "the caller's error is whole"
    );
    let record = &HUGE.recent_errors(None, 1)[0];
    let message = record.error_message.as_deref().unwrap();
    assert!(message.len() <= monitor_core::MAX_ERROR_MESSAGE_BYTES);
    assert!(message.len() > monitor_core::MAX_ERROR_MESSAGE_BYTES - 4);
}

/// A sink that blocks on every execution until the test releases it (or
/// ten seconds pass, so that an inline sink fails the test instead of
/// hanging it).
#[derive(Debug)]
struct Blocks {
    release: Mutex<std::sync::mpsc::Receiver<()>>,
    seen: std::sync::atomic::AtomicU64,
}

impl MetricsSink for Blocks {
    fn record_execution(&self, _: &monitor_core::ExecutionEvent<'_>) {
        let _ = self
            .release
            .lock()
            .unwrap()
            .recv_timeout(std::time::Duration::from_secs(10));
        self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

static SLOW_SINK: LazyLock<(
    ToolExecutionMonitor,
    Arc<Blocks>,
    Mutex<std::sync::mpsc::Sender<()>>,
)> = LazyLock::new(|| {
    let (release, wait) = std::sync::mpsc::channel();
    let sink = Arc::new(Blocks {
        release: Mutex::new(wait),
        seen: std::sync::atomic::AtomicU64::new(0),
    });
    let monitor = ToolExecutionMonitor::builder()
        .background_sink(Arc::clone(&sink) as Arc<dyn MetricsSink>, 4)
        .build();
    (monitor, sink, Mutex::new(release))
});

#[monitored_tool(monitor = SLOW_SINK.0)]
fn beside_a_slow_sink(i: u32) -> u32 {
    i + 1
}

#[test]
fn a_blocking_sink_never_holds_up_a_tool() {
    let (monitor, sink, release) = &*SLOW_SINK;
    for i in 0..100 {
        assert_eq!(beside_a_slow_sink(i), i + 1);
    }
    // The sink is stuck on the first execution: at most 1 taken + 4 queued.
    assert_eq!(
        monitor
            .tool_stats("beside-a-slow-sink")
            .unwrap()
            .total_executions,
        100
    );
    assert!(monitor.sink_dropped() >= 95, "{}", monitor.sink_dropped());
    let release = release.lock().unwrap();
    for _ in 0..5 {
        release.send(()).unwrap();
    }
    drop(release);
    // Every execution the sink was given reaches it once released.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sink.seen.load(std::sync::atomic::Ordering::Relaxed) + monitor.sink_dropped() < 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sink never caught up"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(
        sink.seen.load(std::sync::atomic::Ordering::Relaxed) + monitor.sink_dropped(),
        100
    );
}
