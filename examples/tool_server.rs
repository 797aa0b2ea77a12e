//! A process that makes a known number of monitored calls, then serves its
//! monitor over HTTP: the target of the real-Prometheus proof
//! (`scripts/prometheus_proof.py`), and a quick way to look at `/metrics`.
//!
//! ```sh
//! cargo run --example tool_server -- --addr 127.0.0.1:9464 --calls 50
//! curl -s 127.0.0.1:9464/metrics
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use monitor_core::{
    HttpConfig, MetricsServer, StoreConfig, ToolExecutionMonitor, global_monitor, monitored_tool,
    set_global_monitor,
};

/// Makes `--calls` calls of each tool, prints the tool names as one JSON
/// line, then serves /metrics, /stats, /errors and /healthz until
/// interrupted.
#[derive(Debug, Parser)]
struct Args {
    /// Where to serve.
    #[arg(long, default_value = "127.0.0.1:9464")]
    addr: SocketAddr,
    /// Calls of each tool before serving.
    #[arg(long, default_value_t = 50)]
    calls: u32,
    /// Also record into this SQLite store.
    #[arg(long, value_name = "PATH")]
    store: Option<std::path::PathBuf>,
    /// Flush the store and exit after the calls instead of serving: a
    /// short-lived writer, as a stdio MCP server is.
    #[arg(long, requires = "store")]
    exit: bool,
}

/// Echoes its text.
#[monitored_tool]
fn echo(text: &str) -> String {
    text.to_owned()
}

/// Adds two numbers; overflow is an error.
#[monitored_tool]
fn add(a: i64, b: i64) -> Result<i64, String> {
    a.checked_add(b).ok_or_else(|| "overflow".to_owned())
}

/// Waits a little, asynchronously.
#[monitored_tool]
async fn slow_tool(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.store {
        let monitor = ToolExecutionMonitor::builder()
            .store(StoreConfig::at(path))
            .build_shared();
        set_global_monitor(monitor);
    }
    for i in 0..args.calls {
        echo(&"x".repeat(i as usize % 50));
        let _ = add(i64::from(i), if i % 5 == 0 { i64::MAX } else { 1 });
        slow_tool(u64::from(i % 3)).await;
    }
    let monitor = global_monitor();
    let tools: Vec<String> = monitor.all_tool_stats().into_keys().collect();
    println!("{}", serde_json::json!({ "tools": tools }));
    if args.store.is_some() {
        monitor.flush().map_err(io::Error::other)?;
    }
    if args.exit {
        return Ok(());
    }
    let server = MetricsServer::bind(monitor, HttpConfig::default().addr(args.addr)).await?;
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
