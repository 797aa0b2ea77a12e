//! A monitor with known calls, served with the dashboard: what the browser
//! test (`scripts/dashboard_browser.py`) and the README's screenshot look
//! at. Two of its tools carry hostile text, as untrusted tool names and
//! error messages can: the page must show them as text.
//!
//! ```sh
//! cargo run --example dashboard_demo -- --addr 127.0.0.1:9464
//! # then open http://127.0.0.1:9464/
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use monitor_core::{
    ErrorCategory, ExecutionStatus, HttpConfig, ManualClock, MetricsServer, ToolExecutionMonitor,
};

/// Serves a monitor with known calls and the dashboard until interrupted.
#[derive(Debug, Parser)]
struct Args {
    /// Where to serve.
    #[arg(long, default_value = "127.0.0.1:9464")]
    addr: SocketAddr,
    /// Require this bearer token.
    #[arg(long)]
    token: Option<String>,
}

/// A tool name that would run script if it were parsed as markup.
const HOSTILE_TOOL: &str = "<img src=x onerror=\"window.pwned=1\">";
/// An error message that would run script if it were parsed as markup.
const HOSTILE_MESSAGE: &str =
    "<script>window.pwned=2</script><img src=x onerror=\"window.pwned=3\">";

/// `(tool, calls, every n-th fails, category, typical ms)`.
const PLAN: [(&str, u64, u64, ErrorCategory, u64); 5] = [
    ("search", 120, 10, ErrorCategory::NetworkError, 40),
    ("fetch-url", 80, 4, ErrorCategory::TimeoutError, 300),
    ("parse-amount", 60, 6, ErrorCategory::ValidationError, 2),
    ("summarize", 40, 8, ErrorCategory::SystemError, 1_200),
    (HOSTILE_TOOL, 3, 1, ErrorCategory::SecurityError, 5),
];

fn record(monitor: &ToolExecutionMonitor, clock: &ManualClock) {
    for (tool, calls, fail_every, category, typical_ms) in PLAN {
        for i in 0..calls {
            let call = monitor.create_execution_context(tool);
            // Durations spread around the typical one, deterministic.
            clock.advance(Duration::from_millis(
                typical_ms / 2 + (i * 37) % typical_ms.max(1),
            ));
            if i % fail_every == fail_every - 1 {
                let message = if tool == HOSTILE_TOOL {
                    HOSTILE_MESSAGE.to_owned()
                } else {
                    format!("{tool} failed on call {i}")
                };
                call.finish_classified(ExecutionStatus::Error, category, message);
            } else {
                call.finish_success();
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let clock = ManualClock::new(chrono::Utc::now() - chrono::TimeDelta::minutes(30));
    let monitor = ToolExecutionMonitor::builder()
        .clock(clock.clone())
        .build_shared();
    record(&monitor, &clock);
    let mut config = HttpConfig::default().addr(args.addr);
    if let Some(token) = args.token {
        config = config.bearer_token(token);
    }
    let server = MetricsServer::bind(monitor, config).await?;
    println!("serving http://{}/", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
