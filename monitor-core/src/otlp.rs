//! OTLP push: the monitor's counters and the `gen_ai.execute_tool.duration`
//! histogram, read from the same per-tool snapshots as the Prometheus
//! exposition and exported on the OpenTelemetry SDK's periodic reader over
//! OTLP/HTTP (protobuf). The hot path is not involved: the SDK's background
//! thread reads the snapshots when it collects.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter, MeterProvider as _, ObservableCounter};
use opentelemetry_otlp::{MetricExporter, Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

use crate::global::global_monitor;
use crate::histogram::{DURATION_BUCKET_COUNT, DURATION_BUCKETS_MS};
use crate::monitor::ToolExecutionMonitor;
use crate::semconv::{DURATION_METRIC, ERROR_TYPE, TOOL_NAME, category_error_type};
use crate::shard::Totals;
use crate::status::{ErrorCategory, ExecutionStatus};

/// The variables [`OtlpConfig::from_env`] reads, as the OpenTelemetry
/// specification names them.
pub const OTLP_ENV_VARS: [&str; 6] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_SERVICE_NAME",
    "OTEL_METRIC_EXPORT_INTERVAL",
];

/// The default time an export may take before it counts as failed, and so
/// what a hanging receiver costs at shutdown (see [`OtlpExporter::shutdown`]).
pub const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_secs(2);

/// The default time between two exports; `OTEL_METRIC_EXPORT_INTERVAL`
/// (milliseconds) or [`OtlpConfig::interval`] change it.
pub const DEFAULT_OTLP_INTERVAL: Duration = Duration::from_secs(10);

/// Where and how [`OtlpExporter`] pushes.
///
/// Code settings win over the standard variables, which win over the
/// defaults (`http://localhost:4318/v1/metrics`, every
/// [`DEFAULT_OTLP_INTERVAL`], [`DEFAULT_OTLP_TIMEOUT`] per export).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let config = monitor_core::OtlpConfig::new()
///     .endpoint("http://127.0.0.1:4318")
///     .header("authorization", "Bearer t0ken")
///     .service_name("search-mcp")
///     .interval(Duration::from_secs(5));
/// assert_eq!(config.metrics_url().unwrap(), "http://127.0.0.1:4318/v1/metrics");
/// ```
#[derive(Clone, Default)]
pub struct OtlpConfig {
    endpoint: Option<String>,
    metrics_endpoint: Option<String>,
    headers: Vec<(String, String)>,
    service_name: Option<String>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
}

impl fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are credentials: only their names are shown.
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OtlpConfig")
            .field("endpoint", &self.endpoint)
            .field("metrics_endpoint", &self.metrics_endpoint)
            .field("headers", &names)
            .field("service_name", &self.service_name)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OtlpConfig {
    /// No settings: everything from the variables or the defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The settings the standard variables give (see [`OTLP_ENV_VARS`]).
    ///
    /// # Errors
    ///
    /// A header variable with an entry that is not `key=value`, or an
    /// interval that is not a number of milliseconds: a typo there would
    /// otherwise drop a credential or the schedule silently.
    pub fn from_env() -> Result<Self, OtlpError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, OtlpError> {
        let mut config = Self {
            endpoint: var("OTEL_EXPORTER_OTLP_ENDPOINT"),
            metrics_endpoint: var("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
            service_name: var("OTEL_SERVICE_NAME"),
            ..Self::default()
        };
        // The signal's own variable wins over the general one.
        let (headers_var, headers) = match var("OTEL_EXPORTER_OTLP_METRICS_HEADERS") {
            Some(value) => ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", Some(value)),
            None => (
                "OTEL_EXPORTER_OTLP_HEADERS",
                var("OTEL_EXPORTER_OTLP_HEADERS"),
            ),
        };
        if let Some(headers) = headers {
            config.headers = parse_headers(headers_var, &headers)?;
        }
        if let Some(interval) = var("OTEL_METRIC_EXPORT_INTERVAL") {
            let millis = interval
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| OtlpError::Config {
                    variable: "OTEL_METRIC_EXPORT_INTERVAL",
                    message: format!("{interval:?} is not a positive number of milliseconds"),
                })?;
            config.interval = Some(Duration::from_millis(millis));
        }
        Ok(config)
    }

    /// The collector's base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` gives it
    /// (`http://host:4318`): metrics go to its `/v1/metrics`.
    #[must_use]
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The full URL metrics are posted to, as
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` gives it; wins over
    /// [`endpoint`](Self::endpoint).
    #[must_use]
    pub fn metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metrics_endpoint = Some(url.into());
        self
    }

    /// Adds a header sent with every export (an API key, say).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The resource's `service.name`.
    #[must_use]
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The time between two exports.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// How long one export may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The URL metrics will be posted to.
    ///
    /// # Errors
    ///
    /// The endpoint is not an `http://` or `https://` URL.
    pub fn metrics_url(&self) -> Result<String, OtlpError> {
        let url = match (&self.metrics_endpoint, &self.endpoint) {
            (Some(full), _) => full.clone(),
            (None, Some(base)) => format!("{}/v1/metrics", base.trim_end_matches('/')),
            (None, None) => "http://localhost:4318/v1/metrics".to_owned(),
        };
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(url),
            _ => Err(OtlpError::Config {
                variable: "OTEL_EXPORTER_OTLP_ENDPOINT",
                message: format!("{url:?} is not an http:// or https:// URL with a host"),
            }),
        }
    }
}

