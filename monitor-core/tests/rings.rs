//! The history and error rings against a model: every record read back
//! carries its own message and details, never another record's, whatever
//! mix of successes, repeated and new messages and details came before it,
//! with readers running while the rings wrap.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure

use std::sync::atomic::{AtomicBool, Ordering};

use monitor_core::{ExecutionStatus, ToolExecutionMetrics, ToolExecutionMonitor};

#[derive(Debug)]
struct Failure(&'static str);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Failure {}

/// The kinds of record; the kind travels in the input size, so a reader
/// can tell what the record must hold.
const SUCCESS: u64 = 0;
const FAIL_A: u64 = 1;
const FAIL_B: u64 = 2;
const FAIL_A_WITH_USER: u64 = 3;
const SUCCESS_WITH_USER: u64 = 4;
/// A message too long for a ring entry's own storage (64 bytes).
const FAIL_LONG: u64 = 5;
const LONG: &str =
    "a message too long for a ring entry's own words, so it is kept as a shared text";

fn record(monitor: &ToolExecutionMonitor, kind: u64, i: u64) {
    let call = monitor.create_execution_context("t");
    let mut call = if matches!(kind, FAIL_A_WITH_USER | SUCCESS_WITH_USER) {
        call.with_user_id(format!("u{i}"))
    } else {
        call
    };
    call.set_input_size(kind);
    match kind {
        SUCCESS | SUCCESS_WITH_USER => call.finish_success(),
        FAIL_A | FAIL_A_WITH_USER => monitor_core::finish_error!(call, &Failure("A")),
        FAIL_LONG => monitor_core::finish_error!(call, &Failure(LONG)),
        _ => monitor_core::finish_error!(call, &Failure("B")),
    }
}

fn check(record: &ToolExecutionMetrics) {
    let message = record.error_message.as_deref();
    let user = record.user_id.is_some();
    let consistent = match record.input_size_bytes {
        SUCCESS => message.is_none() && !user && record.status == ExecutionStatus::Success,
        FAIL_A => message == Some("A") && !user,
        FAIL_B => message == Some("B") && !user,
        FAIL_LONG => message == Some(LONG) && !user,
        FAIL_A_WITH_USER => message == Some("A") && user,
        SUCCESS_WITH_USER => message.is_none() && user,
        _ => false,
    };
    assert!(consistent, "{record:?}");
}

/// A fixed pseudo-random mix: 40% successes, 20% "A", 10% a long message,
/// 10% "B", 10% "A" with a user, 10% successes with a user.
fn kinds(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 10 {
            0..=3 => SUCCESS,
            4..=5 => FAIL_A,
            6 => FAIL_LONG,
            7 => FAIL_B,
            8 => FAIL_A_WITH_USER,
            _ => SUCCESS_WITH_USER,
        }
    })
}

#[test]
fn every_record_keeps_its_own_message_and_details() {
    let monitor = ToolExecutionMonitor::builder()
        .history_capacity(3)
        .error_capacity(2)
        .build();
    for (i, kind) in kinds(12_345).take(20_000).enumerate() {
        record(&monitor, kind, i as u64);
        let history = monitor.recent_executions(None, 10);
        assert_eq!(history.len(), (i + 1).min(3));
        assert_eq!(history.last().unwrap().input_size_bytes, kind);
        history.iter().for_each(check);
        monitor.recent_errors(None, u32::MAX).iter().for_each(check);
    }
}

#[test]
fn readers_see_consistent_records_while_the_rings_wrap() {
    let monitor = ToolExecutionMonitor::builder()
        .history_capacity(4)
        .error_capacity(3)
        .build();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    monitor.recent_executions(None, 10).iter().for_each(check);
                    monitor.recent_errors(None, u32::MAX).iter().for_each(check);
                }
            });
        }
        for (i, kind) in kinds(999).take(200_000).enumerate() {
            record(&monitor, kind, i as u64);
        }
        done.store(true, Ordering::Relaxed);
    });
    assert_eq!(monitor.tool_stats("t").unwrap().total_executions, 200_000);
}
