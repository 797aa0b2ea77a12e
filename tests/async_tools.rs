//! Async tools: timed from the first poll to the end, `Send` futures, and
//! sync functions that return a future built from an `async` block.

#[macro_use]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use common::{debug_len, last, only, records};
use monitor_core::{ErrorCategory, ExecutionStatus, ToolExecutionMonitor, monitored_tool};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

twins! {
    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) async fn sleepy(ms: u64) -> u64 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        ms * 2
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) async fn lookup(key: String) -> Result<String, std::io::Error> {
        tokio::task::yield_now().await;
        match key.as_str() {
            "ok" => Ok("value".to_owned()),
            _ => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no {key}"))),
        }
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    #[allow(clippy::unused_async)] // an async fn that never waits is the point
    pub(crate) async fn instant() -> &'static str {
        "now"
    }

    #[monitored_tool(monitor = crate::MONITOR, skip_all)]
    #[allow(clippy::unused_async)] // the size of the future is the point
    pub(crate) async fn small(query: &str, limit: u32) -> usize {
        query.len() + limit as usize
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    #[allow(clippy::unused_async)] // the size of the future is the point
    pub(crate) async fn small_measured(query: &str, mut limit: u32) -> usize {
        limit += 1;
        query.len() + limit as usize
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) async fn buffered(n: usize) -> usize {
        let buffer = std::hint::black_box([7u8; 1024]);
        common::YieldOnce::default().await;
        buffer.iter().map(|&b| usize::from(b)).sum::<usize>() + n
    }

    #[monitored_tool(monitor = crate::MONITOR, timeout = "10s")]
    pub(crate) async fn buffered_with_deadline(n: usize) -> Result<usize, monitor_core::TimeoutError> {
        let buffer = std::hint::black_box([7u8; 1024]);
        common::YieldOnce::default().await;
        Ok(buffer.iter().map(|&b| usize::from(b)).sum::<usize>() + n)
    }
}

/// The tool's future holds its body's future once, not twice (once as an
/// argument of the panic catcher or the deadline, once inside it): what
/// the monitor adds is the parked guard (and, with a timeout, tokio's
/// timer), whatever the body holds across an await, so each await of the
/// tool moves that much less (BENCHMARKS.md, issue #18).
#[test]
fn an_async_tools_future_holds_its_body_once() {
    let plain = std::mem::size_of_val(&plain::buffered(1));
    let monitored = std::mem::size_of_val(&monitored::buffered(1));
    assert!(plain >= 1024, "{plain}");
    assert!(
        monitored <= plain + 256,
        "monitored {monitored} bytes, plain {plain}"
    );
    let deadline = std::mem::size_of_val(&monitored::buffered_with_deadline(1));
    assert!(
        deadline <= plain + 512,
        "with a deadline {deadline} bytes, plain {plain}"
    );
}

/// What the monitor adds to a tool's future is its parked guard (48 bytes;
/// with `otel`, a span more, and the body's `Instrumented` one more), not
/// the whole guard (136): a small tool's future stays at 96 bytes, which a
/// caller's `.await` moves with register copies where a larger one costs
/// two `memcpy` calls, about 10 ns a call (BENCHMARKS.md, "The async tool's
/// size"). With its arguments measured too: each is moved through the
/// measuring, not borrowed, or the future would keep a second copy of it
/// (120 bytes).
#[test]
fn a_small_async_tools_future_stays_within_96_bytes() {
    #[cfg(feature = "otel")]
    let spans = 2 * std::mem::size_of::<tracing::Span>() + 8;
    #[cfg(not(feature = "otel"))]
    let spans = 0;
    let plain = std::mem::size_of_val(&plain::small("q", 1));
    let monitored = std::mem::size_of_val(&monitored::small("q", 1));
    assert!(
        monitored <= 96 + spans,
        "monitored {monitored} bytes, plain {plain}, spans {spans}"
    );
    let plain = std::mem::size_of_val(&plain::small_measured("q", 1));
    let monitored = std::mem::size_of_val(&monitored::small_measured("q", 1));
    assert!(
        monitored <= 96 + spans,
        "measured arguments: monitored {monitored} bytes, plain {plain}, spans {spans}"
    );
}

#[tokio::test]
async fn a_small_tool_runs_unchanged() {
    assert_eq!(
        monitored::small("abc", 2).await,
        plain::small("abc", 2).await
    );
    let record = last(&MONITOR, "small");
    assert_eq!(record.status, ExecutionStatus::Success);
    assert_eq!((record.input_size_bytes, record.output_size_bytes), (0, 0));
    // Measured arguments are bound again as the signature bound them (`mut`).
    assert_eq!(
        monitored::small_measured("abc", 2).await,
        plain::small_measured("abc", 2).await
    );
    let record = last(&MONITOR, "small-measured");
    assert_eq!(record.input_size_bytes, debug_len("abc") + debug_len(&2u32));
    assert_eq!(record.output_size_bytes, debug_len(&6usize));
}

#[tokio::test]
async fn a_body_holding_a_buffer_across_an_await_runs_unchanged() {
    assert_eq!(monitored::buffered(2).await, plain::buffered(2).await);
    assert_eq!(last(&MONITOR, "buffered").status, ExecutionStatus::Success);
}

