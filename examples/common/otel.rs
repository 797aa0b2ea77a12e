//! `--otlp URL` for the examples: tool metrics through monitor-core's
//! `OtlpExporter` and `execute_tool` spans through `tracing-opentelemetry`,
//! both over OTLP/HTTP to `URL` (a collector's base, e.g.
//! `http://127.0.0.1:4318`). Without the flag, the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` turns both on. Needs the workspace's `otel`
//! feature: `cargo run --features otel --example agent -- --otlp URL`.

/// What runs while the example does; dropped (or [`Otel::shutdown`]) it
/// exports one last time, so a short run still delivers every call.
#[cfg(feature = "otel")]
pub(crate) struct Otel {
    metrics: monitor_core::OtlpExporter,
    traces: opentelemetry_sdk::trace::SdkTracerProvider,
}

#[cfg(feature = "otel")]
impl Otel {
    /// Starts both exporters if `endpoint` is given or the environment
    /// names a collector; `Ok(None)` if neither.
    pub(crate) fn start(endpoint: Option<&str>, service: &str) -> Result<Option<Self>, String> {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_otlp::WithExportConfig as _;
        use tracing_subscriber::layer::SubscriberExt as _;

        let mut config = monitor_core::OtlpConfig::from_env().map_err(|e| e.to_string())?;
        let from_env = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || std::env::var_os("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").is_some();
        match endpoint {
            Some(url) => config = config.endpoint(url),
            None if from_env => {}
            None => return Ok(None),
        }
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            config = config.service_name(service);
        }
        let metrics =
            monitor_core::OtlpExporter::start_global(config).map_err(|e| e.to_string())?;
        let base = metrics.url().trim_end_matches("/v1/metrics").to_owned();
        let mut spans = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(monitor_core::DEFAULT_OTLP_TIMEOUT);
        if std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none() {
            spans = spans.with_endpoint(format!("{base}/v1/traces"));
        }
        let spans = spans.build().map_err(|e| e.to_string())?;
        let service_name =
            std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
        let traces = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(service_name)
                    .build(),
            )
            .build();
        let layer =
            tracing_opentelemetry::layer().with_tracer(traces.tracer("monitor-core-example"));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .map_err(|e| e.to_string())?;
        eprintln!(
            "exporting metrics to {} and spans to {base}/v1/traces",
            metrics.url()
        );
        Ok(Some(Self { metrics, traces }))
    }

    /// Exports the last spans and numbers; reports what failed on stderr.
    pub(crate) fn shutdown(mut self) {
        if let Err(error) = self.traces.shutdown() {
            eprintln!("OTLP spans: {error}");
        }
        if let Err(error) = self.metrics.shutdown() {
            eprintln!("OTLP metrics: {error}");
        }
        eprintln!(
            "OTLP metrics: {} export(s), {} failed",
            self.metrics.exports(),
            self.metrics.failures()
        );
    }
}

/// Without the `otel` feature: `--otlp` is refused with the reason.
#[cfg(not(feature = "otel"))]
pub(crate) struct Otel;

#[cfg(not(feature = "otel"))]
impl Otel {
    pub(crate) fn start(endpoint: Option<&str>, _service: &str) -> Result<Option<Self>, String> {
        match endpoint {
            Some(_) => Err(
                "--otlp needs the `otel` feature: cargo run --features otel --example …".to_owned(),
            ),
            None => Ok(None),
        }
    }

    #[allow(clippy::unused_self)] // the same call as with the feature
    pub(crate) fn shutdown(self) {}
}
