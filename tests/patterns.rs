//! Pattern arguments are measured as the whole argument value and bind as
//! written; `skip` names any binding of a pattern.

#[macro_use]
mod common;

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{debug_len, only};
use monitor_core::ToolExecutionMonitor;

static MONITOR: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wrapper<T>(pub(crate) T);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub(crate) x: i32,
    pub(crate) y: i32,
}

/// Counts its drops, to check when an ignored argument is dropped.
#[derive(Debug)]
pub(crate) struct DropCounter<'a>(pub(crate) &'a AtomicUsize);

impl Drop for DropCounter<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

twins! {
    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn tuple((a, b): (u32, u32)) -> u32 {
        a * b
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn wrapped<T: std::fmt::Debug + Clone>(Wrapper(inner): Wrapper<T>) -> T {
        inner
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn fields(Point { x, y: mut why }: Point, mut scale: i32) -> i32 {
        why += 1;
        scale *= 2;
        (x + why) * scale
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) fn ignored(_: DropCounter<'_>, seen: &AtomicUsize) -> usize {
        // The ignored argument is still alive here, as without the attribute.
        seen.load(Ordering::SeqCst)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    #[allow(clippy::toplevel_ref_arg, clippy::needless_pass_by_value)] // a `ref` argument is the point
    pub(crate) fn by_ref(ref text: String, [first, .., last]: [u8; 4]) -> usize {
        text.len() + usize::from(first) + usize::from(last)
    }

    #[monitored_tool(monitor = crate::MONITOR, skip(secret))]
    pub(crate) fn partly_skipped((user, secret): (String, String), n: u8) -> usize {
        user.len() + secret.len() + usize::from(n)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) async fn async_tuple((a, b): (String, usize)) -> usize {
        tokio::task::yield_now().await;
        a.len() + b
    }

    // An async fn's measured arguments are moved through their measuring
    // and bound again: each binding form keeps its meaning.
    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) async fn async_fields(Point { x, y: mut why }: Point, mut scale: i32) -> i32 {
        tokio::task::yield_now().await;
        why += 1;
        scale *= 2;
        (x + why) * scale
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    pub(crate) async fn async_ignored(_: DropCounter<'_>, _unused: u8, seen: &AtomicUsize) -> usize {
        tokio::task::yield_now().await;
        // The ignored argument is still alive here, as without the attribute.
        seen.load(Ordering::SeqCst)
    }

    #[monitored_tool(monitor = crate::MONITOR)]
    #[allow(clippy::toplevel_ref_arg, clippy::needless_pass_by_value)] // a `ref` argument is the point
    pub(crate) async fn async_by_ref(ref text: String, mut n: usize) -> usize {
        tokio::task::yield_now().await;
        n += text.len();
        n
    }
}

#[test]
fn tuple_patterns_measure_the_whole_tuple() {
    assert_eq!(monitored::tuple((6, 7)), plain::tuple((6, 7)));
    assert_eq!(
        only(&MONITOR, "tuple").input_size_bytes,
        debug_len(&(6u32, 7u32))
    );
}

#[test]
fn tuple_struct_patterns_in_generic_functions() {
    let value = Wrapper(vec!["a".to_owned()]);
    assert_eq!(
        monitored::wrapped(value.clone()),
        plain::wrapped(value.clone())
    );
    let record = only(&MONITOR, "wrapped");
    assert_eq!(record.input_size_bytes, debug_len(&value));
    assert_eq!(record.output_size_bytes, debug_len(&value.0));
}

#[test]
fn struct_patterns_and_mut_bindings() {
    let point = Point { x: 1, y: 2 };
    assert_eq!(
        monitored::fields(point.clone(), 3),
        plain::fields(point.clone(), 3)
    );
    assert_eq!(
        only(&MONITOR, "fields").input_size_bytes,
        debug_len(&point) + debug_len(&3i32)
    );
}

#[test]
fn wildcard_arguments_are_measured_and_dropped_as_before() {
    let drops = AtomicUsize::new(0);
    assert_eq!(monitored::ignored(DropCounter(&drops), &drops), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(plain::ignored(DropCounter(&drops), &drops), 1);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    let record = only(&MONITOR, "ignored");
    assert_eq!(
        record.input_size_bytes,
        debug_len(&DropCounter(&AtomicUsize::new(0))) + debug_len(&AtomicUsize::new(0))
    );
}

#[test]
fn ref_and_slice_patterns() {
    let text = "abc".to_owned();
    let bytes = [1, 2, 3, 4];
    assert_eq!(
        monitored::by_ref(text.clone(), bytes),
        plain::by_ref(text.clone(), bytes)
    );
    assert_eq!(
        only(&MONITOR, "by-ref").input_size_bytes,
        debug_len(&text) + debug_len(&bytes)
    );
}

#[test]
fn skipping_one_binding_skips_its_whole_argument() {
    let pair = ("ann".to_owned(), "hunter2".to_owned());
    assert_eq!(
        monitored::partly_skipped(pair.clone(), 1),
        plain::partly_skipped(pair, 1)
    );
    assert_eq!(
        only(&MONITOR, "partly-skipped").input_size_bytes,
        debug_len(&1u8)
    );
}

#[tokio::test]
async fn async_patterns_measure_the_whole_value() {
    let value = ("xy".to_owned(), 3);
    assert_eq!(
        monitored::async_tuple(value.clone()).await,
        plain::async_tuple(value.clone()).await
    );
    assert_eq!(
        only(&MONITOR, "async-tuple").input_size_bytes,
        debug_len(&value)
    );
}

#[tokio::test]
async fn async_bindings_keep_their_meaning() {
    let point = Point { x: 1, y: 2 };
    assert_eq!(
        monitored::async_fields(point.clone(), 3).await,
        plain::async_fields(point.clone(), 3).await
    );
    assert_eq!(
        only(&MONITOR, "async-fields").input_size_bytes,
        debug_len(&point) + debug_len(&3i32)
    );

    let drops = AtomicUsize::new(0);
    assert_eq!(
        monitored::async_ignored(DropCounter(&drops), 7, &drops).await,
        0
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(
        plain::async_ignored(DropCounter(&drops), 7, &drops).await,
        1
    );
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!(
        only(&MONITOR, "async-ignored").input_size_bytes,
        debug_len(&DropCounter(&AtomicUsize::new(0)))
            + debug_len(&7u8)
            + debug_len(&AtomicUsize::new(0))
    );

    let text = "abc".to_owned();
    assert_eq!(
        monitored::async_by_ref(text.clone(), 2).await,
        plain::async_by_ref(text.clone(), 2).await
    );
    assert_eq!(
        only(&MONITOR, "async-by-ref").input_size_bytes,
        debug_len(&text) + debug_len(&2usize)
    );
}
