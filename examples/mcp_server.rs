//! A stdio MCP server whose tools are monitored, for any MCP client:
//!
//! ```sh
//! cargo run --example mcp_server --features rmcp
//! ```
//!
//! It speaks MCP (JSON-RPC, one message per line) on stdin and stdout; the
//! only thing it writes to stderr is a line when it starts. Its tools:
//!
//! | tool | what it does |
//! | --- | --- |
//! | `echo(text)` | returns `text` |
//! | `add(a, b)` | adds two integers; an overflow is an `invalid params` error |
//! | `fail()` | always returns a tool error (`isError: true`) |
//! | `slow(ms)` | waits `ms` milliseconds (at most 10 000) without blocking the server |
//! | `tool_stats()` | the statistics of the tools above, as JSON |
//!
//! Each of the first four is `#[monitored_tool]` above rmcp's `#[tool]`,
//! so its calls are recorded in the global monitor under the name clients
//! call it by. `tool_stats` is not monitored: its answer is exactly the
//! calls made to the other four, and never counts itself.
//!
//! With `--store PATH` (or `TOOL_MONITOR_DB=PATH` in its environment, as an
//! MCP client's server config can set it) the monitor also writes to that
//! SQLite store, and `tool_stats` answers from the store: the last 7 days
//! of every session's server process, not only this one's. A client that
//! starts a new server per session still accumulates one week of stats.
//!
//! With `--otlp URL` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) and the `otel`
//! feature, it also pushes its metrics and `execute_tool` spans (with the
//! JSON-RPC request id as `gen_ai.tool.call.id` for `echo`, which takes
//! rmcp's `RequestContext`) to that OpenTelemetry collector, and exports
//! one last time when the client closes the session.

#[path = "common/otel.rs"]
mod otel;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use monitor_core::{
    STORE_PATH_ENV, Store, StoreConfig, ToolExecutionMonitor, global_monitor, monitored_tool,
    set_global_monitor,
};
use rmcp::RoleServer;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Json, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The server. It holds nothing: the tools record into the global monitor.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MonitoredTools;

/// The arguments of `echo`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct EchoArgs {
    /// The text to send back.
    text: String,
}

/// The arguments of `add`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct AddArgs {
    /// The first addend.
    a: i64,
    /// The second addend.
    b: i64,
}

/// What `add` returns, as structured content.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Sum {
    /// `a + b`.
    sum: i64,
}

/// The arguments of `slow`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SlowArgs {
    /// How long to work, in milliseconds (at most 10 000).
    ms: u64,
}

/// The longest `slow` waits.
const MAX_SLOW_MS: u64 = 10_000;

#[tool_router]
impl MonitoredTools {
    /// Returns `text` unchanged.
    #[monitored_tool]
    #[tool]
    async fn echo(
        &self,
        Parameters(EchoArgs { text }): Parameters<EchoArgs>,
        // Its `id` is the span's `gen_ai.tool.call.id`.
        _context: RequestContext<RoleServer>,
    ) -> String {
        text
    }

    /// Adds two integers. An overflow is an `invalid params` error.
    #[monitored_tool]
    #[tool]
    async fn add(
        &self,
        Parameters(AddArgs { a, b }): Parameters<AddArgs>,
    ) -> Result<Json<Sum>, ErrorData> {
        a.checked_add(b)
            .map(|sum| Json(Sum { sum }))
            .ok_or_else(|| {
                ErrorData::invalid_params(format!("{a} + {b} overflows a 64-bit integer"), None)
            })
    }

    /// Always fails with a tool error, to show how failures are recorded.
    #[monitored_tool]
    #[tool]
    async fn fail(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text("this tool always fails")])
    }

    /// Waits `ms` milliseconds (at most 10 000) without blocking the server.
    #[monitored_tool]
    #[tool]
    async fn slow(&self, Parameters(SlowArgs { ms }): Parameters<SlowArgs>) -> String {
        let ms = ms.min(MAX_SLOW_MS);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        format!("waited {ms} ms")
    }

    /// The statistics of every monitored tool of this server, as JSON: an
    /// object keyed by tool name, each value with the keys of the
    /// reference's `ToolPerformanceStats.to_dict()`. `tool_stats` itself is
    /// not monitored, so it never counts its own calls.
    /// With a store, the stats of the last 7 days of every process that
    /// wrote to it.
    #[tool]
    async fn tool_stats(&self) -> Result<CallToolResult, ErrorData> {
        let internal =
            |error: &dyn std::error::Error| ErrorData::internal_error(error.to_string(), None);
        let stats = match STORE.get() {
            Some(path) => {
                global_monitor().flush().map_err(|e| internal(&e))?;
                let week = Duration::from_secs(7 * 24 * 3600);
                Store::open(path)
                    .and_then(|store| store.all_tool_stats(week))
                    .map_err(|e| internal(&e))?
            }
            None => global_monitor().all_tool_stats(),
        };
        let stats = serde_json::to_string_pretty(&stats).map_err(|e| internal(&e))?;
        Ok(CallToolResult::success(vec![ContentBlock::text(stats)]))
    }
}

#[tool_handler(
    name = "tool-execution-monitor",
    instructions = "Example tools recorded by #[monitored_tool]; call tool_stats to read their statistics."
)]
impl ServerHandler for MonitoredTools {}

/// The store file, from `--store PATH` or `TOOL_MONITOR_DB`, if either is given.
static STORE: OnceLock<PathBuf> = OnceLock::new();

/// `--store PATH` and `--otlp URL`, in any order.
#[derive(Debug, Default)]
struct Options {
    store: Option<PathBuf>,
    otlp: Option<String>,
}

fn options() -> Result<Options, String> {
    let usage = || "usage: mcp_server [--store PATH] [--otlp URL]".to_owned();
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(usage)?;
        match flag.as_str() {
            "--store" if options.store.is_none() => options.store = Some(PathBuf::from(value)),
            "--otlp" if options.otlp.is_none() => options.otlp = Some(value),
            _ => return Err(usage()),
        }
    }
    if options.store.is_none() {
        options.store = std::env::var_os(STORE_PATH_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    // A bad OTLP setting turns the export off, never the tools.
    let otel = otel::Otel::start(options.otlp.as_deref(), "mcp_server").unwrap_or_else(|error| {
        eprintln!("mcp_server: OpenTelemetry export is off: {error}");
        None
    });
    if let Some(path) = options.store {
        let config = StoreConfig::at(&path);
        set_global_monitor(ToolExecutionMonitor::builder().store(config).build_shared());
        eprintln!("mcp_server: recording into {}", path.display());
        let _ = STORE.set(path);
    }
    eprintln!("mcp_server: serving echo, add, fail, slow and tool_stats on stdio");
    let service = MonitoredTools.serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    // The client closed the session: write what the last interval measured.
    global_monitor().flush()?;
    if let Some(otel) = otel {
        otel.shutdown();
    }
    Ok(())
}
