//! What the SQLite store costs: per call (the same tool with the store on
//! and off, in one run; the flusher runs meanwhile) and per flush (as the
//! number of tools grows). See BENCHMARKS.md.
//!
//! ```sh
//! cargo bench --bench store
//! ```
#![allow(missing_docs)] // criterion generates undocumented items
#![allow(clippy::unwrap_used)] // a benchmark: setup failures may panic

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use monitor_core::{StoreConfig, ToolExecutionMonitor, monitored_tool};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tool-monitor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

static OFF: LazyLock<Arc<ToolExecutionMonitor>> =
    LazyLock::new(|| ToolExecutionMonitor::builder().build_shared());
/// Flushing every 100 ms while the calls run, so flushes happen during the
/// measurement.
static ON: LazyLock<Arc<ToolExecutionMonitor>> = LazyLock::new(|| {
    let config = StoreConfig::at(scratch("calls.db")).flush_interval(Duration::from_millis(100));
    ToolExecutionMonitor::builder().store(config).build_shared()
});

/// The work: `limit` numbers, or a distinct error on every tenth call.
#[inline(never)]
fn work(query: &str, limit: u32, n: u64) -> Result<Vec<u32>, String> {
    if n % 10 == 0 {
        return Err(format!("search {n} failed"));
    }
    Ok((0..limit)
        .map(|i| i + u32::try_from(query.len()).unwrap())
        .collect())
}

#[monitored_tool(monitor = OFF, name = "search")]
#[inline(never)]
fn store_off(query: &str, limit: u32, n: u64) -> Result<Vec<u32>, String> {
    work(query, limit, n)
}

#[monitored_tool(monitor = ON, name = "search")]
#[inline(never)]
fn store_on(query: &str, limit: u32, n: u64) -> Result<Vec<u32>, String> {
    work(query, limit, n)
}

fn per_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("store/call");
    let mut n = 0u64;
    group.bench_function("off", |b| {
        b.iter(|| {
            n += 1;
            black_box(store_off(black_box("rust"), black_box(4), n))
        });
    });
    group.bench_function("on", |b| {
        b.iter(|| {
            n += 1;
            black_box(store_on(black_box("rust"), black_box(4), n))
        });
    });
    group.finish();
    ON.flush().unwrap();
    assert_eq!(ON.store_failures(), 0, "{:?}", ON.store_last_error());
}

/// One flush after one call of each of `tools` tools (every tenth failing),
/// timed alone.
fn per_flush(c: &mut Criterion) {
    let mut group = c.benchmark_group("store/flush");
    group.sample_size(20);
    for tools in [10usize, 100, 1000] {
        let names: Vec<String> = (0..tools).map(|i| format!("tool-{i:04}")).collect();
        let monitor = ToolExecutionMonitor::builder()
            .store(StoreConfig::at(scratch(&format!("flush-{tools}.db"))))
            .build();
        group.bench_with_input(BenchmarkId::from_parameter(tools), &tools, |b, _| {
            b.iter_custom(|iterations| {
                let mut flushing = Duration::ZERO;
                for round in 0..iterations {
                    for (i, name) in names.iter().enumerate() {
                        let call = monitor.create_execution_context(name);
                        if i % 10 == 0 {
                            call.finish_classified(
                                monitor_core::ExecutionStatus::Error,
                                monitor_core::ErrorCategory::NetworkError,
                                format!("refused {round}/{i}"),
                            );
                        } else {
                            call.finish_success();
                        }
                    }
                    let start = Instant::now();
                    monitor.flush().unwrap();
                    flushing += start.elapsed();
                }
                flushing
            });
        });
    }
    group.finish();
}

criterion_group!(benches, per_call, per_flush);
criterion_main!(benches);
