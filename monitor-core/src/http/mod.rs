//! An HTTP endpoint for one process's monitor: `/metrics` for Prometheus,
//! JSON for people and scripts.

//!
//! `server` accepts and bounds connections, `routes` answers one request,
//! `query` decodes what a URL carries.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::Semaphore;

mod page;
mod query;
mod routes;
mod server;
mod source;

pub use server::MetricsServer;
pub use source::StatsSource;

/// The default address: loopback only, on the port commonly used for
/// Prometheus exporters of this kind.
pub const DEFAULT_HTTP_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9464);

/// Settings of a [`MetricsServer`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use monitor_core::HttpConfig;
///
/// let config = HttpConfig::default()
///     .addr("127.0.0.1:0".parse().unwrap())
///     .bearer_token("s3cret")
///     .connection_lifetime(Duration::from_secs(30));
/// assert!(format!("{config:?}").contains("<redacted>"));
/// ```
#[derive(Clone)]
#[must_use]
pub struct HttpConfig {
    pub(super) addr: SocketAddr,
    pub(super) bearer_token: Option<String>,
    pub(super) max_request_bytes: usize,
    pub(super) max_connections: usize,
    pub(super) connection_lifetime: Duration,
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
    /// Where to listen (default [`DEFAULT_HTTP_ADDR`], `127.0.0.1:9464`;
    /// port 0 picks a free one, which
    /// [`MetricsServer::local_addr`] then tells).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
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
