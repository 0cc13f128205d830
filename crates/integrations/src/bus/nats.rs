//! The bus at scale: NATS JetStream. Observations are published to a stream whose subjects
//! carry cluster, namespace, source and kind (`tapio.events.<cluster>.<ns>.<source>.<kind>`;
//! facts about cluster-scoped objects such as nodes, etcd members and CNI on
//! `tapio.cluster.<cluster>.<source>.<kind>`), each with a `Nats-Msg-Id` derived from its
//! content so that a retried publish is stored once; publishers keep a bounded number of
//! acknowledgements in flight and wait when it is reached (backpressure, never a silent
//! drop).
//!
//! **Partitions.** The stream stores namespaced subjects with a partition token that
//! JetStream itself computes from the namespace (a subject transform with
//! `{{partition(N, …)}}`): `tapio.events.<partition>.<cluster>.<ns>.<source>.<kind>`.
//! Partition `p` is consumed by the durable consumer `<durable>-p<p>`, whose filters are its
//! own partition plus every cluster-scoped subject, so each partition sees the nodes, etcd
//! and CNI facts its pods depend on. Consumers are pull consumers with explicit acks and a
//! pinned-client priority group: several replicas may pull one partition, the server
//! delivers to one of them and moves the pin to a standby when the active one stops pulling
//! for [`NatsBusConfig::failover_after`]. A message is acknowledged only after the engine
//! has taken it; a replica that finds deliveries it never saw before its own (a takeover or
//! a restart) rebuilds its state from the acknowledged history first.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PriorityPolicy};
use async_nats::jetstream::{self, context::PublishAckFuture, stream};
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
    /// Namespace partitions of the events stream; every component of one deployment must
    /// use the same number (a stream made with another is refused with an error).
    pub partitions: u32,
    /// How long a partition's active consumer may stop pulling before a standby replica
    /// takes the partition over.
    pub failover_after: Duration,
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
            partitions: 1,
            failover_after: Duration::from_secs(30),
        }
    }
}

fn nats_err(what: &str, e: impl std::fmt::Display) -> BusError {
    BusError::Nats(format!("{what}: {e}"))
}

/// Appends `s` to `subject` as one token: NATS forbids `.`, `*`, `>` and whitespace inside
/// tokens (each becomes `_`), and an empty token (written `_`).
fn push_token(subject: &mut String, s: &str) {
    if s.is_empty() {
        subject.push('_');
        return;
    }
    subject.extend(s.chars().map(|c| {
        if c == '.' || c == '*' || c == '>' || c.is_whitespace() {
            '_'
        } else {
            c
        }
    }));
}

/// `s` as a subject token (see [`push_token`]).
fn token(s: &str) -> String {
    let mut t = String::with_capacity(s.len());
    push_token(&mut t, s);
    t
}

/// Namespace, source and kind of an observation's subject, and whether every partition
/// needs it: facts about cluster-scoped objects (no namespace), the topology of every
/// namespace (which pods a Service selects, which IP is which pod, what mounts what) and
/// every change (a ConfigMap, an image, a NetworkPolicy), so that each partition can follow
/// a call or a dependency into another partition's namespaces and find the change there
/// that broke it.
fn subject_parts(o: &Observation) -> (Option<&str>, &str, &str, bool) {
    match o {
        Observation::Event(e) => (
            e.entity.namespace.as_deref(),
            e.source.as_str(),
            e.kind.name(),
            e.kind.is_change(),
        ),
        Observation::Entity(s) => (
            s.entity.namespace.as_deref(),
            "topology",
            s.entity.kind.as_str(),
            true,
        ),
        Observation::EntityGone { entity, .. } => {
            (entity.namespace.as_deref(), "topology", "gone", true)
        }
        Observation::Metric(m) => (m.entity.namespace.as_deref(), "metric", &m.name, false),
        Observation::Span(s) => (
            s.pod.as_ref().and_then(|p| p.namespace.as_deref()),
            "span",
            &s.service,
            false,
        ),
        Observation::Log(l) => (l.entity.namespace.as_deref(), "log", "record", false),
    }
}

