//! `#[monitored_tool]` on rmcp tools (issue 5), driven by a real rmcp
//! client over an in-memory duplex transport: schemas unchanged, every tool
//! recorded under its MCP name, tool errors and protocol errors classified,
//! and both stacking orders.
//!
//! `Monitored` records into the global monitor, as a server normally does,
//! and only `every_call_is_recorded_under_its_mcp_name` calls its tools;
//! `Below` records into a monitor of its own. So the tests can run in
//! parallel.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use monitor_core::{
    ErrorCategory, ExecutionStatus, ToolExecutionMonitor, global_monitor, monitored_tool,
};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{RequestContext, RunningService, ServiceError};
use rmcp::{
    ErrorData, Json, Peer, RoleClient, RoleServer, ServerHandler, ServiceExt, tool, tool_handler,
    tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod common;
use common::{debug_len, last, records};

/// Text in.
#[derive(Debug, Deserialize, JsonSchema)]
struct Text {
    /// Some text.
    text: String,
}

/// Two integers in.
#[derive(Debug, Deserialize, JsonSchema)]
struct Pair {
    /// The first addend.
    a: i64,
    /// The second addend.
    b: i64,
}

/// A sum out, as structured content (`Json` has no `Debug`).
#[derive(Debug, Serialize, JsonSchema)]
struct Sum {
    /// `a + b`.
    sum: i64,
}

/// A wait in.
#[derive(Debug, Deserialize, JsonSchema)]
struct Wait {
    /// Milliseconds.
    ms: u64,
}

/// The same server twice: `Plain` as rmcp alone sees it, and `Monitored`
/// with `#[monitored_tool]` above every `#[tool]` but `tool_stats`.
macro_rules! tools {
    ($server:ident $(, #[$monitored:meta])?) => {
        #[derive(Debug, Clone, Copy)]
        struct $server;

        #[tool_router]
        impl $server {
            /// Returns `text` unchanged.
            $(#[$monitored])?
            #[tool]
            async fn echo(&self, Parameters(Text { text }): Parameters<Text>) -> String {
                text
            }

            /// Adds two integers; a sync tool with structured output.
            $(#[$monitored])?
            #[tool(annotations(read_only_hint = true))]
            fn add(&self, Parameters(Pair { a, b }): Parameters<Pair>) -> Result<Json<Sum>, ErrorData> {
                a.checked_add(b)
                    .map(|sum| Json(Sum { sum }))
                    .ok_or_else(|| ErrorData::invalid_params("overflow", None))
            }

            /// Always fails with a tool error.
            $(#[$monitored])?
            #[tool]
            async fn fail(&self) -> Result<CallToolResult, ErrorData> {
                Ok(CallToolResult::error(vec![ContentBlock::text("always fails")]))
            }

            /// Waits `ms` milliseconds.
            $(#[$monitored])?
            #[tool]
            async fn slow(&self, Parameters(Wait { ms }): Parameters<Wait>) -> String {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                format!("waited {ms} ms")
            }

            /// Counts words. Its MCP name keeps `_tool`.
            $(#[$monitored])?
            #[tool]
            async fn word_count_tool(&self, Parameters(Text { text }): Parameters<Text>) -> String {
                text.split_whitespace().count().to_string()
            }

            /// Named by `#[tool(name)]`.
            $(#[$monitored])?
            #[tool(name = "text.reverse", description = "Reverses `text`.")]
            async fn reverse(&self, Parameters(Text { text }): Parameters<Text>) -> String {
                text.chars().rev().collect()
            }

            /// Takes the request's context and peer, which are not measured.
            $(#[$monitored])?
            #[tool]
            async fn session(
                &self,
                text: Parameters<Text>,
                context: RequestContext<RoleServer>,
                peer: Peer<RoleServer>,
            ) -> CallToolResult {
                drop((context, peer));
                CallToolResult::success(vec![ContentBlock::text(text.0.text)])
            }

            /// Rejects its input with a protocol error.
            $(#[$monitored])?
            #[tool]
            async fn reject(&self, Parameters(Text { text }): Parameters<Text>) -> Result<String, ErrorData> {
                Err(ErrorData::invalid_params(format!("cannot take {text}"), None))
            }

            /// The global monitor's statistics, as JSON; not monitored.
            #[tool]
            async fn tool_stats(&self) -> Result<CallToolResult, ErrorData> {
                let stats = serde_json::to_string(&global_monitor().all_tool_stats())
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                Ok(CallToolResult::success(vec![ContentBlock::text(stats)]))
            }
        }

        #[tool_handler]
        impl ServerHandler for $server {}
    };
}

tools!(Plain);
tools!(Monitored, #[monitored_tool]);

/// The other order: `#[monitored_tool]` below `#[tool]`, which needs a
/// `name` (without one it is a compile error: tests/ui/rmcp).
#[derive(Debug, Clone, Copy)]
struct Below;

static BELOW: LazyLock<ToolExecutionMonitor> = LazyLock::new(ToolExecutionMonitor::new);

#[tool_router]
impl Below {
    /// Waits `ms` milliseconds.
    #[tool]
    #[monitored_tool(name = "below.slow", monitor = BELOW)]
    async fn slow(&self, Parameters(Wait { ms }): Parameters<Wait>) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        format!("waited {ms} ms")
    }
}

#[tool_handler]
impl ServerHandler for Below {}

/// A client connected to `server` through an in-memory pipe.
async fn connect<S: ServerHandler>(server: S) -> RunningService<RoleClient, ()> {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.unwrap()
}

fn call(name: &'static str, arguments: &Value) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(name);
    match arguments.as_object() {
        Some(object) => params.with_arguments(object.clone()),
        None => params,
    }
}

fn text_of(result: &CallToolResult) -> &str {
    &result.content[0].as_text().unwrap().text
}

#[tokio::test]
async fn schemas_are_those_of_the_same_server_without_the_attribute() {
    let plain = connect(Plain).await;
    let monitored = connect(Monitored).await;
    let plain_tools = plain.list_all_tools().await.unwrap();
    let monitored_tools = monitored.list_all_tools().await.unwrap();
    assert_eq!(monitored_tools, plain_tools);
    let names: Vec<&str> = monitored_tools.iter().map(|t| &*t.name).collect();
    assert_eq!(
        names,
        [
            "add",
            "echo",
            "fail",
            "reject",
            "session",
            "slow",
            "text.reverse",
            "tool_stats",
            "word_count_tool"
        ]
    );
    let echo = &monitored_tools[1];
    assert_eq!(
        echo.description.as_deref(),
        Some("Returns `text` unchanged.")
    );
    assert_eq!(echo.input_schema["required"], json!(["text"]));
    assert!(monitored_tools[0].output_schema.is_some(), "`Json<Sum>`");
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one conversation, then its stats, read top to bottom
async fn every_call_is_recorded_under_its_mcp_name() {
    let client = connect(Monitored).await;
    let mut made: BTreeMap<&str, (u64, u64)> = BTreeMap::new(); // tool -> (calls, failures)
    let mut tally = |tool, failed: bool| {
        let entry = made.entry(tool).or_default();
        entry.0 += 1;
        entry.1 += u64::from(failed);
    };

    let echo = client
        .call_tool(call("echo", &json!({ "text": "hello" })))
        .await
        .unwrap();
    assert_eq!(text_of(&echo), "hello");
    tally("echo", false);
    let echo = client
        .call_tool(call("echo", &json!({ "text": "" })))
        .await
        .unwrap();
    assert_eq!(text_of(&echo), "");
    tally("echo", false);

    let add = client
        .call_tool(call("add", &json!({ "a": 2, "b": 3 })))
        .await
        .unwrap();
    assert_eq!(add.structured_content, Some(json!({ "sum": 5 })));
    tally("add", false);
    let overflow = client
        .call_tool(call("add", &json!({ "a": i64::MAX, "b": 1 })))
        .await;
    assert!(
        matches!(overflow, Err(ServiceError::McpError(_))),
        "{overflow:?}"
    );
    tally("add", true);

    let fail = client.call_tool(call("fail", &Value::Null)).await.unwrap();
    assert_eq!(
        (fail.is_error, text_of(&fail)),
        (Some(true), "always fails")
    );
    tally("fail", true);

    let slow = client
        .call_tool(call("slow", &json!({ "ms": 60 })))
        .await
        .unwrap();
    assert_eq!(text_of(&slow), "waited 60 ms");
    tally("slow", false);

    let words = client
        .call_tool(call("word_count_tool", &json!({ "text": "a b c" })))
        .await
        .unwrap();
    assert_eq!(text_of(&words), "3");
    tally("word_count_tool", false);

    let reversed = client
        .call_tool(call("text.reverse", &json!({ "text": "abc" })))
        .await
        .unwrap();
    assert_eq!(text_of(&reversed), "cba");
    tally("text.reverse", false);

    let session = client
        .call_tool(call("session", &json!({ "text": "me" })))
        .await
        .unwrap();
    assert_eq!(text_of(&session), "me");
    tally("session", false);

    let rejected = client
        .call_tool(call("reject", &json!({ "text": "this" })))
        .await;
    let Err(ServiceError::McpError(error)) = rejected else {
        panic!("a protocol error: {rejected:?}")
    };
    assert_eq!(error, ErrorData::invalid_params("cannot take this", None));
    tally("reject", true);

    let monitor = global_monitor();

    // Keyed by the MCP names, not by our `_tool`/hyphen rule.
    assert!(monitor.tool_stats("word-count").is_none());
    assert!(monitor.tool_stats("reverse").is_none());

    // Sizes: the arguments' `Debug` (context and peer skipped); results by
    // `Debug`, `Json<T>` and `CallToolResult` as their JSON.
    let hello = Parameters(Text {
        text: "hello".to_owned(),
    });
    let echo = &records(&monitor, "echo")[0];
    assert_eq!(
        (echo.input_size_bytes, echo.output_size_bytes),
        (debug_len(&hello), debug_len("hello"))
    );
    let add = &records(&monitor, "add")[0];
    assert_eq!(add.output_size_bytes, r#"{"sum":5}"#.len() as u64);
    let session = last(&monitor, "session");
    let me = Parameters(Text {
        text: "me".to_owned(),
    });
    assert_eq!(session.input_size_bytes, debug_len(&me));
    let answer = CallToolResult::success(vec![ContentBlock::text("me")]);
    assert_eq!(
        session.output_size_bytes,
        serde_json::to_string(&answer).unwrap().len() as u64
    );
    for tool in [
        "echo",
        "add",
        "slow",
        "word_count_tool",
        "text.reverse",
        "session",
    ] {
        let stats = monitor.tool_stats(tool).unwrap();
        assert!(stats.avg_input_size_bytes > 0.0, "{tool}: {stats:?}");
        assert!(stats.avg_output_size_bytes > 0.0, "{tool}: {stats:?}");
    }

    // The async execution is timed, not the creation of its future.
    assert!(monitor.tool_stats("slow").unwrap().min_duration_ms >= 60.0);

    // Outcomes: a tool error, and protocol errors by JSON-RPC code.
    let fail = last(&monitor, "fail");
    assert_eq!(fail.status, ExecutionStatus::Error);
    assert_eq!(fail.error_category, Some(ErrorCategory::UnknownError));
    assert_eq!(fail.error_message.as_deref(), Some("always fails"));
    let reject = last(&monitor, "reject");
    assert_eq!(reject.status, ExecutionStatus::Error);
    assert_eq!(reject.error_category, Some(ErrorCategory::ValidationError));
    assert_eq!(
        reject.error_message.as_deref(),
        Some("-32602: cannot take this")
    );
    assert_eq!(
        last(&monitor, "add").error_category,
        Some(ErrorCategory::ValidationError)
    );

    // `tool_stats`, read by the client, holds exactly the calls it made.
    let stats = client
        .call_tool(call("tool_stats", &Value::Null))
        .await
        .unwrap();
    let stats: Value = serde_json::from_str(text_of(&stats)).unwrap();
    let stats = stats.as_object().unwrap();
    let seen: BTreeMap<&str, (u64, u64)> = stats
        .iter()
        .map(|(tool, s)| {
            let count = |key: &str| s[key].as_u64().unwrap();
            assert_eq!(s["tool_name"], json!(tool));
            assert_eq!(s.as_object().unwrap().len(), 16, "the reference's keys");
            (
                tool.as_str(),
                (count("total_executions"), count("failed_executions")),
            )
        })
        .collect();
    assert_eq!(seen, made);
    assert_eq!(
        stats["fail"]["error_distribution"],
        json!({ "UNKNOWN_ERROR": 1 })
    );
    assert_eq!(
        stats["reject"]["error_distribution"],
        json!({ "VALIDATION_ERROR": 1 })
    );
}

#[tokio::test]
async fn below_tool_with_a_name_times_the_future() {
    let client = connect(Below).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools, [Below::slow_tool_attr()]);
    let slow = client
        .call_tool(call("slow", &json!({ "ms": 40 })))
        .await
        .unwrap();
    assert_eq!(text_of(&slow), "waited 40 ms");
    let stats = BELOW.tool_stats("below.slow").unwrap();
    assert_eq!(stats.total_executions, 1);
    assert!(stats.min_duration_ms >= 40.0, "{stats:?}");
}
