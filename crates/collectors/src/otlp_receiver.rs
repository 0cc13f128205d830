//! The OTLP receiver: OpenTelemetry metrics, logs and traces pushed live by a user's
//! OpenTelemetry SDKs or Collector, over OTLP/gRPC (`:4317`) and OTLP/HTTP with protobuf
//! or JSON bodies (`:4318`, `/v1/traces`, `/v1/metrics`, `/v1/logs`), decoded with the
//! official OpenTelemetry protobuf definitions (`opentelemetry-proto`). Every export
//! request becomes one `otlp` line in the OTLP/JSON encoding, so the same parser reads it
//! live and in replay.
//!
//! Backpressure: when the line channel stays full for a second, the request is refused
//! the way OTLP asks servers to (HTTP 503 with `Retry-After`, gRPC `UNAVAILABLE`), and
//! the exporter retries; refusals are counted.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::Timestamp;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde_json::value::RawValue;
use tapio_domain::Source;

use crate::node_agents::{LineSender, LiveLine};

/// Largest export request accepted (decompressed), as the OpenTelemetry Collector's
/// default receiver limit.
pub const MAX_REQUEST: usize = 16 << 20;

/// How long a request waits for room in the line channel before it is refused.
const ROOM_WAIT: Duration = Duration::from_secs(1);

/// Where the receiver listens.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// OTLP/gRPC address (`127.0.0.1:4317`); `None` turns it off.
    pub grpc: Option<SocketAddr>,
    /// OTLP/HTTP address (`127.0.0.1:4318`); `None` turns it off.
    pub http: Option<SocketAddr>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            grpc: Some(SocketAddr::from(([127, 0, 0, 1], 4317))),
            http: Some(SocketAddr::from(([127, 0, 0, 1], 4318))),
        }
    }
}

/// What the receiver has taken and refused.
#[derive(Debug, Default)]
pub struct OtlpStats {
    /// Export requests turned into lines.
    pub accepted: AtomicU64,
    /// Refused because the pipeline had no room (the exporter retries).
    pub busy: AtomicU64,
    /// Refused as malformed (bad protobuf or JSON, unknown encoding, too large).
    pub malformed: AtomicU64,
}

/// Why the receiver could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("OTLP/gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    #[error("OTLP/HTTP server failed: {0}")]
    Http(std::io::Error),
}

/// Why one request was refused.
enum Refusal {
    Busy,
    Malformed(String),
}

#[derive(Clone)]
struct Receiver {
    out: LineSender,
    stats: Arc<OtlpStats>,
}

impl Receiver {
    /// Hands one export request (as OTLP/JSON) to the pipeline.
    async fn forward(&self, json: Box<RawValue>) -> Result<(), Refusal> {
        let line = LiveLine {
            ts: Timestamp::now(),
            source: Source::Otlp,
            data: json,
        };
        match tokio::time::timeout(ROOM_WAIT, self.out.send(line)).await {
            Ok(Ok(())) => {
                self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            _ => {
                self.stats.busy.fetch_add(1, Ordering::Relaxed);
                Err(Refusal::Busy)
            }
        }
    }

    fn malformed(&self, why: String) -> Refusal {
        self.stats.malformed.fetch_add(1, Ordering::Relaxed);
        Refusal::Malformed(why)
    }

    /// A decoded protobuf request, re-encoded as OTLP/JSON.
    async fn forward_message<T: serde::Serialize>(&self, request: &T) -> Result<(), Refusal> {
        let json = serde_json::value::to_raw_value(request)
            .map_err(|e| self.malformed(format!("cannot encode as OTLP/JSON: {e}")))?;
        self.forward(json).await
    }
}

fn status(refusal: Refusal) -> tonic::Status {
    match refusal {
        Refusal::Busy => tonic::Status::unavailable("the pipeline is full; retry"),
        Refusal::Malformed(why) => tonic::Status::invalid_argument(why),
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.forward_message(request.get_ref())
            .await
            .map_err(status)?;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.forward_message(request.get_ref())
            .await
            .map_err(status)?;
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.forward_message(request.get_ref())
            .await
            .map_err(status)?;
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

/// The three signals OTLP/HTTP serves.
#[derive(Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
    Logs,
}

/// Decodes an OTLP/HTTP body (protobuf or JSON, plain or gzip) to OTLP/JSON.
fn http_body_to_json(
    signal: Signal,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Box<RawValue>, bool), String> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity");
    let inflated;
    let body = match encoding {
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(MAX_REQUEST as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("bad gzip body: {e}"))?;
            if out.len() > MAX_REQUEST {
                return Err(format!("request larger than {MAX_REQUEST} bytes"));
            }
            inflated = out;
            &inflated[..]
        }
        "identity" => body,
        other => return Err(format!("unsupported Content-Encoding {other:?}")),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        let text = std::str::from_utf8(body).map_err(|e| format!("JSON body is not UTF-8: {e}"))?;
        let json =
            RawValue::from_string(text.to_owned()).map_err(|e| format!("bad JSON body: {e}"))?;
        if !json.get().trim_start().starts_with('{') {
            return Err("the JSON body is not an export request object".to_owned());
        }
        return Ok((json, true));
    }
    if !content_type.starts_with("application/x-protobuf") {
        return Err(format!(
            "unsupported Content-Type {content_type:?} (application/x-protobuf or application/json)"
        ));
    }
    let bad = |e: prost::DecodeError| format!("bad protobuf body: {e}");
    let json = match signal {
        Signal::Traces => {
            serde_json::value::to_raw_value(&ExportTraceServiceRequest::decode(body).map_err(bad)?)
        }
        Signal::Metrics => serde_json::value::to_raw_value(
            &ExportMetricsServiceRequest::decode(body).map_err(bad)?,
        ),
        Signal::Logs => {
            serde_json::value::to_raw_value(&ExportLogsServiceRequest::decode(body).map_err(bad)?)
        }
    }
    .map_err(|e| format!("cannot encode as OTLP/JSON: {e}"))?;
    Ok((json, false))
}

