//! How an execution ended and what kind of failure it was: the two enums
//! every layer shares.

use serde::{Deserialize, Serialize};

/// How one tool execution ended.
///
/// Serialized as the reference's values: `"success"`, `"error"`, `"timeout"`,
/// `"validation_failed"`, `"security_violation"` and `"cancelled"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExecutionStatus {
    /// The tool returned a value or `Ok`.
    Success,
    /// The tool returned `Err`, or panicked.
    Error,
    /// The tool ran past its deadline.
    Timeout,
    /// The tool rejected its input (chosen by a [`ClassifyError`](crate::ClassifyError) impl).
    ValidationFailed,
    /// The tool refused on security grounds (chosen by a [`ClassifyError`](crate::ClassifyError) impl).
    SecurityViolation,
    /// A Rust addition: the tool's future was dropped after it started and
    /// before it finished, or a manual context was dropped unfinished.
    Cancelled,
}

impl ExecutionStatus {
    /// Every status, in declaration order.
    pub const ALL: [ExecutionStatus; 6] = [
        Self::Success,
        Self::Error,
        Self::Timeout,
        Self::ValidationFailed,
        Self::SecurityViolation,
        Self::Cancelled,
    ];

    /// The status's JSON value, e.g. `"validation_failed"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(monitor_core::ExecutionStatus::ValidationFailed.as_str(), "validation_failed");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::ValidationFailed => "validation_failed",
            Self::SecurityViolation => "security_violation",
            Self::Cancelled => "cancelled",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// What kind of failure an error was, for error analysis.
///
/// Serialized as the reference's member names, `"USER_INPUT"` …
/// `"UNKNOWN_ERROR"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorCategory {
    /// The caller asked for something wrong.
    UserInput,
    /// The host or the tool itself failed (I/O, panics, internal errors).
    SystemError,
    /// A connection, address or network failure.
    NetworkError,
    /// A permission or authentication failure.
    SecurityError,
    /// Input that failed to parse or validate.
    ValidationError,
    /// A deadline expired.
    TimeoutError,
    /// None of the above.
    UnknownError,
}

impl ErrorCategory {
    /// Every category, in declaration order.
    pub const ALL: [ErrorCategory; 7] = [
        Self::UserInput,
        Self::SystemError,
        Self::NetworkError,
        Self::SecurityError,
        Self::ValidationError,
        Self::TimeoutError,
        Self::UnknownError,
    ];

    /// The category's JSON value, e.g. `"NETWORK_ERROR"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(monitor_core::ErrorCategory::NetworkError.as_str(), "NETWORK_ERROR");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserInput => "USER_INPUT",
            Self::SystemError => "SYSTEM_ERROR",
            Self::NetworkError => "NETWORK_ERROR",
            Self::SecurityError => "SECURITY_ERROR",
            Self::ValidationError => "VALIDATION_ERROR",
            Self::TimeoutError => "TIMEOUT_ERROR",
            Self::UnknownError => "UNKNOWN_ERROR",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_the_references() {
        let status: Vec<String> = ExecutionStatus::ALL
            .iter()
            .map(|s| serde_json::to_string(s).unwrap())
            .collect();
        assert_eq!(
            status,
            [
                "\"success\"",
                "\"error\"",
                "\"timeout\"",
                "\"validation_failed\"",
                "\"security_violation\"",
                "\"cancelled\""
            ]
        );
        for category in ErrorCategory::ALL {
            assert_eq!(
                serde_json::to_string(&category).unwrap(),
                format!("\"{}\"", category.as_str())
            );
        }
        for status in ExecutionStatus::ALL {
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
            assert_eq!(ExecutionStatus::ALL[status.index()], status);
        }
    }
}
