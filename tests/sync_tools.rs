//! Sync tools: what one call records, and that the attribute changes
//! nothing about what the function returns.

#[macro_use]
mod common;

use std::error::Error;
use std::fmt;
use std::sync::LazyLock;

use common::{debug_len, last, only, records};
use monitor_core::{ClassifyError, ErrorCategory, ExecutionStatus, ToolExecutionMonitor};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Denied(String);

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "denied: {}", self.0)
    }
}

impl Error for Denied {}

impl ClassifyError for Denied {
    fn category(&self) -> ErrorCategory {
        ErrorCategory::SecurityError
    }
    fn status(&self) -> ExecutionStatus {
        ExecutionStatus::SecurityViolation
    }
}

/// Only `Debug`: the message falls back to it.
#[derive(Debug, PartialEq)]
pub(crate) enum Quirk {
    Odd(u8),
}

/// A `Debug` that panics: its size cannot be measured.
pub(crate) struct Unmeasurable;

impl fmt::Debug for Unmeasurable {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("no Debug today")
    }
}

/// Neither `Debug` nor `Display`.
#[derive(Clone, Copy)]
pub(crate) struct Opaque(pub u32);

twins! {
    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn add(a: u32, b: u32) -> u32 {
        a + b
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn parse_number(text: &str) -> Result<i64, std::num::ParseIntError> {
        text.trim().parse()
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn read_config(path: &str) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn guarded(user: &str) -> Result<u8, Denied> {
        if user == "root" { Ok(0) } else { Err(Denied(user.to_owned())) }
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn quirky(n: u8) -> Result<u8, Quirk> {
        if n % 2 == 0 { Ok(n / 2) } else { Err(Quirk::Odd(n)) }
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn boxed(fail: bool) -> Result<&'static str, Box<dyn Error + Send + Sync>> {
        if fail {
            Err(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)))
        } else {
            Ok("fine")
        }
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn with_anyhow(n: i32) -> anyhow::Result<i32> {
        anyhow::ensure!(n >= 0, "negative input {n}");
        Ok(n * 2)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn nothing() {}

    #[monitored_tool(monitor = crate::MONITOR, skip(secret))]
    pub(crate) fn login(user: &str, secret: Opaque) -> bool {
        !user.is_empty() && secret.0 > 0
    }

    #[monitored_tool(monitor = crate::MONITOR, skip_all)]
    pub(crate) fn opaque_in(a: Opaque, b: Opaque) -> u32 {
        a.0 + b.0
    }

    #[monitored_tool(monitor = crate::MONITOR, skip_output)]
    pub(crate) fn opaque_out(n: u32) -> Result<Opaque, String> {
        if n == 0 { Err("zero".to_owned()) } else { Ok(Opaque(n)) }
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn unmeasurable(_value: Unmeasurable) -> usize {
        7
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn long_error(len: usize) -> Result<(), String> {
        Err("é".repeat(len))
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn fib(n: u64) -> u64 {
        if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) extern "C" fn c_abi(x: i32) -> i32 {
        x.wrapping_mul(3)
    }
}

#[test]
fn a_plain_value_records_sizes_of_its_debug_text() {
    assert_eq!(monitored::add(12, 30), plain::add(12, 30));
    let record = only(&MONITOR, "add");
    assert_eq!(record.status, ExecutionStatus::Success);
    assert_eq!(
        record.input_size_bytes,
        debug_len(&12u32) + debug_len(&30u32)
    );
    assert_eq!(record.output_size_bytes, debug_len(&42u32));
    assert!(record.error_message.is_none() && record.error_category.is_none());
    let stats = MONITOR.tool_stats("add").unwrap();
    assert_eq!(
        (stats.total_executions, stats.successful_executions),
        (1, 1)
    );
    assert!((stats.avg_input_size_bytes - 4.0).abs() < f64::EPSILON);
}

#[test]
fn results_measure_the_ok_value_and_classify_the_error() {
    for text in [" 17 ", "x", ""] {
        assert_eq!(monitored::parse_number(text), plain::parse_number(text));
    }
    let all = records(&MONITOR, "parse-number");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].output_size_bytes, debug_len(&17i64));
    assert_eq!(all[0].input_size_bytes, debug_len(" 17 "));
    let error = "x".parse::<i64>().unwrap_err();
    assert_eq!(all[1].status, ExecutionStatus::Error);
    assert_eq!(all[1].error_category, Some(ErrorCategory::ValidationError));
    assert_eq!(
        all[1].error_message.as_deref(),
        Some(error.to_string().as_str())
    );
    assert_eq!(all[1].output_size_bytes, 0);
    let errors = MONITOR.recent_errors(Some("parse-number"), 1);
    assert_eq!(errors.len(), 2);
}

#[test]
fn io_results_are_results_and_io_errors_map_by_kind() {
    let missing = "/definitely/not/here.toml";
    assert_eq!(
        monitored::read_config(missing).unwrap_err().kind(),
        plain::read_config(missing).unwrap_err().kind()
    );
    let record = only(&MONITOR, "read-config");
    assert_eq!(record.error_category, Some(ErrorCategory::SystemError));
    assert!(record.error_message.unwrap().contains("No such file"));
}

#[test]
fn an_own_classification_wins() {
    assert_eq!(monitored::guarded("root"), Ok(0));
    assert_eq!(monitored::guarded("eve"), plain::guarded("eve"));
    let record = last(&MONITOR, "guarded");
    assert_eq!(record.status, ExecutionStatus::SecurityViolation);
    assert_eq!(record.error_category, Some(ErrorCategory::SecurityError));
    assert_eq!(record.error_message.as_deref(), Some("denied: eve"));
}

#[test]
fn debug_only_errors_use_debug_as_the_message() {
    assert_eq!(monitored::quirky(3), plain::quirky(3));
    let record = only(&MONITOR, "quirky");
    assert_eq!(record.error_message.as_deref(), Some("Odd(3)"));
    assert_eq!(record.error_category, Some(ErrorCategory::UnknownError));
}

#[test]
fn boxed_and_anyhow_errors_are_classified_through_dyn_error() {
    assert_eq!(monitored::boxed(false).unwrap(), "fine");
    let error = monitored::boxed(true).unwrap_err();
    assert_eq!(
        error.to_string(),
        plain::boxed(true).unwrap_err().to_string()
    );
    let all = records(&MONITOR, "boxed");
    assert_eq!(all[0].output_size_bytes, debug_len("fine"));
    assert_eq!(all[1].error_category, Some(ErrorCategory::NetworkError));

    assert_eq!(monitored::with_anyhow(4).unwrap(), 8);
    let error = monitored::with_anyhow(-1).unwrap_err();
    assert_eq!(error.to_string(), "negative input -1");
    let record = last(&MONITOR, "with-anyhow");
    assert_eq!(record.error_message.as_deref(), Some("negative input -1"));
    assert_eq!(record.error_category, Some(ErrorCategory::UserInput));
}

#[test]
fn unit_returns_measure_the_unit_value() {
    monitored::nothing();
    plain::nothing();
    let record = only(&MONITOR, "nothing");
    assert_eq!(
        (record.input_size_bytes, record.output_size_bytes),
        (0, debug_len(&()))
    );
}

#[test]
fn skipped_arguments_and_outputs_need_no_debug() {
    assert!(monitored::login("ann", Opaque(1)));
    assert_eq!(only(&MONITOR, "login").input_size_bytes, debug_len("ann"));
    assert_eq!(monitored::opaque_in(Opaque(1), Opaque(2)), 3);
    let record = only(&MONITOR, "opaque-in");
    // `skip_all` touches no `Debug`: the `u32` result is not measured either.
    assert_eq!((record.input_size_bytes, record.output_size_bytes), (0, 0));
    assert_eq!(monitored::opaque_out(5).unwrap().0, 5);
    assert_eq!(monitored::opaque_out(0).err(), plain::opaque_out(0).err());
    let all = records(&MONITOR, "opaque-out");
    assert_eq!(all[0].output_size_bytes, 0);
    assert_eq!(all[0].input_size_bytes, debug_len(&5u32));
    assert_eq!(all[1].error_message.as_deref(), Some("zero"));
}

#[test]
fn a_panicking_debug_is_a_measurement_failure_not_a_failed_call() {
    let monitor_failures = MONITOR.measurement_failures();
    assert_eq!(monitored::unmeasurable(Unmeasurable), 7);
    let record = only(&MONITOR, "unmeasurable");
    assert_eq!(record.status, ExecutionStatus::Success);
    assert_eq!(record.input_size_bytes, 0);
    assert!(MONITOR.measurement_failures() > monitor_failures);
}

#[test]
fn error_messages_are_capped_at_one_kib_on_a_char_boundary() {
    let error = monitored::long_error(5_000).unwrap_err();
    assert_eq!(error.len(), 10_000, "the caller still gets the whole error");
    let message = only(&MONITOR, "long-error").error_message.unwrap();
    assert_eq!(message.len(), monitor_core::MAX_ERROR_MESSAGE_BYTES);
    assert!(message.chars().all(|c| c == 'é'));
}

#[test]
fn recursion_records_every_call() {
    assert_eq!(monitored::fib(10), plain::fib(10));
    // fib(10) makes 177 calls; inner calls resolve to the monitored `fib`.
    assert_eq!(records(&MONITOR, "fib").len(), 177);
}

#[test]
fn extern_c_functions_keep_their_abi() {
    let f: extern "C" fn(i32) -> i32 = monitored::c_abi;
    assert_eq!(f(5), plain::c_abi(5));
    assert_eq!(only(&MONITOR, "c-abi").output_size_bytes, 2);
}