/// `key=value,key2=value2`, values percent-decoded as the specification
/// says (W3C baggage octets).
fn parse_headers(variable: &'static str, value: &str) -> Result<Vec<(String, String)>, OtlpError> {
    let mut headers = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || OtlpError::Config {
            variable,
            message: format!("entry {} is not key=value", redact(entry)),
        };
        let (key, raw) = entry.split_once('=').ok_or_else(bad)?;
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(bad());
        }
        let value = percent_decode(raw.trim()).ok_or_else(bad)?;
        headers.push((key.to_owned(), value));
    }
    Ok(headers)
}

/// An entry as an error may show it: the key, never the value (an entry
/// without `=` may be a bare credential, so only its length is shown).
fn redact(entry: &str) -> String {
    match entry.split_once('=') {
        Some((key, _)) => format!("{key:?}=…"),
        None => format!("of {} characters without '='", entry.chars().count()),
    }
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why the exporter could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpError {
    /// A setting is malformed; `variable` names where it came from (or the
    /// variable the code setting stands for).
    Config {
        /// The variable, e.g. `OTEL_EXPORTER_OTLP_HEADERS`.
        variable: &'static str,
        /// What is wrong, without the value of a header.
        message: String,
    },
    /// The OpenTelemetry exporter refused to build.
    Build(String),
}

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config { variable, message } => write!(f, "OTLP setting {variable}: {message}"),
            Self::Build(message) => write!(f, "OTLP exporter: {message}"),
        }
    }
}

impl std::error::Error for OtlpError {}

/// Where the exporter reads its snapshots.
#[derive(Debug, Clone)]
enum Source {
    /// The global monitor, resolved at every collection, so that
    /// `set_global_monitor` takes effect.
    Global,
    Monitor(Arc<ToolExecutionMonitor>),
}

impl Source {
    fn snapshot(&self) -> Vec<(Arc<str>, Totals)> {
        let snapshot = |monitor: &ToolExecutionMonitor| {
            monitor
                .registered_tools()
                .iter()
                .map(|tool| (Arc::clone(&tool.name), tool.counts()))
                .collect()
        };
        match self {
            Self::Global => snapshot(&global_monitor()),
            Self::Monitor(monitor) => snapshot(monitor),
        }
    }
}

/// Upper bounds of the duration histogram's buckets, in seconds: the
/// monitor's own (the reference's), so that every bucket count is the
/// monitor's exactly.
#[allow(clippy::cast_precision_loss)] // at most 10 000 ms: exact in f64
fn duration_bounds_seconds() -> Vec<f64> {
    DURATION_BUCKETS_MS
        .iter()
        .map(|ms| *ms as f64 / 1000.0)
        .collect()
}

/// What one tool had when it was last exported.
#[derive(Debug, Clone, Default)]
struct Exported {
    buckets: [u64; DURATION_BUCKET_COUNT],
    total_nanos: u64,
}

