//! One classification whatever the entry point: `#[monitored_tool]`,
//! `finish_error!`, `finish_result!` and `finish_with` agree on the status,
//! category and message of the same error.

use std::fmt;
use std::io;
use std::sync::LazyLock;

use monitor_core::{
    ClassifyError, ErrorCategory, ExecutionStatus, ToolExecutionMonitor, finish_error,
    finish_result, monitored_tool,
};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

/// Classifies itself, against what its name and message would suggest to
/// the reference's rules ("timeout" in the message: a timeout error).
#[derive(Debug)]
struct Throttled;

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timeout while throttled")
    }
}

impl std::error::Error for Throttled {}

impl ClassifyError for Throttled {
    fn status(&self) -> ExecutionStatus {
        ExecutionStatus::SecurityViolation
    }
    fn category(&self) -> ErrorCategory {
        ErrorCategory::UserInput
    }
}

#[monitored_tool(monitor = MONITOR, name = "attribute")]
fn attribute() -> Result<(), Throttled> {
    Err(Throttled)
}

#[monitored_tool(monitor = MONITOR, name = "attribute-io")]
fn attribute_io() -> Result<(), io::Error> {
    Err(io::ErrorKind::PermissionDenied.into())
}

fn last_failure(
    tool: &str,
) -> (
    Option<ExecutionStatus>,
    Option<ErrorCategory>,
    Option<String>,
) {
    let errors = MONITOR.recent_errors(Some(tool), 1);
    let error = errors.last().expect("a failure was recorded");
    (
        Some(error.status),
        error.error_category,
        error.error_message.clone(),
    )
}

#[test]
fn every_entry_point_classifies_an_error_the_same_way() {
    let _ = attribute();
    finish_error!(MONITOR.create_execution_context("macro"), &Throttled);
    let result: Result<u8, Throttled> = Err(Throttled);
    finish_result!(MONITOR.create_execution_context("result"), &result);
    MONITOR
        .create_execution_context("with")
        .finish_with(&Throttled);

    let expected = (
        Some(ExecutionStatus::SecurityViolation),
        Some(ErrorCategory::UserInput),
        Some("timeout while throttled".to_owned()),
    );
    for tool in ["attribute", "macro", "result", "with"] {
        assert_eq!(last_failure(tool), expected, "{tool}");
    }
}

#[test]
fn io_errors_and_anyhow_take_the_same_ladder() {
    let _ = attribute_io();
    let denied = io::Error::from(io::ErrorKind::PermissionDenied);
    finish_error!(MONITOR.create_execution_context("macro-io"), &denied);
    assert_eq!(last_failure("attribute-io"), last_failure("macro-io"));
    assert_eq!(
        last_failure("macro-io").1,
        Some(ErrorCategory::SecurityError)
    );

    // Behind `dyn Error`: classified through the chain, as the attribute does.
    let wrapped = anyhow::Error::new(io::Error::from(io::ErrorKind::ConnectionRefused));
    finish_error!(MONITOR.create_execution_context("anyhow"), &wrapped);
    assert_eq!(last_failure("anyhow").1, Some(ErrorCategory::NetworkError));
}

#[test]
fn finish_result_records_a_success_for_ok() {
    let ok: Result<u8, Throttled> = Ok(1);
    finish_result!(MONITOR.create_execution_context("ok"), &ok);
    let stats = MONITOR.tool_stats("ok").unwrap();
    assert_eq!(
        (stats.total_executions, stats.successful_executions),
        (1, 1)
    );
}

/// An error whose `source()` panics: the user code a classification by the
/// reference's rules runs.
#[derive(Debug)]
struct BrokenChain(u32);

impl fmt::Display for BrokenChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad user input #{}", self.0)
    }
}

impl std::error::Error for BrokenChain {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        panic!("no source today")
    }
}

/// An error whose own classification panics.
#[derive(Debug)]
struct BrokenClassify;

impl fmt::Display for BrokenClassify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timeout")
    }
}

impl ClassifyError for BrokenClassify {
    fn category(&self) -> ErrorCategory {
        panic!("no category today")
    }
}

/// A pointer to an error whose `Deref` panics (as `anyhow::Error` derefs
/// to `dyn Error + Send + Sync`).
#[derive(Debug)]
struct BrokenDeref;

impl fmt::Display for BrokenDeref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("user input behind a pointer")
    }
}

impl std::ops::Deref for BrokenDeref {
    type Target = dyn std::error::Error + Send + Sync;
    fn deref(&self) -> &Self::Target {
        panic!("no deref today")
    }
}

#[monitored_tool(monitor = MONITOR, name = "broken-deref")]
fn broken_deref() -> Result<u8, BrokenDeref> {
    Err(BrokenDeref)
}

#[monitored_tool(monitor = MONITOR, name = "broken-chain")]
fn broken_chain(n: u32) -> Result<u8, BrokenChain> {
    Err(BrokenChain(n))
}

#[monitored_tool(monitor = MONITOR, name = "broken-classify")]
fn broken_classify() -> Result<u8, BrokenClassify> {
    Err(BrokenClassify)
}

#[test]
fn a_classification_that_panics_records_an_unknown_error_and_returns_the_error() {
    // Without the panic, "user input" in the message would be a user-input
    // error; the call still returns its own error, unchanged.
    assert_eq!(broken_chain(7).unwrap_err().0, 7);
    assert_eq!(
        last_failure("broken-chain"),
        (
            Some(ExecutionStatus::Error),
            Some(ErrorCategory::UnknownError),
            Some("bad user input #7".to_owned()),
        )
    );
    // Behind `dyn Error`, the chain is walked from the pointee: the same.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(BrokenChain(8));
    finish_error!(MONITOR.create_execution_context("broken-dyn"), &boxed);
    assert_eq!(
        last_failure("broken-dyn").1,
        Some(ErrorCategory::UnknownError)
    );

    // A pointer whose `Deref` panics: the same.
    assert!(broken_deref().is_err());
    assert_eq!(
        last_failure("broken-deref"),
        (
            Some(ExecutionStatus::Error),
            Some(ErrorCategory::UnknownError),
            Some("user input behind a pointer".to_owned()),
        )
    );

    assert!(broken_classify().is_err());
    assert_eq!(
        last_failure("broken-classify").1,
        Some(ErrorCategory::UnknownError)
    );
    let stats = MONITOR.tool_stats("broken-classify").unwrap();
    assert_eq!(
        (stats.total_executions, stats.successful_executions),
        (1, 0)
    );
}
