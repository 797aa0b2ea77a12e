//! Generic tools: bounds, `where` clauses, lifetimes, const generics and
//! `impl Trait` in argument and return position. Output sizes and error
//! classification follow the types, including generic ones.

#[macro_use]
mod common;

use std::error::Error;
use std::fmt::{Debug, Display};
use std::sync::LazyLock;

use common::{debug_len, last, only, records};
use monitor_core::{ErrorCategory, ToolExecutionMonitor};

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

twins! {
    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn largest<T: PartialOrd + Copy + Debug>(items: &[T]) -> Option<T> {
        let mut best = *items.first()?;
        for &item in items {
            if item > best {
                best = item;
            }
        }
        Some(best)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn join<'a, I>(parts: I, separator: &'a str) -> String
    where
        I: IntoIterator<Item = &'a str> + Debug,
    {
        parts.into_iter().collect::<Vec<_>>().join(separator)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
        if a.len() >= b.len() { a } else { b }
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn chunk<const N: usize>(data: [u8; N]) -> [u8; N] {
        let mut out = data;
        out.reverse();
        out
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn describe(value: impl Display + Debug) -> String {
        format!("<{value}>")
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn evens(limit: u32) -> impl Iterator<Item = u32> + Debug {
        (0..limit).filter(|n| n % 2 == 0).collect::<Vec<_>>().into_iter()
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn parse_as<T>(text: &str) -> Result<T, T::Err>
    where
        T: std::str::FromStr + Debug,
        T::Err: Error + 'static,
    {
        text.parse()
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn fail_with<E: Debug>(error: E) -> Result<(), E> {
        Err(error)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) async fn async_generic<T: Debug + Send>(value: T) -> Vec<T> {
        tokio::task::yield_now().await;
        vec![value]
    }
}

#[test]
fn bounds_where_clauses_and_lifetimes() {
    assert_eq!(monitored::largest(&[3, 9, 2]), plain::largest(&[3, 9, 2]));
    assert_eq!(monitored::largest::<f64>(&[]), None);
    assert_eq!(
        records(&MONITOR, "largest")[0].output_size_bytes,
        debug_len(&Some(9))
    );
    let parts = vec!["a", "b"];
    assert_eq!(
        monitored::join(parts.clone(), "-"),
        plain::join(parts.clone(), "-")
    );
    assert_eq!(
        only(&MONITOR, "join").input_size_bytes,
        debug_len(&parts) + debug_len("-")
    );
    assert_eq!(monitored::longest("ab", "c"), plain::longest("ab", "c"));
}

#[test]
fn const_generics_and_impl_trait() {
    assert_eq!(monitored::chunk([1, 2, 3]), plain::chunk([1, 2, 3]));
    assert_eq!(
        only(&MONITOR, "chunk").output_size_bytes,
        debug_len(&[3u8, 2, 1])
    );
    assert_eq!(monitored::describe(5), plain::describe(5));
    assert_eq!(only(&MONITOR, "describe").input_size_bytes, 1);
    let evens: Vec<_> = monitored::evens(7).collect();
    assert_eq!(evens, plain::evens(7).collect::<Vec<_>>());
    assert_eq!(
        only(&MONITOR, "evens").output_size_bytes,
        debug_len(&plain::evens(7))
    );
}

#[test]
fn generic_errors_are_classified_by_their_declared_bounds() {
    assert_eq!(
        monitored::parse_as::<u8>("300"),
        plain::parse_as::<u8>("300")
    );
    let record = last(&MONITOR, "parse-as");
    assert_eq!(record.error_category, Some(ErrorCategory::ValidationError));

    assert_eq!(monitored::fail_with("user said no"), Err("user said no"));
    let record = only(&MONITOR, "fail-with");
    // Only `Debug` is known: message from `Debug`, category from it.
    assert_eq!(record.error_message.as_deref(), Some("\"user said no\""));
    assert_eq!(record.error_category, Some(ErrorCategory::UserInput));
}

#[tokio::test]
async fn async_generics() {
    assert_eq!(monitored::async_generic('x').await, vec!['x']);
    assert_eq!(
        only(&MONITOR, "async-generic").output_size_bytes,
        debug_len(&vec!['x'])
    );
}