/// The state the instruments' callbacks share between collections.
#[derive(Debug, Default)]
struct Collected {
    /// The snapshot of this collection, taken by the first callback.
    snapshot: Vec<(Arc<str>, Totals)>,
    /// Per tool, what the duration histogram holds already.
    exported: std::collections::HashMap<Arc<str>, Exported>,
}

/// The instruments registered on a [`Meter`] by [`register_instruments`];
/// dropping them does not unregister them (the meter provider owns the
/// callbacks).
#[derive(Debug)]
pub struct ToolInstruments {
    _executions: ObservableCounter<u64>,
    _errors: ObservableCounter<u64>,
    _input: ObservableCounter<u64>,
    _output: ObservableCounter<u64>,
    _duration: Histogram<f64>,
}

/// Registers the monitor's instruments on `meter`, for a program that has
/// its own OpenTelemetry `MeterProvider` (its own exporter, views, resource);
/// [`OtlpExporter`] does this on a provider of its own.
///
/// Instruments, every one with `gen_ai.tool.name`:
/// - `gen_ai.execute_tool.duration` (histogram, `s`): one observation per
///   recorded execution, timed-out and cancelled ones included, in the
///   monitor's buckets (upper bounds 0.001 … 10 s);
/// - `tool_monitor.executions` (counter, `{execution}`), with
///   `tool_monitor.status` (`success`, `error`, `timeout`, …; every status,
///   0 included);
/// - `tool_monitor.errors` (counter, `{error}`), with `error.type`;
/// - `tool_monitor.input.size` and `tool_monitor.output.size` (counters,
///   `By`): bytes of arguments and results, sizes only.
///
/// `monitor` `None` reads the global monitor at every collection.
pub fn register_instruments(
    meter: &Meter,
    monitor: Option<Arc<ToolExecutionMonitor>>,
) -> ToolInstruments {
    let source = monitor.map_or(Source::Global, Source::Monitor);
    let shared = Arc::new(Mutex::new(Collected::default()));
    let duration = meter
        .f64_histogram(DURATION_METRIC)
        .with_unit("s")
        .with_description("Duration of tool executions")
        .with_boundaries(duration_bounds_seconds())
        .build();

    // Registered first, so its callback runs first at every collection: it
    // takes the snapshot the others read, and brings the histogram up to it.
    let executions = {
        let shared = Arc::clone(&shared);
        let duration = duration.clone();
        meter
            .u64_observable_counter("tool_monitor.executions")
            .with_unit("{execution}")
            .with_description("Tool executions by status")
            .with_callback(move |observer| {
                let mut collected = shared.lock().unwrap_or_else(PoisonError::into_inner);
                collected.snapshot = source.snapshot();
                let Collected { snapshot, exported } = &mut *collected;
                for (name, totals) in snapshot.iter() {
                    let tool = KeyValue::new(TOOL_NAME, name.to_string());
                    for status in ExecutionStatus::ALL {
                        observer.observe(
                            totals.statuses[status.index()],
                            &[
                                tool.clone(),
                                KeyValue::new("tool_monitor.status", status.as_str()),
                            ],
                        );
                    }
                    let last = exported.entry(Arc::clone(name)).or_default();
                    replay(&duration, &tool, last, totals);
                }
            })
            .build()
    };
    let errors = counter(
        meter,
        &shared,
        "tool_monitor.errors",
        "{error}",
        "Tool errors by error.type",
        |tool, totals, observe| {
            for category in ErrorCategory::ALL {
                let count = totals.categories[category.index()];
                if count > 0 {
                    observe(
                        count,
                        &[
                            tool.clone(),
                            KeyValue::new(ERROR_TYPE, category_error_type(category)),
                        ],
                    );
                }
            }
        },
    );
    let input = counter(
        meter,
        &shared,
        "tool_monitor.input.size",
        "By",
        "Bytes of tool arguments (sizes only)",
        |tool, totals, observe| {
            observe(totals.input_bytes, std::slice::from_ref(tool));
        },
    );
    let output = counter(
        meter,
        &shared,
        "tool_monitor.output.size",
        "By",
        "Bytes of tool results (sizes only)",
        |tool, totals, observe| {
            observe(totals.output_bytes, std::slice::from_ref(tool));
        },
    );
    ToolInstruments {
        _executions: executions,
        _errors: errors,
        _input: input,
        _output: output,
        _duration: duration,
    }
}

