//! `tool-monitor`: reads the SQLite store that monitor-core's `store`
//! feature writes, prints the report, follows errors, serves it to
//! Prometheus, exports hourly rows and prunes.
//!
//! Exit codes: 0 success; 1 the store or the network failed (a missing or
//! invalid file, a newer schema, an unknown tool, an address in use); 2 the
//! command line is wrong (clap's usage errors, a `--since` that does not
//! parse).

use std::collections::HashSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use monitor_cli::report::{Look, Report};
use monitor_cli::span;
use monitor_core::{DEFAULT_HTTP_ADDR, HttpConfig, MetricsServer, Store, default_store_path};

/// Reads, reports and serves the tool statistics every process of this
/// machine wrote to its monitor-core store.
#[derive(Debug, Parser)]
#[command(
    name = "tool-monitor",
    version,
    after_help = "The store is $TOOL_MONITOR_DB if set, else $XDG_DATA_HOME/tool-monitor/monitor.db, \
                  else ~/.local/share/tool-monitor/monitor.db: the file a monitor with \
                  StoreConfig::default_location() writes.\n\n\
                  Exit codes: 0 success, 1 store or network failure, 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, clap::Args)]
struct Db {
    #[arg(
        long,
        value_name = "PATH",
        global = true,
        help = "The store file (default: $TOOL_MONITOR_DB, else the library's default path)"
    )]
    db: Option<PathBuf>,
}

