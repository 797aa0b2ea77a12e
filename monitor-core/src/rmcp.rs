//! rmcp tools (feature `rmcp`): how the results of the official Rust MCP
//! SDK are recorded.
//!
//! - `Ok(CallToolResult { is_error: Some(true), .. })` (what
//!   `CallToolResult::error(…)` builds) is a *tool error*: status `error`,
//!   the message of its first text content, and the category the message
//!   rules give (`USER_INPUT` if it mentions "user" or "input", else
//!   `UNKNOWN_ERROR`).
//! - Any other `CallToolResult` is a success whose output size is the byte
//!   length of its JSON text: the `result` the client receives. Its `Debug`
//!   text would mostly count rmcp's field names, which change between rmcp
//!   releases; the JSON is the protocol's, and it is what a client pays for.
//!   A `CallToolResponse::Complete` is the same; its other variants are
//!   measured by `Debug`, as any value.
//! - `Err(ErrorData)` is classified by its JSON-RPC code, through the
//!   [`ClassifyError`] impl below.
//!
//! The hook is [`ReturnedOutcome`], which `#[monitored_tool]` calls on every
//! `Ok` value (or plain returned value); for every other type it compiles to
//! nothing.

use std::any::type_name;

use ::rmcp::model::{CallToolResponse, CallToolResult, ErrorCode, ErrorData};

use crate::classify::{ClassifyError, classify_parts};
use crate::dispatch::{Returned, ReturnedOutcome, success};
use crate::execution::Outcome;
use crate::guard::CallGuard;
use crate::message::cap_message;
use crate::size::json_len;
use crate::status::{ErrorCategory, ExecutionStatus};

/// The message of a tool error whose content holds no text.
const NO_TEXT_MESSAGE: &str = "tool error without text content";

/// `Err(ErrorData)`: the category follows the JSON-RPC error code.
///
/// | code | constant | category |
/// | --- | --- | --- |
/// | -32602 | `INVALID_PARAMS` | `VALIDATION_ERROR` |
/// | -32601 | `METHOD_NOT_FOUND` | `USER_INPUT` |
/// | -32002 | `RESOURCE_NOT_FOUND` | `USER_INPUT` |
/// | -32603 | `INTERNAL_ERROR` | `SYSTEM_ERROR` |
/// | any other | | `UNKNOWN_ERROR` |
///
/// The status is always `error`. `#[monitored_tool]` records the error's
/// `Display` text (`"-32602: message"`) as the message; the manual API
/// uses this impl through
/// [`ToolExecutionContext::finish_with`](crate::ToolExecutionContext::finish_with).
///
/// # Examples
///
/// ```
/// use monitor_core::{ClassifyError, ErrorCategory};
/// use rmcp::ErrorData;
///
/// let error = ErrorData::invalid_params("`b` must be a number", None);
/// assert_eq!(error.category(), ErrorCategory::ValidationError);
/// let error = ErrorData::internal_error("database is down", None);
/// assert_eq!(error.category(), ErrorCategory::SystemError);
/// ```
impl ClassifyError for ErrorData {
    fn category(&self) -> ErrorCategory {
        code_category(self.code)
    }

    fn status(&self) -> ExecutionStatus {
        ExecutionStatus::Error
    }
}

/// The category of a JSON-RPC error code.
fn code_category(code: ErrorCode) -> ErrorCategory {
    match code {
        ErrorCode::INVALID_PARAMS => ErrorCategory::ValidationError,
        ErrorCode::METHOD_NOT_FOUND | ErrorCode::RESOURCE_NOT_FOUND => ErrorCategory::UserInput,
        ErrorCode::INTERNAL_ERROR => ErrorCategory::SystemError,
        _ => ErrorCategory::UnknownError,
    }
}

/// A `CallToolResult` decides its outcome: a tool error, or a success
/// measured as its JSON.
impl ReturnedOutcome for &Returned<'_, CallToolResult> {
    fn __monitor_returned(
        &self,
        guard: &mut CallGuard<'_>,
        measure_output: bool,
    ) -> Option<Outcome> {
        Some(call_tool_outcome(self.0, guard, measure_output))
    }
}

/// A complete `CallToolResponse` is its `CallToolResult`; the other
/// variants (input required, a task) are successes, measured as usual.
impl ReturnedOutcome for &Returned<'_, CallToolResponse> {
    fn __monitor_returned(
        &self,
        guard: &mut CallGuard<'_>,
        measure_output: bool,
    ) -> Option<Outcome> {
        match self.0 {
            CallToolResponse::Complete(result) => {
                Some(call_tool_outcome(result, guard, measure_output))
            }
            _ => None,
        }
    }
}

