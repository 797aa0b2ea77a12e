//! The main example, run as a newcomer would: `cargo run --example agent`.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure

mod common;

use std::process::Command;

const TOOLS: [&str; 8] = [
    "search",
    "parse-amount",
    "read-file",
    "lookup-user",
    "divide",
    "fetch-url",
    "summarize",
    "write-report",
];

fn agent(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "agent", "--"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "agent failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_report_names_every_tool() {
    let report = agent(&["--calls", "120", "--seed", "7", "--concurrency", "4"]);
    assert!(
        report.contains("Tool execution report: 120 tool calls"),
        "{report}"
    );
    for tool in TOOLS {
        assert!(report.contains(tool), "{tool} missing from\n{report}");
    }
    for section in [
        "Duration histograms",
        "7-day success trend",
        "Last five errors",
    ] {
        assert!(report.contains(section), "{section} missing from\n{report}");
    }
    assert!(!report.contains('\u{1b}'), "NO_COLOR is honoured");
}

#[test]
fn json_has_the_reference_keys_for_every_tool() {
    let json: serde_json::Value =
        serde_json::from_str(&agent(&["--calls", "120", "--seed", "7", "--json"])).unwrap();
    let stats = json.as_object().unwrap();
    let mut names: Vec<&str> = stats.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut want = TOOLS.to_vec();
    want.sort_unstable();
    assert_eq!(names, want);
    let calls: u64 = stats
        .values()
        .map(|s| s["total_executions"].as_u64().unwrap())
        .sum();
    assert_eq!(calls, 120);
    for (name, tool) in stats {
        let mut keys: Vec<&str> = tool
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, common::STATS_KEYS, "{name}");
        assert_eq!(tool["tool_name"], name.as_str());
    }
}

#[test]
fn two_runs_with_a_store_report_both() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("agent-store");
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("agent.db");
    let db = db.to_str().unwrap();
    agent(&["--calls", "50", "--seed", "1", "--store", db]);
    let json: serde_json::Value = serde_json::from_str(&agent(&[
        "--calls", "70", "--seed", "2", "--store", db, "--json",
    ]))
    .unwrap();
    let sum = |stats: &serde_json::Value| -> u64 {
        stats
            .as_object()
            .unwrap()
            .values()
            .map(|s| s["total_executions"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum(&json["run"]), 70);
    assert_eq!(sum(&json["store"]), 120);
    let report = agent(&["--calls", "30", "--store", db]);
    assert!(
        report.contains("Store report: 150 tool calls")
            && report.contains("written by 3 processes"),
        "{report}"
    );
}
