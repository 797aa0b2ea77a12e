//! An async call whose future is dropped after its first poll and before it
//! finished records exactly one `cancelled` execution; a future that was
//! never polled records nothing.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Waker};
use std::time::Duration;

use common::{only, records};
use monitor_core::{ExecutionStatus, ToolExecutionMonitor, monitored_tool};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[monitored_tool(monitor = MONITOR)]
async fn pending_forever(label: &str) -> usize {
    std::future::pending::<()>().await;
    label.len()
}

#[monitored_tool(monitor = MONITOR)]
async fn slow(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[monitored_tool(
    monitor = MONITOR,
    user_id = user,
    session_id = 7,
    metadata(region = "eu", "label-len" = label.len())
)]
async fn pending_with_details(user: &str, label: String) -> usize {
    std::future::pending::<()>().await;
    label.len()
}

#[monitored_tool(monitor = MONITOR)]
async fn never_polled() -> u8 {
    1
}

#[test]
fn a_future_dropped_after_its_first_poll_is_cancelled_once() {
    {
        let mut future = pin!(pending_forever("abc"));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert!(records(&MONITOR, "pending-forever").is_empty());
    }
    let record = only(&MONITOR, "pending-forever");
    assert_eq!(record.status, ExecutionStatus::Cancelled);
    assert_eq!(record.input_size_bytes, 5);
    assert_eq!(record.output_size_bytes, 0);
}

/// The details are kept while the call waits, not set when it ends: a
/// call cancelled at its await records them too.
#[test]
fn a_cancelled_call_keeps_its_user_session_and_metadata() {
    {
        let mut future = pin!(pending_with_details("ann", "abcd".to_owned()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    let record = only(&MONITOR, "pending-with-details");
    assert_eq!(record.status, ExecutionStatus::Cancelled);
    assert_eq!(record.user_id.as_deref(), Some("ann"));
    assert_eq!(record.session_id.as_deref(), Some("7"));
    assert_eq!(record.metadata["region"], "eu");
    assert_eq!(record.metadata["label-len"], 4);
    assert!(record.input_size_bytes > 0, "{record:?}");
}

#[test]
fn a_future_never_polled_records_nothing() {
    drop(never_polled());
    let future = never_polled();
    drop(future);
    assert!(records(&MONITOR, "never-polled").is_empty());
    assert!(MONITOR.tool_stats("never-polled").is_none());
}

#[tokio::test]
async fn an_outer_timeout_or_select_cancels() {
    assert!(
        tokio::time::timeout(Duration::from_millis(10), slow(5_000))
            .await
            .is_err()
    );
    tokio::select! {
        value = slow(5_000) => panic!("finished: {value}"),
        () = tokio::time::sleep(Duration::from_millis(10)) => {}
    }
    assert_eq!(slow(1).await, 1);
    let statuses: Vec<_> = records(&MONITOR, "slow").iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            ExecutionStatus::Cancelled,
            ExecutionStatus::Cancelled,
            ExecutionStatus::Success
        ]
    );
    let stats = MONITOR.tool_stats("slow").unwrap();
    assert_eq!((stats.total_executions, stats.failed_executions), (3, 2));
}
