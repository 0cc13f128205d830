//! The correlation service: consumes the events stream, runs correlation and analysis,
//! publishes insights to the insights stream, and serves health, metrics and the current
//! insights over HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::Timestamp;
use tapio_domain::{Insight, InsightReport, Stats};
use tapio_integrations::alerts::{Notifier, NotifyPolicy, Sink};
use tapio_integrations::bus::nats::{InsightFollower, NatsBusConfig, NatsSubscriber};
use tapio_intelligence::Engine;

use crate::grpc_api::{self, TopologyQuery};
use crate::http_api::{self, ApiState};
use crate::news::InsightNews;
use crate::service_metrics::ServiceMetrics;
use crate::tls::TlsFiles;

/// How long a fetch waits for messages.
const FETCH_WAIT: Duration = Duration::from_millis(500);
/// Longest time between analyses while observations keep arriving (otherwise the service
/// analyses whenever the stream pauses): a steady stream must not hold insights back.
const ANALYSE_AT_LEAST_EVERY: Duration = Duration::from_secs(5);

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub bus: NatsBusConfig,
    /// Durable consumer name prefix (replicas of one partition share `<durable>-p<partition>`).
    pub durable: String,
    /// The namespace partition consumed (of `bus.partitions`).
    pub partition: u32,
    /// HTTP address for the UI, the insights API, /metrics and /healthz (`None`: no HTTP).
    pub listen: Option<SocketAddr>,
    /// Bearer token the APIs require (`None`: open, which only loopback allows).
    pub token: Option<String>,
    /// gRPC API address (`None`: no gRPC).
    pub grpc_listen: Option<SocketAddr>,
    /// Serve both APIs over TLS with this certificate and key.
    pub tls: Option<TlsFiles>,
    /// Where new incidents are announced, and how often.
    pub alerts: Vec<Sink>,
    pub alert_policy: NotifyPolicy,
    /// Stop after the stream has been drained and idle this long (for batch runs and tests).
    pub exit_when_idle: Option<Duration>,
}

/// Insights the replicas of every partition published, by id (followed from the
/// insights stream) with the partition that published each, and how often that set
/// changed.
#[derive(Default)]
struct ClusterInsights {
    by_id: std::collections::HashMap<String, (Option<u32>, Insight)>,
    version: u64,
}

