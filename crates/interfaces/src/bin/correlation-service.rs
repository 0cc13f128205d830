//! `correlation-service`: the correlation and analysis engine behind the NATS JetStream
//! bus. Consumes observations, publishes insights, serves the web UI, the insights API,
//! /metrics and /healthz.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tapio_integrations::alerts::{NotifyPolicy, Sink};
use tapio_integrations::bus::nats::NatsBusConfig;
use tapio_interfaces::{config, service};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "correlation-service",
    version,
    about = "Tapio's correlation and analysis engine behind the NATS JetStream bus."
)]
struct Cli {
    /// NATS server URL (default: `pipeline.endpoint` of the config when it is a nats:// URL).
    #[arg(long)]
    nats: Option<String>,
    /// Configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Copies of each stream the NATS cluster keeps, when this service creates them
    /// (3 on a 3-server cluster survives the loss of one server).
    #[arg(long, value_name = "N", default_value_t = 1)]
    stream_replicas: usize,
    /// Durable consumer name prefix; each partition's consumer is `<durable>-p<partition>`.
    #[arg(long, default_value = "correlation")]
    durable: String,
    /// Namespace partitions of the events stream (default: `pipeline.partitions`); the same
    /// for every component of a deployment.
    #[arg(long, value_name = "N")]
    partitions: Option<u32>,
    /// The partition this replica consumes, 0 to N-1. Replicas given the same partition
    /// stand by for each other.
    #[arg(long, value_name = "P", default_value_t = 0)]
    partition: u32,
    /// Take partition I modulo N instead of --partition: a StatefulSet passes its pod index
    /// (label apps.kubernetes.io/pod-index), so 2×N replicas give each partition a standby.
    #[arg(long, value_name = "I", conflicts_with = "partition")]
    replica_index: Option<u32>,
    /// Seconds the active replica of a partition may stop pulling before a standby takes
    /// the partition over.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    failover_after: u64,
    /// HTTP address of the web UI, the insights API (/api/v1/insights, .../stream),
    /// /metrics and /healthz.
    #[arg(long, default_value = "127.0.0.1:9091")]
    listen: SocketAddr,
    /// gRPC API address (proto/tapio/v1/tapio.proto), or "off".
    #[arg(long, default_value = "127.0.0.1:50051")]
    grpc_listen: String,
    /// PEM certificate (chain) to serve the HTTP and gRPC APIs over TLS with (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// File holding the bearer token the API requires (or set TAPIO_API_TOKEN). Needed
    /// when --listen or --grpc-listen is reachable beyond loopback.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Alertmanager to announce new incidents to (repeat for several), e.g.
    /// http://alertmanager:9093.
    #[arg(long, value_name = "URL")]
    alertmanager: Vec<String>,
    /// Slack-compatible incoming webhook to announce new incidents to (repeat).
    #[arg(long, value_name = "URL")]
    slack_webhook: Vec<String>,
    /// Most notifications per minute and sink (bursts of up to this many go at once).
    #[arg(long, value_name = "N", default_value_t = 10)]
    alerts_per_minute: u32,
    /// The web UI's address as people reach it, for links in notifications.
    #[arg(long, value_name = "URL")]
    ui_url: Option<String>,
    /// Exit after the stream is drained and idle this many seconds, printing the insights
    /// as JSON (batch runs).
    #[arg(long, value_name = "SECONDS")]
    exit_when_idle: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match &cli.config {
        Some(path) => match config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("correlation-service: {e}");
                return ExitCode::from(1);
            }
        },
        None => config::Config::default(),
    };
    let url = cli
        .nats
        .clone()
        .unwrap_or_else(|| config.pipeline.endpoint.clone());
    if !url.starts_with("nats://") {
        eprintln!(
            "correlation-service: needs a nats:// URL (--nats or pipeline.endpoint), got {url:?}"
        );
        return ExitCode::from(2);
    }
    let token = match (&cli.token_file, std::env::var("TAPIO_API_TOKEN")) {
        (Some(path), _) => match std::fs::read_to_string(path) {
            Ok(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
            Ok(_) => {
                eprintln!("correlation-service: {} is empty", path.display());
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("correlation-service: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        (None, Ok(t)) if !t.trim().is_empty() => Some(t.trim().to_owned()),
        _ => None,
    };
    let grpc_listen = match cli.grpc_listen.as_str() {
        "off" => None,
        addr => match addr.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("correlation-service: --grpc-listen {addr:?}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut bus = NatsBusConfig::new(&url);
    bus.max_in_flight = config.collectors.buffer_size;
    bus.replicas = cli.stream_replicas;
    bus.partitions = cli.partitions.unwrap_or(config.pipeline.partitions).max(1);
    bus.failover_after = Duration::from_secs(cli.failover_after.max(1));
    let partition = cli
        .replica_index
        .map_or(cli.partition, |i| i % bus.partitions);
    let options = service::ServiceOptions {
        bus,
        durable: cli.durable,
        partition,
        listen: Some(cli.listen),
        token,
        grpc_listen,
        tls: cli
            .tls_cert
            .zip(cli.tls_key)
            .map(|(cert, key)| tapio_interfaces::tls::TlsFiles { cert, key }),
        alerts: cli
            .alertmanager
            .into_iter()
            .map(Sink::Alertmanager)
            .chain(cli.slack_webhook.into_iter().map(Sink::Slack))
            .collect(),
        alert_policy: NotifyPolicy {
            burst: cli.alerts_per_minute,
            per_minute: cli.alerts_per_minute,
            ui_url: cli.ui_url,
            ..NotifyPolicy::default()
        },
        exit_when_idle: cli.exit_when_idle.map(Duration::from_secs),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("correlation-service: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(service::run(options)) {
        Ok(report) => {
            if let Ok(json) = serde_json::to_string_pretty(&report) {
                println!("{json}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("correlation-service: {e:#}");
            ExitCode::from(1)
        }
    }
}
