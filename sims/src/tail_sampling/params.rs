//! `TailSamplingParams`: the scenario's `[params]` for `sim = "tail_sampling"`.

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::config::{self, TailConfig};
use super::policy::{InvertMode, Semantics};
use crate::params::{ParamsError, require_non_negative, require_positive, require_probability};
use crate::room::Validate;

/// Traffic, instrumentation, collector and storage assumptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TailSamplingParams {
    /// Collector config: a YAML file (a whole collector config or the tail_sampling block),
    /// relative to the directory `lab` runs in, or `builtin:article-01` (the default), the
    /// article's config compiled into the lab.
    pub config: String,
    /// Inline YAML instead of `config` (handy for tests and quick variants).
    pub config_yaml: Option<String>,
    /// Collector version; picks the invert mode (plain from 0.144.0) and the latency boundary
    /// (exclusive from 0.157.0). Default 0.150.0, current when the article appeared (assumed).
    pub collector_version: String,
    /// Overrides the invert mode the version implies.
    pub invert_mode: Option<InvertMode>,
    /// Requests per minute, one trace each. Default 10,000 (article).
    pub rpm: f64,
    /// Share of requests that are /health, /ready or /metrics probes. Default 0.01 (assumed).
    pub probe_share: f64,
    /// Probe paths, used in turn. Default the article's three.
    pub probe_paths: Vec<String>,
    /// Business paths, equally likely (assumed). Add one like `/api/v1/healthcare/claims` to
    /// see the unanchored regex catch real traffic.
    pub business_paths: Vec<String>,
    /// Attribute key instrumentation emits the path under: `http.target` (old semconv) or
    /// `url.path` (stable HTTP semconv: Java agent 2.x). Default `http.target`.
    pub attribute_key: String,
    /// Share of business requests that fail (span status ERROR). Default 0.01 (assumed).
    pub error_rate: f64,
    /// Share of errors recorded on a child span (a failed dependency call) rather than the root.
    pub child_error_share: f64,
    /// Probe error rate. Default 0.001 (assumed).
    pub probe_error_rate: f64,
    /// Median business request duration, ms. Default 80 (assumed).
    pub latency_median_ms: f64,
    /// Lognormal σ of business durations; 1.2 puts ~0.4% above 2 s (assumed).
    pub latency_sigma: f64,
    /// Probe duration, ms. Default 2.
    pub probe_latency_ms: f64,
    /// Requests at or above this duration count as "slow" in the metrics. Default 2000 (article).
    pub slow_threshold_ms: f64,
    /// Mean spans per business trace. Default 10 (assumed).
    pub spans_per_trace: f64,
    /// SDK BatchSpanProcessor export interval, s. Default 5 (OTel SDK default).
    pub export_interval_s: f64,
    /// In-memory bytes per buffered span. Default 1500 (research estimate, 1-2 KB).
    pub buffer_bytes_per_span: f64,
    /// Stored bytes per span in the backend. Default 200 (assumed; research illustration).
    pub stored_bytes_per_span: f64,
    /// Retention, days. Default 30 (assumed).
    pub retention_days: f64,
    /// Object storage price, $/GB-month. Default 0.023 (S3 Standard list price).
    pub storage_usd_per_gb_month: f64,
    /// Log volume kept beside the traces (Loki), GB. Default 0 (not modelled; the scenario
    /// sets the article's figure).
    pub log_gb_month: f64,
    /// Vendor ingest price, $/million spans. Default 31 (article).
    pub vendor_usd_per_million_spans: f64,
    /// Simulated hours; per-day metrics are scaled to 24 h. Default 24.
    pub sim_hours: f64,
    /// OTLP protobuf bytes per span, the size `bytes_limiting` counts. Default 400 (assumed).
    pub otlp_bytes_per_span: f64,
    /// The W3C tracestate a share of traces carries on every span (set at the edge and
    /// propagated), e.g. `tenant=gold`. Default empty (none).
    pub trace_state: String,
    /// Share of traces that carry `trace_state`. Default 0.
    pub trace_state_share: f64,
    /// The collector config read and parsed once per point ([`TailSamplingParams::load`]),
    /// shared by the point's replications.
    #[serde(skip)]
    pub(crate) loaded: Option<Loaded>,
}

