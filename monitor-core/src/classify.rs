//! The reference's `_classify_error`: an [`ErrorCategory`] from an error
//! value, by a `ClassifyError` impl, an `io::Error`'s kind, the type's
//! name or the message.

use std::cell::Cell;
use std::error::Error;
use std::io;

use crate::status::{ErrorCategory, ExecutionStatus};

/// Lets an error type choose its own category and status.
///
/// An impl wins over every built-in rule, in `#[monitored_tool]` and in
/// [`ToolExecutionContext::finish_with`](crate::ToolExecutionContext::finish_with).
///
/// # Examples
///
/// ```
/// use monitor_core::{ClassifyError, ErrorCategory, ExecutionStatus};
///
/// #[derive(Debug)]
/// enum LookupError { NotFound, Forbidden }
///
/// impl ClassifyError for LookupError {
///     fn category(&self) -> ErrorCategory {
///         match self {
///             LookupError::NotFound => ErrorCategory::UserInput,
///             LookupError::Forbidden => ErrorCategory::SecurityError,
///         }
///     }
///     fn status(&self) -> ExecutionStatus {
///         match self {
///             LookupError::NotFound => ExecutionStatus::Error,
///             LookupError::Forbidden => ExecutionStatus::SecurityViolation,
///         }
///     }
/// }
///
/// assert_eq!(LookupError::Forbidden.category(), ErrorCategory::SecurityError);
/// ```
pub trait ClassifyError {
    /// The category this error is counted under.
    fn category(&self) -> ErrorCategory;

    /// The status of the execution that returned this error.
    fn status(&self) -> ExecutionStatus {
        ExecutionStatus::Error
    }
}

const VALIDATION_NAMES: &[&str] = &[
    "ValidationError",
    "ValueError",
    "TypeError",
    "ParseIntError",
    "ParseFloatError",
    "ParseBoolError",
    "Utf8Error",
    "FromUtf8Error",
];
const TIMEOUT_NAMES: &[&str] = &["TimeoutError", "Elapsed"];
const SECURITY_NAMES: &[&str] = &["PermissionError", "SecurityError", "AuthenticationError"];
const NETWORK_NAMES: &[&str] = &["ConnectionError", "NetworkError", "HTTPError"];
const SYSTEM_NAMES: &[&str] = &["SystemError", "OSError", "RuntimeError"];

/// The last path segment of a type name, without generic arguments:
/// `core::num::error::ParseIntError` → `ParseIntError`,
/// `alloc::boxed::Box<dyn core::error::Error>` → `Box`.
pub(crate) fn short_type_name(type_name: &str) -> &str {
    // Single-character searches (memchr), not a `"::"` substring search:
    // this runs on every failed call.
    let path = type_name
        .find('<')
        .map_or(type_name, |end| &type_name[..end]);
    path.rfind(':')
        .map_or(path, |colon| &path[colon + 1..])
        .trim()
}

/// The category an [`io::Error`] maps to, by its kind.
pub(crate) fn io_category(error: &io::Error) -> ErrorCategory {
    use io::ErrorKind as K;
    match error.kind() {
        K::TimedOut => ErrorCategory::TimeoutError,
        K::PermissionDenied => ErrorCategory::SecurityError,
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::AddrInUse
        | K::AddrNotAvailable
        | K::BrokenPipe
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown => ErrorCategory::NetworkError,
        K::InvalidInput | K::InvalidData => ErrorCategory::ValidationError,
        _ => ErrorCategory::SystemError,
    }
}

/// The reference's `_classify_error`, on a type name and a message, with an
/// optional `io::Error` found in the error's `source()` chain.
///
/// Order: validation names, timeout names, security names, network names, an
/// `io::Error` in the chain (by kind), a message containing "user" or
/// "input", system names, unknown.
pub(crate) fn classify_parts(
    type_name: &'static str,
    message: &str,
    io_in_chain: Option<&io::Error>,
) -> ErrorCategory {
    let by_name = by_name_cached(type_name);
    if let ByName::Category(category) = by_name {
        return category;
    }
    if let Some(io) = io_in_chain {
        return io_category(io);
    }
    if mentions_user_or_input(message) {
        return ErrorCategory::UserInput;
    }
    if by_name == ByName::System {
        return ErrorCategory::SystemError;
    }
    ErrorCategory::UnknownError
}

