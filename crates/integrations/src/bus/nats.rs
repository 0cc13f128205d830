//! The bus at scale: NATS JetStream. Observations are published to a stream whose subjects
//! carry cluster, namespace, source and kind (`tapio.events.<cluster>.<ns>.<source>.<kind>`),
//! each with a `Nats-Msg-Id` derived from its content so that a retried publish is stored
//! once; publishers keep a bounded number of acknowledgements in flight and wait when it
//! is reached (backpressure, never a silent drop). Consumers are durable pull consumers with
//! explicit acks: a message is acknowledged only after the engine has taken it.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, context::PublishAckFuture, stream};
use futures_util::StreamExt;
use tapio_domain::{Insight, Observation};

use super::BusError;

/// Where the streams live and how big they may grow.
#[derive(Debug, Clone)]
pub struct NatsBusConfig {
    /// `nats://host:port`.
    pub url: String,
    /// Cluster name carried in subjects.
    pub cluster: String,
    pub events_stream: String,
    pub insights_stream: String,
    /// Publishes awaiting their acknowledgement before the publisher waits.
    pub max_in_flight: usize,
    /// How long events are kept (and can be replayed to rebuild state).
    pub max_age: Duration,
    /// Largest size of the events stream, bytes (oldest dropped first, counted by NATS).
    pub max_bytes: i64,
    /// File storage (survives server restarts) or memory.
    pub file_storage: bool,
    /// Copies of each stream kept by a NATS cluster (1 on a single server; 3 survives the
    /// loss of one server of three).
    pub replicas: usize,
}

impl NatsBusConfig {
    /// Defaults for a server at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            cluster: "default".to_owned(),
            events_stream: "TAPIO_EVENTS".to_owned(),
            insights_stream: "TAPIO_INSIGHTS".to_owned(),
            max_in_flight: 2000,
            max_age: Duration::from_secs(24 * 3600),
            // JetStream reserves this on disk when the stream is made: large enough for
            // hours of a busy cluster's events, small enough for a test machine.
            max_bytes: 1024 * 1024 * 1024,
            file_storage: true,
            replicas: 1,
        }
    }
}

fn nats_err(what: &str, e: impl std::fmt::Display) -> BusError {
    BusError::Nats(format!("{what}: {e}"))
}

/// A subject token: NATS forbids `.`, `*`, `>` and whitespace inside tokens.
fn token(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c == '.' || c == '*' || c == '>' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if t.is_empty() {
        "_".to_owned()
    } else {
        t
    }
}

/// Namespace, source and kind tokens of an observation's subject.
fn subject_parts(o: &Observation) -> (String, String, String) {
    match o {
        Observation::Event(e) => (
            e.entity.namespace.clone().unwrap_or_default(),
            e.source.as_str().to_owned(),
            e.kind.name().to_owned(),
        ),
        Observation::Entity(s) => (
            s.entity.namespace.clone().unwrap_or_default(),
            "topology".to_owned(),
            s.entity.kind.as_str().to_owned(),
        ),
        Observation::EntityGone { entity, .. } => (
            entity.namespace.clone().unwrap_or_default(),
            "topology".to_owned(),
            "gone".to_owned(),
        ),
        Observation::Metric(m) => (
            m.entity.namespace.clone().unwrap_or_default(),
            "metric".to_owned(),
            token(&m.name),
        ),
        Observation::Span(s) => (
            s.pod
                .as_ref()
                .and_then(|p| p.namespace.clone())
                .unwrap_or_default(),
            "span".to_owned(),
            token(&s.service),
        ),
        Observation::Log(l) => (
            l.entity.namespace.clone().unwrap_or_default(),
            "log".to_owned(),
            "record".to_owned(),
        ),
    }
}

/// The subject an observation is published on.
pub fn subject_of(cluster: &str, o: &Observation) -> String {
    let (ns, source, kind) = subject_parts(o);
    format!(
        "tapio.events.{}.{}.{}.{}",
        token(cluster),
        token(&ns),
        token(&source),
        token(&kind)
    )
}

/// The content-derived message id that lets JetStream drop a retried publish.
pub fn message_id(payload: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(payload))
}

async fn context(cfg: &NatsBusConfig) -> Result<jetstream::Context, BusError> {
    let client = async_nats::connect(&cfg.url)
        .await
        .map_err(|e| nats_err(&format!("cannot connect to {}", cfg.url), e))?;
    Ok(jetstream::new(client))
}

/// How long making the streams is retried: a NATS cluster that just lost a server
/// answers JetStream requests again once it has elected new leaders.
const STREAMS_PATIENCE: Duration = Duration::from_secs(30);

/// Whether JetStream could not answer for now (a cluster electing leaders), rather than
/// refusing the request.
fn transient(e: &jetstream::context::CreateStreamError) -> bool {
    use jetstream::context::CreateStreamErrorKind as Kind;
    match e.kind() {
        Kind::TimedOut | Kind::JetStreamUnavailable => true,
        Kind::JetStream(err) => err.code() == 503,
        _ => false,
    }
}

