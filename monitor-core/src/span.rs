//! With the `tracing` feature, the `execute_tool` span every
//! `#[monitored_tool]` call runs in, named and filled by the OpenTelemetry
//! GenAI conventions so that `tracing-opentelemetry` exports it as is.

use std::fmt;

use tracing::field::{Empty, display};

use crate::execution::Execution;
use crate::semconv::{OPERATION, TOOL_ERROR, error_type};

/// `execute_tool {gen_ai.tool.name}`, the span name the conventions give,
/// formatted only when a subscriber wants the span.
struct SpanName(&'static str);

impl fmt::Display for SpanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{OPERATION} {}", self.0)
    }
}

/// One call's span, with what the guard learns about the call before it
/// records it.
#[derive(Debug)]
pub(crate) struct ToolSpan {
    pub(crate) span: tracing::Span,
    /// The tool reported its own failure (rmcp's `is_error`).
    tool_error: bool,
}

impl ToolSpan {
    /// A span for one call of `tool`, a child of the current span. With no
    /// subscriber, or one that does not want it, this is one check of a
    /// static interest and a disabled span.
    #[inline]
    pub(crate) fn new(tool: &'static str) -> Self {
        let span = tracing::info_span!(
            target: "monitor_core",
            "execute_tool",
            otel.name = %SpanName(tool),
            otel.kind = "internal",
            otel.status_code = Empty,
            gen_ai.operation.name = OPERATION,
            gen_ai.tool.name = tool,
            gen_ai.tool.call.id = Empty,
            error.type = Empty,
        );
        Self {
            span,
            tool_error: false,
        }
    }

    /// No span: what a guard holds once it has handed its span on.
    #[inline]
    pub(crate) fn none() -> Self {
        Self {
            span: tracing::Span::none(),
            tool_error: false,
        }
    }

    /// Sets `gen_ai.tool.call.id`.
    pub(crate) fn set_call_id(&self, id: &dyn fmt::Display) {
        if !self.span.is_disabled() {
            self.span.record("gen_ai.tool.call.id", display(id));
        }
    }

    /// The tool reported its own failure: `error.type` is `tool_error`.
    #[cfg(feature = "rmcp")]
    pub(crate) fn note_tool_error(&mut self) {
        self.tool_error = true;
    }

    /// Records `error.type` and an error status if the call failed.
    #[inline]
    pub(crate) fn record_outcome(&self, execution: &Execution) {
        if self.span.is_disabled() {
            return;
        }
        let Some(mut kind) = error_type(execution.status, execution.category) else {
            return;
        };
        if self.tool_error {
            kind = TOOL_ERROR;
        }
        self.span.record("error.type", kind);
        self.span.record("otel.status_code", "error");
    }
}
