//! `finish_error!` and `finish_result!`: a manual context's failure,
//! classified exactly as `#[monitored_tool]` classifies a returned `Err`.
//!
//! A method generic over `E: Error` cannot see whether `E` also implements
//! [`ClassifyError`](crate::ClassifyError); a macro expanded where the
//! error's type is known can, with the same by-type ladder the attribute
//! uses (`failure.rs`).

/// Finishes a [`ToolExecutionContext`](crate::ToolExecutionContext) with a
/// failure, classified as `#[monitored_tool]` classifies an `Err`: by the
/// error's [`ClassifyError`](crate::ClassifyError) impl if it has one, else
/// an `io::Error` by kind, else by the reference's rules (type name, an
/// `io::Error` in its `source()` chain, the message). The message is the
/// error's `Display` text (else `Debug`, else its type name), capped.
///
/// `finish_error!(context, &error)` takes the error by reference, as
/// [`finish_with`](crate::ToolExecutionContext::finish_with) does.
///
/// # Examples
///
/// ```
/// use monitor_core::{ClassifyError, ErrorCategory, ExecutionStatus, ToolExecutionMonitor, finish_error};
///
/// #[derive(Debug)]
/// struct RateLimited;
/// impl std::fmt::Display for RateLimited {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("slow down")
///     }
/// }
/// impl std::error::Error for RateLimited {}
/// impl ClassifyError for RateLimited {
///     fn category(&self) -> ErrorCategory {
///         ErrorCategory::UserInput
///     }
/// }
///
/// let monitor = ToolExecutionMonitor::new();
/// let call = monitor.create_execution_context("search");
/// finish_error!(call, &RateLimited);
/// let error = &monitor.recent_errors(Some("search"), 24)[0];
/// assert_eq!(error.error_category, Some(ErrorCategory::UserInput));
/// assert_eq!(error.error_message.as_deref(), Some("slow down"));
/// ```
#[macro_export]
macro_rules! finish_error {
    ($context:expr, $error:expr $(,)?) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ClassifyOutcome as _, ErrorMessage as _};
        let __monitor_err = $error;
        $crate::__private::finish_failure(
            $context,
            &|__monitor_out| {
                (&&&$crate::__private::Message(__monitor_err)).__monitor_write(__monitor_out)
            },
            &|__monitor_message| {
                (&&&&&&&$crate::__private::Classify(__monitor_err))
                    .__monitor_classify(__monitor_message)
            },
        )
    }};
}

/// Finishes a [`ToolExecutionContext`](crate::ToolExecutionContext) from a
/// `&Result`: a success for `Ok`, else as [`finish_error!`] with the error.
///
/// # Examples
///
/// ```
/// use monitor_core::{ErrorCategory, ToolExecutionMonitor, finish_result};
///
/// let monitor = ToolExecutionMonitor::new();
/// let result: Result<u32, std::num::ParseIntError> = "x".parse();
/// finish_result!(monitor.create_execution_context("parse"), &result);
/// let stats = monitor.tool_stats("parse").unwrap();
/// assert_eq!(stats.error_distribution[&ErrorCategory::ValidationError], 1);
/// ```
#[macro_export]
macro_rules! finish_result {
    ($context:expr, $result:expr $(,)?) => {{
        let __monitor_context = $context;
        match $result {
            ::core::result::Result::Ok(_) => __monitor_context.finish_success(),
            ::core::result::Result::Err(__monitor_err) => {
                $crate::finish_error!(__monitor_context, __monitor_err)
            }
        }
    }};
}