/// Makes (or finds) both streams, retrying for a while as long as JetStream cannot
/// answer yet; a refusal (too little storage, a bad configuration) fails at once.
async fn ensure_streams(
    js: &jetstream::Context,
    cfg: &NatsBusConfig,
) -> Result<stream::Stream, BusError> {
    let storage = if cfg.file_storage {
        stream::StorageType::File
    } else {
        stream::StorageType::Memory
    };
    let events = stream::Config {
        name: cfg.events_stream.clone(),
        subjects: vec!["tapio.events.>".to_owned()],
        storage,
        max_age: cfg.max_age,
        max_bytes: cfg.max_bytes,
        duplicate_window: Duration::from_secs(120),
        num_replicas: cfg.replicas.max(1),
        ..Default::default()
    };
    let insights = stream::Config {
        name: cfg.insights_stream.clone(),
        subjects: vec!["tapio.insights.>".to_owned()],
        storage,
        max_age: cfg.max_age,
        duplicate_window: Duration::from_secs(3600),
        num_replicas: cfg.replicas.max(1),
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + STREAMS_PATIENCE;
    let events = make_stream(js, events, deadline).await?;
    make_stream(js, insights, deadline).await?;
    Ok(events)
}

async fn make_stream(
    js: &jetstream::Context,
    config: stream::Config,
    deadline: tokio::time::Instant,
) -> Result<stream::Stream, BusError> {
    loop {
        match js.get_or_create_stream(config.clone()).await {
            Ok(stream) => return Ok(stream),
            Err(e) if transient(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(nats_err(
                    &format!("cannot create the stream {}", config.name),
                    e,
                ))
            }
        }
    }
}

/// Publishes observations to the events stream.
pub struct NatsPublisher {
    js: jetstream::Context,
    cluster: String,
    in_flight: VecDeque<PublishAckFuture>,
    max_in_flight: usize,
    /// Observations stored; duplicates that JetStream dropped are counted separately.
    pub published: u64,
    pub duplicates: u64,
}

impl NatsPublisher {
    /// Connects and makes sure the streams exist.
    pub async fn connect(cfg: &NatsBusConfig) -> Result<Self, BusError> {
        let js = context(cfg).await?;
        ensure_streams(&js, cfg).await?;
        Ok(Self {
            js,
            cluster: cfg.cluster.clone(),
            in_flight: VecDeque::new(),
            max_in_flight: cfg.max_in_flight.max(1),
            published: 0,
            duplicates: 0,
        })
    }

    async fn settle_one(&mut self) -> Result<(), BusError> {
        if let Some(ack) = self.in_flight.pop_front() {
            let ack = ack
                .await
                .map_err(|e| nats_err("publish not acknowledged", e))?;
            if ack.duplicate {
                self.duplicates += 1;
            } else {
                self.published += 1;
            }
        }
        Ok(())
    }

    /// Publishes one observation; waits while `max_in_flight` acknowledgements are pending.
    pub async fn publish(&mut self, o: &Observation) -> Result<(), BusError> {
        while self.in_flight.len() >= self.max_in_flight {
            self.settle_one().await?;
        }
        let payload = serde_json::to_vec(o).map_err(|e| nats_err("cannot encode", e))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", message_id(&payload).as_str());
        let ack = self
            .js
            .publish_with_headers(subject_of(&self.cluster, o), headers, payload.into())
            .await
            .map_err(|e| nats_err("cannot publish", e))?;
        self.in_flight.push_back(ack);
        Ok(())
    }

    /// Waits for every pending acknowledgement.
    pub async fn flush(&mut self) -> Result<(), BusError> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }
}

/// A message taken from the events stream, to be acknowledged once processed.
pub struct Delivery {
    pub observation: Observation,
    message: jetstream::Message,
}

impl Delivery {
    /// Acknowledges the message: it will not be delivered again.
    pub async fn ack(self) -> Result<(), BusError> {
        self.into_parts().1.ack().await
    }

    /// The observation, and what acknowledges it once it has been taken in.
    pub fn into_parts(self) -> (Observation, Acknowledgement) {
        (self.observation, Acknowledgement(self.message))
    }
}

/// Acknowledges one delivered message.
pub struct Acknowledgement(jetstream::Message);

impl Acknowledgement {
    /// Acknowledges the message: it will not be delivered again.
    pub async fn ack(self) -> Result<(), BusError> {
        self.0
            .ack()
            .await
            .map_err(|e| nats_err("cannot acknowledge", e))
    }
}

/// Consumes the events stream through a durable pull consumer with explicit acks.
pub struct NatsSubscriber {
    js: jetstream::Context,
    cfg: NatsBusConfig,
    filter: String,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    /// Messages that did not decode (counted, acknowledged, never retried forever).
    pub undecodable: u64,
}

