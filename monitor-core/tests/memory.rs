//! Deterministic memory proofs with a counting global allocator: no heap
//! allocation per recorded call after warm-up, and memory that stops
//! growing once the rings are full, whatever the call count or the number
//! of distinct tool names.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure

use std::alloc::System;

use monitor_core::__private::{Callsite, Outcome};
use monitor_core::{ManualClock, ToolExecutionMonitor, set_global_monitor};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

/// Counts allocations and bytes of the whole test binary (the workspace
/// forbids `unsafe`, so the counting allocator comes from `stats_alloc`).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated by the process (`stats_alloc` counts a
/// realloc's growth in `bytes_allocated` and its shrinking in
/// `bytes_deallocated`).
fn live_bytes() -> i128 {
    let stats = GLOBAL.stats();
    i128::try_from(stats.bytes_allocated).unwrap()
        - i128::try_from(stats.bytes_deallocated).unwrap()
}

/// A monitor on a clock that never moves: every call lasts 0 ns, so the
/// latency histogram never reaches a new octave (each octave's 512-byte
/// chunk is allocated once, on the first call that lasts that long).
fn still_monitor() -> monitor_core::ToolExecutionMonitorBuilder {
    ToolExecutionMonitor::builder().clock(ManualClock::new(chrono::DateTime::UNIX_EPOCH))
}

/// The counters are process-wide, so the proofs run one after another in a
/// single test: with one test in the binary, nothing else (not even the
/// test harness reporting another test) allocates while one measures.
#[test]
fn memory_proofs() {
    a_successful_call_allocates_nothing_after_warm_up();
    memory_stops_growing_with_calls_and_unique_session_ids();
    a_million_distinct_tool_names_stay_bounded();
    messages_overwritten_by_successes_are_freed();
}

fn a_successful_call_allocates_nothing_after_warm_up() {
    static SITE: Callsite = Callsite::new("no-alloc");
    static GLOBAL_SITE: Callsite = Callsite::new("no-alloc-global");
    let monitor = still_monitor().history_capacity(1000).build();
    set_global_monitor(std::sync::Arc::new(still_monitor().build()));
    let call = |global: bool| {
        let mut guard = if global {
            GLOBAL_SITE.start()
        } else {
            SITE.start_in(&monitor)
        };
        guard.add_input_size(Some(12));
        guard.stop();
        guard.finish(Outcome::Success { output_bytes: 40 });
    };
    for global in [false, true] {
        // Warm-up: the first calls allocate the shard, the histogram chunk,
        // the ring and the thread's state, once.
        for _ in 0..2000 {
            call(global);
        }
        let region = Region::new(GLOBAL);
        for _ in 0..100_000 {
            call(global);
        }
        let change = region.change();
        assert_eq!(
            (change.allocations, change.reallocations),
            (0, 0),
            "global monitor: {global}"
        );
    }
    assert_eq!(
        monitor.tool_stats("no-alloc").unwrap().total_executions,
        102_000
    );
}

fn memory_stops_growing_with_calls_and_unique_session_ids() {
    let monitor = still_monitor()
        .history_capacity(1000)
        .error_capacity(100)
        .build();
    let run = |from: u64, to: u64| {
        for i in from..to {
            let call = monitor
                .create_execution_context("search")
                .with_session_id(format!("session-{i:016}"));
            if i % 10 == 0 {
                call.finish_classified(
                    monitor_core::ExecutionStatus::Error,
                    monitor_core::ErrorCategory::NetworkError,
                    format!("failure {i:016}"),
                );
            } else {
                call.finish_success();
            }
        }
    };
    run(0, 10_000);
    let after_10k = live_bytes();
    run(10_000, 10_000_000);
    let after_ten_million = live_bytes();
    assert_eq!(
        after_ten_million, after_10k,
        "live bytes after 10k and after 10M calls"
    );
    assert_eq!(
        monitor.tool_stats("search").unwrap().total_executions,
        10_000_000
    );
}

fn a_million_distinct_tool_names_stay_bounded() {
    let monitor = still_monitor()
        .max_tools(1000)
        .history_capacity(100)
        .build();
    let run = |from: u32, to: u32| {
        for i in from..to {
            monitor
                .create_execution_context(&format!("tool-{i:08}"))
                .finish_success();
        }
    };
    run(0, 10_000);
    let after_10k = live_bytes();
    run(10_000, 1_000_000);
    let after_1m = live_bytes();
    assert_eq!(
        after_1m, after_10k,
        "live bytes after 10k and after 1M names"
    );
    let all = monitor.all_tool_stats();
    assert_eq!(all.len(), 1001);
    assert_eq!(
        all[monitor_core::OVERFLOW_TOOL_NAME].total_executions,
        999_000
    );
}

/// A ring entry may keep the message of a record it no longer shows only
/// while that is the thread's last message (alive anyway): a thousand
/// distinct 1 KiB messages, overwritten by successes, are freed.
fn messages_overwritten_by_successes_are_freed() {
    #[derive(Debug)]
    struct Distinct(u64);
    impl std::fmt::Display for Distinct {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:01024}", self.0)
        }
    }
    impl std::error::Error for Distinct {}

    let monitor = still_monitor()
        .history_capacity(1000)
        .error_capacity(0)
        .build();
    // Warm-up: the ring, the shard and the thread's message buffer.
    for _ in 0..1000 {
        monitor.create_execution_context("search").finish_success();
    }
    monitor_core::finish_error!(monitor.create_execution_context("search"), &Distinct(0));
    let before = live_bytes();
    for i in 1..=1000 {
        monitor_core::finish_error!(monitor.create_execution_context("search"), &Distinct(i));
    }
    let with_messages = live_bytes();
    assert!(
        with_messages - before > 1000 * 1024,
        "the history holds the messages: {}",
        with_messages - before
    );
    for _ in 0..1000 {
        monitor.create_execution_context("search").finish_success();
    }
    let after = live_bytes();
    // The thread's last message (1 KiB, shared by the next one with the
    // same text) stays alive; the other 999 went.
    assert!(
        after - before <= 2 * 1024,
        "overwritten messages are freed: {} bytes still live",
        after - before
    );
}