impl Db {
    fn path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(default_store_path)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Csv,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Per-tool calls, success %, percentiles, sizes and top error, the
    /// duration histograms, the 7-day trend and the last errors.
    #[command(
        after_help = "Examples:\n  tool-monitor report\n  tool-monitor report --since 24h --tool search --tool fetch\n  tool-monitor report --db agent.db --json"
    )]
    Report {
        #[command(flatten)]
        db: Db,
        /// How far back: 90s, 30m, 24h, 7d, 2w (whole hours are counted).
        #[arg(long, default_value = "7d", value_parser = span::parse)]
        since: Duration,
        /// Only this tool (repeatable).
        #[arg(long = "tool", value_name = "NAME")]
        tools: Vec<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Recent failures, newest last.
    #[command(
        after_help = "Examples:\n  tool-monitor errors\n  tool-monitor errors --hours 1 --tool search\n  tool-monitor errors --follow"
    )]
    Errors {
        #[command(flatten)]
        db: Db,
        /// How many hours back.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// Only this tool.
        #[arg(long, value_name = "NAME")]
        tool: Option<String>,
        /// Keep printing new failures as they are flushed, until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serves /metrics (the store's running totals), /stats, /stats/{tool},
    /// /errors and /healthz: one Prometheus target for every process.
    #[command(
        after_help = "Examples:\n  tool-monitor serve\n  tool-monitor serve --addr 0.0.0.0:9464 --token \"$TOKEN\""
    )]
    Serve {
        #[command(flatten)]
        db: Db,
        /// Where to listen.
        #[arg(long, default_value_t = DEFAULT_HTTP_ADDR)]
        addr: SocketAddr,
        /// Require `Authorization: Bearer TOKEN` (all paths but /healthz).
        #[arg(long)]
        token: Option<String>,
    },
    /// Hourly rows per tool, merged over processes, for spreadsheets and notebooks.
    #[command(
        after_help = "Examples:\n  tool-monitor export --format csv > hours.csv\n  tool-monitor export --since 24h --tool search"
    )]
    Export {
        #[command(flatten)]
        db: Db,
        /// json (an array) or csv (with a header line).
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// How far back.
        #[arg(long, default_value = "7d", value_parser = span::parse)]
        since: Duration,
        /// Only this tool.
        #[arg(long, value_name = "NAME")]
        tool: Option<String>,
    },
    /// Deletes hourly rows and records older than a span (running totals stay).
    #[command(after_help = "Examples:\n  tool-monitor prune --older-than 30d")]
    Prune {
        #[command(flatten)]
        db: Db,
        /// Delete what is older than this.
        #[arg(long, default_value = "30d", value_parser = span::parse)]
        older_than: Duration,
    },
    /// The file, its schema version, size, span, tools and processes.
    #[command(
        after_help = "Examples:\n  tool-monitor info\n  tool-monitor info --db agent.db --json"
    )]
    Info {
        #[command(flatten)]
        db: Db,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A failure, printed as one line on stderr.
struct Failure(String);

impl<E: std::error::Error> From<E> for Failure {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

fn open(path: &Path) -> Result<Store, Failure> {
    Store::open(path).map_err(|e| Failure(format!("cannot read the store: {e}")))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("tool-monitor: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Report {
            db,
            since,
            tools,
            json,
        } => {
            let store = open(&db.path())?;
            let known = store.all_tool_stats(Duration::MAX)?;
            if let Some(unknown) = tools.iter().find(|t| !known.contains_key(*t)) {
                return Err(Failure(format!(
                    "no tool `{unknown}` in {}",
                    store.path().display()
                )));
            }
            let report = Report::of_store(&store, since, &tools)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report.to_json())?)?;
            } else {
                write!(
                    out,
                    "{}",
                    report.render("Tool execution report:", Look::for_stdout())
                )?;
            }
        }
        Command::Errors {
            db,
            hours,
            tool,
            follow,
            json,
        } => {
            let store = open(&db.path())?;
            let mut seen = HashSet::new();
            loop {
                for error in store.recent_errors(tool.as_deref(), hours)? {
                    if !seen.insert(error.execution_id.clone() + &error.start_time.to_rfc3339()) {
                        continue;
                    }
                    if json {
                        writeln!(out, "{}", serde_json::to_string(&error)?)?;
                    } else {
                        writeln!(
                            out,
                            "{} {} {} {}",
                            error.start_time.format("%Y-%m-%d %H:%M:%S%.3fZ"),
                            error.tool_name,
                            error.error_category.map_or("-", |c| c.as_str()),
                            error.error_message.as_deref().unwrap_or("")
                        )?;
                    }
                }
                out.flush()?;
                if !follow {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Command::Serve { db, addr, token } => serve(&db.path(), addr, token)?,
        Command::Export {
            db,
            format,
            since,
            tool,
        } => {
            let store = open(&db.path())?;
            let rows = store.hourly(tool.as_deref(), since)?;
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
                Format::Csv => {
                    writeln!(
                        out,
                        "hour,tool,processes,executions,successes,failures,avg_duration_ms,p50_duration_ms,p95_duration_ms,p99_duration_ms,min_duration_ms,max_duration_ms,input_bytes,output_bytes"
                    )?;
                    for r in rows {
                        writeln!(
                            out,
                            "{},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{}",
                            r.hour.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            csv_field(&r.tool),
                            r.processes,
                            r.executions,
                            r.successes,
                            r.failures,
                            r.avg_duration_ms,
                            r.p50_duration_ms,
                            r.p95_duration_ms,
                            r.p99_duration_ms,
                            r.min_duration_ms,
                            r.max_duration_ms,
                            r.input_bytes,
                            r.output_bytes
                        )?;
                    }
                }
            }
        }
        Command::Prune { db, older_than } => {
            let store = open(&db.path())?;
            let pruned = store.prune(older_than)?;
            writeln!(
                out,
                "pruned {} hourly rows, {} error records and {} execution records older than {}",
                pruned.hours,
                pruned.errors,
                pruned.executions,
                span::format(older_than)
            )?;
        }
        Command::Info { db, json } => {
            let store = open(&db.path())?;
            let info = store.info()?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&info)?)?;
            } else {
                let hour = |h: Option<chrono::DateTime<chrono::Utc>>| {
                    h.map_or_else(
                        || "-".to_owned(),
                        |h| h.format("%Y-%m-%d %H:00 UTC").to_string(),
                    )
                };
                writeln!(out, "file            {}", info.path.display())?;
                writeln!(out, "schema version  {}", info.schema_version)?;
                writeln!(out, "size            {} bytes", info.size_bytes)?;
                writeln!(out, "first hour      {}", hour(info.first_hour))?;
                writeln!(out, "last hour       {}", hour(info.last_hour))?;
                writeln!(out, "tools           {}", info.tools)?;
                writeln!(out, "processes       {}", info.processes)?;
                writeln!(out, "executions      {}", info.executions)?;
            }
        }
    }
    Ok(())
}

/// A CSV field, quoted if it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn serve(path: &Path, addr: SocketAddr, token: Option<String>) -> Result<(), Failure> {
    let store = Arc::new(open(path)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut config = HttpConfig::default().addr(addr);
        if let Some(token) = token {
            config = config.bearer_token(token);
        }
        let server = MetricsServer::bind(store, config)
            .await
            .map_err(|e| Failure(format!("cannot listen on {addr}: {e}")))?;
        eprintln!(
            "tool-monitor: serving {} on http://{}/metrics, /stats, /errors, /healthz; Ctrl-C stops",
            path.display(),
            server.local_addr()
        );
        tokio::signal::ctrl_c().await?;
        server.shutdown().await;
        Ok(())
    })
}
