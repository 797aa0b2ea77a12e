//! The MCP example as a real MCP client sees it (issue 5's "done when"):
//! `examples/mcp_server.rs` runs as a child process and is spoken to in
//! JSON-RPC, one message per line, over its stdin and stdout: initialize,
//! list the tools, call each, then read `tool_stats`.
//!
//! The binary is the one `cargo test` built next to this test
//! (`target/<profile>/examples/mcp_server`); when it is missing or older
//! than the sources, the test runs `cargo run --example mcp_server
//! --features rmcp` instead.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, SystemTime};

use rmcp::handler::server::common::{schema_for_empty_input, schema_for_input, schema_for_output};
use rmcp::handler::server::wrapper::Parameters;
use serde_json::{Value, json};

use mcp_server::{AddArgs, EchoArgs, SlowArgs, Sum};

/// The example's own types, to compare its schemas with the ones rmcp
/// derives from them.
#[allow(dead_code)] // `main` and the tools run in the child process
#[path = "../examples/mcp_server.rs"]
mod mcp_server;

/// How long one answer may take (the first build of `cargo run` included).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

/// The example server, running, and the lines it writes.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
}

impl Server {
    fn spawn() -> Self {
        Self::spawn_with(server_command())
    }

    fn spawn_with(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            stdin: child.stdin.take(),
            child,
            lines,
            next_id: 1,
        }
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a request and returns its response, skipping notifications.
    fn request(&mut self, method: &str, params: &Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let line = self
                .lines
                .recv_timeout(ANSWER_TIMEOUT)
                .unwrap_or_else(|e| panic!("no answer to {method}: {e}"));
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout is not JSON-RPC ({e}): {line}"));
            if message["id"] == json!(id) {
                return message;
            }
        }
    }

    /// The result of a `tools/call`.
    fn call(&mut self, tool: &str, arguments: &Value) -> Value {
        let response = self.request(
            "tools/call",
            &json!({ "name": tool, "arguments": arguments }),
        );
        assert!(response["error"].is_null(), "{tool}: {response}");
        response["result"].clone()
    }

    /// `tool_stats`, parsed: tool name -> statistics.
    fn tool_stats(&mut self) -> BTreeMap<String, Value> {
        let result = self.call("tool_stats", &json!({}));
        let text = result["content"][0]["text"].as_str().unwrap();
        serde_json::from_str(text).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Reached on a failed assertion: do not leave the child behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example binary `cargo test` built, if it is newer than every
/// source it is built from; else `cargo run`.
fn server_command() -> Command {
    let test = std::env::current_exe().unwrap(); // target/<profile>/deps/mcp_example-…
    let built = test
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(format!("mcp_server{}", std::env::consts::EXE_SUFFIX));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = [
        root.join("examples/mcp_server.rs"),
        root.join("monitor-core/src"),
        root.join("monitor-macros/src"),
        root.join("Cargo.lock"),
    ];
    let fresh = modified(&built).is_some_and(|built| {
        sources
            .iter()
            .all(|source| newest(source).is_none_or(|source| source <= built))
    });
    if fresh {
        Command::new(built)
    } else {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args([
            "run",
            "--quiet",
            "--example",
            "mcp_server",
            "--features",
            "rmcp",
        ]);
        cargo.current_dir(root);
        cargo
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// The newest modification time of a file, or of the files under a
/// directory.
fn newest(path: &Path) -> Option<SystemTime> {
    let Ok(entries) = std::fs::read_dir(path) else {
        return modified(path);
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter_map(|path: PathBuf| newest(&path))
        .max()
}

fn object(schema: &serde_json::Map<String, Value>) -> Value {
    Value::Object(schema.clone())
}

#[test]
fn an_mcp_client_over_stdio_reads_back_exactly_its_calls() {
    let mut server = Server::spawn();

    let init = server.request(
        "initialize",
        &json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "mcp-example-test", "version": "0.0.0" },
        }),
    );
    assert_eq!(
        init["result"]["serverInfo"]["name"],
        "tool-execution-monitor"
    );
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );
    server.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));

    // Every tool, with the schemas rmcp derives from its parameter types.
    let list = server.request("tools/list", &json!({}));
    let tools: BTreeMap<String, Value> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| (tool["name"].as_str().unwrap().to_owned(), tool.clone()))
        .collect();
    let names: Vec<&str> = tools.keys().map(String::as_str).collect();
    assert_eq!(names, ["add", "echo", "fail", "slow", "tool_stats"]);
    let input = |tool: &str| tools[tool]["inputSchema"].clone();
    assert_eq!(
        input("echo"),
        object(&schema_for_input::<Parameters<EchoArgs>>().unwrap())
    );
    assert_eq!(
        input("add"),
        object(&schema_for_input::<Parameters<AddArgs>>().unwrap())
    );
    assert_eq!(
        input("slow"),
        object(&schema_for_input::<Parameters<SlowArgs>>().unwrap())
    );
    assert_eq!(input("fail"), object(&schema_for_empty_input()));
    assert_eq!(input("tool_stats"), object(&schema_for_empty_input()));
    assert_eq!(
        tools["add"]["outputSchema"],
        object(&schema_for_output::<Sum>())
    );
    assert_eq!(tools["echo"]["description"], "Returns `text` unchanged.");
    let description = tools["tool_stats"]["description"].as_str().unwrap();
    assert!(
        description.contains("never counts its own calls"),
        "{description}"
    );

    // Correct answers.
    let echo = server.call("echo", &json!({ "text": "hello, MCP" }));
    assert_eq!(echo["content"][0]["text"], "hello, MCP");
    server.call("echo", &json!({ "text": "" }));
    let add = server.call("add", &json!({ "a": 40, "b": 2 }));
    assert_eq!(add["structuredContent"], json!({ "sum": 42 }));
    let overflow = server.request(
        "tools/call",
        &json!({ "name": "add", "arguments": { "a": i64::MAX, "b": 1 } }),
    );
    assert_eq!(overflow["error"]["code"], -32602, "{overflow}");
    let fail = server.call("fail", &json!({}));
    assert_eq!(fail["isError"], true);
    assert_eq!(fail["content"][0]["text"], "this tool always fails");
    let slow = server.call("slow", &json!({ "ms": 80 }));
    assert_eq!(slow["content"][0]["text"], "waited 80 ms");

    // `tool_stats`: exactly the calls made, never itself.
    let stats = server.tool_stats();
    let counts: BTreeMap<&str, (u64, u64)> = stats
        .iter()
        .map(|(tool, s)| {
            let mut keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, common::STATS_KEYS, "{tool}");
            let count = |key: &str| s[key].as_u64().unwrap();
            (
                tool.as_str(),
                (count("total_executions"), count("failed_executions")),
            )
        })
        .collect();
    let made = BTreeMap::from([
        ("add", (2, 1)),
        ("echo", (2, 0)),
        ("fail", (1, 1)),
        ("slow", (1, 0)),
    ]);
    assert_eq!(counts, made);
    assert_eq!(
        stats["add"]["error_distribution"],
        json!({ "VALIDATION_ERROR": 1 })
    );
    assert_eq!(
        stats["fail"]["error_distribution"],
        json!({ "UNKNOWN_ERROR": 1 })
    );
    assert!(stats["slow"]["min_duration_ms"].as_f64().unwrap() >= 80.0);
    for tool in ["echo", "slow"] {
        assert!(stats[tool]["avg_input_size_bytes"].as_f64().unwrap() > 0.0);
        assert!(stats[tool]["avg_output_size_bytes"].as_f64().unwrap() > 0.0);
    }
    assert!(stats["add"]["avg_output_size_bytes"].as_f64().unwrap() > 0.0);
    let again = server.tool_stats();
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        stats.keys().collect::<Vec<_>>()
    );
    assert_eq!(again["echo"]["total_executions"], 2);

    // End of input: the server stops by itself.
    server.stdin = None;
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit}");
}

/// Two sessions of the server, one after the other, as an MCP client that
/// starts a server per session runs them: with a store (`TOOL_MONITOR_DB`),
/// the second one's `tool_stats` counts the first one's calls too.
#[test]
fn a_store_carries_stats_across_server_processes() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mcp-store");
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("sessions.db");
    let session = || {
        let mut command = server_command();
        command.env("TOOL_MONITOR_DB", &db);
        let mut server = Server::spawn_with(command);
        server.request(
            "initialize",
            &json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "mcp-store-test", "version": "0.0.0" },
            }),
        );
        server.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
        server
    };
    let mut first = session();
    for text in ["a", "b"] {
        first.call("echo", &json!({ "text": text }));
    }
    // The client ends the session: the server flushes and exits.
    drop(first.stdin.take());
    assert!(first.child.wait().unwrap().success());

    let mut second = session();
    second.call("echo", &json!({ "text": "c" }));
    let stats = second.tool_stats();
    assert_eq!(stats["echo"]["total_executions"], 3, "{stats:?}");
}