impl NatsSubscriber {
    /// Connects as the durable consumer `durable`, reading `filter` (e.g.
    /// `tapio.events.>` or one partition's subjects).
    pub async fn connect(
        cfg: &NatsBusConfig,
        durable: &str,
        filter: &str,
    ) -> Result<Self, BusError> {
        let js = context(cfg).await?;
        let stream = ensure_streams(&js, cfg).await?;
        let consumer = stream
            .get_or_create_consumer(
                durable,
                pull::Config {
                    durable_name: Some(durable.to_owned()),
                    filter_subject: filter.to_owned(),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    max_ack_pending: cfg.max_in_flight as i64,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| nats_err("cannot create the consumer", e))?;
        Ok(Self {
            js,
            cfg: cfg.clone(),
            filter: filter.to_owned(),
            consumer,
            undecodable: 0,
        })
    }

    /// Up to `max` messages, waiting at most `wait` for them; empty when none arrived.
    pub async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let mut batch = self
            .consumer
            .fetch()
            .max_messages(max)
            .expires(wait)
            .messages()
            .await
            .map_err(|e| nats_err("cannot fetch", e))?;
        let mut out = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| nats_err("cannot receive", e))?;
            match serde_json::from_slice::<Observation>(&message.payload) {
                Ok(observation) => out.push(Delivery {
                    observation,
                    message,
                }),
                Err(_) => {
                    self.undecodable += 1;
                    message
                        .ack()
                        .await
                        .map_err(|e| nats_err("cannot acknowledge", e))?;
                }
            }
        }
        Ok(out)
    }

    /// Replays, into `take`, every observation this durable consumer already acknowledged
    /// (stream sequences up to its ack floor), through a temporary consumer that acks
    /// nothing. A replica that starts after another died rebuilds the engine's state this
    /// way before it goes on with the durable consumer. Returns how many were replayed.
    pub async fn replay_acknowledged(
        &mut self,
        mut take: impl FnMut(Observation),
    ) -> Result<u64, BusError> {
        let info = self
            .consumer
            .info()
            .await
            .map_err(|e| nats_err("cannot read consumer info", e))?;
        let floor = info.ack_floor.stream_sequence;
        if floor == 0 {
            return Ok(0);
        }
        let stream = self
            .js
            .get_stream(&self.cfg.events_stream)
            .await
            .map_err(|e| nats_err("cannot open the events stream", e))?;
        let replay = stream
            .create_consumer(pull::Config {
                deliver_policy: jetstream::consumer::DeliverPolicy::All,
                ack_policy: jetstream::consumer::AckPolicy::None,
                filter_subject: self.filter.clone(),
                inactive_threshold: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .map_err(|e| nats_err("cannot create the replay consumer", e))?;
        let mut replayed = 0;
        loop {
            let mut batch = replay
                .fetch()
                .max_messages(1000)
                .expires(Duration::from_millis(500))
                .messages()
                .await
                .map_err(|e| nats_err("cannot fetch", e))?;
            let mut received = 0;
            while let Some(message) = batch.next().await {
                let message = message.map_err(|e| nats_err("cannot receive", e))?;
                let sequence = message
                    .info()
                    .map_err(|e| nats_err("message without metadata", e))?
                    .stream_sequence;
                if sequence > floor {
                    return Ok(replayed);
                }
                received += 1;
                if let Ok(o) = serde_json::from_slice::<Observation>(&message.payload) {
                    take(o);
                    replayed += 1;
                }
            }
            if received == 0 {
                return Ok(replayed);
            }
        }
    }

    /// Messages not yet delivered to this consumer.
    pub async fn pending(&mut self) -> Result<u64, BusError> {
        let info = self
            .consumer
            .info()
            .await
            .map_err(|e| nats_err("cannot read consumer info", e))?;
        Ok(info.num_pending + info.num_ack_pending as u64)
    }

    /// Publishes an insight to the insights stream (deduplicated by its stable id).
    pub async fn publish_insight(&self, insight: &Insight) -> Result<(), BusError> {
        let payload = serde_json::to_vec(insight).map_err(|e| nats_err("cannot encode", e))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            format!("{}@{}", insight.id, message_id(&payload)).as_str(),
        );
        let subject = format!("tapio.insights.{}", token(&self.cfg.cluster));
        self.js
            .publish_with_headers(subject, headers, payload.into())
            .await
            .map_err(|e| nats_err("cannot publish insight", e))?
            .await
            .map_err(|e| nats_err("insight not acknowledged", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_domain::{EntityKind, EntityRef, Timestamp};

    #[test]
    fn subjects_carry_cluster_namespace_source_and_kind_as_safe_tokens() {
        let o = Observation::EntityGone {
            at: Timestamp::from_second(1).unwrap(),
            entity: EntityRef::new(EntityKind::Pod, Some("shop"), "cart-1"),
        };
        assert_eq!(
            subject_of("prod.eu", &o),
            "tapio.events.prod_eu.shop.topology.gone"
        );
        assert_eq!(token("a b*c>d"), "a_b_c_d");
        assert_eq!(token(""), "_");
    }

    #[test]
    fn message_ids_follow_content() {
        assert_eq!(message_id(b"x"), message_id(b"x"));
        assert_ne!(message_id(b"x"), message_id(b"y"));
    }
}
