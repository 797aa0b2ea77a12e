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