/// Spawned on a multi-thread runtime: the future must be `Send`.
#[monitored_tool(monitor = MONITOR)]
async fn spawned(key: String) -> Result<String, std::io::Error> {
    tokio::task::yield_now().await;
    if key == "ok" {
        Ok(key)
    } else {
        Err(std::io::ErrorKind::NotFound.into())
    }
}

/// A hand-written async function: the future is what is timed.
#[monitored_tool(monitor = MONITOR)]
fn returns_future(ms: u64) -> impl Future<Output = u64> {
    async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }
}

/// The shape `#[async_trait]` and rmcp's `#[tool]` generate.
#[monitored_tool(monitor = MONITOR)]
fn boxed_future(text: String) -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send>> {
    Box::pin(async move {
        tokio::task::yield_now().await;
        if text.is_empty() {
            return Err("empty".to_owned());
        }
        Ok(text.len())
    })
}

/// The `futures` crate's alias, as rmcp's `#[tool]` returns it.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A body whose error type only the return type fixes (`?` on a `String`
/// error): the alias's `T` types the instrumented block.
#[monitored_tool(monitor = MONITOR)]
fn aliased_future(text: &str) -> BoxFuture<'_, Result<usize, String>> {
    Box::pin(async move {
        let n: usize = text.parse().map_err(|_| format!("not a number: {text}"))?;
        Ok(n * 2)
    })
}

#[tokio::test]
async fn box_future_aliases_type_the_instrumented_block() {
    assert_eq!(aliased_future("21").await, Ok(42));
    assert_eq!(aliased_future("x").await, Err("not a number: x".to_owned()));
    let all = records(&MONITOR, "aliased-future");
    assert_eq!(all[0].output_size_bytes, 2);
    assert_eq!(all[1].error_message.as_deref(), Some("not a number: x"));
}

#[tokio::test]
async fn async_calls_are_timed_and_measured() {
    assert_eq!(monitored::sleepy(30).await, plain::sleepy(30).await);
    let record = only(&MONITOR, "sleepy");
    assert_eq!(record.status, ExecutionStatus::Success);
    assert!(record.duration_ms.unwrap() >= 25.0, "{record:?}");
    assert_eq!(record.input_size_bytes, debug_len(&30u64));
    assert_eq!(record.output_size_bytes, debug_len(&60u64));
}

#[tokio::test]
async fn async_errors_are_classified() {
    assert_eq!(monitored::lookup("ok".to_owned()).await.unwrap(), "value");
    let error = monitored::lookup("x".to_owned()).await.unwrap_err();
    let twin = plain::lookup("x".to_owned()).await.unwrap_err();
    assert_eq!(
        (error.kind(), error.to_string()),
        (twin.kind(), twin.to_string())
    );
    let all = records(&MONITOR, "lookup");
    assert_eq!(all[0].output_size_bytes, debug_len("value"));
    assert_eq!(all[1].error_category, Some(ErrorCategory::TimeoutError));
    assert_eq!(all[1].error_message.as_deref(), Some("no x"));
}

#[tokio::test]
async fn the_clock_starts_at_the_first_poll() {
    let future = monitored::instant();
    std::thread::sleep(Duration::from_millis(60));
    assert!(
        records(&MONITOR, "instant").is_empty(),
        "nothing before the call ends"
    );
    assert_eq!(future.await, "now");
    let record = only(&MONITOR, "instant");
    assert!(record.duration_ms.unwrap() < 50.0, "{record:?}");
}

#[test]
fn async_tools_stay_send_and_run_on_other_threads() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let handles: Vec<_> = (0..8)
            .map(|i| tokio::spawn(spawned(if i % 2 == 0 { "ok" } else { "no" }.to_owned())))
            .collect();
        for handle in handles {
            let _ = handle.await.unwrap();
        }
    });
    let stats = MONITOR.tool_stats("spawned").unwrap();
    assert_eq!((stats.total_executions, stats.failed_executions), (8, 4));
}

#[tokio::test]
async fn returned_futures_are_timed_when_polled_not_when_created() {
    let started = Instant::now();
    let future = returns_future(40);
    std::thread::sleep(Duration::from_millis(60));
    assert!(records(&MONITOR, "returns-future").is_empty());
    assert_eq!(future.await, 40);
    let record = only(&MONITOR, "returns-future");
    let duration = record.duration_ms.unwrap();
    assert!(duration >= 35.0, "the body ran for 40 ms: {record:?}");
    assert!(
        duration < started.elapsed().as_secs_f64() * 1000.0 - 50.0,
        "the 60 ms before the first poll are not counted: {record:?}"
    );
    assert_eq!(record.input_size_bytes, debug_len(&40u64));
}

#[tokio::test]
async fn boxed_futures_keep_early_returns() {
    assert_eq!(boxed_future("abc".to_owned()).await, Ok(3));
    assert_eq!(boxed_future(String::new()).await, Err("empty".to_owned()));
    let record = last(&MONITOR, "boxed-future");
    assert_eq!(record.status, ExecutionStatus::Error);
    assert_eq!(record.error_message.as_deref(), Some("empty"));
    assert_eq!(records(&MONITOR, "boxed-future")[0].output_size_bytes, 1);
}
