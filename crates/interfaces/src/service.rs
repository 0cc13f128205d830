//! The correlation service: consumes the events stream, runs correlation and analysis,
//! publishes insights to the insights stream, and serves health, metrics and the current
//! insights over HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::Timestamp;
use tapio_domain::{Insight, InsightReport, Partition, Stats};
use tapio_integrations::alerts::{Notifier, NotifyPolicy, Sink};
use tapio_integrations::bus::nats::{
    InsightFollower, InsightMessage, NatsBusConfig, NatsSubscriber,
};
use tapio_intelligence::analysis::merge_partitions;
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

/// The insights the replicas of every partition published (followed from the insights
/// stream) that are still part of their partition's analysis, by partition and id, and
/// how often that changed.
#[derive(Default)]
struct ClusterInsights {
    by_partition: std::collections::HashMap<(Option<u32>, String), Insight>,
    version: u64,
}

impl ClusterInsights {
    /// The insights `partition` published and still holds.
    fn of_partition(&self, partition: u32) -> Vec<Insight> {
        self.by_partition
            .iter()
            .filter(|((p, _), _)| *p == Some(partition))
            .map(|(_, i)| i.clone())
            .collect()
    }

    /// Takes one message of the insights stream: an insight is added or replaces its
    /// earlier version; a partition's current set drops what that partition published
    /// before and no longer holds.
    fn take(&mut self, message: InsightMessage) {
        match message {
            InsightMessage::Insight(p) => {
                self.by_partition
                    .insert((p.partition, p.insight.id.clone()), p.insight);
            }
            InsightMessage::Current(set) => self.by_partition.retain(|(partition, id), _| {
                *partition != Some(set.partition) || set.insights.contains(id)
            }),
        }
        self.version += 1;
    }
}

/// Follows the insights stream into `into` for as long as the service runs, reconnecting
/// after errors (a reconnected follower starts from the stream's start again).
async fn follow_insights(bus: NatsBusConfig, into: Arc<std::sync::Mutex<ClusterInsights>>) {
    loop {
        match InsightFollower::connect(&bus).await {
            Ok(mut follower) => {
                *into.lock().unwrap_or_else(|e| e.into_inner()) = ClusterInsights::default();
                while let Some(next) = follower.next().await {
                    match next {
                        Ok(message) => into.lock().unwrap_or_else(|e| e.into_inner()).take(message),
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

/// This replica's insights and the current ones of the stream it does not hold, as one
/// cluster's ([`merge_partitions`]: best first, each id once, a partition's view of another
/// partition's incident folded into it), each with the partition whose copy is kept. An
/// active replica (`analysing` its partition) leaves out what its own partition published:
/// its current analysis is newer. A standby, analysing nothing yet, shows its partition's
/// published insights too.
fn with_other_partitions(
    own: &[Insight],
    all: &ClusterInsights,
    analysing: Option<u32>,
) -> Vec<(Option<u32>, Insight)> {
    let others: Vec<(Option<u32>, Insight)> = all
        .by_partition
        .iter()
        .filter(|((p, _), _)| analysing.is_none() || *p != analysing)
        .map(|((p, _), i)| (*p, i.clone()))
        .collect();
    let own = own.iter().map(|i| (analysing, i.clone()));
    if others.is_empty() {
        return own.collect();
    }
    merge_partitions(own.chain(others).collect())
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
    // One partition of several analyses the evidence of its own namespaces only.
    let new_engine = || match options.bus.partitions {
        0 | 1 => Engine::new(),
        count => Engine::for_partition(Partition {
            index: options.partition,
            count,
        }),
    };
    let mut engine = new_engine();
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
            engine = new_engine();
            let replayed = subscriber.replay_acknowledged(|o| engine.ingest(o)).await?;
            metrics.replayed(replayed);
            consumed = replayed;
            // What the partition published before this replica took it over was announced
            // by the replica that published it.
            let published = cluster
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .of_partition(options.partition);
            notifier.already_announced(&published);
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
            metrics.published(subscriber.publish_analysis(&insights).await?);
            metrics.pending(subscriber.pending().await?);
            let stats = engine.stats();
            metrics.elsewhere(stats.elsewhere);
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
            last = report;
            dirty = false;
        }
        // The cluster's view: this partition's insights and the other partitions', renewed
        // after an analysis or when the insights stream brought something.
        let analysing = (consumed > 0).then_some(options.partition);
        let merged = {
            let all = cluster.lock().unwrap_or_else(|e| e.into_inner());
            (analysing_now || all.version != cluster_seen).then(|| {
                cluster_seen = all.version;
                with_other_partitions(&last.insights, &all, analysing)
            })
        };
        if let Some(merged) = merged {
            if analysing_now && !notifier.is_empty() {
                // An incident another partition also reports, or explains, is announced
                // once: by the partition whose copy the cluster's view keeps.
                let ours: Vec<Insight> = merged
                    .iter()
                    .filter(|(p, _)| *p == analysing)
                    .map(|(_, i)| i.clone())
                    .collect();
                for e in notifier.offer(&ours).await {
                    eprintln!("correlation-service: alert not delivered: {e}");
                }
                metrics.alerts(notifier.stats);
            }
            let view = InsightReport {
                insights: merged.into_iter().map(|(_, i)| i).collect(),
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
    use tapio_integrations::bus::nats::{PartitionInsights, PublishedInsight};

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
        let mut stream = ClusterInsights::default();
        for &(p, id, c) in all {
            stream.take(InsightMessage::Insight(Box::new(PublishedInsight {
                insight: insight(id, c),
                partition: Some(p),
            })));
        }
        stream
    }

    fn current(partition: u32, ids: &[&str]) -> InsightMessage {
        InsightMessage::Current(PartitionInsights {
            partition,
            insights: ids.iter().map(|&i| i.to_owned()).collect(),
        })
    }

    fn ids(v: &[(Option<u32>, Insight)]) -> Vec<&str> {
        v.iter().map(|(_, i)| i.id.as_str()).collect()
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

    #[test]
    fn a_partitions_current_set_retires_what_it_published_before() {
        let mut stream = published(&[(1, "old", 0.9), (1, "shared", 0.6), (2, "shared", 0.7)]);
        stream.take(current(1, &["new"]));
        stream.take(InsightMessage::Insight(Box::new(PublishedInsight {
            insight: insight("new", 0.8),
            partition: Some(1),
        })));
        // Partition 1 holds only "new" now; partition 2's copy of "shared" stays.
        assert_eq!(
            ids(&with_other_partitions(&[], &stream, Some(0))),
            ["new", "shared"]
        );
        // An incident reported by several partitions is listed once, its best copy.
        let both = published(&[(1, "node", 0.6), (2, "node", 0.7)]);
        let view = with_other_partitions(&[], &both, Some(0));
        assert_eq!(ids(&view), ["node"]);
        assert_eq!((view[0].0, view[0].1.confidence), (Some(2), 0.7));
        // Partition 1's replica therefore leaves the announcement to partition 2.
        let own = [insight("node", 0.6)];
        let mut others = published(&[(2, "node", 0.7)]);
        let view = with_other_partitions(&own, &others, Some(1));
        assert!(view.iter().all(|(p, _)| *p != Some(1)));
        others.take(current(2, &[]));
        let view = with_other_partitions(&own, &others, Some(1));
        assert_eq!(view[0].0, Some(1), "once partition 2 no longer has it");
        // An empty set retires everything the partition published.
        stream.take(current(1, &[]));
        stream.take(current(2, &[]));
        assert!(with_other_partitions(&[], &stream, Some(0)).is_empty());
    }
}
