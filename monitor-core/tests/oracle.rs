//! Property: the store's statistics equal a naive oracle written from the
//! reference's arithmetic, over random executions under an injected clock.
#![allow(clippy::unwrap_used, clippy::float_cmp)] // tests: a panic is a failure, and exact floats are the point

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use monitor_core::{ErrorCategory, ExecutionStatus, ManualClock, ToolExecutionMonitor};
use proptest::prelude::*;

const TOOLS: [&str; 3] = ["search", "fetch-url", "write"];
const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

#[derive(Debug, Clone)]
struct Call {
    tool: usize,
    /// Time between the previous call's end and this call's start.
    gap_nanos: u64,
    duration_nanos: u64,
    /// None = success; else index into the failure statuses and a category.
    failure: Option<(usize, usize)>,
    input: u64,
    output: u64,
}

fn call() -> impl Strategy<Value = Call> {
    (
        0..TOOLS.len(),
        prop_oneof![
            Just(0u64),
            0u64..5_000_000_000,
            0u64..(20 * NANOS_PER_HOUR as u64)
        ],
        prop_oneof![
            0u64..2_000,
            0u64..20_000_000,
            0u64..20_000_000_000,
            Just(1_000_000),
            Just(10_000_000_000),
        ],
        prop::option::weighted(0.3, (0..5usize, 0..ErrorCategory::ALL.len())),
        0u64..100_000,
        0u64..100_000,
    )
        .prop_map(
            |(tool, gap_nanos, duration_nanos, failure, input, output)| Call {
                tool,
                gap_nanos,
                duration_nanos,
                failure,
                input,
                output,
            },
        )
}

/// What the oracle keeps of one execution.
#[derive(Debug, Clone)]
struct Done {
    start_hour: i64,
    duration_ms: f64,
    success: bool,
    category: Option<ErrorCategory>,
    input: u64,
    output: u64,
}

fn reference_percentile(sorted: &[f64], q: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
    sorted[index]
}

fn reference_bucket(duration_ms: f64) -> usize {
    [1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0]
        .iter()
        .position(|&limit| duration_ms <= limit)
        .unwrap_or(9)
}

fn close(a: f64, b: f64, relative: f64) -> bool {
    (a - b).abs() <= relative * b.abs().max(1e-9)
}

#[allow(clippy::cast_precision_loss)]
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n as f64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn stats_match_the_reference_arithmetic(calls in prop::collection::vec(call(), 1..300), start_offset in 0i64..NANOS_PER_HOUR) {
        let start: DateTime<Utc> = DateTime::from_timestamp(1_767_225_600, 0).unwrap() + TimeDelta::nanoseconds(start_offset);
        let clock = ManualClock::new(start);
        let monitor = ToolExecutionMonitor::builder().clock(clock.clone()).build();
        let failures = [
            ExecutionStatus::Error,
            ExecutionStatus::Timeout,
            ExecutionStatus::ValidationFailed,
            ExecutionStatus::SecurityViolation,
            ExecutionStatus::Cancelled,
        ];
        let mut done: BTreeMap<usize, Vec<Done>> = BTreeMap::new();
        for call in &calls {
            clock.advance(Duration::from_nanos(call.gap_nanos));
            let start_hour = clock_hour(&clock);
            let mut context = monitor.create_execution_context(TOOLS[call.tool]);
            context.set_input_size(call.input);
            context.set_output_size(call.output);
            clock.advance(Duration::from_nanos(call.duration_nanos));
            let category = if let Some((s, c)) = call.failure {
                context.finish_classified(failures[s], ErrorCategory::ALL[c], "failed");
                Some(ErrorCategory::ALL[c])
            } else {
                context.finish_success();
                None
            };
            #[allow(clippy::cast_precision_loss)]
            done.entry(call.tool).or_default().push(Done {
                start_hour,
                duration_ms: call.duration_nanos as f64 / 1e6,
                success: category.is_none(),
                category,
                input: call.input,
                output: if category.is_none() { call.output } else { 0 },
            });
        }
        let now_hour = clock_hour(&clock);
        for (tool, runs) in &done {
            let stats = monitor.tool_stats(TOOLS[*tool]).expect("tool ran");
            let total = runs.len() as u64;
            let successes = runs.iter().filter(|d| d.success).count() as u64;
            prop_assert_eq!(stats.total_executions, total);
            prop_assert_eq!(stats.successful_executions, successes);
            prop_assert_eq!(stats.failed_executions, total - successes);
            #[allow(clippy::cast_precision_loss)]
            {
                prop_assert!(close(stats.success_rate, successes as f64 / total as f64 * 100.0, 1e-12));
                prop_assert!(close(stats.error_rate, (total - successes) as f64 / total as f64 * 100.0, 1e-12));
                prop_assert!(close(stats.avg_input_size_bytes, runs.iter().map(|d| d.input).sum::<u64>() as f64 / total as f64, 1e-12));
                prop_assert!(close(stats.avg_output_size_bytes, runs.iter().map(|d| d.output).sum::<u64>() as f64 / total as f64, 1e-12));
            }
            let mut durations: Vec<f64> = runs.iter().map(|d| d.duration_ms).collect();
            durations.sort_by(f64::total_cmp);
            prop_assert!(close(stats.avg_duration_ms, mean(durations.iter().copied()), 1e-9), "avg {} vs {}", stats.avg_duration_ms, mean(durations.iter().copied()));
            prop_assert_eq!(stats.min_duration_ms, durations[0]);
            prop_assert_eq!(stats.max_duration_ms, *durations.last().unwrap());
            for (got, q) in [(stats.p95_duration_ms, 0.95), (stats.p99_duration_ms, 0.99)] {
                let want = reference_percentile(&durations, q);
                prop_assert!(close(got, want, 0.01), "p{q}: {got} vs {want}");
            }
            let mut distribution = BTreeMap::new();
            for category in runs.iter().filter_map(|d| d.category) {
                *distribution.entry(category).or_insert(0u64) += 1;
            }
            prop_assert_eq!(&stats.error_distribution, &distribution);
            let mut buckets = [0u64; 10];
            for d in runs {
                buckets[reference_bucket(d.duration_ms)] += 1;
            }
            prop_assert_eq!(monitor.duration_histogram(TOOLS[*tool]).counts(), buckets);
            let end = now_hour + 1;
            let trend: Vec<f64> = (0..7)
                .map(|day| {
                    let (from, to) = (end - (7 - day) * 24, end - (6 - day) * 24);
                    let window: Vec<&Done> = runs.iter().filter(|d| (from..to).contains(&d.start_hour)).collect();
                    if window.is_empty() {
                        0.0
                    } else {
                        #[allow(clippy::cast_precision_loss)]
                        let rate = window.iter().filter(|d| d.success).count() as f64 / window.len() as f64 * 100.0;
                        rate
                    }
                })
                .collect();
            prop_assert_eq!(&stats.trend_7d, &trend);
        }
        prop_assert_eq!(monitor.all_tool_stats().len(), done.len());
    }
}

fn clock_hour(clock: &ManualClock) -> i64 {
    use monitor_core::Clock;
    clock
        .wall_now()
        .timestamp_nanos_opt()
        .unwrap()
        .div_euclid(NANOS_PER_HOUR)
}
