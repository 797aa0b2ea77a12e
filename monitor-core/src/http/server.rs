//! The listener: accepts, bounds and shuts down connections.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use super::HttpConfig;
use super::routes::handle;
use super::source::StatsSource;

/// How long shutdown waits for open connections before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a client may take to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves a monitor over HTTP/1.1 until shut down.
///
/// | path | answer |
/// | --- | --- |
/// | `GET /metrics` | [`render_prometheus`](crate::ToolExecutionMonitor::render_prometheus), `text/plain; version=0.0.4` |
/// | `GET /stats` | JSON of [`all_tool_stats`](crate::ToolExecutionMonitor::all_tool_stats) |
/// | `GET /stats/{tool}` | JSON of one tool's stats; 404 if it has none |
/// | `GET /errors?hours=N&tool=T` | JSON list of [`recent_errors`](crate::ToolExecutionMonitor::recent_errors) (default 24 hours, all tools) |
/// | `GET /healthz` | `ok` |
/// | `GET /` | the dashboard page (its `/dashboard.js` and `/dashboard.css` too); no data in it, so no token needed |
/// | `GET /histograms` | JSON: per tool, the duration buckets and the median |
/// | `GET /info` | JSON: what is served (`live` or `store`) |
/// | `GET /series?tool=T` | JSON: a store's hourly rows of one tool; 404 for a live monitor |
///
/// Served from a [`Store`](crate::Store) (`tool-monitor serve`), `/metrics`
/// has the store's running totals (they only grow, whatever processes come
/// and go or hours are pruned) and `/stats` the last 7 days; a store that
/// cannot be read answers 503.
///
/// Other paths get 404, other methods 405, a bad query 400, a missing or
/// wrong bearer token 401, a too large request 413; malformed HTTP is
/// answered 400 by hyper. Every handler copies what it reads, so serving
/// never holds up a tool that is recording.
///
/// Tool names in paths are percent-decoded as RFC 3986 says (`/stats/c++`
/// is the tool `c++`; `%20` is a space); in the query `+` is also a space.
/// A client may pipeline requests and then shut down its write side: every
/// request it sent in full is answered before the connection closes.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use std::sync::Arc;
/// use monitor_core::{HttpConfig, MetricsServer, ToolExecutionMonitor};
///
/// let monitor = Arc::new(ToolExecutionMonitor::new());
/// let config = HttpConfig::default().addr("127.0.0.1:0".parse().unwrap());
/// let server = MetricsServer::bind(monitor, config).await?;
/// println!("serving on http://{}/metrics", server.local_addr());
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "keep the handle to shut the server down; dropping it leaves the server running"]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Binds the configured address and starts serving `source` (a live
    /// [`ToolExecutionMonitor`](crate::ToolExecutionMonitor), or a
    /// [`Store`](crate::Store)) on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// The error of binding the address.
    pub async fn bind<S: StatsSource>(source: Arc<S>, config: HttpConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::new(Shared { source, config }),
            stopped,
        ));
        Ok(Self {
            local_addr,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open requests finish (for at most 5 s), and
    /// returns when the server is down.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Serves until the task ends (it ends only on shutdown or on a fatal
    /// accept error).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

pub(super) struct Shared {
    pub(super) source: Arc<dyn StatsSource>,
    pub(super) config: HttpConfig,
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(shared.config.max_connections));
    // Only an explicit shutdown stops the server: a dropped handle (the
    // sender gone) leaves it serving until the runtime ends.
    let mut detached = false;
    loop {
        tokio::select! {
            stop = &mut stopped, if !detached => match stop {
                Ok(()) => break,
                Err(_) => detached = true,
            },
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // A transient error (e.g. too many open files): back off.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // At the connection limit: close this one at once.
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    drop(stream);
                    continue;
                };
                let for_service = Arc::clone(&shared);
                let service = service_fn(move |request| {
                    let shared = Arc::clone(&for_service);
                    async move { Ok::<_, Infallible>(handle(&shared, &request)) }
                });
                // half_close: a client that sends its requests and then
                // shuts its write side down still gets every answer; with
                // hyper's default the read EOF could close the connection
                // before the last pipelined request was answered.
                let connection = http1::Builder::new()
                    .half_close(true)
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .max_buf_size(shared.config.max_request_bytes)
                    .serve_connection(TokioIo::new(stream), service);
                let served = graceful.watch(connection);
                let lifetime = shared.config.connection_lifetime;
                tokio::spawn(async move {
                    // Past its lifetime the connection is dropped (closed),
                    // so a stuck client cannot hold its permit for ever.
                    let _ = tokio::time::timeout(lifetime, served).await;
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}
