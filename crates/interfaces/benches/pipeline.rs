//! End-to-end pipeline throughput over a real NATS JetStream server, beside raw JetStream
//! publish-and-consume of the same messages on the same machine.
//!
//! `cargo bench -p tapio-interfaces --bench pipeline` (needs `nats-server`, which
//! scripts/install-test-deps.sh installs) replays a generated cluster recording into
//! observations, then times, best of three runs each:
//! 1. raw: the observations' JSON (encoded beforehand) published to a JetStream stream
//!    (acknowledged, at most 2,000 in flight) while a durable pull consumer with explicit
//!    acks consumes it through a continuous pull (batches of 1,024) and parses it;
//! 2. Tapio: the same observations through `NatsPublisher` (encoding, subjects per
//!    cluster, namespace, source and kind, `Nats-Msg-Id` for dedup) while `NatsSubscriber`
//!    feeds the engine (decoded, ingested, then acknowledged), as `correlation-service`
//!    does.
//!
//! Publishing and consuming run at the same time in both, as tasks of their own (in a
//! deployment they are different processes).
//!
//! It prints observations per second of both and their ratio.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use tapio_collectors::recording::{RecordingReader, RecordingWriter};
use tapio_collectors::Replay;
use tapio_domain::Observation;
use tapio_integrations::bus::nats::{NatsBusConfig, NatsPublisher, NatsSubscriber};
use tapio_intelligence::Engine;
use tapio_interfaces::generate;

const RUNS: usize = 3;
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
    fn start(run: usize) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store =
            std::env::temp_dir().join(format!("tapio-bench-nats-{}-{run}", std::process::id()));
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

async fn raw(url: &str, payloads: Arc<Vec<Vec<u8>>>) -> Duration {
    let client = async_nats::connect(url).await.unwrap();
    let js = jetstream::new(client);
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
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1024)
        .messages()
        .await
        .unwrap();
    let started = Instant::now();
    let n = payloads.len();
    let publish = tokio::spawn(async move {
        let mut acks = std::collections::VecDeque::new();
        for p in payloads.iter() {
            if acks.len() >= IN_FLIGHT {
                let ack: jetstream::context::PublishAckFuture = acks.pop_front().unwrap();
                ack.await.unwrap();
            }
            acks.push_back(js.publish("raw.events", p.clone().into()).await.unwrap());
        }
        for ack in acks {
            ack.await.unwrap();
        }
    });
    let consume = tokio::spawn(async move {
        let mut seen = 0;
        while seen < n {
            let m = messages.next().await.unwrap().unwrap();
            let _: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            m.ack().await.unwrap();
            seen += 1;
        }
    });
    publish.await.unwrap();
    consume.await.unwrap();
    started.elapsed()
}

async fn tapio(url: &str, observations: Arc<Vec<Observation>>) -> Duration {
    let mut cfg = NatsBusConfig::new(url);
    cfg.cluster = "bench".into();
    cfg.max_in_flight = IN_FLIGHT;
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
    let payloads: Arc<Vec<Vec<u8>>> = Arc::new(
        observations
            .iter()
            .map(|o| serde_json::to_vec(o).unwrap())
            .collect(),
    );
    let n = observations.len() as f64;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let best = |f: &dyn Fn(&str) -> Duration| {
        (0..RUNS)
            .map(|run| {
                let server = Server::start(run);
                f(&server.url)
            })
            .min()
            .unwrap()
    };
    let raw_time = best(&|url| rt.block_on(raw(url, Arc::clone(&payloads))));
    let tapio_time = best(&|url| rt.block_on(tapio(url, Arc::clone(&observations))));
    let raw_rate = n / raw_time.as_secs_f64();
    let tapio_rate = n / tapio_time.as_secs_f64();
    println!("observations: {}", observations.len());
    println!("raw JetStream publish + consume: {raw_rate:.0} messages/s ({raw_time:.2?})");
    println!("Tapio pipeline (publish, consume, decode, ingest, ack): {tapio_rate:.0} observations/s ({tapio_time:.2?})");
    println!("ratio: {:.0} %", 100.0 * tapio_rate / raw_rate);
}
