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

use std::time::Duration;

use monitor_core::{global_monitor, monitored_tool};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
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
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
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
    #[tool]
    async fn tool_stats(&self) -> Result<CallToolResult, ErrorData> {
        let stats = serde_json::to_string_pretty(&global_monitor().all_tool_stats())
            .map_err(|error| ErrorData::internal_error(error.to_string(), None))?;
        Ok(CallToolResult::success(vec![ContentBlock::text(stats)]))
    }
}

#[tool_handler(
    name = "tool-execution-monitor",
    instructions = "Example tools recorded by #[monitored_tool]; call tool_stats to read their statistics."
)]
impl ServerHandler for MonitoredTools {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    eprintln!("mcp_server: serving echo, add, fail, slow and tool_stats on stdio");
    let service = MonitoredTools.serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
