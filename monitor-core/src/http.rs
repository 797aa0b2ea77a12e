//! An HTTP endpoint for one process's monitor: `/metrics` for Prometheus,
//! JSON for people and scripts.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::monitor::ToolExecutionMonitor;

/// The default address: loopback only, on the port commonly used for
/// Prometheus exporters of this kind.
pub const DEFAULT_HTTP_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9464);

/// Hours of `/errors` when the query gives none.
const DEFAULT_ERROR_HOURS: u32 = 24;
/// How long shutdown waits for open connections before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a client may take to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a [`MetricsServer`].
///
/// # Examples
///
/// ```
/// let config = monitor_core::HttpConfig::default().bearer_token("s3cret");
/// assert_eq!(config.addr().port(), 9464);
/// ```
#[derive(Clone)]
#[must_use]
pub struct HttpConfig {
    addr: SocketAddr,
    bearer_token: Option<String>,
    max_request_bytes: usize,
    max_connections: usize,
    connection_lifetime: Duration,
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("addr", &self.addr)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_connections", &self.max_connections)
            .field("connection_lifetime", &self.connection_lifetime)
            .finish()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            addr: DEFAULT_HTTP_ADDR,
            bearer_token: None,
            max_request_bytes: 16 * 1024,
            max_connections: 64,
            connection_lifetime: Duration::from_secs(60),
        }
    }
}

impl HttpConfig {
    /// Where to listen (default `127.0.0.1:9464`; port 0 picks a free one).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Listens on `addr`.
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Requires `Authorization: Bearer <token>` on every path but
    /// `/healthz`; a request without it gets 401.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// How many connections are served at once (default 64, at least 1);
    /// further ones are closed as soon as they are accepted, so slow or
    /// stuck clients cannot exhaust the process.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// How long one connection may stay open (default 60 s, at least
    /// 10 ms), whatever it does: a client that stops reading its responses
    /// (or trickles requests) gives its connection back after this. A
    /// keep-alive client such as Prometheus simply connects again; a
    /// response still being written at that moment is cut.
    pub fn connection_lifetime(mut self, lifetime: Duration) -> Self {
        self.connection_lifetime = lifetime.max(Duration::from_millis(10));
        self
    }

    /// The largest request (head and body) accepted, default 16 KiB; at
    /// least 8 KiB. Larger ones get 413 or have their connection closed.
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes.max(8 * 1024);
        self
    }
}

/// Serves a monitor over HTTP/1.1 until shut down.
///
/// | path | answer |
/// | --- | --- |
/// | `GET /metrics` | [`render_prometheus`](ToolExecutionMonitor::render_prometheus), `text/plain; version=0.0.4` |
/// | `GET /stats` | JSON of [`all_tool_stats`](ToolExecutionMonitor::all_tool_stats) |
/// | `GET /stats/{tool}` | JSON of one tool's stats; 404 if it has none |
/// | `GET /errors?hours=N&tool=T` | JSON list of [`recent_errors`](ToolExecutionMonitor::recent_errors) (default 24 hours, all tools) |
/// | `GET /healthz` | `ok` |
///
/// Other paths get 404, other methods 405, a bad query 400, a missing or
/// wrong bearer token 401, a too large request 413; malformed HTTP is
/// answered 400 by hyper. Every handler copies what it reads, so serving
/// never holds up a tool that is recording.
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
/// let config = HttpConfig::default().with_addr("127.0.0.1:0".parse().unwrap());
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
    /// Binds `config.addr()` and starts serving on the current tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// The error of binding the address.
    pub async fn bind(monitor: Arc<ToolExecutionMonitor>, config: HttpConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::new(Shared { monitor, config }),
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

struct Shared {
    monitor: Arc<ToolExecutionMonitor>,
    config: HttpConfig,
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
                let connection = http1::Builder::new()
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

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, body: &'static str) -> Reply {
    reply(status, "text/plain; charset=utf-8", body)
}

fn json(value: &impl serde::Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => reply(StatusCode::OK, "application/json", body),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "could not encode JSON\n"),
    }
}

fn handle(shared: &Shared, request: &Request<Incoming>) -> Reply {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > shared.config.max_request_bytes);
    if too_large {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n");
    }
    let path = request.uri().path();
    if path == "/healthz" {
        return text(StatusCode::OK, "ok\n");
    }
    if let Some(token) = &shared.config.bearer_token {
        if !authorized(request, token) {
            let mut response = text(StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let monitor = &shared.monitor;
    match path {
        "/metrics" => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            monitor.render_prometheus(),
        ),
        "/stats" => json(&monitor.all_tool_stats()),
        "/errors" => match ErrorQuery::parse(request.uri().query().unwrap_or("")) {
            Ok(query) => json(&monitor.recent_errors(query.tool.as_deref(), query.hours)),
            Err(message) => reply(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                message,
            ),
        },
        _ => match path.strip_prefix("/stats/").map(percent_decode) {
            Some(Some(tool)) => match monitor.tool_stats(&tool) {
                Some(stats) => json(&stats),
                None => text(StatusCode::NOT_FOUND, "no such tool\n"),
            },
            Some(None) => text(
                StatusCode::BAD_REQUEST,
                "bad percent-encoding in tool name\n",
            ),
            None => text(StatusCode::NOT_FOUND, "not found\n"),
        },
    }
}

fn authorized(request: &Request<Incoming>, token: &str) -> bool {
    let Some(given) = request.headers().get(header::AUTHORIZATION).and_then(|v| {
        let v = v.as_bytes();
        // The scheme is case-insensitive (RFC 7235), the token is not.
        (v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ")).then(|| &v[7..])
    }) else {
        return false;
    };
    // Compare in time independent of where the first difference is.
    given.len() == token.len()
        && given
            .iter()
            .zip(token.as_bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// The query of `/errors`.
#[derive(Debug, PartialEq)]
struct ErrorQuery {
    hours: u32,
    tool: Option<String>,
}

impl ErrorQuery {
    fn parse(query: &str) -> Result<Self, String> {
        let mut parsed = Self {
            hours: DEFAULT_ERROR_HOURS,
            tool: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or("bad percent-encoding\n")?;
            match key {
                "hours" => {
                    parsed.hours = value.parse().map_err(|_| {
                        format!("hours must be a whole number from 0 to {}\n", u32::MAX)
                    })?;
                }
                "tool" => parsed.tool = Some(value),
                _ => {
                    return Err(format!(
                        "unknown query parameter `{key}`; expected hours or tool\n"
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

/// Decodes `%XX` escapes (and `+` as space); `None` if malformed or not UTF-8.
fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                // Two hex digits exactly (`from_str_radix` alone takes `+1`).
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_or_explain() {
        assert_eq!(
            ErrorQuery::parse("").unwrap(),
            ErrorQuery {
                hours: 24,
                tool: None
            }
        );
        assert_eq!(
            ErrorQuery::parse("hours=0&tool=get%2Duser").unwrap(),
            ErrorQuery {
                hours: 0,
                tool: Some("get-user".into())
            }
        );
        assert!(ErrorQuery::parse("hours=-1").is_err());
        assert!(ErrorQuery::parse("hours=99999999999").is_err());
        assert!(ErrorQuery::parse("limit=3").is_err());
        assert!(ErrorQuery::parse("tool=%zz").is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("caf%C3%A9").as_deref(), Some("café"));
    }
}