/// The subject an observation is published on: `tapio.events.<cluster>.<ns>.<source>.<kind>`
/// for what one partition needs, `tapio.cluster.<cluster>.<source>.<kind>[.<ns>]` for what
/// every partition needs: facts about cluster-scoped objects, the topology and changes.
pub fn subject_of(cluster: &str, o: &Observation) -> String {
    let (ns, source, kind, shared) = subject_parts(o);
    let ns = ns.filter(|ns| !ns.is_empty());
    let mut subject = String::with_capacity(
        16 + cluster.len() + ns.map_or(0, |ns| ns.len() + 1) + source.len() + kind.len(),
    );
    let parts: [Option<&str>; 3] = if shared || ns.is_none() {
        subject.push_str("tapio.cluster.");
        [Some(source), Some(kind), ns]
    } else {
        subject.push_str("tapio.events.");
        [ns, Some(source), Some(kind)]
    };
    push_token(&mut subject, cluster);
    for part in parts.into_iter().flatten() {
        subject.push('.');
        push_token(&mut subject, part);
    }
    subject
}

/// The stream's subject transform that puts the namespace's partition in front of each
/// namespaced subject when there are several partitions: `tapio.events.<cluster>.<ns>.…`
/// is stored as `tapio.events.<partition>.<cluster>.<ns>.…`. A single partition stores
/// subjects as published (the transform would cost the server a match and a rewrite of
/// every message for nothing).
fn partition_transform(partitions: u32) -> Option<stream::SubjectTransform> {
    (partitions > 1).then(|| stream::SubjectTransform {
        source: "tapio.events.*.*.>".to_owned(),
        destination: format!(
            "tapio.events.{{{{partition({partitions},2)}}}}.{{{{wildcard(1)}}}}.{{{{wildcard(2)}}}}.>"
        ),
    })
}

/// The stored subjects partition `partition` of `partitions` consumes: its own namespaces
/// and every cluster-scoped fact. A single partition takes the whole stream unfiltered:
/// JetStream serves a consumer with several filters at less than half the rate of an
/// unfiltered one (`cargo bench -p tapio-interfaces --bench pipeline`, docs/performance.md).
pub fn partition_filters(partitions: u32, partition: u32) -> Vec<String> {
    if partitions <= 1 {
        return Vec::new();
    }
    vec![
        format!("tapio.events.{partition}.>"),
        "tapio.cluster.>".to_owned(),
    ]
}

/// Name of the priority group the replicas of one partition pull in.
const REPLICA_GROUP: &str = "replicas";

/// The subject a cluster's insights are published on.
fn insights_subject(cluster: &str) -> String {
    format!("tapio.insights.{}", token(cluster))
}