/// What the type-name rules say of an error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByName {
    /// A validation, timeout, security or network name: decided.
    Category(ErrorCategory),
    /// A system name: decided unless the source chain or message say more.
    System,
    /// No rule names it.
    Unknown,
}

fn by_name(type_name: &str) -> ByName {
    let name = short_type_name(type_name);
    let rules = [
        (VALIDATION_NAMES, ErrorCategory::ValidationError),
        (TIMEOUT_NAMES, ErrorCategory::TimeoutError),
        (SECURITY_NAMES, ErrorCategory::SecurityError),
        (NETWORK_NAMES, ErrorCategory::NetworkError),
    ];
    if let Some((_, category)) = rules.iter().find(|(names, _)| names.contains(&name)) {
        ByName::Category(*category)
    } else if SYSTEM_NAMES.contains(&name) {
        ByName::System
    } else {
        ByName::Unknown
    }
}

/// [`by_name`], remembered per thread for the last type name: it depends on
/// the name alone, and a tool that fails keeps failing with one error type,
/// as a rule (BENCHMARKS.md, "Why the hot path looks as it does").
fn by_name_cached(type_name: &'static str) -> ByName {
    thread_local! {
        static LAST: Cell<Option<(&'static str, ByName)>> = const { Cell::new(None) };
    }
    LAST.try_with(|last| match last.get() {
        Some((name, verdict)) if std::ptr::eq(name, type_name) => verdict,
        _ => {
            let verdict = by_name(type_name);
            last.set(Some((type_name, verdict)));
            verdict
        }
    })
    .unwrap_or_else(|_| by_name(type_name))
}

/// Whether `message` contains "user" or "input", in any ASCII case: the
/// reference's user-input rule. Both needles hold a `u`: eight bytes at a
/// time, the exact lanes of a word that hold `u` (either case) are found
/// without a byte loop, and one word loaded from three bytes before each
/// is compared with both needles, in line. Every failed call without a
/// decisive type name runs it over a message that is new as a rule (an id
/// in it); a byte-by-byte search was the largest part of a failure
/// (BENCHMARKS.md, "Failing calls").
fn mentions_user_or_input(message: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // `| 0x20` folds `U` to `u` (and each needle's letter to its lower
    // case), and no other byte to any of them.
    const LOWER: u64 = ONES * 0x20;
    const USER: u32 = u32::from_le_bytes(*b"user");
    const INPUT: u64 = u64::from_le_bytes(*b"input\0\0\0");
    const U: u64 = ONES * b'u' as u64;
    let bytes = message.as_bytes();
    // Whether the `u` at `at` starts "user" or ends "inpu(t)": eight bytes
    // from up to three before it, folded, compared as masked words; near
    // the end of the message, byte by byte, out of line.
    let needle_at = |at: usize| {
        let from = at.saturating_sub(3);
        match bytes
            .get(from..from + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
        {
            Some(word) => {
                let word = u64::from_le_bytes(word) | LOWER;
                #[allow(clippy::cast_possible_truncation)] // the four bytes at `at`
                let user = (word >> (8 * (at - from))) as u32 == USER;
                user || (at - from == 3 && word & 0xff_ffff_ffff == INPUT)
            }
            None => needle_near_end(bytes, at),
        }
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let x = (<[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes) | LOWER) ^ U;
        // 0x80 in each byte of the word that is `u`, exactly (no borrow
        // between lanes, unlike the shorter `(x - ONES) & !x`).
        let mut lanes = !((((x & LOWS) + LOWS) | x) | LOWS);
        while lanes != 0 {
            // Lane t's flag is bit 8t + 7.
            if needle_at(at + lanes.trailing_zeros() as usize / 8) {
                return true;
            }
            lanes &= lanes - 1;
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .zip(at..)
        .any(|(&byte, at)| byte | 0x20 == b'u' && needle_at(at))
}

/// Whether the `u` at `at`, within eight bytes of the end of `bytes`,
/// starts "user" or is the `u` of "input", in any ASCII case: the search's
/// rare end, kept out of its loop.
#[inline(never)]
fn needle_near_end(bytes: &[u8], at: usize) -> bool {
    let starts = |from: Option<usize>, needle: &[u8]| {
        from.and_then(|from| bytes.get(from..from + needle.len()))
            .is_some_and(|word| word.eq_ignore_ascii_case(needle))
    };
    starts(Some(at), b"user") || starts(at.checked_sub(3), b"input")
}

/// The first `io::Error` in `error` or its `source()` chain.
pub(crate) fn find_io_error<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a io::Error> {
    let mut current = Some(error);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io);
        }
        current = err.source();
    }
    None
}

/// Classifies an error by the reference's rules.
///
/// This is what `#[monitored_tool]` uses for error types that do not
/// implement [`ClassifyError`]: a `std::io::Error` maps by its kind
/// (`TimedOut` → timeout, `PermissionDenied` → security, connection, address,
/// pipe and network kinds → network, `InvalidInput`/`InvalidData` →
/// validation, others → system); any other error by the last path segment of
/// its type name (`ParseIntError` → validation, `Elapsed` → timeout, …), then
/// an `io::Error` in its `source()` chain, then its message ("user" or
/// "input" → user input). The status is always [`ExecutionStatus::Error`].
///
/// # Examples
///
/// ```
/// use monitor_core::{ErrorCategory, classify_error};
///
/// let parse = "x".parse::<u32>().unwrap_err();
/// assert_eq!(classify_error(&parse), ErrorCategory::ValidationError);
///
/// let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert_eq!(classify_error(&io), ErrorCategory::NetworkError);
/// ```
pub fn classify_error<E: Error + 'static>(error: &E) -> ErrorCategory {
    let dynamic: &(dyn Error + 'static) = error;
    if let Some(io) = dynamic.downcast_ref::<io::Error>() {
        return io_category(io);
    }
    let message = error.to_string();
    classify_parts(std::any::type_name::<E>(), &message, find_io_error(dynamic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct ValidationError;
    impl std::fmt::Display for ValidationError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("network user input")
        }
    }
    impl Error for ValidationError {}

    #[derive(Debug)]
    struct Wrapper(io::Error);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn needles_match_anywhere_in_any_case() {
        for (message, expected) in [
            ("bad USER id", true),
            ("user", true),
            ("uuser", true),
            ("é input", true),
            ("InPuT", true),
            ("use", false),
            ("", false),
            ("u s e r", false),
            ("upstream index refused request #00000042", false),
            ("upstream index refused request #0000user", true),
            ("12345678user", true),
            ("1234567user", true),
            ("123456789inpu", false),
            ("ÜSER üser", false),
        ] {
            assert_eq!(mentions_user_or_input(message), expected, "{message:?}");
        }
        // The same as a plain search, at every alignment.
        let naive = |m: &str| {
            let lower = m.to_ascii_lowercase();
            lower.contains("user") || lower.contains("input")
        };
        for pad in 0..20 {
            for word in ["user", "INPUT", "usr", "inp", "uSeR", "iinput"] {
                for tail in ["", "x", "1234567"] {
                    let message = format!("{}{word}{tail}", "a".repeat(pad));
                    assert_eq!(
                        mentions_user_or_input(&message),
                        naive(&message),
                        "{message:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_search_agrees_with_a_plain_one_on_random_messages() {
        // Letters of both needles in both cases, their neighbours under
        // `| 0x20` (`@`, `` ` ``, NUL, space) and a multi-byte char.
        let alphabet: Vec<char> = "uUsSeErRiInNpPtT@`\0 é".chars().collect();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut found, mut missed) = (0, 0);
        for _ in 0..20_000 {
            let len = next() % 40;
            let mut message: String = (0..len)
                .map(|_| alphabet[usize::try_from(next() % alphabet.len() as u64).unwrap_or(0)])
                .collect();
            // A needle, sometimes cut short, in one message of three.
            if next() % 3 == 0 {
                let needle = ["user", "INPUT", "uSeR", "inPut"][(next() % 4) as usize];
                let needle = &needle[..needle.len() - (next() % 2) as usize];
                let boundaries: Vec<usize> = (0..=message.len())
                    .filter(|&at| message.is_char_boundary(at))
                    .collect();
                let at = boundaries[usize::try_from(next() % boundaries.len() as u64).unwrap_or(0)];
                message.insert_str(at, needle);
            }
            let lower = message.to_ascii_lowercase();
            let expected = lower.contains("user") || lower.contains("input");
            assert_eq!(mentions_user_or_input(&message), expected, "{message:?}");
            if expected { found += 1 } else { missed += 1 }
        }
        // Both answers were exercised.
        assert!(found > 100 && missed > 100, "{found} {missed}");
    }

    #[test]
    fn name_verdicts_follow_each_type_not_the_last_one() {
        for _ in 0..3 {
            assert_eq!(
                classify_parts("x::Elapsed", "user", None),
                ErrorCategory::TimeoutError
            );
            assert_eq!(
                classify_parts("x::RuntimeError", "", None),
                ErrorCategory::SystemError
            );
            assert_eq!(
                classify_parts("x::Other", "", None),
                ErrorCategory::UnknownError
            );
            assert_eq!(
                classify_parts("x::RuntimeError", "bad input", None),
                ErrorCategory::UserInput
            );
        }
    }

    #[test]
    fn short_names_drop_paths_and_generics() {
        assert_eq!(
            short_type_name("core::num::error::ParseIntError"),
            "ParseIntError"
        );
        assert_eq!(
            short_type_name("alloc::boxed::Box<dyn core::error::Error>"),
            "Box"
        );
        assert_eq!(short_type_name("Elapsed"), "Elapsed");
    }

    #[test]
    fn names_are_checked_in_the_reference_order() {
        // A validation name wins over a message that mentions the user.
        assert_eq!(
            classify_error(&ValidationError),
            ErrorCategory::ValidationError
        );
        assert_eq!(
            classify_parts("x::RuntimeError", "bad user", None),
            ErrorCategory::UserInput
        );
        assert_eq!(
            classify_parts("x::RuntimeError", "boom", None),
            ErrorCategory::SystemError
        );
        assert_eq!(
            classify_parts("x::HTTPError", "user", None),
            ErrorCategory::NetworkError
        );
        assert_eq!(
            classify_parts("x::Elapsed", "", None),
            ErrorCategory::TimeoutError
        );
        assert_eq!(
            classify_parts("x::AuthenticationError", "", None),
            ErrorCategory::SecurityError
        );
        assert_eq!(
            classify_parts("x::Other", "nothing", None),
            ErrorCategory::UnknownError
        );
        assert_eq!(
            classify_parts("x::Other", "Bad INPUT", None),
            ErrorCategory::UserInput
        );
    }

    #[test]
    fn io_errors_map_by_kind_also_in_the_source_chain() {
        let cases = [
            (io::ErrorKind::TimedOut, ErrorCategory::TimeoutError),
            (
                io::ErrorKind::PermissionDenied,
                ErrorCategory::SecurityError,
            ),
            (io::ErrorKind::ConnectionReset, ErrorCategory::NetworkError),
            (io::ErrorKind::BrokenPipe, ErrorCategory::NetworkError),
            (io::ErrorKind::InvalidData, ErrorCategory::ValidationError),
            (io::ErrorKind::NotFound, ErrorCategory::SystemError),
        ];
        for (kind, category) in cases {
            assert_eq!(classify_error(&io::Error::from(kind)), category, "{kind:?}");
            assert_eq!(
                classify_error(&Wrapper(io::Error::from(kind))),
                category,
                "{kind:?}"
            );
        }
    }
}
