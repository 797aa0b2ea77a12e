//! A panic is recorded (status error, category system, the payload's
//! message) and keeps unwinding with the very same payload.

#[macro_use]
mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use common::{only, panic_message, records};
use futures_lite_shim::block_on;
use monitor_core::{ErrorCategory, ExecutionStatus, ToolExecutionMonitor};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

/// A payload that is neither `&str` nor `String`.
#[derive(Debug, PartialEq)]
pub(crate) struct Code(pub(crate) u16);

twins! {
    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn explode(n: u32) -> u32 {
        assert!(n <= 2, "too big: {n}");
        n
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn static_message() -> Result<u8, String> {
        panic!("static message")
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn custom_payload() -> u8 {
        std::panic::panic_any(crate::Code(503))
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) async fn async_explode(after_yield: bool) -> u8 {
        if after_yield {
            tokio::task::yield_now().await;
        }
        panic!("async boom")
    }
}

/// Spawned on a runtime: its panic reaches the `JoinHandle`.
#[monitor_core::monitored_tool(monitor = MONITOR)]
async fn spawned_explode() -> u8 {
    tokio::task::yield_now().await;
    panic!("spawned boom")
}

mod futures_lite_shim {
    /// Runs a future to completion on a fresh current-thread runtime.
    pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(future)
    }
}

fn payload_of<R>(f: impl FnOnce() -> R) -> Box<dyn std::any::Any + Send> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => payload,
    }
}

#[test]
fn sync_panics_are_recorded_and_resumed_unchanged() {
    assert_eq!(monitored::explode(1), 1);
    let payload = payload_of(|| monitored::explode(5));
    let twin = payload_of(|| plain::explode(5));
    assert_eq!(panic_message(&*payload), panic_message(&*twin));
    assert!(
        payload.downcast_ref::<String>().is_some(),
        "a formatted panic carries a String"
    );
    let all = records(&MONITOR, "explode");
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].status, ExecutionStatus::Error);
    assert_eq!(all[1].error_category, Some(ErrorCategory::SystemError));
    assert_eq!(all[1].error_message.as_deref(), Some("too big: 5"));
    assert_eq!(all[1].output_size_bytes, 0);
}

#[test]
fn str_payloads_stay_str() {
    let payload = payload_of(monitored::static_message);
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"static message"));
    assert_eq!(
        only(&MONITOR, "static-message").error_message.as_deref(),
        Some("static message")
    );
}

#[test]
fn custom_payloads_are_passed_through() {
    let payload = payload_of(monitored::custom_payload);
    assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(503)));
    let twin = payload_of(plain::custom_payload);
    assert_eq!(twin.downcast_ref::<Code>(), payload.downcast_ref::<Code>());
    let record = only(&MONITOR, "custom-payload");
    assert_eq!(record.status, ExecutionStatus::Error);
    assert_eq!(
        record.error_message.as_deref(),
        Some("panic with a non-string payload")
    );
}

#[test]
fn async_panics_in_any_poll_are_recorded_once_and_resumed() {
    for after_yield in [false, true] {
        let payload = payload_of(|| block_on(monitored::async_explode(after_yield)));
        let twin = payload_of(|| block_on(plain::async_explode(after_yield)));
        assert_eq!(panic_message(&*payload), panic_message(&*twin));
    }
    let all = records(&MONITOR, "async-explode");
    assert_eq!(
        all.len(),
        2,
        "one record per call, none for the unwinding drop"
    );
    for record in all {
        assert_eq!(record.status, ExecutionStatus::Error);
        assert_eq!(record.error_category, Some(ErrorCategory::SystemError));
        assert_eq!(record.error_message.as_deref(), Some("async boom"));
    }
}

#[tokio::test]
async fn a_spawned_task_that_panics_reports_the_same_join_error() {
    let error = tokio::spawn(spawned_explode()).await.unwrap_err();
    assert!(error.is_panic());
    assert_eq!(panic_message(&*error.into_panic()), "spawned boom");
    assert_eq!(
        only(&MONITOR, "spawned-explode").error_message.as_deref(),
        Some("spawned boom")
    );
}
