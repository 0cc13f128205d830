//! End-to-end pipeline throughput over a real NATS JetStream server, beside raw JetStream
//! publish-and-consume of the same messages on the same machine.
//!
//! `cargo bench -p tapio-interfaces --bench pipeline` (needs `nats-server`, which
//! scripts/install-test-deps.sh installs) replays a generated cluster recording into
//! observations, then times, best of five interleaved runs each (a fresh server each):
//! 1. raw, Tapio's messages: the observations' JSON (encoded beforehand) published with
//!    Tapio's subjects and `Nats-Msg-Id` headers (computed beforehand) into the events
//!    stream as Tapio makes it, acknowledged, at most 2,000 in flight, while a durable pull
//!    consumer with explicit acks consumes it through a continuous pull (batches of 1,024)
//!    and parses each payload;
//! 2. raw, minimal messages: the same payloads on one subject without headers into a
//!    stream with nothing but file storage: what NATS costs when a message carries nothing
//!    Tapio needs (no partition or filter by namespace, no deduplication);
//! 3. Tapio: the same observations through `NatsPublisher` (encoding, subject, message id)
//!    while `NatsSubscriber` feeds the engine (decoded, ingested, then acknowledged), as
//!    `correlation-service` does.
//!
//! Publishing and consuming run at the same time in all three, as tasks of their own (in a
//! deployment they are different processes).
//!
//! It prints messages (observations) per second of each and Tapio's ratio to both raw runs.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use tapio_collectors::recording::{RecordingReader, RecordingWriter};
use tapio_collectors::Replay;
use tapio_domain::Observation;
use tapio_integrations::bus::nats::{
    message_id, subject_of, NatsBusConfig, NatsPublisher, NatsSubscriber,
};
use tapio_intelligence::Engine;
use tapio_interfaces::generate;

const RUNS: usize = 5;
const IN_FLIGHT: usize = 2000;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn observations() -> Vec<Observation> {
    let path = std::env::temp_dir().join("tapio-bench-pipeline-300n-9000p.jsonl.zst");
    if !path.exists() {
        let shape = generate::ClusterShape {
            nodes: 300,
            pods: 9_000,
            replicas: 10,
            hours: 1.0,
            rollouts_per_hour: 0.1,
            seed: 11,
            incidents: true,
        };
        let mut w = RecordingWriter::create(&path).expect("temp file");
        generate::generate(&shape, &mut w).expect("generate");
        w.finish().expect("finish");
    }
    let input = tapio_collectors::recording::open_input(&path).expect("recording");
    let mut replay = Replay::new(RecordingReader::new(input));
    let mut all = Vec::new();
    let mut batch = Vec::new();
    while replay.next_batch(&mut batch, &mut |_| {}) {
        all.append(&mut batch);
    }
    all.append(&mut batch);
    all
}

struct Server {
    url: String,
    child: Child,
    store: std::path::PathBuf,
}

