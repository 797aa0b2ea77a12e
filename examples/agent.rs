//! A simulated AI agent that calls eight monitored tools from several tasks
//! and threads, then prints what the monitor saw.
//!
//! ```sh
//! cargo run --example agent                    # report after 400 calls
//! cargo run --example agent -- --seconds 10    # run for ten seconds
//! cargo run --example agent -- --json          # all_tool_stats() as JSON
//! cargo run --example agent -- --serve 127.0.0.1:9464   # then keep serving /metrics
//! cargo run --features otel --example agent -- --otlp http://127.0.0.1:4318   # push over OTLP
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, IsTerminal};
use std::net::SocketAddr;
use std::num::ParseIntError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "common/otel.rs"]
mod otel;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use monitor_cli::report::{Look, Report};
use monitor_core::{
    ClassifyError, ErrorCategory, ExecutionStatus, HttpConfig, MetricsServer, TimeoutError,
    ToolExecutionMonitor, global_monitor, monitored_tool, set_global_monitor,
};

/// Simulates an AI agent calling monitored tools, then reports what the
/// monitor recorded.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Simulates an AI agent calling eight monitored tools, then reports what the monitor recorded."
)]
struct Args {
    /// How many tool calls to make in all.
    #[arg(long, default_value_t = 400, conflicts_with = "seconds")]
    calls: u64,
    /// Run for this many seconds instead of a number of calls.
    #[arg(long)]
    seconds: Option<f64>,
    /// How many calls run at once (half on async tasks, half on threads).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    concurrency: u64,
    /// Seed of the call plan: the same seed makes the same calls.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print `all_tool_stats()` as JSON instead of the report.
    #[arg(long)]
    json: bool,
    /// After the run, serve /metrics, /stats, /errors and /healthz on this
    /// address until interrupted.
    #[arg(long, value_name = "ADDR")]
    serve: Option<SocketAddr>,
    /// Also record into this SQLite store (default `target/agent-store.db`
    /// when the flag has no value), then report what the file holds over
    /// every run that wrote to it.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "target/agent-store.db")]
    store: Option<std::path::PathBuf>,
    /// Push metrics and `execute_tool` spans over OTLP/HTTP to this collector
    /// (e.g. `http://127.0.0.1:4318`); `OTEL_EXPORTER_OTLP_ENDPOINT` does the
    /// same. Needs `--features otel`.
    #[arg(long, value_name = "URL")]
    otlp: Option<String>,
}

// ---------------------------------------------------------------------------
// The tools.

/// Searches the (simulated) index: fast, always succeeds.
#[monitored_tool]
fn search_tool(query: &str, limit: usize) -> Vec<String> {
    spin(Duration::from_micros(20 + (query.len() as u64 % 7) * 30));
    (0..limit).map(|i| format!("{query} result #{i}")).collect()
}

/// Parses an amount the user typed: fails with `ParseIntError` (validation).
#[monitored_tool]
fn parse_amount(text: &str) -> Result<u64, ParseIntError> {
    spin(Duration::from_micros(5));
    text.trim().parse()
}

/// Fetches a URL: slow, fails with a network `io::Error` now and then.
#[monitored_tool]
async fn fetch_url(url: String, latency_ms: u64) -> io::Result<String> {
    tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    if url.contains("flaky") {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("connection refused by {url}"),
        ));
    }
    Ok(format!("<html>{}</html>", "x".repeat(url.len() * 10)))
}

/// Reads a file: fails with a permission error for protected paths.
#[monitored_tool(name = "read-file")]
fn read_file_tool(path: &str) -> io::Result<usize> {
    spin(Duration::from_micros(200));
    if path.starts_with("/etc/") {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("permission denied: {path}"),
        ));
    }
    Ok(path.len() * 128)
}

