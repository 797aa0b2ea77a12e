//! Four tools of the failing-call benchmark (benches/overhead.rs, group
//! `fail`: `ok-1-bare`, `ok-3-skip-all`, `fail-1-bare`, `fail-3-skip-all`),
//! called in a plain loop: the target of
//! `scripts/instructions.sh`, which counts the instructions per call under
//! callgrind. Those counts are exact run to run (±5 from the latency
//! histogram's value-dependent work), where this shared VM's timings move
//! by 3–5 ns: an A/B check of a change's instruction cost, not of its time.
//!
//! ```sh
//! cargo run --release --example instructions -- fail 1000
//! ```

use std::fmt;
use std::hint::black_box;

use monitor_core::monitored_tool;

/// A distinct 40-byte message per call, as in the bench.
#[derive(Debug, Clone, Copy)]
pub struct Refused(u64);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upstream index refused request #{:08}", self.0)
    }
}

impl std::error::Error for Refused {}

fn nth_call() -> u64 {
    thread_local! { static CALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) }; }
    CALLS.with(|calls| {
        let n = calls.get() + 1;
        calls.set(n);
        n
    })
}

#[inline(never)]
#[allow(clippy::unnecessary_wraps)] // the same signature as the failing twin
fn work_ok(query: &str, limit: u32) -> Result<Vec<u32>, Refused> {
    let len = u32::try_from(query.len()).unwrap_or(u32::MAX);
    Ok((0..limit).map(|i| i + len).collect())
}

#[inline(never)]
fn work_fail(_query: &str, _limit: u32) -> Result<Vec<u32>, Refused> {
    Err(Refused(nth_call()))
}

#[inline(never)]
fn ok_bare(query: &str, limit: u32) -> Result<Vec<u32>, Refused> {
    work_ok(query, limit)
}

#[monitored_tool(name = "ok-skip-all", skip_all)]
#[inline(never)]
fn ok_skip_all(query: &str, limit: u32) -> Result<Vec<u32>, Refused> {
    work_ok(query, limit)
}

#[inline(never)]
fn fail_bare(query: &str, limit: u32) -> Result<Vec<u32>, Refused> {
    work_fail(query, limit)
}

#[monitored_tool(name = "fail-skip-all", skip_all)]
#[inline(never)]
fn fail_skip_all(query: &str, limit: u32) -> Result<Vec<u32>, Refused> {
    work_fail(query, limit)
}

type Tool = fn(&str, u32) -> Result<Vec<u32>, Refused>;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(which), Some(calls)) = (args.next(), args.next()) else {
        eprintln!("usage: instructions ok|ok-bare|fail|fail-bare CALLS");
        std::process::exit(2);
    };
    let tool: Tool = match which.as_str() {
        "ok" => ok_skip_all,
        "ok-bare" => ok_bare,
        "fail" => fail_skip_all,
        "fail-bare" => fail_bare,
        other => {
            eprintln!("unknown tool {other:?}: ok, ok-bare, fail or fail-bare");
            std::process::exit(2);
        }
    };
    let Ok(calls) = calls.parse::<u64>() else {
        eprintln!("CALLS must be a number, not {calls:?}");
        std::process::exit(2);
    };
    // Warm-up: the rings are allocated and wrapped once, the clock is
    // calibrated; the script subtracts a run of this alone.
    for _ in 0..20_000 {
        let _ = black_box(tool(black_box("rust agents"), black_box(10)));
    }
    for _ in 0..calls {
        let _ = black_box(tool(black_box("rust agents"), black_box(10)));
    }
}
