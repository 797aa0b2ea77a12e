//! Early `return` and `?` keep their meaning in sync and async tools.

#[macro_use]
mod common;

use std::sync::LazyLock;

use common::records;
use monitor_core::{ErrorCategory, ExecutionStatus, ToolExecutionMonitor};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[derive(Debug, PartialEq)]
pub(crate) enum AppError {
    Parse(std::num::ParseIntError),
    TooBig(i64),
}

impl From<std::num::ParseIntError> for AppError {
    fn from(error: std::num::ParseIntError) -> Self {
        AppError::Parse(error)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Parse(error) => write!(f, "bad input: {error}"),
            AppError::TooBig(n) => write!(f, "{n} is too big"),
        }
    }
}

twins! {
    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn checked(text: &str) -> Result<i64, AppError> {
        if text.is_empty() {
            return Ok(0);
        }
        let n: i64 = text.parse()?;
        if n > 100 {
            return Err(AppError::TooBig(n));
        }
        Ok(n)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn first_even(items: &[i32]) -> Option<i32> {
        for item in items {
            if item % 2 == 0 {
                return Some(*item);
            }
        }
        None
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn first_char(text: &str) -> Option<char> {
        let c = text.chars().next()?;
        Some(c.to_ascii_uppercase())
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) async fn checked_async(text: String) -> Result<i64, AppError> {
        tokio::task::yield_now().await;
        if text == "early" {
            return Ok(-1);
        }
        let n: i64 = text.parse()?;
        Ok(n)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn labelled(limit: u32) -> u32 {
        let mut total = 0;
        'outer: for i in 0..limit {
            for j in 0..limit {
                if i * j > 6 {
                    break 'outer;
                }
                total += i * j;
            }
        }
        total
    }
}

#[test]
fn sync_question_mark_and_return_behave_as_without_the_attribute() {
    for text in ["", "7", "x", "1000"] {
        assert_eq!(monitored::checked(text), plain::checked(text), "{text:?}");
    }
    let all = records(&MONITOR, "checked");
    let statuses: Vec<_> = all.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            ExecutionStatus::Success,
            ExecutionStatus::Success,
            ExecutionStatus::Error,
            ExecutionStatus::Error
        ]
    );
    assert_eq!(all[0].output_size_bytes, 1);
    assert_eq!(
        all[2].error_message.as_deref(),
        Some("bad input: invalid digit found in string")
    );
    assert_eq!(all[3].error_message.as_deref(), Some("1000 is too big"));
    assert_eq!(all[2].error_category, Some(ErrorCategory::UserInput));
}

#[test]
fn options_are_plain_values() {
    for items in [&[1, 3, 4][..], &[1], &[]] {
        assert_eq!(monitored::first_even(items), plain::first_even(items));
    }
    for text in ["abc", ""] {
        assert_eq!(monitored::first_char(text), plain::first_char(text));
    }
    let all = records(&MONITOR, "first-char");
    assert!(all.iter().all(|r| r.status == ExecutionStatus::Success));
    assert_eq!(all[0].output_size_bytes, "Some('A')".len() as u64);
    assert_eq!(all[1].output_size_bytes, "None".len() as u64);
}

#[test]
fn labels_and_breaks_work() {
    assert_eq!(monitored::labelled(5), plain::labelled(5));
}

#[tokio::test]
async fn async_question_mark_and_return_behave_as_without_the_attribute() {
    for text in ["early", "12", "nope"] {
        assert_eq!(
            monitored::checked_async(text.to_owned()).await,
            plain::checked_async(text.to_owned()).await
        );
    }
    let all = records(&MONITOR, "checked-async");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].output_size_bytes, 2);
    assert_eq!(all[2].status, ExecutionStatus::Error);
}
