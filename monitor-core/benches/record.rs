//! Cost of recording one call through the store, without the macro.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use monitor_core::__private::{Callsite, Outcome};
use monitor_core::ToolExecutionMonitor;

static NANOS: AtomicU64 = AtomicU64::new(0);
static SITE: Callsite = Callsite::new("bench");
static GLOBAL_SITE: Callsite = Callsite::new("bench-global");

fn work(limit: u32) -> Vec<u32> {
    (0..limit).collect()
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("record");
    group.bench_function("bare", |b| b.iter(|| black_box(work(black_box(10)))));

    group.bench_function("clock-only", |b| {
        b.iter(|| {
            let start = Instant::now();
            let out = black_box(work(black_box(10)));
            let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            NANOS.fetch_add(nanos, Ordering::Relaxed);
            out
        });
    });

    let monitor = ToolExecutionMonitor::new();
    group.bench_function("callsite", |b| {
        b.iter(|| {
            let mut guard = SITE.start_in(&monitor);
            let out = black_box(work(black_box(10)));
            guard.stop();
            guard.finish(Outcome::Success { output_bytes: 40 });
            out
        });
    });

    let no_history = ToolExecutionMonitor::builder().history_capacity(0).build();
    group.bench_function("callsite-no-history", |b| {
        b.iter(|| {
            let mut guard = SITE.start_in(&no_history);
            let out = black_box(work(black_box(10)));
            guard.stop();
            guard.finish(Outcome::Success { output_bytes: 40 });
            out
        });
    });

    group.bench_function("callsite-global", |b| {
        b.iter(|| {
            let mut guard = GLOBAL_SITE.start();
            let out = black_box(work(black_box(10)));
            guard.stop();
            guard.finish(Outcome::Success { output_bytes: 40 });
            out
        });
    });

    group.bench_function("manual-context", |b| {
        b.iter(|| {
            let call = monitor.create_execution_context("manual");
            let out = black_box(work(black_box(10)));
            call.finish_success();
            out
        });
    });
    group.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