/// An observable counter that reads the collection's shared snapshot.
fn counter(
    meter: &Meter,
    shared: &Arc<Mutex<Collected>>,
    name: &'static str,
    unit: &'static str,
    description: &'static str,
    each: impl Fn(&KeyValue, &Totals, &mut dyn FnMut(u64, &[KeyValue])) + Send + Sync + 'static,
) -> ObservableCounter<u64> {
    let shared = Arc::clone(shared);
    meter
        .u64_observable_counter(name)
        .with_unit(unit)
        .with_description(description)
        .with_callback(move |observer| {
            let collected = shared.lock().unwrap_or_else(PoisonError::into_inner);
            for (name, totals) in &collected.snapshot {
                let tool = KeyValue::new(TOOL_NAME, name.to_string());
                each(&tool, totals, &mut |value, attributes| {
                    observer.observe(value, attributes);
                });
            }
        })
        .build()
}

/// Brings the SDK's duration histogram for one tool up to `totals`: one
/// observation per execution since the last collection, in the bucket the
/// monitor counted it in, with values chosen so that their sum is the
/// monitor's exact total duration (every value stays inside its bucket).
///
/// OpenTelemetry has no asynchronous histogram, so this is how a histogram
/// the monitor already aggregates reaches the SDK without a second
/// recording on the hot path. Its cost is one `record` per new execution,
/// on the SDK's collecting thread.
fn replay(histogram: &Histogram<f64>, tool: &KeyValue, last: &mut Exported, totals: &Totals) {
    // A reset monitor starts again from zero: what it has now is all new.
    let reset = totals
        .buckets
        .iter()
        .zip(&last.buckets)
        .any(|(now, then)| now < then);
    if reset {
        *last = Exported::default();
    }
    let new: [u64; DURATION_BUCKET_COUNT] =
        std::array::from_fn(|i| totals.buckets[i] - last.buckets[i]);
    let sum_nanos = totals.total_nanos.saturating_sub(last.total_nanos);
    for (count, value) in replay_values(&new, sum_nanos) {
        for _ in 0..count {
            histogram.record(value, std::slice::from_ref(tool));
        }
    }
    last.buckets = totals.buckets;
    last.total_nanos = totals.total_nanos;
}

/// Per bucket, how many observations and the one value (in seconds) they
/// all take: the lowest value inside the bucket, raised bucket by bucket
/// until the values add up to `sum_nanos`.
fn replay_values(
    new: &[u64; DURATION_BUCKET_COUNT],
    sum_nanos: u64,
) -> [(u64, f64); DURATION_BUCKET_COUNT] {
    // Bucket i holds (lower_i, upper_i] in nanoseconds; the last is open.
    let lower = |i: usize| {
        if i == 0 {
            0
        } else {
            DURATION_BUCKETS_MS[i - 1] * 1_000_000 + 1
        }
    };
    let upper = |i: usize| DURATION_BUCKETS_MS.get(i).map(|ms| ms * 1_000_000);
    let mut values = [0.0_f64; DURATION_BUCKET_COUNT];
    let floor: u128 = (0..DURATION_BUCKET_COUNT)
        .map(|i| u128::from(new[i]) * u128::from(lower(i)))
        .sum();
    let mut left = u128::from(sum_nanos).saturating_sub(floor);
    // Raise the open bucket last: it can take any remainder.
    let order = (0..DURATION_BUCKET_COUNT - 1).chain([DURATION_BUCKET_COUNT - 1]);
    for i in order {
        let n = u128::from(new[i]);
        let mut each = u128::from(lower(i));
        if let Some(share) = left.checked_div(n) {
            let room = upper(i).map_or(u128::MAX, |up| u128::from(up - lower(i)));
            let raise = share.min(room);
            each += raise;
            left -= raise * n;
        }
        #[allow(clippy::cast_precision_loss)] // nanoseconds to fractional seconds
        let seconds = each as f64 / 1e9;
        values[i] = seconds;
    }
    std::array::from_fn(|i| (new[i], values[i]))
}