/// The subject a cluster's partitions publish their current sets of insights on.
fn current_sets_subject(cluster: &str) -> String {
    format!("{}.current", insights_subject(cluster))
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

/// How long making streams and consumers is retried: a NATS cluster that just lost a
/// server answers JetStream requests again once it has elected new leaders.
const JETSTREAM_PATIENCE: Duration = Duration::from_secs(30);

/// JetStream errors that mean it could not answer for now (a cluster electing leaders),
/// rather than a refusal of the request.
trait Transient {
    fn transient(&self) -> bool;
}

impl Transient for jetstream::context::CreateStreamError {
    fn transient(&self) -> bool {
        use jetstream::context::CreateStreamErrorKind as Kind;
        match self.kind() {
            Kind::TimedOut | Kind::JetStreamUnavailable => true,
            Kind::JetStream(err) => err.code() == 503,
            _ => false,
        }
    }
}

impl Transient for jetstream::stream::ConsumerError {
    fn transient(&self) -> bool {
        use jetstream::stream::ConsumerErrorKind as Kind;
        match self.kind() {
            Kind::TimedOut => true,
            Kind::JetStream(err) => err.code() == 503,
            _ => false,
        }
    }
}

/// Runs `attempt` until it succeeds, retrying every 500 ms while it fails transiently and
/// `deadline` is not reached; any other failure is returned at once as "cannot {what}".
async fn patiently<T, E, F>(
    what: &str,
    deadline: tokio::time::Instant,
    mut attempt: impl FnMut() -> F,
) -> Result<T, BusError>
where
    E: Transient + std::fmt::Display,
    F: std::future::Future<Output = Result<T, E>>,
{
    loop {
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(e) if e.transient() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(nats_err(&format!("cannot {what}"), e)),
        }
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
        subjects: vec!["tapio.events.>".to_owned(), "tapio.cluster.>".to_owned()],
        subject_transform: partition_transform(cfg.partitions),
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
    let deadline = tokio::time::Instant::now() + JETSTREAM_PATIENCE;
    let expected = events.subject_transform.clone();
    let what = format!("create the stream {}", events.name);
    let events = patiently(&what, deadline, || js.get_or_create_stream(events.clone())).await?;
    let what = format!("create the stream {}", insights.name);
    patiently(&what, deadline, || {
        js.get_or_create_stream(insights.clone())
    })
    .await?;
    // The configuration the stream was made with (by whichever component came first).
    let found = events.cached_info().config.subject_transform.clone();
    if found != expected {
        return Err(BusError::Nats(format!(
            "the stream {} stores subjects as {} but this component expects {} ({} partitions): \
             start every component with the same number of partitions (pipeline.partitions), \
             or delete the stream",
            cfg.events_stream,
            found.map_or("published".to_owned(), |t| t.destination),
            expected.map_or("published".to_owned(), |t| t.destination),
            cfg.partitions,
        )));
    }
    Ok(events)
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

/// What one fetch took from a partition.
#[derive(Default)]
pub struct Fetched {
    pub deliveries: Vec<Delivery>,
    /// Deliveries were made before these that this subscriber never received (another
    /// replica had the partition, or this one just started): the engine must be rebuilt
    /// from the acknowledged history ([`NatsSubscriber::replay_acknowledged`]) before it
    /// takes them.
    pub history_missed: bool,
}

/// Consumes one partition of the events stream through its durable pull consumer (explicit
/// acks, pinned-client priority group, so replicas of a partition stand by for each other).
pub struct NatsSubscriber {
    js: jetstream::Context,
    cfg: NatsBusConfig,
    filters: Vec<String>,
    /// Name of the partition's durable consumer.
    name: String,
    /// The partition consumed.
    partition: u32,
    /// Content id ([`message_id`]) of each insight of the partition's current analysis, as
    /// last published.
    published: std::collections::HashMap<String, String>,
    /// Ids of the insights of the analysis last published (none published yet: `None`).
    current: Option<Vec<String>>,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    /// The continuous pull, in chunks of what has already arrived.
    messages: futures_util::stream::ReadyChunks<pull::Stream>,
    /// Consumer sequence of the last delivery received (0: none yet).
    last_delivery: u64,
    /// Stream sequence of the last delivery received: where in the stream an analysis
    /// stands, part of the message ids of what it publishes.
    last_stream_sequence: u64,
    /// Messages that did not decode (counted, acknowledged, never retried forever).
    pub undecodable: u64,
}

impl NatsSubscriber {
    /// Connects to partition `partition` (of [`NatsBusConfig::partitions`]) as the durable
    /// consumer `<durable>-p<partition>`, shared with the partition's other replicas.
    pub async fn connect(
        cfg: &NatsBusConfig,
        durable: &str,
        partition: u32,
    ) -> Result<Self, BusError> {
        if partition >= cfg.partitions.max(1) {
            return Err(BusError::Nats(format!(
                "partition {partition} does not exist: there are {} (0 to {})",
                cfg.partitions,
                cfg.partitions.max(1) - 1
            )));
        }
        let js = context(cfg).await?;
        let stream = ensure_streams(&js, cfg).await?;
        let name = format!("{durable}-p{partition}");
        let filters = partition_filters(cfg.partitions, partition);
        let config = pull::Config {
            durable_name: Some(name.clone()),
            filter_subjects: filters.clone(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: cfg.max_in_flight as i64,
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: vec![REPLICA_GROUP.to_owned()],
            priority_timeout: cfg.failover_after,
            ..Default::default()
        };
        let deadline = tokio::time::Instant::now() + JETSTREAM_PATIENCE;
        let consumer = patiently("create the consumer", deadline, || {
            stream.get_or_create_consumer(&name, config.clone())
        })
        .await?;
        // Pulls are renewed well within the pin's lifetime, so an active replica keeps it.
        let expires = (cfg.failover_after / 4).max(Duration::from_millis(500));
        let batch = cfg.max_in_flight.clamp(1, 1024);
        let messages = consumer
            .stream()
            .group(REPLICA_GROUP)
            .max_messages_per_batch(batch)
            .expires(expires)
            .heartbeat(expires / 4)
            .messages()
            .await
            .map_err(|e| nats_err("cannot pull from the consumer", e))?
            .ready_chunks(batch);
        Ok(Self {
            js,
            cfg: cfg.clone(),
            filters,
            name,
            partition,
            published: Default::default(),
            current: None,
            consumer,
            messages,
            last_delivery: 0,
            last_stream_sequence: 0,
            undecodable: 0,
        })
    }

    /// Stops pulling and, when this replica has been receiving the partition's messages,
    /// hands the partition to a standby replica at once rather than after
    /// [`NatsBusConfig::failover_after`] (a graceful shutdown). A replica that never
    /// received anything was standing by and leaves the pin alone. Deliveries taken but not
    /// acknowledged are redelivered to the next replica.
    pub async fn release(self) -> Result<(), BusError> {
        drop(self.messages);
        if self.last_delivery == 0 {
            return Ok(());
        }
        let stream = self
            .js
            .get_stream(&self.cfg.events_stream)
            .await
            .map_err(|e| nats_err("cannot open the events stream", e))?;
        match stream.unpin_consumer(&self.name, REPLICA_GROUP).await {
            Ok(()) => Ok(()),
            // Nobody holds the pin (this replica was standing by): nothing to hand over.
            Err(e) if e.to_string().contains("no pinned") => Ok(()),
            Err(e) => Err(nats_err("cannot hand the partition over", e)),
        }
    }

    /// The messages that have arrived, waiting at most `wait` for the first; empty when
    /// none arrived (also while another replica holds the partition).
    pub async fn fetch(&mut self, wait: Duration) -> Result<Fetched, BusError> {
        let mut out = Fetched::default();
        let chunk = match tokio::time::timeout(wait, self.messages.next()).await {
            Err(_) => return Ok(out),
            Ok(None) => return Err(BusError::Nats("the consumer's pull stream ended".into())),
            Ok(Some(chunk)) => chunk,
        };
        for next in chunk {
            match next {
                // The client renews the pull after a missed heartbeat; nothing is lost.
                Err(e) if e.kind() == pull::MessagesErrorKind::MissingHeartbeat => {}
                Err(e) => return Err(nats_err("cannot receive", e)),
                Ok(message) => self.take(message, &mut out).await?,
            }
        }
        Ok(out)
    }

    async fn take(
        &mut self,
        message: jetstream::Message,
        out: &mut Fetched,
    ) -> Result<(), BusError> {
        let info = message
            .info()
            .map_err(|e| nats_err("message without metadata", e))?;
        if info.consumer_sequence != self.last_delivery + 1 {
            out.history_missed = true;
        }
        self.last_delivery = info.consumer_sequence;
        self.last_stream_sequence = info.stream_sequence;
        match serde_json::from_slice::<Observation>(&message.payload) {
            Ok(observation) => out.deliveries.push(Delivery {
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
        Ok(())
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
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                filter_subjects: self.filters.clone(),
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

    /// Publishes the partition's analysis to the insights stream: each insight that is new
    /// or whose content changed since this subscriber last published it, then, when the set
    /// of insights changed, the set itself ([`PartitionInsights`]), which tells followers
    /// that the partition's other insights are superseded. Every message is marked with the
    /// partition; its message id names what it carries, its content and the stream position
    /// of the analysis (a partition analyses after taking new observations, so no two of its
    /// analyses share one), so JetStream drops a retried publish while a later analysis that
    /// comes back to an earlier content is still stored. Returns how many insights it
    /// published.
    pub async fn publish_analysis(&mut self, insights: &[Insight]) -> Result<u64, BusError> {
        let mut sent = 0;
        for insight in insights {
            let payload = serde_json::to_vec(insight).map_err(|e| nats_err("cannot encode", e))?;
            let content = message_id(&payload);
            if self.published.get(&insight.id) == Some(&content) {
                continue;
            }
            let id = format!("{}@{content}@{}", insight.id, self.last_stream_sequence);
            let subject = insights_subject(&self.cfg.cluster);
            self.publish_marked(subject, &id, payload).await?;
            self.published.insert(insight.id.clone(), content);
            sent += 1;
        }
        let ids: Vec<String> = insights.iter().map(|i| i.id.clone()).collect();
        if self.current.as_ref() != Some(&ids) {
            let set = PartitionInsights {
                partition: self.partition,
                insights: ids,
            };
            let payload = serde_json::to_vec(&set).map_err(|e| nats_err("cannot encode", e))?;
            let id = format!(
                "current@{}@{}@{}",
                self.partition,
                message_id(&payload),
                self.last_stream_sequence
            );
            let subject = current_sets_subject(&self.cfg.cluster);
            self.publish_marked(subject, &id, payload).await?;
            // An insight that leaves the analysis is published again if it comes back.
            self.published.retain(|id, _| set.insights.contains(id));
            self.current = Some(set.insights);
        }
        Ok(sent)
    }

    /// Publishes to the insights stream with this message id and the partition header, and
    /// waits for the acknowledgement.
    async fn publish_marked(
        &self,
        subject: String,
        id: &str,
        payload: Vec<u8>,
    ) -> Result<(), BusError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        headers.insert(PARTITION_HEADER, self.partition.to_string().as_str());
        self.js
            .publish_with_headers(subject, headers, payload.into())
            .await
            .map_err(|e| nats_err("cannot publish insight", e))?
            .await
            .map_err(|e| nats_err("insight not acknowledged", e))?;
        Ok(())
    }
}

/// The insights a partition's analysis holds, in its order, published on
/// `tapio.insights.<cluster>.current` whenever that set changes: any other insight the
/// partition published before is superseded (its root changed, or it ended).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartitionInsights {
    pub partition: u32,
    pub insights: Vec<String>,
}

/// Header naming the partition whose replica published an insight.
const PARTITION_HEADER: &str = "Tapio-Partition";

/// An insight taken from the insights stream, with the partition that published it (when
/// the message says).
pub struct PublishedInsight {
    pub insight: Insight,
    pub partition: Option<u32>,
}

/// What the insights stream carries.
pub enum InsightMessage {
    /// An insight, new or changed.
    Insight(Box<PublishedInsight>),
    /// A partition's current set of insights.
    Current(PartitionInsights),
}

/// Follows the insights stream from its start: what every replica of every partition has
/// published, in order, so that each replica can serve the whole cluster's insights.
/// Messages that are neither insights nor insight sets (written there by something else)
/// are skipped.
pub struct InsightFollower {
    messages: pull::Ordered,
    /// The subject of the partitions' current sets (the rest are insights).
    current_sets: String,
}

impl InsightFollower {
    /// Connects and starts from the first insight kept for `cfg.cluster`.
    pub async fn connect(cfg: &NatsBusConfig) -> Result<Self, BusError> {
        let js = context(cfg).await?;
        ensure_streams(&js, cfg).await?;
        let stream = js
            .get_stream(&cfg.insights_stream)
            .await
            .map_err(|e| nats_err("cannot open the insights stream", e))?;
        let current_sets = current_sets_subject(&cfg.cluster);
        let messages = stream
            .create_consumer(pull::OrderedConfig {
                filter_subjects: vec![insights_subject(&cfg.cluster), current_sets.clone()],
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(|e| nats_err("cannot follow the insights stream", e))?
            .messages()
            .await
            .map_err(|e| nats_err("cannot follow the insights stream", e))?;
        Ok(Self {
            messages,
            current_sets,
        })
    }

    /// The next message published; `None` when the stream ends (the connection is gone).
    pub async fn next(&mut self) -> Option<Result<InsightMessage, BusError>> {
        loop {
            let message = match self.messages.next().await? {
                Ok(m) => m,
                Err(e) => return Some(Err(nats_err("cannot follow the insights stream", e))),
            };
            if message.subject.as_str() == self.current_sets {
                if let Ok(set) = serde_json::from_slice(&message.payload) {
                    return Some(Ok(InsightMessage::Current(set)));
                }
                continue;
            }
            let partition = message
                .headers
                .as_ref()
                .and_then(|h| h.get(PARTITION_HEADER))
                .and_then(|v| v.as_str().parse().ok());
            if let Ok(insight) = serde_json::from_slice::<Insight>(&message.payload) {
                return Some(Ok(InsightMessage::Insight(Box::new(PublishedInsight {
                    insight,
                    partition,
                }))));
            }
        }
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
            "tapio.cluster.prod_eu.topology.gone.shop",
            "the topology goes to every partition"
        );
        let metric = Observation::Metric(tapio_domain::MetricSample {
            at: Timestamp::from_second(1).unwrap(),
            entity: EntityRef::new(EntityKind::Pod, Some("shop"), "cart-1"),
            service: None,
            name: "memory.working set".into(),
            value: 1.0,
            counter: false,
            attributes: Vec::new(),
        });
        assert_eq!(
            subject_of("prod", &metric),
            "tapio.events.prod.shop.metric.memory_working_set"
        );
        assert_eq!(token("a b*c>d"), "a_b_c_d");
        assert_eq!(token(""), "_");
    }

    #[test]
    fn cluster_scoped_facts_have_their_own_prefix_that_every_partition_reads() {
        let node = Observation::EntityGone {
            at: Timestamp::from_second(1).unwrap(),
            entity: EntityRef::new(EntityKind::Node, None, "ip-10-0-1-23"),
        };
        assert_eq!(
            subject_of("prod", &node),
            "tapio.cluster.prod.topology.gone"
        );
        for p in 0..3 {
            assert!(partition_filters(3, p).contains(&"tapio.cluster.>".to_owned()));
            assert!(partition_filters(3, p).contains(&format!("tapio.events.{p}.>")));
        }
        assert!(
            partition_filters(1, 0).is_empty(),
            "one partition reads everything"
        );
        // The transform keeps every token after the namespace and fronts the partition.
        assert!(
            partition_transform(1).is_none(),
            "one partition stores as published"
        );
        let t = partition_transform(3).unwrap();
        assert_eq!(t.source, "tapio.events.*.*.>");
        assert_eq!(
            t.destination,
            "tapio.events.{{partition(3,2)}}.{{wildcard(1)}}.{{wildcard(2)}}.>"
        );
    }

    #[test]
    fn message_ids_follow_content() {
        assert_eq!(message_id(b"x"), message_id(b"x"));
        assert_ne!(message_id(b"x"), message_id(b"y"));
    }
}