/// The outcome of a tool that returned `result`.
fn call_tool_outcome(
    result: &CallToolResult,
    guard: &mut CallGuard<'_>,
    measure_output: bool,
) -> Outcome {
    if result.is_error == Some(true) {
        let message = cap_message(first_text(result).unwrap_or(NO_TEXT_MESSAGE));
        let category = classify_parts(type_name::<CallToolResult>(), &message, None);
        #[cfg(feature = "tracing")]
        guard.note_tool_error();
        Outcome::Failure {
            status: ExecutionStatus::Error,
            category,
            message,
        }
    } else if measure_output {
        success(guard, json_len(result))
    } else {
        success(guard, Some(0))
    }
}

/// The text of the first text content of `result`.
fn first_text(result: &CallToolResult) -> Option<&str> {
    result
        .content
        .iter()
        .find_map(|content| content.as_text())
        .map(|text| text.text.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callsite::Callsite;
    use crate::{ToolExecutionMonitor, classify_error};
    use ::rmcp::model::ContentBlock;

    static SITE: Callsite = Callsite::new("rmcp-unit");

    /// The outcome generated code records for `value`, chosen at the call
    /// site by type, as in generated code.
    macro_rules! outcome {
        ($value:expr, $measure_output:expr) => {{
            let monitor = ToolExecutionMonitor::new();
            let mut guard = SITE.start_in(&monitor);
            let outcome = (&&Returned($value)).__monitor_returned(&mut guard, $measure_output);
            guard.finish(Outcome::Cancelled);
            outcome
        }};
    }

    #[test]
    fn error_data_is_classified_by_its_code() {
        let cases = [
            (
                ErrorData::invalid_params("bad", None),
                ErrorCategory::ValidationError,
            ),
            (
                ErrorData::method_not_found::<::rmcp::model::CallToolRequestMethod>(),
                ErrorCategory::UserInput,
            ),
            (
                ErrorData::resource_not_found("gone", None),
                ErrorCategory::UserInput,
            ),
            (
                ErrorData::internal_error("down", None),
                ErrorCategory::SystemError,
            ),
            (
                ErrorData::invalid_request("odd", None),
                ErrorCategory::UnknownError,
            ),
            (
                ErrorData::parse_error("odd", None),
                ErrorCategory::UnknownError,
            ),
            (
                ErrorData::new(ErrorCode(-1), "user input", None),
                ErrorCategory::UnknownError,
            ),
        ];
        for (error, category) in cases {
            assert_eq!(error.category(), category, "{error}");
            assert_eq!(error.status(), ExecutionStatus::Error);
        }
        // The by-name rules alone would not know the code.
        assert_eq!(
            classify_error(&ErrorData::invalid_params("bad", None)),
            ErrorCategory::UnknownError
        );
    }

    #[test]
    fn tool_errors_carry_their_first_text() {
        let result = CallToolResult::error(vec![
            ContentBlock::image("AAAA", "image/png"),
            ContentBlock::text("quota exceeded"),
            ContentBlock::text("second"),
        ]);
        assert_eq!(
            outcome!(&result, true),
            Some(Outcome::Failure {
                status: ExecutionStatus::Error,
                category: ErrorCategory::UnknownError,
                message: "quota exceeded".into(),
            })
        );
        let Some(Outcome::Failure {
            category, message, ..
        }) = outcome!(&CallToolResult::error(vec![]), false)
        else {
            panic!("a failure")
        };
        assert_eq!(
            (category, &*message),
            (ErrorCategory::UnknownError, NO_TEXT_MESSAGE)
        );
        let result = CallToolResult::error(vec![ContentBlock::text("bad user id")]);
        let Some(Outcome::Failure { category, .. }) = outcome!(&result, true) else {
            panic!("a failure")
        };
        assert_eq!(category, ErrorCategory::UserInput);
    }

    #[test]
    fn successes_are_measured_as_json() {
        let result = CallToolResult::success(vec![ContentBlock::text("hi")]);
        let json = serde_json::to_string(&result).unwrap();
        assert_eq!(
            outcome!(&result, true),
            Some(Outcome::Success {
                output_bytes: json.len() as u64
            })
        );
        assert_eq!(
            outcome!(&result, false),
            Some(Outcome::Success { output_bytes: 0 })
        );
        let response = CallToolResponse::from(CallToolResult::error(vec![]));
        assert!(matches!(
            outcome!(&response, true),
            Some(Outcome::Failure { .. })
        ));
    }

    #[test]
    fn other_values_are_left_to_the_caller() {
        assert_eq!(outcome!(&"text", true), None);
        assert_eq!(outcome!(&ErrorData::internal_error("x", None), true), None);
    }
}