/// A parsed collector config and the rules of its version.
#[derive(Debug, Clone)]
pub(crate) struct Loaded(pub(crate) Arc<(TailConfig, Semantics)>);

impl PartialEq for Loaded {
    /// Derived from the other fields, so it never tells two params apart.
    fn eq(&self, _: &Loaded) -> bool {
        true
    }
}

impl Default for TailSamplingParams {
    fn default() -> Self {
        TailSamplingParams {
            config: BUILTIN_ARTICLE.into(),
            config_yaml: None,
            collector_version: "0.150.0".into(),
            invert_mode: None,
            rpm: 10_000.0,
            probe_share: 0.01,
            probe_paths: vec!["/health".into(), "/ready".into(), "/metrics".into()],
            business_paths: vec![
                "/api/orders".into(),
                "/api/checkout".into(),
                "/api/search".into(),
                "/api/users".into(),
            ],
            attribute_key: "http.target".into(),
            error_rate: 0.01,
            child_error_share: 0.2,
            probe_error_rate: 0.001,
            latency_median_ms: 80.0,
            latency_sigma: 1.2,
            probe_latency_ms: 2.0,
            slow_threshold_ms: 2000.0,
            spans_per_trace: 10.0,
            export_interval_s: 5.0,
            buffer_bytes_per_span: 1500.0,
            stored_bytes_per_span: 200.0,
            retention_days: 30.0,
            storage_usd_per_gb_month: 0.023,
            log_gb_month: 0.0,
            vendor_usd_per_million_spans: 31.0,
            sim_hours: 24.0,
            otlp_bytes_per_span: 400.0,
            trace_state: String::new(),
            trace_state_share: 0.0,
            loaded: None,
        }
    }
}

/// The name of the article's config compiled into the lab.
const BUILTIN_ARTICLE: &str = "builtin:article-01";
const ARTICLE_YAML: &str = include_str!("../../../datasets/otel/article-01.yaml");

/// `X.Y.Z` as a comparable triple.
pub fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let v = v.trim().trim_start_matches('v');
    let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
    let t = (it.next()??, it.next()??, it.next().flatten().unwrap_or(0));
    Some(t)
}

/// The rules a collector version implies, with an optional invert-mode override.
pub fn semantics(version: (u32, u32, u32), invert: Option<InvertMode>) -> Semantics {
    Semantics {
        invert: invert.unwrap_or(if version >= (0, 144, 0) {
            InvertMode::Plain
        } else {
            InvertMode::Legacy
        }),
        latency_lower_inclusive: version < (0, 157, 0),
        // PR #48226 merged 2026-05-12; the first release after it on the two-weekly
        // cadence is v0.152.0 (inferred, not read off a changelog).
        rate_limit_token_bucket: version >= (0, 152, 0),
        // PR #49857 opened 2026-07-23; assumed first released in v0.158.0 (inferred).
        composite_equal_share: version >= (0, 158, 0),
    }
}

impl TailSamplingParams {
    /// Reads and parses the collector config (once per point: the room's `prepare`).
    pub(crate) fn load(&mut self) -> Result<(), ParamsError> {
        let text = self.config_text()?;
        let cfg = config::parse(&text).map_err(|e| ParamsError::Invalid {
            path: if self.config_yaml.is_some() {
                "config_yaml".into()
            } else {
                "config".into()
            },
            message: format!(
                "{}: {e}",
                if self.config_yaml.is_some() {
                    "inline config"
                } else {
                    self.config.as_str()
                }
            ),
        })?;
        let version = parse_version(&self.collector_version).ok_or_else(|| {
            ParamsError::out_of_range(
                "collector_version",
                &self.collector_version,
                "a version like 0.150.0",
            )
        })?;
        // The day's synthetic spans carry no per-span timestamps an OTTL condition could read.
        if let Some(p) = super::routes::ottl_reading_time(&cfg) {
            return Err(ParamsError::Invalid {
                path: "config".into(),
                message: format!(
                    "policy `{p}`: OTTL conditions on span or event timestamps are not modelled in the day-long simulation (lab tail-sampling decide evaluates them)"
                ),
            });
        }
        self.loaded = Some(Loaded(Arc::new((
            cfg,
            semantics(version, self.invert_mode),
        ))));
        Ok(())
    }