/// Divides two numbers; panics on a zero divisor (the agent catches it).
#[monitored_tool]
fn divide(a: i64, b: i64) -> i64 {
    assert!(b != 0, "attempt to divide {a} by zero");
    a / b
}

/// The agent's tool box: tools that need state, as methods.
#[derive(Debug, Default)]
struct ToolBox {
    users: BTreeMap<&'static str, &'static str>,
}

/// A user-facing error type that chooses its own category and status.
#[derive(Debug)]
enum LookupError {
    NotFound(String),
    Forbidden(String),
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(user) => write!(f, "no user named {user}"),
            Self::Forbidden(user) => write!(f, "{user} may not be looked up"),
        }
    }
}

impl std::error::Error for LookupError {}

impl ClassifyError for LookupError {
    fn category(&self) -> ErrorCategory {
        match self {
            Self::NotFound(_) => ErrorCategory::UserInput,
            Self::Forbidden(_) => ErrorCategory::SecurityError,
        }
    }

    fn status(&self) -> ExecutionStatus {
        match self {
            Self::NotFound(_) => ExecutionStatus::Error,
            Self::Forbidden(_) => ExecutionStatus::SecurityViolation,
        }
    }
}

/// The error of the summarizer: its own failures, or its deadline.
#[derive(Debug)]
enum SummaryError {
    Empty,
    TimedOut(TimeoutError),
}