async fn http_export(
    receiver: Receiver,
    signal: Signal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (json, is_json) = match http_body_to_json(signal, &headers, &body) {
        Ok(decoded) => decoded,
        Err(why) => {
            receiver.stats.malformed.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::BAD_REQUEST, why).into_response();
        }
    };
    match receiver.forward(json).await {
        // An empty Export*ServiceResponse: no partial success to report.
        Ok(()) if is_json => ([(header::CONTENT_TYPE, "application/json")], "{}").into_response(),
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Vec::<u8>::new(),
        )
            .into_response(),
        Err(Refusal::Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "the pipeline is full; retry\n",
        )
            .into_response(),
        Err(Refusal::Malformed(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
    }
}

/// The receiver's listeners, bound: a taken port is an error of [`OtlpReceiver::bind`],
/// not of a later serve.
pub struct OtlpReceiver {
    http: Option<tokio::net::TcpListener>,
    grpc: Option<tokio::net::TcpListener>,
}

impl OtlpReceiver {
    /// Binds the configured addresses.
    pub async fn bind(config: &OtlpConfig) -> Result<Self, OtlpError> {
        let bind = |addr: Option<SocketAddr>| async move {
            match addr {
                Some(addr) => tokio::net::TcpListener::bind(addr)
                    .await
                    .map(Some)
                    .map_err(|source| OtlpError::Bind { addr, source }),
                None => Ok(None),
            }
        };
        Ok(Self {
            http: bind(config.http).await?,
            grpc: bind(config.grpc).await?,
        })
    }

    /// Serves until `shutdown` completes, sending each export request to `out`.
    pub async fn serve(
        self,
        out: LineSender,
        stats: Arc<OtlpStats>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), OtlpError> {
        let receiver = Receiver { out, stats };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut servers = tokio::task::JoinSet::new();
        if let Some(listener) = self.http {
            let route = |signal| {
                post(
                    move |State(r): State<Receiver>, headers: HeaderMap, body: Bytes| {
                        http_export(r, signal, headers, body)
                    },
                )
            };
            let app = axum::Router::new()
                .route("/v1/traces", route(Signal::Traces))
                .route("/v1/metrics", route(Signal::Metrics))
                .route("/v1/logs", route(Signal::Logs))
                .layer(DefaultBodyLimit::max(MAX_REQUEST))
                .with_state(receiver.clone());
            let stop = stopped();
            servers.spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
                    .map_err(OtlpError::Http)
            });
        }
        if let Some(listener) = self.grpc {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let gzip = tonic::codec::CompressionEncoding::Gzip;
            let router = tonic::transport::Server::builder()
                .add_service(
                    TraceServiceServer::new(receiver.clone())
                        .max_decoding_message_size(MAX_REQUEST)
                        .accept_compressed(gzip),
                )
                .add_service(
                    MetricsServiceServer::new(receiver.clone())
                        .max_decoding_message_size(MAX_REQUEST)
                        .accept_compressed(gzip),
                )
                .add_service(
                    LogsServiceServer::new(receiver)
                        .max_decoding_message_size(MAX_REQUEST)
                        .accept_compressed(gzip),
                );
            let stop = stopped();
            servers.spawn(async move {
                router
                    .serve_with_incoming_shutdown(incoming, stop)
                    .await
                    .map_err(OtlpError::Grpc)
            });
        }
        shutdown.await;
        let _ = stop_tx.send(true);
        while let Some(done) = servers.join_next().await {
            if let Ok(Err(e)) = done {
                return Err(e);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn request() -> ExportTraceServiceRequest {
        let attr = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        attr("service.name", "cart"),
                        attr("k8s.namespace.name", "shop"),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![7; 16],
                        span_id: vec![9; 8],
                        name: "GET /cart".into(),
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_000_250_000_000,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn protobuf_bodies_become_the_otlp_json_the_parser_reads() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-protobuf".parse().unwrap(),
        );
        let (json, is_json) =
            http_body_to_json(Signal::Traces, &headers, &request().encode_to_vec()).unwrap();
        assert!(!is_json);
        let record = crate::recording::Record {
            line: 1,
            ts: Timestamp::now(),
            source: Source::Otlp,
            data: json,
        };
        let mut out = Vec::new();
        crate::otlp::parse(&record, &mut out).unwrap();
        let span = out
            .iter()
            .find_map(|o| match o {
                tapio_domain::Observation::Span(s) => Some(s),
                _ => None,
            })
            .expect("a span");
        assert_eq!(span.service, "cart");
        assert_eq!(span.trace_id, "07".repeat(16));
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-protobuf".parse().unwrap(),
        );
        assert!(http_body_to_json(Signal::Logs, &headers, b"\xff\xff\xff").is_err());
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(http_body_to_json(Signal::Logs, &headers, b"[1]").is_err());
        headers.insert(header::CONTENT_ENCODING, "br".parse().unwrap());
        assert!(http_body_to_json(Signal::Logs, &headers, b"{}")
            .unwrap_err()
            .contains("br"));
    }

    proptest::proptest! {
        #[test]
        fn any_protobuf_body_decodes_or_fails_cleanly(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, "application/x-protobuf".parse().unwrap());
            for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
                let _ = http_body_to_json(signal, &headers, &body);
            }
        }
    }
}
