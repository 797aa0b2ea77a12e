//! `tool-monitor` as a user runs it: against a store two monitors wrote,
//! and against files that are not right.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use monitor_cli::report::{Look, Report};
use monitor_core::{ErrorCategory, ExecutionStatus, Store, StoreConfig, ToolExecutionMonitor};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A store written by two "processes" (monitors): 7 calls of `search`
/// (one failing), 3 of `a,b` (a name that needs CSV quoting).
fn written(name: &str) -> PathBuf {
    let path = scratch(name).join("tools.db");
    for run in 0..2 {
        let monitor = ToolExecutionMonitor::builder()
            .store(StoreConfig::at(&path))
            .build();
        for _ in 0..3 {
            monitor.create_execution_context("search").finish_success();
        }
        if run == 1 {
            monitor
                .create_execution_context("search")
                .finish_classified(
                    ExecutionStatus::Error,
                    ErrorCategory::NetworkError,
                    "connection refused by upstream",
                );
            for _ in 0..3 {
                monitor.create_execution_context("a,b").finish_success();
            }
        }
        monitor.flush().unwrap();
    }
    path
}

fn tool_monitor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tool-monitor"))
        .args(args)
        .env_remove("TOOL_MONITOR_DB")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A failure: the exit code, and stderr as one line without a panic.
fn failure(output: &Output) -> (i32, String) {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    (output.status.code().unwrap(), stderr)
}

