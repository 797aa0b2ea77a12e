//! Shape B's async tools (benches/overhead.rs, group `b-async`: every tenth
//! call fails with a distinct message, nothing inlined, 200 000 awaits in
//! one `block_on`), each timed 25 times, interleaved, and the fastest run
//! of each kept: noise on a shared VM only adds time, so the minimum is the
//! steadiest estimate of a 5 ns difference, where criterion's medians of
//! one variant moved by 5-15 ns from run to run here (BENCHMARKS.md, "The
//! async tool's size"). A check between criterion runs, not a replacement.
//!
//! ```sh
//! cargo run --release --example await_loop
//! ```

#![allow(clippy::unused_async)] // the async tools have no await on purpose, as in the bench

use std::fmt;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use monitor_core::monitored_tool;

/// Distinct per call, as in the bench.
#[derive(Debug)]
pub struct CallError(u64);

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "search call {} failed: upstream refused", self.0)
    }
}

impl std::error::Error for CallError {}

static CALLS: AtomicU64 = AtomicU64::new(0);
static CLOCK_NANOS: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
fn work(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    // Relaxed: a counter.
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    if n % 10 == 9 {
        return Err(CallError(n));
    }
    let len = u32::try_from(query.len()).unwrap_or(u32::MAX);
    Ok((0..limit).map(|i| i + len).collect())
}

#[inline(never)]
async fn bare(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    work(query, limit)
}

#[inline(never)]
async fn clock_only(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    let start = Instant::now();
    let out = work(query, limit);
    let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    // Relaxed: a sum nobody reads, so that the clock is not optimized out.
    CLOCK_NANOS.fetch_add(nanos, Ordering::Relaxed);
    out
}

#[monitored_tool(name = "await-loop-skip-all", skip_all)]
#[inline(never)]
async fn skip_all(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    work(query, limit)
}

#[monitored_tool(name = "await-loop-full")]
#[inline(never)]
async fn full(query: &str, limit: u32) -> Result<Vec<u32>, CallError> {
    work(query, limit)
}

const ITERS: u32 = 200_000;
const RUNS: usize = 25;

fn main() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let mut best = [Duration::MAX; 4];
    macro_rules! timed {
        ($slot:expr, $tool:ident) => {{
            let took = runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..ITERS {
                    let _ = black_box($tool(black_box("rust agents"), black_box(10)).await);
                }
                start.elapsed()
            });
            best[$slot] = best[$slot].min(took);
        }};
    }
    for _ in 0..RUNS {
        timed!(0, bare);
        timed!(1, clock_only);
        timed!(2, skip_all);
        timed!(3, full);
    }
    let [bare, clock, skip, full] = best.map(|d| d.as_secs_f64() * 1e9 / f64::from(ITERS));
    println!("ns per call, fastest of {RUNS} runs of {ITERS} awaits:");
    println!("  bare {bare:.1}, clock-only {clock:.1}, skip_all {skip:.1}, full {full:.1}");
    println!(
        "  overhead: clock-only {:.1}, skip_all {:.1}, full {:.1}; skip_all / clock-only {:.2}",
        clock - bare,
        skip - bare,
        full - bare,
        (skip - bare) / (clock - bare)
    );
    Ok(())
}
