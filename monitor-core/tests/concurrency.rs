//! Many threads recording at once: every count exact, the history exactly
//! the newest records, execution ids unique.
#![allow(clippy::unwrap_used, clippy::float_cmp)] // tests: a panic is a failure, and exact floats are the point

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use monitor_core::{ErrorCategory, ExecutionStatus, ToolExecutionMonitor};

const THREADS: usize = 8;
const CALLS_PER_THREAD: usize = 250_000;
const TOOLS: [&str; 3] = ["alpha", "beta", "gamma"];
const HISTORY: usize = 10_000;

/// The outcome of call `i` of thread `t`: deterministic, mixed.
fn outcome(t: usize, i: usize) -> Option<ErrorCategory> {
    match (t * 7 + i) % 10 {
        0 => Some(ErrorCategory::NetworkError),
        1 | 2 => Some(ErrorCategory::ValidationError),
        _ => None,
    }
}

#[test]
fn eight_threads_of_250k_calls_count_exactly() {
    let monitor = Arc::new(
        ToolExecutionMonitor::builder()
            .history_capacity(HISTORY)
            .error_capacity(500)
            .build(),
    );
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let monitor = &monitor;
            scope.spawn(move || {
                for i in 0..CALLS_PER_THREAD {
                    let mut call = monitor.create_execution_context(TOOLS[i % 3]);
                    call.set_input_size(3);
                    call.set_output_size(5);
                    match outcome(t, i) {
                        Some(category) => {
                            call.finish_classified(ExecutionStatus::Error, category, "boom");
                        }
                        None => call.finish_success(),
                    }
                }
            });
        }
    });

    let mut want: HashMap<&str, (u64, u64, BTreeMap<ErrorCategory, u64>)> = HashMap::new();
    for t in 0..THREADS {
        for i in 0..CALLS_PER_THREAD {
            let entry = want.entry(TOOLS[i % 3]).or_default();
            entry.0 += 1;
            match outcome(t, i) {
                Some(category) => *entry.2.entry(category).or_default() += 1,
                None => entry.1 += 1,
            }
        }
    }
    for tool in TOOLS {
        let stats = monitor.tool_stats(tool).unwrap();
        let (total, successes, distribution) = &want[tool];
        assert_eq!(stats.total_executions, *total, "{tool}");
        assert_eq!(stats.successful_executions, *successes, "{tool}");
        assert_eq!(stats.failed_executions, total - successes, "{tool}");
        assert_eq!(&stats.error_distribution, distribution, "{tool}");
        assert_eq!(monitor.duration_histogram(tool).total(), *total, "{tool}");
        #[allow(clippy::cast_precision_loss)]
        let success_rate = *successes as f64 / *total as f64 * 100.0;
        assert_eq!(stats.avg_input_size_bytes, 3.0);
        // Only successes keep their output size.
        #[allow(clippy::cast_precision_loss)]
        let avg_output = (*successes * 5) as f64 / *total as f64;
        assert!((stats.avg_output_size_bytes - avg_output).abs() < 1e-9);
        assert!((stats.success_rate - success_rate).abs() < 1e-9);
        // Every call ran this hour: the last trend window has them all.
        assert!(
            (stats.trend_7d[6] - success_rate).abs() < 1e-9,
            "{:?}",
            stats.trend_7d
        );
        assert_eq!(&stats.trend_7d[..6], &[0.0; 6]);
    }

    let history = monitor.recent_executions(None, usize::MAX);
    assert_eq!(history.len(), HISTORY);
    let ids: HashSet<&str> = history.iter().map(|r| r.execution_id.as_str()).collect();
    assert_eq!(ids.len(), HISTORY, "execution ids are unique");
    assert!(
        history.windows(2).all(|w| w[0].end_time <= w[1].end_time),
        "oldest first"
    );
    // Within one thread, calls finish in order; the newest records of the
    // whole run therefore hold a contiguous tail of each thread's calls.
    let mut per_thread: HashMap<String, Vec<u64>> = HashMap::new();
    for record in &history {
        let mut parts = record.execution_id.rsplitn(3, '-');
        let sequence: u64 = parts.next().unwrap().parse().unwrap();
        let thread = parts.next().unwrap().to_owned();
        per_thread.entry(thread).or_default().push(sequence);
    }
    for sequences in per_thread.values_mut() {
        sequences.sort_unstable();
        let last = *sequences.last().unwrap();
        let first = sequences[0];
        assert_eq!(
            last - first + 1,
            sequences.len() as u64,
            "a thread's kept records are contiguous"
        );
    }
    assert_eq!(monitor.recent_errors(None, 24).len(), 500);
}

#[test]
fn readers_run_while_writers_record() {
    let monitor = Arc::new(ToolExecutionMonitor::new());
    std::thread::scope(|scope| {
        let writer = {
            let monitor = &monitor;
            scope.spawn(move || {
                for _ in 0..50_000 {
                    monitor.create_execution_context("busy").finish_success();
                }
            })
        };
        let mut last = 0;
        while !writer.is_finished() {
            if let Some(stats) = monitor.tool_stats("busy") {
                assert!(stats.total_executions >= last, "counts never go back");
                last = stats.total_executions;
            }
            let _ = monitor.recent_executions(Some("busy"), 10);
        }
    });
    assert_eq!(monitor.tool_stats("busy").unwrap().total_executions, 50_000);
}