#[test]
fn report_is_the_libraries_report_of_the_merged_store() {
    let db = written("report");
    let db = db.to_str().unwrap();
    let text = stdout(&tool_monitor(&["report", "--db", db]));
    assert!(
        text.contains("Tool execution report: 10 tool calls in the last 7d"),
        "{text}"
    );
    assert!(text.contains("written by 2 processes"), "{text}");
    assert!(text.contains("connection refused by upstream"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colours when not a terminal");
    // The same code as the example's: the library renders the same text.
    let store = Store::open(db).unwrap();
    let week = Duration::from_secs(7 * 86_400);
    let expected = Report::of_store(&store, week, &[])
        .unwrap()
        .render("Tool execution report:", Look::plain());
    assert_eq!(text, expected);

    let json: serde_json::Value = serde_json::from_str(&stdout(&tool_monitor(&[
        "report", "--db", db, "--json", "--tool", "search",
    ])))
    .unwrap();
    assert_eq!(json["tools"]["search"]["total_executions"], 7);
    assert_eq!(json["tools"]["search"]["failed_executions"], 1);
    assert!(json["tools"].get("a,b").is_none());
    assert_eq!(json["recent_errors"].as_array().unwrap().len(), 1);
}

#[test]
fn errors_export_prune_and_info() {
    let db = written("others");
    let db = db.to_str().unwrap();
    let errors = stdout(&tool_monitor(&["errors", "--db", db, "--hours", "1"]));
    assert_eq!(errors.lines().count(), 1, "{errors}");
    assert!(
        errors.contains("search NETWORK_ERROR connection refused by upstream"),
        "{errors}"
    );
    let lines = stdout(&tool_monitor(&[
        "errors", "--db", db, "--json", "--tool", "a,b",
    ]));
    assert_eq!(lines, "");

    let csv = stdout(&tool_monitor(&["export", "--db", db, "--format", "csv"]));
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[0].starts_with("hour,tool,processes,executions,successes,failures"),
        "{csv}"
    );
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows.iter().any(|r| r.contains(",\"a,b\",1,3,3,0,")),
        "{csv}"
    );
    assert!(rows.iter().any(|r| r.contains(",search,2,7,6,1,")), "{csv}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&tool_monitor(&[
        "export", "--db", db, "--tool", "search",
    ])))
    .unwrap();
    assert_eq!(json[0]["executions"], 7);

    let info = stdout(&tool_monitor(&["info", "--db", db]));
    assert!(
        info.contains("schema version  1") && info.contains("processes       2"),
        "{info}"
    );
    let info: serde_json::Value =
        serde_json::from_str(&stdout(&tool_monitor(&["info", "--db", db, "--json"]))).unwrap();
    assert_eq!(info["executions"], 10);

    let pruned = stdout(&tool_monitor(&["prune", "--db", db, "--older-than", "30d"]));
    assert!(pruned.starts_with("pruned 0 hourly rows"), "{pruned}");
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let dir = scratch("bad");
    let missing = dir.join("missing.db");
    let (code, stderr) = failure(&tool_monitor(&[
        "report",
        "--db",
        missing.to_str().unwrap(),
    ]));
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no such file"), "{stderr}");

    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a database at all, just some text ".repeat(100)).unwrap();
    let (code, stderr) = failure(&tool_monitor(&["info", "--db", text.to_str().unwrap()]));
    assert_eq!((code, stderr.lines().count()), (1, 1), "{stderr}");

    let db = written("bad-args");
    let db = db.to_str().unwrap();
    let (code, stderr) = failure(&tool_monitor(&["report", "--db", db, "--tool", "nope"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no tool `nope`"), "{stderr}");
    let (code, stderr) = failure(&tool_monitor(&["report", "--db", db, "--since", "soon"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("`soon` is not a span"), "{stderr}");

    mark_future_schema(db);
    let (code, stderr) = failure(&tool_monitor(&["report", "--db", db]));
    assert_eq!(code, 1);
    assert!(stderr.contains("newer version"), "{stderr}");
}

/// Marks a closed store as written by a future schema version: the
/// header's `user_version` is the big-endian u32 at offset 60 of an SQLite
/// file (this crate does not depend on rusqlite to set it).
fn mark_future_schema(db: &str) {
    let mut bytes = std::fs::read(db).unwrap();
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(db, bytes).unwrap();
}

#[test]
fn help_has_examples_for_every_subcommand() {
    for command in ["report", "errors", "serve", "export", "prune", "info"] {
        let help = stdout(&tool_monitor(&[command, "--help"]));
        assert!(help.contains("Examples:"), "{command}: {help}");
    }
    let help = stdout(&tool_monitor(&["--help"]));
    assert!(help.contains("Exit codes"), "{help}");
}

fn http_get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// Kills the server when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_from_the_store_and_refuses_a_taken_address() {
    use std::io::BufRead;
    let db = written("serve");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tool-monitor"))
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--token",
            "s3cret",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Running(child);
    let line = std::io::BufReader::new(stderr)
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    assert_eq!(http_get(&addr, "/healthz", None).0, 200);
    assert_eq!(http_get(&addr, "/metrics", None).0, 401);
    let (status, metrics) = http_get(&addr, "/metrics", Some("s3cret"));
    assert_eq!(status, 200);
    assert!(
        metrics.contains("tool_executions_total{tool=\"search\",status=\"success\"} 6\n"),
        "{metrics}"
    );
    let (status, body) = http_get(&addr, "/stats/a,b", Some("s3cret"));
    assert_eq!(status, 200);
    let one: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(one["total_executions"], 3);
    let (_, body) = http_get(&addr, "/errors?hours=1", Some("s3cret"));
    assert!(body.contains("connection refused by upstream"), "{body}");
    // The dashboard, and the hourly series only a store has.
    let (status, page) = http_get(&addr, "/", None);
    assert!(status == 200 && page.contains("dashboard.js"), "{page}");
    let (status, body) = http_get(&addr, "/series?tool=search", Some("s3cret"));
    assert_eq!(status, 200);
    let series: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(series[0]["executions"], 7);
    assert_eq!(series[0]["processes"], 2);
    let (_, body) = http_get(&addr, "/info", Some("s3cret"));
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (info["source"].as_str(), info["processes"].as_u64()),
        (Some("store"), Some(2))
    );

    // The address is taken now: a second server says so and exits 1.
    let (code, stderr) = failure(&tool_monitor(&[
        "serve",
        "--db",
        db.to_str().unwrap(),
        "--addr",
        &addr,
    ]));
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    drop(server);
}

#[test]
fn errors_follow_prints_failures_as_they_are_flushed() {
    use std::io::BufRead;
    let db = written("follow");
    let child = Command::new(env!("CARGO_BIN_EXE_tool-monitor"))
        .args(["errors", "--follow", "--db", db.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let stdout = running.0.stdout.take().unwrap();
    // Lines through a channel, so that every wait is bounded.
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = || receive.recv_timeout(Duration::from_secs(30)).unwrap();
    let first = next_line();
    assert!(first.contains("connection refused by upstream"), "{first}");

    // A new failure, flushed by another process's monitor: printed next.
    let monitor = ToolExecutionMonitor::builder()
        .store(StoreConfig::at(&db))
        .build();
    monitor.create_execution_context("fetch").finish_classified(
        ExecutionStatus::Timeout,
        ErrorCategory::TimeoutError,
        "upstream took too long",
    );
    monitor.flush().unwrap();
    let next = next_line();
    assert!(
        next.contains("fetch TIMEOUT_ERROR upstream took too long"),
        "{next}"
    );
}
