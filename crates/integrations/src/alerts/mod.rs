//! Alert sinks: an Alertmanager-compatible webhook (`POST /api/v2/alerts`) and a
//! Slack-compatible incoming webhook. [`Notifier`] sends each incident once (see
//! [`dedup`]) and at most at a bounded rate; what the rate limit holds back is counted,
//! never silently lost.

pub mod dedup;
mod payload;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tapio_domain::Insight;

use self::dedup::{Dedup, RateLimit};

/// Where notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Alertmanager's base URL (`http://alertmanager:9093`).
    Alertmanager(String),
    /// A Slack (or Mattermost, Rocket.Chat) incoming-webhook URL.
    Slack(String),
}

impl Sink {
    fn url(&self) -> String {
        match self {
            Self::Alertmanager(base) => format!("{}/api/v2/alerts", base.trim_end_matches('/')),
            Self::Slack(url) => url.clone(),
        }
    }
}

/// How notifications are paced.
#[derive(Debug, Clone)]
pub struct NotifyPolicy {
    /// An incident is announced again after this long.
    pub repeat_after: Duration,
    /// Notifications at once, per sink.
    pub burst: u32,
    /// Sustained notifications per minute, per sink.
    pub per_minute: u32,
    /// Only insights at least this confident are announced.
    pub min_confidence: f64,
    /// Link to the web UI put into notifications (`http://tapio:9091`).
    pub ui_url: Option<String>,
}

impl Default for NotifyPolicy {
    fn default() -> Self {
        Self {
            repeat_after: Duration::from_secs(4 * 3600),
            burst: 10,
            per_minute: 10,
            min_confidence: 0.5,
            ui_url: None,
        }
    }
}

/// What the notifier has done.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NotifyStats {
    pub sent: u64,
    /// Held back by the rate limit (the incident stays unannounced until the next pass).
    pub rate_limited: u64,
    /// The sink refused or could not be reached.
    pub failed: u64,
}

/// Why a sink did not take a notification.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{url}: {reason}")]
    Send { url: String, reason: String },
}

struct Target {
    sink: Sink,
    limit: RateLimit,
    dedup: Dedup,
}

/// Sends new incidents to every sink, once each.
pub struct Notifier {
    targets: Vec<Target>,
    policy: NotifyPolicy,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    pub stats: NotifyStats,
}

impl Notifier {
    pub fn new(sinks: Vec<Sink>, policy: NotifyPolicy) -> Self {
        let now = Instant::now();
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        http.enforce_http(false);
        // Real webhooks (Slack's among them) are https; the system's roots are trusted.
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let connector = match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider)
        {
            Ok(builder) => builder.https_or_http().enable_http1().wrap_connector(http),
            // No readable system roots: plain http sinks still work, https ones fail
            // with the reason when used.
            Err(_) => HttpsConnectorBuilder::new()
                .with_tls_config(
                    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                        rustls::crypto::ring::default_provider(),
                    ))
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default protocol versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
                )
                .https_or_http()
                .enable_http1()
                .wrap_connector(http),
        };
        Self {
            targets: sinks
                .into_iter()
                .map(|sink| Target {
                    sink,
                    limit: RateLimit::new(policy.burst, policy.per_minute, now),
                    dedup: Dedup::new(policy.repeat_after),
                })
                .collect(),
            client: Client::builder(TokioExecutor::new()).build(connector),
            policy,
            stats: NotifyStats::default(),
        }
    }

    /// Whether any sink is configured.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Records these insights' incidents as announced to every sink, without sending
    /// anything: a replica that takes over a partition was not the one that announced what
    /// the partition had already found.
    pub fn already_announced(&mut self, insights: &[Insight]) {
        let now = Instant::now();
        for target in &mut self.targets {
            for insight in insights {
                if insight.confidence >= self.policy.min_confidence {
                    target.dedup.admit(insight, now);
                }
            }
        }
    }

    /// Offers the insights of an analysis; each incident not yet announced to a sink is
    /// sent to it, within its rate. Failures are counted and returned; the incident is
    /// then offered again on the next call.
    pub async fn offer(&mut self, insights: &[Insight]) -> Vec<AlertError> {
        let mut errors = Vec::new();
        let candidates: Vec<&Insight> = insights
            .iter()
            .filter(|i| i.confidence >= self.policy.min_confidence)
            .collect();
        for t in 0..self.targets.len() {
            for insight in &candidates {
                let now = Instant::now();
                let target = &mut self.targets[t];
                if !target.dedup.admit(insight, now) {
                    continue;
                }
                if !target.limit.take(now) {
                    target.dedup.forget(insight);
                    self.stats.rate_limited += 1;
                    continue;
                }
                let body = match &target.sink {
                    Sink::Alertmanager(_) => payload::alertmanager(insight, &self.policy),
                    Sink::Slack(_) => payload::slack(insight, &self.policy),
                };
                let url = target.sink.url();
                match self.post(&url, body).await {
                    Ok(()) => self.stats.sent += 1,
                    Err(reason) => {
                        self.targets[t].dedup.forget(insight);
                        self.stats.failed += 1;
                        errors.push(AlertError::Send { url, reason });
                    }
                }
            }
        }
        errors
    }

    async fn post(&self, url: &str, body: String) -> Result<(), String> {
        let req = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let send = self.client.request(req);
        let resp = tokio::time::timeout(Duration::from_secs(10), send)
            .await
            .map_err(|_| "no answer within 10 s".to_owned())?
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", resp.status()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insight(id: &str, confidence: f64) -> Insight {
        serde_json::from_value(serde_json::json!({
            "id": id, "pattern": "p", "confidence": confidence, "summary": id,
            "root_cause": {"kind": "ConfigChange",
                           "entity": {"kind": "ConfigMap", "namespace": "shop", "name": id},
                           "at": "2026-01-01T00:00:00Z"},
            "symptom": {"kind": "OOMKilled",
                        "entity": {"kind": "Pod", "namespace": "shop", "name": "p"},
                        "at": "2026-01-01T00:01:00Z"},
            "chain": []
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn what_was_already_announced_is_not_sent_again() {
        // Nothing listens on port 9 (discard): any send would fail and be reported.
        let sinks = vec![Sink::Alertmanager("http://127.0.0.1:9".into())];
        let mut notifier = Notifier::new(sinks, NotifyPolicy::default());
        notifier.already_announced(&[insight("known", 0.8)]);
        assert!(notifier.offer(&[insight("known", 0.8)]).await.is_empty());
        assert_eq!(notifier.stats.sent + notifier.stats.failed, 0);
        // A new incident is still sent (and fails here, which shows it was tried).
        assert_eq!(notifier.offer(&[insight("new", 0.8)]).await.len(), 1);
        assert_eq!(notifier.stats.failed, 1);
    }
}
