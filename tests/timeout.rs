//! `timeout = "…"`: the body runs under a tokio deadline; on expiry the
//! call returns `Err(E::from(TimeoutError))` and records a timeout.

mod common;

use std::sync::LazyLock;
use std::time::Duration;

use common::{last, only, records};
use monitor_core::{
    ErrorCategory, ExecutionStatus, TimeoutError, ToolExecutionMonitor, monitored_tool,
};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[derive(Debug, PartialEq)]
enum FetchError {
    Timeout { tool: String, after: Duration },
    NotFound,
}

impl From<TimeoutError> for FetchError {
    fn from(error: TimeoutError) -> Self {
        FetchError::Timeout {
            tool: error.tool().to_owned(),
            after: error.after(),
        }
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[monitored_tool(monitor = MONITOR, timeout = "50ms")]
async fn fetch(ms: u64) -> Result<u64, FetchError> {
    if ms == 0 {
        return Err(FetchError::NotFound);
    }
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

#[monitored_tool(monitor = MONITOR, timeout = "20ms")]
async fn with_anyhow(ms: u64) -> anyhow::Result<u64> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

#[monitored_tool(monitor = MONITOR, timeout = "2m")]
async fn plain_timeout_error() -> Result<u8, TimeoutError> {
    Ok(1)
}

#[async_trait::async_trait]
trait Slow {
    async fn run(&self, ms: u64) -> Result<u64, FetchError>;
}

struct Worker;

#[async_trait::async_trait]
impl Slow for Worker {
    #[monitored_tool(monitor = MONITOR, timeout = "20ms", name = "worker-run")]
    async fn run(&self, ms: u64) -> Result<u64, FetchError> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(ms)
    }
}

#[tokio::test]
async fn calls_within_the_deadline_are_untouched() {
    assert_eq!(fetch(1).await, Ok(1));
    assert_eq!(fetch(0).await, Err(FetchError::NotFound));
    assert_eq!(plain_timeout_error().await, Ok(1));
    let all = records(&MONITOR, "fetch");
    let ok: Vec<_> = all
        .iter()
        .filter(|r| r.status == ExecutionStatus::Success)
        .collect();
    assert!(!ok.is_empty());
}

#[tokio::test]
async fn an_expired_deadline_returns_the_converted_error_and_records_a_timeout() {
    let error = with_anyhow(5_000).await.unwrap_err();
    let timeout = error
        .downcast_ref::<TimeoutError>()
        .expect("a TimeoutError inside");
    assert_eq!(timeout.tool(), "with-anyhow");
    assert_eq!(timeout.after(), Duration::from_millis(20));
    let record = only(&MONITOR, "with-anyhow");
    assert_eq!(record.status, ExecutionStatus::Timeout);
    assert_eq!(record.error_category, Some(ErrorCategory::TimeoutError));
    assert_eq!(
        record.error_message.as_deref(),
        Some("tool `with-anyhow` timed out after 20ms")
    );
    let duration = record.duration_ms.unwrap();
    assert!((15.0..1_000.0).contains(&duration), "{duration}");
}

#[tokio::test]
async fn custom_errors_convert_with_from() {
    assert_eq!(
        fetch(5_000).await,
        Err(FetchError::Timeout {
            tool: "fetch".to_owned(),
            after: Duration::from_millis(50)
        })
    );
    let timeouts = MONITOR
        .recent_errors(Some("fetch"), 1)
        .into_iter()
        .filter(|r| r.status == ExecutionStatus::Timeout)
        .count();
    assert_eq!(timeouts, 1);
}

#[tokio::test]
async fn async_trait_methods_can_time_out() {
    assert_eq!(Worker.run(1).await, Ok(1));
    assert!(matches!(
        Worker.run(5_000).await,
        Err(FetchError::Timeout { .. })
    ));
    assert_eq!(
        last(&MONITOR, "worker-run").status,
        ExecutionStatus::Timeout
    );
    assert_eq!(records(&MONITOR, "worker-run").len(), 2);
}
