//! monitor-core's `tracing` feature: every `#[monitored_tool]` call runs in
//! an `execute_tool` span with the OpenTelemetry GenAI fields, a child of
//! the caller's span, and the parent of what the body opens.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use monitor_core::{
    ClassifyError, ErrorCategory, ExecutionStatus, ToolExecutionMonitor, monitored_tool,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, info_span};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

/// One span as a subscriber saw it.
#[derive(Debug, Clone, Default)]
struct Seen {
    name: &'static str,
    fields: BTreeMap<String, String>,
    parent: Option<String>,
}

/// Keeps every span's name, fields (at creation and recorded later) and
/// parent, by the span's `otel.name` or name.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(u64, Seen)>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut seen = Seen {
            name: attrs.metadata().name(),
            ..Seen::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        seen.parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.name().to_owned());
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id.into_u64(), seen));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, seen)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }
}

impl Capture {
    fn spans(&self) -> Vec<Seen> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// The one span whose `gen_ai.tool.name` is `tool`.
    fn tool_span(&self, tool: &str) -> Seen {
        let spans: Vec<Seen> = self
            .spans()
            .into_iter()
            .filter(|s| s.fields.get("gen_ai.tool.name").map(String::as_str) == Some(tool))
            .collect();
        assert_eq!(spans.len(), 1, "one span for {tool}: {spans:?}");
        spans.into_iter().next().expect("one span")
    }

    fn named(&self, name: &str) -> Seen {
        self.spans()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("a span {name}"))
    }
}

fn capturing<R>(body: impl FnOnce() -> R) -> (R, Capture) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let value = tracing::subscriber::with_default(subscriber, body);
    (value, capture)
}

#[derive(Debug)]
struct LookupError(u32);

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no row {}", self.0)
    }
}

impl ClassifyError for LookupError {
    fn status(&self) -> ExecutionStatus {
        ExecutionStatus::ValidationFailed
    }
    fn category(&self) -> ErrorCategory {
        ErrorCategory::ValidationError
    }
}

#[monitored_tool(monitor = MONITOR, name = "span-lookup")]
fn lookup(id: u32) -> Result<u32, LookupError> {
    let _child = info_span!("inside_lookup").entered();
    if id == 0 {
        Err(LookupError(id))
    } else {
        Ok(id * 2)
    }
}

#[monitored_tool(monitor = MONITOR, name = "span-ok")]
fn plain(id: u32) -> u32 {
    id + 1
}

#[test]
fn a_sync_call_is_an_execute_tool_span_with_the_conventions_fields() {
    let (value, capture) = capturing(|| info_span!("request").in_scope(|| plain(1)));
    assert_eq!(value, 2, "the tool's value is unchanged");
    let span = capture.tool_span("span-ok");
    assert_eq!(span.name, "execute_tool");
    assert_eq!(
        span.parent.as_deref(),
        Some("request"),
        "a child of the caller's span"
    );
    let field = |name: &str| span.fields.get(name).cloned();
    assert_eq!(field("otel.name").as_deref(), Some("execute_tool span-ok"));
    assert_eq!(field("otel.kind").as_deref(), Some("internal"));
    assert_eq!(
        field("gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(field("error.type"), None, "a success has no error.type");
    assert_eq!(field("otel.status_code"), None);
    assert_eq!(field("gen_ai.tool.call.id"), None, "unknown outside rmcp");
}

#[test]
fn a_failure_carries_its_error_type_and_the_body_nests_inside() {
    let (value, capture) = capturing(|| lookup(0));
    assert!(value.is_err());
    let span = capture.tool_span("span-lookup");
    assert_eq!(
        span.fields.get("error.type").map(String::as_str),
        Some("validation_error")
    );
    assert_eq!(
        span.fields.get("otel.status_code").map(String::as_str),
        Some("error")
    );
    assert_eq!(
        capture.named("inside_lookup").parent.as_deref(),
        Some("execute_tool"),
        "a span the body opens is the tool span's child"
    );
}

#[monitored_tool(monitor = MONITOR, name = "span-async")]
async fn fetch(n: u32) -> Result<u32, std::io::Error> {
    tokio::task::yield_now().await;
    let _child = info_span!("inside_fetch").entered();
    if n == 0 {
        Err(std::io::ErrorKind::ConnectionRefused.into())
    } else {
        Ok(n)
    }
}

#[monitored_tool(monitor = MONITOR, name = "span-slow", timeout = "10ms")]
async fn slow() -> Result<(), monitor_core::TimeoutError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

#[monitored_tool(monitor = MONITOR, name = "span-dropped")]
async fn never_finishes() -> u8 {
    std::future::pending::<()>().await;
    1
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

#[test]
fn an_async_call_is_entered_at_every_poll_and_maps_network_errors() {
    let (value, capture) = capturing(|| {
        runtime().block_on(async {
            let request = info_span!("request");
            tracing::Instrument::instrument(fetch(0), request).await
        })
    });
    assert!(value.is_err());
    let span = capture.tool_span("span-async");
    assert_eq!(span.parent.as_deref(), Some("request"));
    assert_eq!(
        span.fields.get("error.type").map(String::as_str),
        Some("network_error")
    );
    assert_eq!(
        capture.named("inside_fetch").parent.as_deref(),
        Some("execute_tool"),
        "entered again after the await"
    );
}

#[test]
fn timeouts_and_cancellations_have_their_own_error_types() {
    let ((), capture) = capturing(|| {
        runtime().block_on(async {
            assert!(slow().await.is_err());
            // Dropped after its first poll: cancelled.
            let dropped = tokio::time::timeout(Duration::from_millis(5), never_finishes()).await;
            assert!(dropped.is_err());
        });
    });
    assert_eq!(
        capture
            .tool_span("span-slow")
            .fields
            .get("error.type")
            .map(String::as_str),
        Some("timeout")
    );
    assert_eq!(
        capture
            .tool_span("span-dropped")
            .fields
            .get("error.type")
            .map(String::as_str),
        Some("cancelled")
    );
}

#[test]
fn with_no_subscriber_the_call_is_recorded_and_no_span_is_built() {
    let before = MONITOR
        .tool_stats("span-ok")
        .map_or(0, |s| s.total_executions);
    assert_eq!(plain(41), 42);
    assert!(tracing::Span::current().is_none());
    let after = MONITOR.tool_stats("span-ok").unwrap().total_executions;
    assert_eq!(after, before + 1);
}
