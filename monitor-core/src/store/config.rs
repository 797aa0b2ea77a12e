//! Where the store lives and how it is written: [`StoreConfig`].

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable that names the store file; it overrides the
/// default location of [`StoreConfig::default_location`] and of the
/// `tool-monitor` command.
pub const STORE_PATH_ENV: &str = "TOOL_MONITOR_DB";

/// Settings of the SQLite store a monitor writes to
/// ([`ToolExecutionMonitorBuilder::store`](crate::ToolExecutionMonitorBuilder::store)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use monitor_core::StoreConfig;
///
/// let config = StoreConfig::at("target/tools.db")
///     .flush_interval(Duration::from_secs(5))
///     .retention(Duration::from_secs(7 * 24 * 3600));
/// assert_eq!(config.path(), std::path::Path::new("target/tools.db"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct StoreConfig {
    pub(crate) path: PathBuf,
    pub(crate) flush_interval: Duration,
    pub(crate) retention: Duration,
    pub(crate) max_errors: usize,
    pub(crate) max_executions: usize,
    pub(crate) busy_timeout: Duration,
    pub(crate) max_size_bytes: Option<u64>,
}

impl StoreConfig {
    /// A store in the file at `path` (created with its directory if
    /// missing), with the defaults: a flush every 10 s, hourly rows kept for
    /// 35 days, at most 10 000 error records and 10 000 execution records,
    /// and a 5 s wait for other processes' writes.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            flush_interval: Duration::from_secs(10),
            retention: Duration::from_secs(35 * 24 * 3600),
            max_errors: 10_000,
            max_executions: 10_000,
            busy_timeout: Duration::from_secs(5),
            max_size_bytes: None,
        }
    }

    /// A store at [`default_store_path`]: `$TOOL_MONITOR_DB` if set, else
    /// `$XDG_DATA_HOME/tool-monitor/monitor.db`, else
    /// `~/.local/share/tool-monitor/monitor.db`, else `tool-monitor.db` in
    /// the working directory. The `tool-monitor` command reads the same
    /// file by default.
    pub fn default_location() -> Self {
        Self::at(default_store_path())
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How often the background flusher writes (default 10 s, at least
    /// 10 ms). A `kill -9` loses at most this much.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// How long hourly rows, error and execution records are kept (default
    /// 35 days, at least one hour); older ones are pruned on each flush.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention.max(Duration::from_secs(3600));
        self
    }

    /// How many error records are kept, newest first (default 10 000).
    pub fn max_errors(mut self, records: usize) -> Self {
        self.max_errors = records;
        self
    }

    /// How many execution records are kept, newest first (default 10 000;
    /// 0 keeps none, and the history is then not written at all).
    pub fn max_executions(mut self, records: usize) -> Self {
        self.max_executions = records;
        self
    }

    /// The largest the file may grow (default: no limit but the disk's).
    /// A flush that would pass it fails as on a full disk: counted in
    /// [`store_failures`](crate::ToolExecutionMonitor::store_failures),
    /// its data kept in memory for the next flush, tool calls unaffected.
    pub fn max_size_bytes(mut self, bytes: u64) -> Self {
        self.max_size_bytes = Some(bytes);
        self
    }

    /// How long a flush waits for another process's write to finish before
    /// it fails and is retried at the next flush (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }
}

/// The store file used when none is named: `$TOOL_MONITOR_DB`, else
/// `$XDG_DATA_HOME/tool-monitor/monitor.db`, else
/// `$HOME/.local/share/tool-monitor/monitor.db`, else `tool-monitor.db`.
#[must_use]
pub fn default_store_path() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = var(STORE_PATH_ENV) {
        return PathBuf::from(path);
    }
    let data = var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| Path::new(&home).join(".local/share")));
    data.map_or_else(
        || PathBuf::from("tool-monitor.db"),
        |dir| dir.join("tool-monitor").join("monitor.db"),
    )
}
