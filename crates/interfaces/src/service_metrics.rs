//! What `correlation-service` exposes on `/metrics` (Prometheus / OpenMetrics text, with
//! the Prometheus project's own client library): observations in per source, replays,
//! undecodable messages, consumer lag, analysis passes and their latency, insights out
//! and current per pattern, and alert deliveries.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tapio_domain::{Insight, Observation};
use tapio_integrations::alerts::NotifyStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PatternLabel {
    pattern: String,
}

/// The service's metrics.
pub struct ServiceMetrics {
    registry: Registry,
    consumed: Family<SourceLabel, Counter>,
    replayed: Counter,
    undecodable: Counter,
    pending: Gauge,
    elsewhere: Gauge,
    analyses: Counter,
    analysis_seconds: Histogram,
    insights_published: Counter,
    insights_current: Family<PatternLabel, Gauge>,
    alerts_sent: Counter,
    alerts_rate_limited: Counter,
    alerts_failed: Counter,
    last_undecodable: std::sync::atomic::AtomicU64,
    last_alerts: std::sync::Mutex<NotifyStats>,
}

/// The `source` label of an observation: the collector for events, else what it is.
fn source_of(o: &Observation) -> &'static str {
    match o {
        Observation::Event(e) => e.source.as_str(),
        Observation::Entity(_) | Observation::EntityGone { .. } => "topology",
        Observation::Metric(_) => "metric",
        Observation::Span(_) => "span",
        Observation::Log(_) => "log",
    }
}

impl Default for ServiceMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tapio");
        let metrics = Self {
            consumed: Family::default(),
            replayed: Counter::default(),
            undecodable: Counter::default(),
            pending: Gauge::default(),
            elsewhere: Gauge::default(),
            analyses: Counter::default(),
            // 1 ms to about 65 s.
            analysis_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            insights_published: Counter::default(),
            insights_current: Family::default(),
            alerts_sent: Counter::default(),
            alerts_rate_limited: Counter::default(),
            alerts_failed: Counter::default(),
            last_undecodable: Default::default(),
            last_alerts: Default::default(),
            registry: Registry::default(),
        };
        registry.register(
            "observations_consumed",
            "Observations taken from the bus, by source",
            metrics.consumed.clone(),
        );
        registry.register(
            "observations_replayed",
            "Acknowledged observations replayed at start to rebuild state",
            metrics.replayed.clone(),
        );
        registry.register(
            "observations_undecodable",
            "Bus messages that were not observations (acknowledged and skipped)",
            metrics.undecodable.clone(),
        );
        registry.register(
            "consumer_pending_messages",
            "Messages on the bus not yet delivered to this replica (its lag)",
            metrics.pending.clone(),
        );
        registry.register(
            "observations_elsewhere",
            "Observations about namespaces of other partitions that this replica's engine left to them (it keeps their topology and changes)",
            metrics.elsewhere.clone(),
        );
        registry.register(
            "analyses",
            "Correlation and analysis passes",
            metrics.analyses.clone(),
        );
        registry.register(
            "analysis_duration_seconds",
            "Time one correlation and analysis pass takes",
            metrics.analysis_seconds.clone(),
        );
        registry.register(
            "insights_published",
            "Insights published to the insights stream (once per id)",
            metrics.insights_published.clone(),
        );
        registry.register(
            "insights_current",
            "Insights of the latest analysis, by pattern (the causal rule family that explains them)",
            metrics.insights_current.clone(),
        );
        registry.register(
            "alerts_sent",
            "Notifications delivered to alert sinks (one per incident and sink)",
            metrics.alerts_sent.clone(),
        );
        registry.register(
            "alerts_rate_limited",
            "Notifications held back by the rate limit (offered again later)",
            metrics.alerts_rate_limited.clone(),
        );
        registry.register(
            "alerts_failed",
            "Notifications a sink refused or could not take",
            metrics.alerts_failed.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }
}

impl ServiceMetrics {
    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// One observation taken from the bus.
    pub fn consumed(&self, o: &Observation) {
        self.consumed
            .get_or_create(&SourceLabel {
                source: source_of(o),
            })
            .inc();
    }

    pub fn replayed(&self, n: u64) {
        self.replayed.inc_by(n);
    }

    /// The subscriber's running count of undecodable messages.
    pub fn undecodable_total(&self, total: u64) {
        let before = self
            .last_undecodable
            .swap(total, std::sync::atomic::Ordering::Relaxed);
        self.undecodable.inc_by(total.saturating_sub(before));
    }

    pub fn pending(&self, n: u64) {
        self.pending.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// What the engine left to other partitions so far (since it was last rebuilt).
    pub fn elsewhere(&self, n: u64) {
        self.elsewhere.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// One analysis pass, its duration, and what it found.
    pub fn analysed(&self, seconds: f64, insights: &[Insight]) {
        self.analyses.inc();
        self.analysis_seconds.observe(seconds);
        self.insights_current.clear();
        for i in insights {
            self.insights_current
                .get_or_create(&PatternLabel {
                    pattern: i.pattern.clone(),
                })
                .inc();
        }
    }

    pub fn published(&self, insights: u64) {
        self.insights_published.inc_by(insights);
    }

    /// The notifier's running counts.
    pub fn alerts(&self, now: NotifyStats) {
        let Ok(mut last) = self.last_alerts.lock() else {
            return;
        };
        self.alerts_sent.inc_by(now.sent.saturating_sub(last.sent));
        self.alerts_rate_limited
            .inc_by(now.rate_limited.saturating_sub(last.rate_limited));
        self.alerts_failed
            .inc_by(now.failed.saturating_sub(last.failed));
        *last = now;
    }
}