impl fmt::Display for SummaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("nothing to summarize"),
            Self::TimedOut(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SummaryError {}

impl From<TimeoutError> for SummaryError {
    fn from(error: TimeoutError) -> Self {
        Self::TimedOut(error)
    }
}

impl ToolBox {
    fn new() -> Self {
        Self {
            users: BTreeMap::from([("ada", "Ada Lovelace"), ("alan", "Alan Turing")]),
        }
    }

    /// Looks a user up, on behalf of `caller` (recorded as the user id).
    #[monitored_tool(user_id = caller)]
    fn lookup_user(&self, caller: &str, user: &str) -> Result<String, LookupError> {
        spin(Duration::from_micros(50));
        if user == "root" {
            return Err(LookupError::Forbidden(user.to_owned()));
        }
        self.users
            .get(user)
            .map(|name| (*name).to_owned())
            .ok_or_else(|| LookupError::NotFound(user.to_owned()))
    }

    /// Summarizes text; runs under a 150 ms deadline that slow calls miss.
    #[monitored_tool(timeout = "150ms")]
    async fn summarize(&self, text: String, work_ms: u64) -> Result<String, SummaryError> {
        if text.is_empty() {
            return Err(SummaryError::Empty);
        }
        tokio::time::sleep(Duration::from_millis(work_ms)).await;
        Ok(text
            .split_whitespace()
            .take(5)
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// Writes a long report for a session; the agent gives up on it when
    /// its own deadline comes first (the call is then `cancelled`).
    #[monitored_tool(session_id = session, metadata(topic = topic.len()))]
    async fn write_report(&self, session: &str, topic: String, work_ms: u64) -> String {
        for _ in 0..work_ms / 10 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        format!("report on {topic} for {session}")
    }
}

/// Busy-waits, as CPU-bound tool work would.
fn spin(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------
// The agent.

/// One planned call: which tool, and the dice that shape its arguments.
#[derive(Debug, Clone, Copy)]
struct Plan {
    tool: u8,
    dice: u64,
}

const WORDS: [&str; 8] = [
    "rust",
    "agents",
    "latency",
    "tokio",
    "monitoring",
    "mcp",
    "tools",
    "percentiles",
];

/// A deterministic call plan: call `i` of seed `s` is always the same.
fn plan(seed: u64, i: u64) -> Plan {
    let mut rng = fastrand::Rng::with_seed(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    Plan {
        tool: rng.u8(0..8),
        dice: rng.u64(..),
    }
}

/// Tools 0 to 4 are sync, 5 to 7 async.
const SYNC_TOOLS: u8 = 5;

/// Makes one sync call.
fn call_sync(tools: &ToolBox, plan: Plan) {
    // The agent's step, the parent of the tool's `execute_tool` span.
    let _step = tracing::info_span!("agent.step").entered();
    let d = plan.dice;
    let word = WORDS[(d % 8) as usize];
    match plan.tool {
        0 => drop(search_tool(word, (d % 20) as usize)),
        1 => {
            let text = if d % 4 == 0 {
                format!("{}x", d % 1000)
            } else {
                (d % 1000).to_string()
            };
            let _ = parse_amount(&text);
        }
        2 => {
            let path = if d % 5 == 0 {
                "/etc/shadow".to_owned()
            } else {
                format!("/tmp/{word}.txt")
            };
            let _ = read_file_tool(&path);
        }
        3 => {
            let user = ["ada", "alan", "root", "grace"][(d % 4) as usize];
            let _ = tools.lookup_user("agent-7", user);
        }
        _ => {
            // Every tenth call divides by zero: the tool panics, the agent
            // catches the panic and carries on.
            let divisor = if d % 10 == 0 {
                0
            } else {
                i64::try_from(d % 9 + 1).unwrap_or(1)
            };
            let dividend = i64::try_from(d % 1000).unwrap_or(0);
            if std::panic::catch_unwind(|| divide(dividend, divisor)).is_err() {
                PANICS_CAUGHT.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Tool panics the agent caught.
static PANICS_CAUGHT: AtomicU64 = AtomicU64::new(0);

/// Makes one async call.
async fn call_async(tools: &ToolBox, plan: Plan) {
    tracing::Instrument::instrument(
        call_async_step(tools, plan),
        tracing::info_span!("agent.step"),
    )
    .await;
}

async fn call_async_step(tools: &ToolBox, plan: Plan) {
    let d = plan.dice;
    let word = WORDS[(d % 8) as usize];
    match plan.tool {
        5 => {
            let url = if d % 6 == 0 {
                format!("https://flaky.example/{word}")
            } else {
                format!("https://example.com/{word}")
            };
            let _ = fetch_url(url, 5 + d % 60).await;
        }
        6 => {
            let text = if d % 9 == 0 {
                String::new()
            } else {
                WORDS.join(" ")
            };
            let _ = tools.summarize(text, 20 + d % 200).await;
        }
        _ => {
            let session = format!("session-{}", d % 5);
            let report = tools.write_report(&session, word.to_owned(), 30 + d % 150);
            // The agent's own deadline: shorter than some reports take.
            tokio::select! {
                _ = report => {}
                () = tokio::time::sleep(Duration::from_millis(120)) => {}
            }
        }
    }
}

/// Hands out call numbers until the budget (calls or time) is spent.
struct Budget {
    next: AtomicU64,
    calls: u64,
    until: Option<Instant>,
}

impl Budget {
    fn take(&self) -> Option<u64> {
        if self.until.is_some_and(|until| Instant::now() >= until) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (self.until.is_some() || i < self.calls).then_some(i)
    }
}

fn progress(args: &Args) -> ProgressBar {
    if !io::stderr().is_terminal() || args.json {
        return ProgressBar::hidden();
    }
    match args.seconds {
        Some(_) => ProgressBar::new_spinner().with_message("calling tools"),
        None => ProgressBar::new(args.calls).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} calls {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
    }
}

async fn run_agent(args: &Args) {
    let tools = Arc::new(ToolBox::new());
    let budget = Arc::new(Budget {
        next: AtomicU64::new(0),
        calls: args.calls,
        until: args
            .seconds
            .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0))),
    });
    let bar = progress(args);
    let seed = args.seed;
    let workers = args.concurrency;
    let threads: Vec<_> = (0..workers / 2)
        .map(|_| {
            let (tools, budget, bar) = (Arc::clone(&tools), Arc::clone(&budget), bar.clone());
            std::thread::spawn(move || {
                while let Some(i) = budget.take() {
                    let call = plan(seed, i);
                    if call.tool < SYNC_TOOLS {
                        call_sync(&tools, call);
                    } else {
                        // An async tool, driven from this thread.
                        block_on(&tools, call);
                    }
                    bar.inc(1);
                }
            })
        })
        .collect();
    let tasks: Vec<_> = (0..workers - workers / 2)
        .map(|_| {
            let (tools, budget, bar) = (Arc::clone(&tools), Arc::clone(&budget), bar.clone());
            tokio::spawn(async move {
                while let Some(i) = budget.take() {
                    let call = plan(seed, i);
                    if call.tool < SYNC_TOOLS {
                        let tools = Arc::clone(&tools);
                        let _ = tokio::task::spawn_blocking(move || call_sync(&tools, call)).await;
                    } else {
                        call_async(&tools, call).await;
                    }
                    bar.inc(1);
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    for thread in threads {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    bar.finish_and_clear();
}

/// Runs an async tool to completion on this (non-runtime) thread.
fn block_on(tools: &ToolBox, call: Plan) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build();
    if let Ok(runtime) = runtime {
        runtime.block_on(call_async(tools, call));
    }
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let args = Args::parse();
    // Tool panics are part of the simulation: the agent catches them, so
    // keep their messages out of the report (the monitor records them).
    std::panic::set_hook(Box::new(|_| {}));
    if let Some(path) = &args.store {
        let store = monitor_core::StoreConfig::at(path);
        set_global_monitor(ToolExecutionMonitor::builder().store(store).build_shared());
    }
    // A bad OTLP setting turns the export off, never the tools.
    let otel = otel::Otel::start(args.otlp.as_deref(), "agent").unwrap_or_else(|error| {
        eprintln!("agent: OpenTelemetry export is off: {error}");
        None
    });
    let started = Instant::now();
    run_agent(&args).await;
    if let Some(otel) = otel {
        // The last export, before the report: a short run delivers every call.
        otel.shutdown();
    }
    let monitor = global_monitor();
    // The global monitor is never dropped: flush before reading the store.
    let store = match &args.store {
        Some(path) => {
            monitor.flush().map_err(io::Error::other)?;
            let store = monitor_core::Store::open(path).map_err(io::Error::other)?;
            let week = Duration::from_secs(7 * 24 * 3600);
            Some(Report::of_store(&store, week, &[]).map_err(io::Error::other)?)
        }
        None => None,
    };
    if args.json {
        let run = monitor.all_tool_stats();
        let json = match &store {
            // With a store: this run's stats and the store's, side by side.
            Some(store) => serde_json::to_string_pretty(
                &serde_json::json!({ "run": run, "store": store.stats }),
            ),
            None => serde_json::to_string_pretty(&run),
        };
        println!("{}", json.map_err(io::Error::other)?);
    } else {
        // The same report `tool-monitor report` prints, from the same code.
        let header = format!(
            "{} tool calls in {:.2?} ({} tool panics caught by the agent)",
            monitor
                .all_tool_stats()
                .values()
                .map(|s| s.total_executions)
                .sum::<u64>(),
            started.elapsed(),
            PANICS_CAUGHT.load(Ordering::Relaxed)
        );
        let look = Look::for_stdout();
        let run = Report::of_monitor(&monitor, header);
        print!("{}", run.render("Tool execution report:", look));
        if let Some(store) = &store {
            print!("\n{}", store.render("Store report:", look));
        }
    }
    if let Some(addr) = args.serve {
        let server = MetricsServer::bind(monitor, HttpConfig::default().addr(addr)).await?;
        eprintln!(
            "serving http://{0}/metrics, /stats, /errors and /healthz; Ctrl-C stops",
            server.local_addr()
        );
        tokio::signal::ctrl_c().await?;
        server.shutdown().await;
    }
    Ok(())
}