/// Counts export failures and reports the first one.
#[derive(Debug, Default)]
struct ExportHealth {
    exports: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// The OTLP exporter, counting what fails.
struct CountingExporter {
    inner: MetricExporter,
    health: Arc<ExportHealth>,
    url: String,
}

impl fmt::Debug for CountingExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingExporter")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PushMetricExporter for CountingExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.health.exports.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = &result {
            let failures = self.health.failures.fetch_add(1, Ordering::Relaxed);
            let message = error.to_string();
            if failures == 0 {
                // Once: a collector that is down would otherwise fill the
                // log at every interval. stderr, since stdout is the MCP
                // stdio transport.
                eprintln!(
                    "monitor-core: OTLP export to {} failed: {message} (further failures are counted by OtlpExporter::failures, not logged)",
                    self.url
                );
            }
            *self
                .health
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(message);
        }
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// Pushes a monitor's numbers to an OpenTelemetry collector over OTLP/HTTP
/// (protobuf), every [interval](OtlpConfig::interval) and once more at
/// [`shutdown`](Self::shutdown) or drop, so a stdio server that lives for
/// 30 s still delivers its calls.
///
/// What it exports is listed at [`register_instruments`]. Exports run on
/// the OpenTelemetry SDK's own thread; a collector that is down, answers
/// 500 or hangs costs the tools nothing: the failure is counted
/// ([`failures`](Self::failures)), logged once to stderr, and the next
/// export sends the cumulative totals again.
///
/// # Examples
///
/// ```no_run
/// use monitor_core::{OtlpConfig, OtlpExporter};
///
/// // OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 OTEL_SERVICE_NAME=search-mcp
/// let exporter = OtlpExporter::start_global(OtlpConfig::from_env()?)?;
/// // ... serve tools ...
/// let mut exporter = exporter;
/// exporter.shutdown().ok(); // the last export, bounded by the timeout
/// # Ok::<(), monitor_core::OtlpError>(())
/// ```
#[derive(Debug)]
pub struct OtlpExporter {
    provider: SdkMeterProvider,
    health: Arc<ExportHealth>,
    url: String,
    shut_down: bool,
    _instruments: ToolInstruments,
}

impl OtlpExporter {
    /// Starts exporting `monitor`'s numbers.
    ///
    /// # Errors
    ///
    /// A malformed setting, or an exporter that could not be built.
    pub fn start(
        config: OtlpConfig,
        monitor: Arc<ToolExecutionMonitor>,
    ) -> Result<Self, OtlpError> {
        Self::with_source(config, Some(monitor))
    }

