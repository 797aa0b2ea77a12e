//! The code `#[monitored_tool]` generates allocates nothing once warm, on
//! the success path (sync or async) and on the failure path, new messages
//! included.

use std::alloc::System;
use std::future::Future;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

use monitor_core::{ManualClock, ToolExecutionMonitor, monitored_tool};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

/// Counts the allocations of the whole test binary (the workspace forbids
/// `unsafe`, so the counting allocator comes from `stats_alloc`).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A clock that never moves: every call lasts 0 ns, so the latency
/// histogram never needs a new chunk.
static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(|| {
    ToolExecutionMonitor::builder()
        .clock(ManualClock::new(chrono::DateTime::UNIX_EPOCH))
        .history_capacity(64)
        .build()
});

/// The same, writing to a SQLite store: flushed between the counted calls
/// (by hand, so that no flusher thread allocates while they are counted).
static STORED: LazyLock<ToolExecutionMonitor> = LazyLock::new(|| {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("allocation-store.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    ToolExecutionMonitor::builder()
        .clock(ManualClock::new(chrono::DateTime::UNIX_EPOCH))
        .history_capacity(64)
        .store(monitor_core::StoreConfig::at(path))
        .build()
});

#[monitored_tool(monitor = STORED, name = "search")]
fn stored_search(query: &str, limit: usize) -> Result<Vec<u32>, std::io::Error> {
    let _ = (query, limit);
    Ok(Vec::new())
}

#[monitored_tool(monitor = MONITOR)]
fn search(query: &str, limit: usize) -> Result<Vec<u32>, std::io::Error> {
    let _ = (query, limit);
    Ok(Vec::new())
}

#[monitored_tool(monitor = MONITOR)]
async fn fetch(id: u64, (a, b): (u8, u8)) -> Option<u64> {
    Some(id + u64::from(a) + u64::from(b))
}

/// Fails every time, measuring nothing: the error path of `skip_all`.
#[monitored_tool(monitor = MONITOR, skip_all)]
fn refuse(query: &str) -> Result<usize, std::io::Error> {
    let _ = query;
    // An `io::Error` made from a kind allocates nothing itself.
    Err(std::io::ErrorKind::PermissionDenied.into())
}

/// An error whose message changes with `code`.
#[derive(Debug)]
struct Refused(u32);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "upstream index refused request #{:08}", self.0)
    }
}

impl std::error::Error for Refused {}

/// Fails every time with a message of its own per `code`.
#[monitored_tool(monitor = MONITOR, skip_all)]
fn refuse_with(code: u32) -> Result<usize, Refused> {
    Err(Refused(code))
}

/// An error whose message is over 64 bytes.
#[derive(Debug)]
struct LongRefused(u32);

impl std::fmt::Display for LongRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<70}#{}", "long", self.0)
    }
}

impl std::error::Error for LongRefused {}

#[monitored_tool(monitor = MONITOR, skip_all)]
fn refuse_long(code: u32) -> Result<usize, LongRefused> {
    Err(LongRefused(code))
}

fn poll_once<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the tool should finish in one poll"),
    }
}

/// The allocations and reallocations of `calls`, the fewest of up to
/// three tries, and how many tries ran: the counter sees the whole
/// process, and the test harness's own thread allocates now and then while
/// a test runs (4 allocations of 900 bytes in one run on a loaded
/// machine). An allocation per call shows in every try.
fn fewest_allocations(mut calls: impl FnMut()) -> ((usize, usize), u64) {
    let mut fewest = (usize::MAX, usize::MAX);
    for tries in 1..=3 {
        let region = Region::new(GLOBAL);
        calls();
        let change = region.change();
        fewest = fewest.min((change.allocations, change.reallocations));
        if fewest == (0, 0) {
            return (fewest, tries);
        }
    }
    (fewest, 3)
}

