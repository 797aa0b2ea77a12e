//! What monitor-core's `tracing` feature costs per call: the `execute_tool`
//! span of every `#[monitored_tool]` call, with no subscriber (the span is
//! a disabled `Span` and nothing is recorded) and under `registry()` with a
//! no-op layer (the span is built, entered, recorded and closed). Run with
//! `cargo bench --features otel --bench spans`; BENCHMARKS.md has a run.
//!
//! The shape is issue #18's shape B: every variant `#[inline(never)]`, one
//! call in ten fails with a distinct message, the async tool awaited in a
//! loop inside one `block_on`. The same binary cannot hold a build without
//! the feature, so `raw-disabled-span` times what the feature adds when no
//! subscriber wants the span: the `info_span!` with our fields, and its
//! enter and exit.
#![allow(missing_docs)] // criterion generates undocumented items
#![allow(clippy::cast_possible_truncation)] // sizes are small
#![allow(clippy::unused_async)] // the async twins have no await on purpose

use std::fmt;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use monitor_core::monitored_tool;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct CallError(u64);

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upstream index refused request #{:08}", self.0)
    }
}

impl std::error::Error for CallError {}

static CALLS: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
fn work(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    if n % 10 == 9 {
        return Err(CallError(n));
    }
    Ok((0..limit).map(|i| i + query.len() as u32).collect())
}

#[inline(never)]
fn bare(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    work(query, limit)
}

#[inline(never)]
#[monitored_tool(skip_all, name = "search")]
fn monitored(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    work(query, limit)
}

#[inline(never)]
async fn bare_async(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    work(query, limit)
}

#[inline(never)]
#[monitored_tool(skip_all, name = "search-async")]
async fn monitored_async(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    work(query, limit)
}

/// What the feature adds with no subscriber: the span and its enter/exit.
#[inline(never)]
fn raw_disabled_span(tool: &'static str) {
    let span = tracing::info_span!(
        target: "monitor_core",
        "execute_tool",
        otel.name = tool,
        otel.kind = "internal",
        otel.status_code = tracing::field::Empty,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = tool,
        gen_ai.tool.call.id = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    let _entered = span.enter();
    black_box(&span);
}

fn sync_group(c: &mut Criterion, group_name: &str) {
    let mut group = c.benchmark_group(group_name);
    group.bench_function("1-bare", |b| {
        b.iter(|| black_box(bare(black_box("rust agents"), black_box(10))));
    });
    group.bench_function("3-skip-all", |b| {
        b.iter(|| black_box(monitored(black_box("rust agents"), black_box(10))));
    });
    group.bench_function("raw-disabled-span", |b| {
        b.iter(|| raw_disabled_span(black_box("search")));
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    for (name, tool) in [("async-1-bare", 0), ("async-3-skip-all", 1)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let (query, limit) = (black_box("rust agents"), black_box(10));
                        let result = if tool == 0 {
                            bare_async(query, limit).await
                        } else {
                            monitored_async(query, limit).await
                        };
                        let _ = black_box(result);
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

fn spans(c: &mut Criterion) {
    sync_group(c, "no-subscriber");
    // A registry with one layer that does nothing: the span is built,
    // entered, recorded and closed, and nothing else happens.
    let subscriber =
        tracing_subscriber::registry().with(tracing_subscriber::layer::Identity::new());
    tracing::subscriber::with_default(subscriber, || sync_group(c, "registry-noop-layer"));
}

criterion_group!(benches, spans);
criterion_main!(benches);