    /// Starts exporting the global monitor's numbers (what
    /// `#[monitored_tool]` records into by default), resolved at every
    /// export.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn start_global(config: OtlpConfig) -> Result<Self, OtlpError> {
        Self::with_source(config, None)
    }

    fn with_source(
        config: OtlpConfig,
        monitor: Option<Arc<ToolExecutionMonitor>>,
    ) -> Result<Self, OtlpError> {
        let url = config.metrics_url()?;
        let timeout = config.timeout.unwrap_or(DEFAULT_OTLP_TIMEOUT);
        let exporter = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(timeout)
            .with_headers(config.headers.iter().cloned().collect())
            .build()
            .map_err(|e| OtlpError::Build(e.to_string()))?;
        let health = Arc::new(ExportHealth::default());
        let counting = CountingExporter {
            inner: exporter,
            health: Arc::clone(&health),
            url: url.clone(),
        };
        let reader = PeriodicReader::builder(counting)
            .with_interval(config.interval.unwrap_or(DEFAULT_OTLP_INTERVAL))
            .build();
        let mut resource = Resource::builder();
        if let Some(name) = config.service_name {
            resource = resource.with_service_name(name);
        }
        let provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource.build())
            .build();
        let meter = provider.meter("monitor-core");
        let instruments = register_instruments(&meter, monitor);
        Ok(Self {
            provider,
            health,
            url,
            shut_down: false,
            _instruments: instruments,
        })
    }

    /// The URL exports are posted to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Exports that were attempted, failed ones included.
    #[must_use]
    pub fn exports(&self) -> u64 {
        self.health.exports.load(Ordering::Relaxed)
    }

    /// Exports that failed (unreachable collector, an error status, a
    /// timeout).
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.health.failures.load(Ordering::Relaxed)
    }

    /// The last failure's message.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.health
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Exports now, waiting for the answer.
    ///
    /// # Errors
    ///
    /// The export failed (it is counted in [`failures`](Self::failures) too).
    pub fn flush(&self) -> Result<(), String> {
        self.provider.force_flush().map_err(|e| e.to_string())
    }

    /// Exports one last time and stops; later calls, and the drop, do
    /// nothing. Returns within two export timeouts (one for an export in
    /// flight, one for the last), and never later than the SDK's own bound
    /// of 5 s, however the collector behaves. Dropping the exporter does the
    /// same; this reports the error, and [`failures`](Self::failures) counts
    /// the last export afterwards.
    ///
    /// # Errors
    ///
    /// The last export failed or did not finish in time.
    pub fn shutdown(&mut self) -> Result<(), String> {
        if std::mem::replace(&mut self.shut_down, true) {
            return Ok(());
        }
        self.provider.shutdown().map_err(|e| e.to_string())
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_standard_variables_configure_the_exporter() {
        let config = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=s%3Dcret, x-team = tools",
            ),
            ("OTEL_SERVICE_NAME", "search"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
        ]))
        .unwrap();
        assert_eq!(
            config.metrics_url().unwrap(),
            "http://collector:4318/v1/metrics"
        );
        assert_eq!(
            config.headers,
            [
                ("api-key".to_owned(), "s=cret".to_owned()),
                ("x-team".to_owned(), "tools".to_owned())
            ]
        );
        assert_eq!(config.interval, Some(Duration::from_millis(1500)));
        assert!(
            !format!("{config:?}").contains("cret"),
            "header values stay out of Debug"
        );

        let signal = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "https://metrics.example/otlp",
            ),
        ]))
        .unwrap();
        assert_eq!(
            signal.metrics_url().unwrap(),
            "https://metrics.example/otlp"
        );
        assert_eq!(
            OtlpConfig::new().metrics_url().unwrap(),
            "http://localhost:4318/v1/metrics"
        );
    }

    #[test]
    fn malformed_settings_are_clear_errors_that_hide_secrets() {
        let error = OtlpConfig::from_vars(vars(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "api-key=ok,Bearer abc123",
        )]))
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{text}");
        assert!(text.contains("is not key=value"), "{text}");
        let error = OtlpConfig::from_vars(vars(&[("OTEL_EXPORTER_OTLP_HEADERS", "api-key=%zz")]))
            .unwrap_err();
        assert!(!error.to_string().contains("%zz"), "{error}");
        assert!(OtlpConfig::from_vars(vars(&[("OTEL_METRIC_EXPORT_INTERVAL", "soon")])).is_err());
        assert!(
            OtlpConfig::new()
                .endpoint("collector:4318")
                .metrics_url()
                .is_err()
        );
        assert!(OtlpConfig::new().endpoint("http://").metrics_url().is_err());
    }

    #[test]
    #[allow(clippy::cast_precision_loss, clippy::float_cmp)] // small exact values
    fn replayed_values_keep_every_bucket_and_the_exact_sum() {
        let mut new = [0_u64; DURATION_BUCKET_COUNT];
        new[0] = 3; // <= 1 ms
        new[3] = 2; // (10, 50] ms
        new[9] = 1; // > 10 s
        let sum = 3 * 400_000 + 2 * 20_000_000 + 12_000_000_000;
        let values = replay_values(&new, sum);
        let bounds = duration_bounds_seconds();
        let mut total = 0.0;
        for (i, (count, value)) in values.iter().enumerate() {
            assert_eq!(*count, new[i]);
            if *count > 0 {
                assert!(i == 0 || value > &bounds[i - 1], "bucket {i}: {value}");
                assert!(i == 9 || value <= &bounds[i], "bucket {i}: {value}");
            }
            total += *count as f64 * value;
        }
        assert!((total - sum as f64 / 1e9).abs() < 1e-6, "{total}");
        // A sum too small for the buckets (it cannot be, but a torn read
        // could say so) leaves every value at its bucket's floor.
        let floor = replay_values(&new, 0);
        assert_eq!(floor[3].1, 0.010_000_001);
    }
}
