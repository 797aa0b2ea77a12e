//! The OpenTelemetry GenAI semantic conventions (development status) as
//! this crate follows them: attribute and metric names, and how a recorded
//! outcome maps to `error.type`. Shared by the `tracing` span and the OTLP
//! exporter, so that both say the same thing about one call.

use crate::status::{ErrorCategory, ExecutionStatus};

/// `gen_ai.operation.name`'s value for a tool call.
pub(crate) const OPERATION: &str = "execute_tool";
/// The attribute naming the tool.
#[cfg(feature = "otlp")]
pub(crate) const TOOL_NAME: &str = "gen_ai.tool.name";
/// The attribute naming what went wrong, on failures only.
#[cfg(feature = "otlp")]
pub(crate) const ERROR_TYPE: &str = "error.type";
/// The duration histogram, in seconds.
#[cfg(feature = "otlp")]
pub(crate) const DURATION_METRIC: &str = "gen_ai.execute_tool.duration";

/// `error.type` of an rmcp `CallToolResult { is_error: Some(true), .. }`,
/// as the MCP conventions name a tool that reported its own failure.
pub(crate) const TOOL_ERROR: &str = "tool_error";

/// `error.type` of a failed call, `None` for a success: a timeout and a
/// cancellation by their status, any other failure by its category, with
/// the conventions' `_OTHER` for a category we could not tell.
pub(crate) fn error_type(
    status: ExecutionStatus,
    category: Option<ErrorCategory>,
) -> Option<&'static str> {
    match status {
        ExecutionStatus::Success => None,
        ExecutionStatus::Timeout => Some("timeout"),
        ExecutionStatus::Cancelled => Some("cancelled"),
        _ => Some(category.map_or(OTHER, category_error_type)),
    }
}

/// The conventions' fallback `error.type`.
const OTHER: &str = "_OTHER";

/// `error.type` of an error counted under `category`.
pub(crate) fn category_error_type(category: ErrorCategory) -> &'static str {
    match category {
        ErrorCategory::UserInput => "user_input",
        ErrorCategory::SystemError => "system_error",
        ErrorCategory::NetworkError => "network_error",
        ErrorCategory::SecurityError => "security_error",
        ErrorCategory::ValidationError => "validation_error",
        ErrorCategory::TimeoutError => "timeout",
        ErrorCategory::UnknownError => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_low_cardinality_error_types() {
        assert_eq!(error_type(ExecutionStatus::Success, None), None);
        assert_eq!(
            error_type(ExecutionStatus::Timeout, Some(ErrorCategory::TimeoutError)),
            Some("timeout")
        );
        assert_eq!(
            error_type(ExecutionStatus::Cancelled, None),
            Some("cancelled")
        );
        assert_eq!(error_type(ExecutionStatus::Error, None), Some("_OTHER"));
        assert_eq!(
            error_type(
                ExecutionStatus::ValidationFailed,
                Some(ErrorCategory::ValidationError)
            ),
            Some("validation_error")
        );
        let mut seen: Vec<&str> = ErrorCategory::ALL
            .iter()
            .map(|c| category_error_type(*c))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen.len(),
            ErrorCategory::ALL.len(),
            "one value per category"
        );
    }
}