impl Server {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store =
            std::env::temp_dir().join(format!("tapio-bench-nats-{}-{port}", std::process::id()));
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is installed (scripts/install-test-deps.sh)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            url: format!("nats://127.0.0.1:{port}"),
            child,
            store,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// A message as raw JetStream carries it: subject, optional `Nats-Msg-Id`, payload.
struct RawMessage {
    subject: String,
    msg_id: Option<String>,
    payload: bytes::Bytes,
}

/// Publishes `messages` into `stream` while a durable pull consumer on it (explicit acks,
/// continuous pull) parses and acknowledges each; returns the time both took.
async fn raw(
    js: jetstream::Context,
    stream: jetstream::stream::Stream,
    messages: Arc<Vec<RawMessage>>,
) -> Duration {
    let consumer = stream
        .get_or_create_consumer(
            "raw",
            jetstream::consumer::pull::Config {
                durable_name: Some("raw".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                max_ack_pending: IN_FLIGHT as i64,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut deliveries = consumer
        .stream()
        .max_messages_per_batch(1024)
        .messages()
        .await
        .unwrap();
    let started = Instant::now();
    let n = messages.len();
    let publish = tokio::spawn(async move {
        let mut acks = std::collections::VecDeque::new();
        for m in messages.iter() {
            if acks.len() >= IN_FLIGHT {
                let ack: jetstream::context::PublishAckFuture = acks.pop_front().unwrap();
                ack.await.unwrap();
            }
            let ack = match &m.msg_id {
                Some(id) => {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Nats-Msg-Id", id.as_str());
                    js.publish_with_headers(m.subject.clone(), headers, m.payload.clone())
                        .await
                }
                None => js.publish(m.subject.clone(), m.payload.clone()).await,
            };
            acks.push_back(ack.unwrap());
        }
        for ack in acks {
            ack.await.unwrap();
        }
    });
    let consume = tokio::spawn(async move {
        let mut seen = 0;
        while seen < n {
            let m = deliveries.next().await.unwrap().unwrap();
            let _: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            m.ack().await.unwrap();
            seen += 1;
        }
    });
    publish.await.unwrap();
    consume.await.unwrap();
    started.elapsed()
}

/// Raw JetStream with the least a message can carry: one subject, no headers, a stream
/// with nothing but file storage.
async fn raw_minimal(url: &str, messages: Arc<Vec<RawMessage>>) -> Duration {
    let js = jetstream::new(async_nats::connect(url).await.unwrap());
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: "RAW".into(),
            subjects: vec!["raw.>".into()],
            storage: jetstream::stream::StorageType::File,
            max_bytes: 1 << 30,
            ..Default::default()
        })
        .await
        .unwrap();
    raw(js, stream, messages).await
}

/// Raw JetStream carrying exactly Tapio's messages: its subjects and `Nats-Msg-Id`
/// headers, into the events stream as Tapio makes it (its subjects, deduplication
/// window and limits).
async fn raw_same(url: &str, messages: Arc<Vec<RawMessage>>) -> Duration {
    let cfg = bench_config(url);
    drop(NatsPublisher::connect(&cfg).await.unwrap());
    let js = jetstream::new(async_nats::connect(url).await.unwrap());
    let stream = js.get_stream(&cfg.events_stream).await.unwrap();
    raw(js, stream, messages).await
}

fn bench_config(url: &str) -> NatsBusConfig {
    let mut cfg = NatsBusConfig::new(url);
    cfg.cluster = "bench".into();
    cfg.max_in_flight = IN_FLIGHT;
    cfg
}

async fn tapio(url: &str, observations: Arc<Vec<Observation>>) -> Duration {
    let cfg = bench_config(url);
    // Connected (streams and consumer made) before the clock starts, as the raw run's.
    let mut publisher = NatsPublisher::connect(&cfg).await.unwrap();
    let mut subscriber = NatsSubscriber::connect(&cfg, "bench", 0).await.unwrap();
    let started = Instant::now();
    let n = observations.len();
    let publish = tokio::spawn(async move {
        for o in observations.iter() {
            publisher.publish(o).await.unwrap();
        }
        publisher.flush().await.unwrap();
    });
    let consume = tokio::spawn(async move {
        let mut engine = Engine::new();
        let mut seen = 0;
        while seen < n {
            for delivery in subscriber
                .fetch(Duration::from_millis(100))
                .await
                .unwrap()
                .deliveries
            {
                let (observation, ack) = delivery.into_parts();
                engine.ingest(observation);
                ack.ack().await.unwrap();
                seen += 1;
            }
        }
    });
    publish.await.unwrap();
    consume.await.unwrap();
    started.elapsed()
}

fn main() {
    let observations = Arc::new(observations());
    let payloads: Vec<bytes::Bytes> = observations
        .iter()
        .map(|o| serde_json::to_vec(o).unwrap().into())
        .collect();
    let minimal: Arc<Vec<RawMessage>> = Arc::new(
        payloads
            .iter()
            .map(|p| RawMessage {
                subject: "raw.events".into(),
                msg_id: None,
                payload: p.clone(),
            })
            .collect(),
    );
    let same: Arc<Vec<RawMessage>> = Arc::new(
        observations
            .iter()
            .zip(&payloads)
            .map(|(o, p)| RawMessage {
                subject: subject_of("bench", o),
                msg_id: Some(message_id(p)),
                payload: p.clone(),
            })
            .collect(),
    );
    let n = observations.len() as f64;
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Interleaved (one run of each, RUNS times) so that the machine's drift touches all
    // three alike; the best run of each counts.
    let mut minimal_time = Duration::MAX;
    let mut same_time = Duration::MAX;
    let mut tapio_time = Duration::MAX;
    for _ in 0..RUNS {
        // A fresh server (and store) for every run, stopped before the next starts.
        let server = Server::start();
        minimal_time =
            minimal_time.min(rt.block_on(raw_minimal(&server.url, Arc::clone(&minimal))));
        drop(server);
        let server = Server::start();
        same_time = same_time.min(rt.block_on(raw_same(&server.url, Arc::clone(&same))));
        drop(server);
        let server = Server::start();
        tapio_time = tapio_time.min(rt.block_on(tapio(&server.url, Arc::clone(&observations))));
    }
    let rate = |t: Duration| n / t.as_secs_f64();
    println!("observations: {}", observations.len());
    println!(
        "raw JetStream, Tapio's messages (subjects, Nats-Msg-Id, stream): {:.0} messages/s ({same_time:.2?})",
        rate(same_time)
    );
    println!(
        "raw JetStream, minimal messages (one subject, no headers): {:.0} messages/s ({minimal_time:.2?})",
        rate(minimal_time)
    );
    println!(
        "Tapio pipeline (encode, publish, consume, decode, ingest, ack): {:.0} observations/s ({tapio_time:.2?})",
        rate(tapio_time)
    );
    println!(
        "ratio to raw with the same messages: {:.0} %",
        100.0 * same_time.as_secs_f64() / tapio_time.as_secs_f64()
    );
    println!(
        "ratio to raw with minimal messages: {:.0} %",
        100.0 * minimal_time.as_secs_f64() / tapio_time.as_secs_f64()
    );
}