    /// The YAML text of the collector config.
    pub fn config_text(&self) -> Result<String, ParamsError> {
        match &self.config_yaml {
            Some(y) => Ok(y.clone()),
            None if self.config == BUILTIN_ARTICLE => Ok(ARTICLE_YAML.to_string()),
            None => std::fs::read_to_string(&self.config).map_err(|e| ParamsError::Invalid {
                path: "config".into(),
                message: format!(
                    "cannot read `{}`: {e} (paths are relative to the directory lab runs in)",
                    self.config
                ),
            }),
        }
    }
}

impl Validate for TailSamplingParams {
    /// Range checks.
    fn validate(&self) -> Result<(), ParamsError> {
        if parse_version(&self.collector_version).is_none() {
            return Err(ParamsError::out_of_range(
                "collector_version",
                &self.collector_version,
                "a version like 0.150.0",
            ));
        }
        require_positive("rpm", self.rpm)?;
        if self.rpm > 1e7 {
            return Err(ParamsError::out_of_range(
                "rpm",
                self.rpm,
                "at most 10 million requests per minute",
            ));
        }
        require_probability("probe_share", self.probe_share)?;
        require_probability("error_rate", self.error_rate)?;
        require_probability("child_error_share", self.child_error_share)?;
        require_probability("probe_error_rate", self.probe_error_rate)?;
        if self.probe_share > 0.0 && self.probe_paths.is_empty() {
            return Err(ParamsError::out_of_range(
                "probe_paths",
                "[]",
                "at least one path when probe_share > 0",
            ));
        }
        if self.probe_share < 1.0 && self.business_paths.is_empty() {
            return Err(ParamsError::out_of_range(
                "business_paths",
                "[]",
                "at least one path",
            ));
        }
        if self.attribute_key.is_empty() {
            return Err(ParamsError::out_of_range(
                "attribute_key",
                "\"\"",
                "an attribute key such as http.target or url.path",
            ));
        }
        require_positive("latency_median_ms", self.latency_median_ms)?;
        require_non_negative("latency_sigma", self.latency_sigma)?;
        if self.latency_sigma > 4.0 {
            return Err(ParamsError::out_of_range(
                "latency_sigma",
                self.latency_sigma,
                "at most 4 (a wider lognormal puts requests at days)",
            ));
        }
        if self.latency_median_ms > 3.6e6 || self.probe_latency_ms > 3.6e6 {
            return Err(ParamsError::out_of_range(
                "latency_median_ms",
                self.latency_median_ms.max(self.probe_latency_ms),
                "request durations up to an hour",
            ));
        }
        require_non_negative("probe_latency_ms", self.probe_latency_ms)?;
        require_positive("slow_threshold_ms", self.slow_threshold_ms)?;
        if !(self.spans_per_trace >= 1.0 && self.spans_per_trace <= 10_000.0) {
            return Err(ParamsError::out_of_range(
                "spans_per_trace",
                self.spans_per_trace,
                "1 to 10,000 spans",
            ));
        }
        require_positive("export_interval_s", self.export_interval_s)?;
        if self.export_interval_s > 3600.0 {
            return Err(ParamsError::out_of_range(
                "export_interval_s",
                self.export_interval_s,
                "at most 3600 s",
            ));
        }
        require_non_negative("buffer_bytes_per_span", self.buffer_bytes_per_span)?;
        require_non_negative("otlp_bytes_per_span", self.otlp_bytes_per_span)?;
        if self.otlp_bytes_per_span > 1e7 {
            return Err(ParamsError::out_of_range(
                "otlp_bytes_per_span",
                self.otlp_bytes_per_span,
                "at most 10 MB per span",
            ));
        }
        require_probability("trace_state_share", self.trace_state_share)?;
        require_non_negative("stored_bytes_per_span", self.stored_bytes_per_span)?;
        require_non_negative("retention_days", self.retention_days)?;
        require_non_negative("storage_usd_per_gb_month", self.storage_usd_per_gb_month)?;
        require_non_negative(
            "vendor_usd_per_million_spans",
            self.vendor_usd_per_million_spans,
        )?;
        if !(self.sim_hours > 0.0 && self.sim_hours <= 24.0 * 31.0) {
            return Err(ParamsError::out_of_range(
                "sim_hours",
                self.sim_hours,
                "0 < hours ≤ 744",
            ));
        }
        Ok(())
    }
}