/// Follows the insights stream into `into` for as long as the service runs, reconnecting
/// after errors.
async fn follow_insights(bus: NatsBusConfig, into: Arc<std::sync::Mutex<ClusterInsights>>) {
    loop {
        match InsightFollower::connect(&bus).await {
            Ok(mut follower) => {
                while let Some(next) = follower.next().await {
                    match next {
                        Ok(published) => {
                            let mut all = into.lock().unwrap_or_else(|e| e.into_inner());
                            let id = published.insight.id.clone();
                            all.by_id
                                .insert(id, (published.partition, published.insight));
                            all.version += 1;
                        }
                        Err(e) => {
                            eprintln!("correlation-service: {e}");
                            break;
                        }
                    }
                }
            }
            Err(e) => eprintln!("correlation-service: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// This replica's insights and those of the stream it does not hold, best first. An
/// active replica (`analysing` its partition) leaves out what its own partition published
/// before: its current analysis supersedes that (an insight whose root changed has a new
/// id). A standby, analysing nothing yet, shows its partition's published insights too.
fn with_other_partitions(
    own: &[Insight],
    all: &ClusterInsights,
    analysing: Option<u32>,
) -> Vec<Insight> {
    let mut others: Vec<Insight> = all
        .by_id
        .values()
        .filter(|(p, _)| analysing.is_none() || *p != analysing)
        .map(|(_, i)| i)
        .filter(|i| own.iter().all(|o| o.id != i.id))
        .cloned()
        .collect();
    if others.is_empty() {
        return own.to_vec();
    }
    others.extend(own.iter().cloned());
    others.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.id.cmp(&b.id))
    });
    others
}

/// Runs the service until `exit_when_idle` ends it or Ctrl-C / SIGTERM stops it (handing
/// its partition to a standby replica at once); returns the last report of this replica's
/// own analysis. Its APIs serve the whole cluster's insights: its own, and those the other
/// partitions published to the insights stream.
pub async fn run(options: ServiceOptions) -> Result<InsightReport> {
    let stop = crate::live::stop_after(None);
    tokio::pin!(stop);
    let metrics = Arc::new(ServiceMetrics::default());
    let api = {
        let metrics = Arc::clone(&metrics);
        ApiState::new(options.token.clone(), Box::new(move || metrics.render()))
    };
    // Listeners are bound before anything starts, so that a taken port stops the service.
    let bind = |addr: SocketAddr| -> Result<std::net::TcpListener> {
        anyhow::ensure!(
            options.token.is_some() || !http_api::needs_token(&addr),
            "{addr} is reachable beyond this machine: give the APIs a token (--token-file or TAPIO_API_TOKEN)"
        );
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))
    };
    let http_listener = options.listen.map(bind).transpose()?;
    let grpc_listener = options.grpc_listen.map(bind).transpose()?;
    if let Some(listener) = http_listener {
        let (api, tls) = (Arc::clone(&api), options.tls.clone());
        tokio::spawn(async move {
            if let Err(e) = http_api::serve(listener, api, tls).await {
                eprintln!("correlation-service: {e:#}");
            }
        });
    }
    let (topology_tx, mut topology_rx) = tokio::sync::mpsc::channel::<TopologyQuery>(64);
    if let Some(listener) = grpc_listener {
        let (api, token, bus) = (Arc::clone(&api), options.token.clone(), options.bus.clone());
        let tls = options.tls.clone();
        tokio::spawn(async move {
            if let Err(e) = grpc_api::serve(listener, api, token, topology_tx, bus, tls).await {
                eprintln!("correlation-service: {e:#}");
            }
        });
    }
    let mut subscriber =
        NatsSubscriber::connect(&options.bus, &options.durable, options.partition).await?;
    let mut engine = Engine::new();
    let mut dirty = false;
    let mut idle_since = Instant::now();
    let mut analysed_at = Instant::now();
    // The API serves the whole cluster: other partitions' insights come from the stream.
    let cluster = Arc::new(std::sync::Mutex::new(ClusterInsights::default()));
    tokio::spawn(follow_insights(options.bus.clone(), Arc::clone(&cluster)));
    let mut cluster_seen = 0;
    let mut news = InsightNews::default();
    let mut notifier = Notifier::new(options.alerts.clone(), options.alert_policy.clone());
    let mut last = InsightReport::default();
    let mut consumed = 0;
    loop {
        let fetched = tokio::select! {
            biased;
            () = &mut stop => {
                subscriber.release().await?;
                return Ok(last);
            }
            fetched = subscriber.fetch(FETCH_WAIT) => fetched?,
        };
        if fetched.history_missed {
            // Taking the partition over (or restarting): the state is what the
            // acknowledged history implies, rebuilt from scratch so nothing counts twice.
            engine = Engine::new();
            let replayed = subscriber.replay_acknowledged(|o| engine.ingest(o)).await?;
            metrics.replayed(replayed);
            consumed = replayed;
        }
        let batch = fetched.deliveries;
        // Questions about the topology are answered between batches.
        while let Ok(query) = topology_rx.try_recv() {
            let edges = engine
                .topology()
                .neighbourhood(&query.entity, Timestamp::now());
            let _ = query.reply.send(edges);
        }
        metrics.undecodable_total(subscriber.undecodable);
        if !batch.is_empty() {
            for delivery in batch {
                metrics.consumed(&delivery.observation);
                consumed += 1;
                let (observation, ack) = delivery.into_parts();
                engine.ingest(observation);
                // Acknowledged only once the engine holds it.
                ack.ack().await?;
            }
            dirty = true;
            idle_since = Instant::now();
            if analysed_at.elapsed() < ANALYSE_AT_LEAST_EVERY {
                continue;
            }
        }
        let analysing_now = dirty;
        if dirty {
            let started = Instant::now();
            analysed_at = started;
            let insights = engine.analyze();
            metrics.analysed(started.elapsed().as_secs_f64(), &insights);
            for insight in &insights {
                if subscriber.publish_insight(insight).await? {
                    metrics.published();
                }
            }
            metrics.pending(subscriber.pending().await?);
            let stats = engine.stats();
            let report = InsightReport {
                insights,
                stats: Stats {
                    // Observations taken from the bus (there are no lines here).
                    lines: consumed,
                    rejected: 0,
                    events: stats.events,
                    entities: stats.entities,
                    elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                },
            };
            if !notifier.is_empty() {
                for e in notifier.offer(&report.insights).await {
                    eprintln!("correlation-service: alert not delivered: {e}");
                }
                metrics.alerts(notifier.stats);
            }
            last = report;
            dirty = false;
        }
        // The API's view: this partition's insights and the other partitions', renewed
        // after an analysis or when the insights stream brought something.
        let view = {
            let all = cluster.lock().unwrap_or_else(|e| e.into_inner());
            (analysing_now || all.version != cluster_seen).then(|| {
                cluster_seen = all.version;
                let analysing = (consumed > 0).then_some(options.partition);
                with_other_partitions(&last.insights, &all, analysing)
            })
        };
        if let Some(insights) = view {
            let view = InsightReport {
                insights,
                stats: last.stats.clone(),
            };
            let changed: Vec<Insight> = news.changed(&view.insights).into_iter().cloned().collect();
            api.publish(view, &changed);
        }
        if let Some(idle) = options.exit_when_idle {
            if idle_since.elapsed() >= idle && subscriber.pending().await? == 0 {
                return Ok(last);
            }
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
                           "entity": {"kind": "ConfigMap", "namespace": "shop", "name": "c"},
                           "at": "2026-01-01T00:00:00Z"},
            "symptom": {"kind": "OOMKilled",
                        "entity": {"kind": "Pod", "namespace": "shop", "name": "p"},
                        "at": "2026-01-01T00:01:00Z"},
            "chain": []
        }))
        .unwrap()
    }

    fn published(all: &[(u32, &str, f64)]) -> ClusterInsights {
        ClusterInsights {
            by_id: all
                .iter()
                .map(|&(p, id, c)| (id.to_owned(), (Some(p), insight(id, c))))
                .collect(),
            version: 1,
        }
    }

    fn ids(v: &[Insight]) -> Vec<&str> {
        v.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn an_active_replica_shows_its_analysis_and_the_other_partitions_best_first() {
        // Partition 0 published "old" earlier; its current analysis says "new" instead.
        let stream = published(&[(0, "old", 0.9), (0, "new", 0.8), (1, "theirs", 0.85)]);
        let own = [insight("new", 0.8)];
        assert_eq!(
            ids(&with_other_partitions(&own, &stream, Some(0))),
            ["theirs", "new"]
        );
        // A standby of partition 0 analyses nothing: it shows what was published.
        assert_eq!(
            ids(&with_other_partitions(&[], &stream, None)),
            ["old", "theirs", "new"]
        );
        // Nothing from elsewhere: the replica's own order is kept.
        let alone = published(&[(0, "a", 0.5)]);
        let own = [insight("a", 0.5), insight("b", 0.7)];
        assert_eq!(
            ids(&with_other_partitions(&own, &alone, Some(0))),
            ["a", "b"]
        );
    }
}