#[test]
fn successful_calls_allocate_nothing_after_warm_up() {
    // Warm-up: the first calls register the tool and allocate this thread's
    // shard and history ring, once.
    for _ in 0..200 {
        assert!(search("rust", 3).is_ok());
        assert_eq!(poll_once(fetch(1, (2, 3))), Some(6));
    }
    let (change, tries) = fewest_allocations(|| {
        for _ in 0..1_000 {
            assert!(search("rust", 3).is_ok());
            assert_eq!(poll_once(fetch(1, (2, 3))), Some(6));
        }
    });
    assert_eq!(change, (0, 0), "(allocations, reallocations)");
    let calls = 200 + 1_000 * tries;
    assert_eq!(
        MONITOR.tool_stats("search").unwrap().total_executions,
        calls
    );
    assert_eq!(MONITOR.tool_stats("fetch").unwrap().total_executions, calls);

    // With `skip_all`, the error path allocates nothing once warm: a
    // message of at most 64 bytes is formatted into the thread's buffer and
    // copied into the ring entries' own storage.
    for code in 0..200 {
        assert!(refuse_with(code).is_err());
        assert!(refuse("x").is_err());
    }
    let (change, _) = fewest_allocations(|| {
        for _ in 0..1_000 {
            assert!(refuse("x").is_err());
        }
    });
    assert_eq!(change, (0, 0), "a repeated message is shared");
    let error = &MONITOR.recent_errors(Some("refuse"), 1)[0];
    assert_eq!(error.error_message.as_deref(), Some("permission denied"));
    // Warm: enough new messages that both rings have wrapped.
    for code in 1..=2_000 {
        assert!(refuse_with(code).is_err());
    }
    let mut code = 2_000;
    let (change, _) = fewest_allocations(|| {
        for _ in 0..1_000 {
            code += 1;
            assert!(refuse_with(code).is_err());
        }
    });
    assert_eq!(
        change,
        (0, 0),
        "a new short message is copied into the entries"
    );
    let errors = MONITOR.recent_errors(Some("refuse-with"), 1);
    assert_eq!(
        errors.last().and_then(|e| e.error_message.as_deref()),
        Some(format!("upstream index refused request #{code:08}").as_str())
    );

    // A message over 64 bytes is one shared text for both rings (an
    // `Arc<str>`: one allocation), made once per new text and shared while
    // the text repeats.
    for code in 0..10 {
        assert!(refuse_long(code % 2).is_err());
    }
    let region = Region::new(GLOBAL);
    for _ in 0..100 {
        assert!(refuse_long(7).is_err());
    }
    assert_eq!(region.change().allocations, 1, "one text for 100 calls");
    let region = Region::new(GLOBAL);
    for code in 0..100 {
        assert!(refuse_long(code).is_err());
    }
    assert_eq!(region.change().allocations, 100, "one text per new text");
    let errors = MONITOR.recent_errors(Some("refuse-long"), 1);
    assert_eq!(
        errors.last().and_then(|e| e.error_message.as_deref()),
        Some(format!("{:<70}#99", "long").as_str())
    );

    // With a store: calls between flushes allocate nothing either; the
    // store is read and written by the flush alone.
    for _ in 0..200 {
        assert!(stored_search("rust", 3).is_ok());
    }
    STORED.flush().unwrap();
    let mut calls = 200;
    for round in 1..=3 {
        let (change, tries) = fewest_allocations(|| {
            for _ in 0..1_000 {
                assert!(stored_search("rust", 3).is_ok());
            }
        });
        assert_eq!(change, (0, 0), "store on, round {round}");
        calls += 1_000 * tries;
        STORED.flush().unwrap();
    }
    let store = monitor_core::Store::open(STORED.store_path().unwrap()).unwrap();
    assert_eq!(
        store
            .tool_stats("search", std::time::Duration::from_secs(u64::MAX / 4))
            .unwrap()
            .unwrap()
            .total_executions,
        calls
    );
}
