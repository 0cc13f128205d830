//! The gRPC API of `correlation-service` (`proto/tapio/v1/tapio.proto`, default
//! `localhost:50051`): submit recording lines, list and stream insights, and the topology
//! around an entity. With a token configured every call needs `authorization: Bearer`.

use std::pin::Pin;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::{Stream, StreamExt};
use jiff::Timestamp;
use tapio_collectors::recording::Record;
use tapio_collectors::SourceParsers;
use tapio_domain::{EntityKey, EntityKind, EntityName, Insight, Source};
use tapio_integrations::bus::nats::{NatsBusConfig, NatsPublisher};
use tapio_intelligence::topology::{Edge, EdgeKind};
use tokio::sync::{mpsc, oneshot};
use tonic::{Request, Response, Status, Streaming};

use crate::http_api::ApiState;
use crate::tls::TlsFiles;

/// The code generated from the proto file by `build.rs`.
pub mod proto {
    #![allow(missing_docs)]
    tonic::include_proto!("tapio.v1");
}

use proto::tapio_server::{Tapio, TapioServer};

/// Rejections reported one by one in a submit summary.
const ERRORS_REPORTED: usize = 20;

/// A question for the engine, answered between its batches.
pub struct TopologyQuery {
    pub entity: EntityKey,
    pub reply: oneshot::Sender<Option<Vec<Edge>>>,
}

/// The service behind the API.
pub struct GrpcApi {
    api: Arc<ApiState>,
    topology: mpsc::Sender<TopologyQuery>,
    bus: NatsBusConfig,
}

fn entity(e: &EntityName) -> proto::Entity {
    proto::Entity {
        kind: e.kind.clone(),
        namespace: e.namespace.clone().unwrap_or_default(),
        name: e.name.clone(),
    }
}

fn key_entity(k: &EntityKey) -> proto::Entity {
    proto::Entity {
        kind: k.kind.as_str().to_owned(),
        namespace: k.namespace.clone().unwrap_or_default(),
        name: k.name.clone(),
    }
}

/// The JSON spelling of a serde enum value (`"ConfigChange"`).
fn spelling(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn root_cause(rc: &tapio_domain::RootCause) -> proto::RootCause {
    proto::RootCause {
        kind: spelling(rc.kind),
        entity: Some(entity(&rc.entity)),
        workload: rc.workload.clone().unwrap_or_default(),
        service: rc.service.clone().unwrap_or_default(),
        at: rc.at.to_string(),
    }
}

/// An insight, field for field.
pub fn to_proto(i: &Insight) -> proto::Insight {
    proto::Insight {
        id: i.id.clone(),
        pattern: i.pattern.clone(),
        confidence: i.confidence,
        summary: i.summary.clone(),
        root_cause: Some(root_cause(&i.root_cause)),
        symptom_kind: i.symptom.kind.clone(),
        symptom: Some(entity(&i.symptom.entity)),
        symptom_at: i.symptom.at.to_string(),
        chain: i
            .chain
            .iter()
            .map(|s| proto::ChainStep {
                kind: s.kind.clone(),
                entity: Some(entity(&s.entity)),
                at: s.at.to_string(),
                evidence: s.evidence.iter().map(ToString::to_string).collect(),
                why: s.why.clone(),
            })
            .collect(),
        alternatives: i
            .alternatives
            .iter()
            .map(|a| proto::Alternative {
                root_cause: Some(root_cause(&a.root_cause)),
                confidence: a.confidence,
                why_not: a.why_not.clone(),
            })
            .collect(),
        recommendations: i.recommendations.clone(),
        affected: i.affected.iter().map(entity).collect(),
    }
}

type InsightStream = Pin<Box<dyn Stream<Item = Result<proto::Insight, Status>> + Send>>;

#[tonic::async_trait]
impl Tapio for GrpcApi {
    async fn submit_events(
        &self,
        request: Request<Streaming<proto::RecordLine>>,
    ) -> Result<Response<proto::SubmitSummary>, Status> {
        let mut lines = request.into_inner();
        let mut publisher = NatsPublisher::connect(&self.bus)
            .await
            .map_err(|e| Status::unavailable(format!("the event bus: {e}")))?;
        let mut parsers = SourceParsers::default();
        let mut observations = Vec::new();
        let mut summary = proto::SubmitSummary::default();
        let mut n = 0u64;
        while let Some(line) = lines.next().await {
            let line = line?;
            n += 1;
            let record = (|| {
                let source = Source::parse(&line.source)
                    .ok_or_else(|| format!("unknown source {:?}", line.source))?;
                let ts: Timestamp = line
                    .ts
                    .parse()
                    .map_err(|e| format!("bad ts {:?}: {e}", line.ts))?;
                let data = serde_json::value::RawValue::from_string(line.data_json)
                    .map_err(|e| format!("data_json is not JSON: {e}"))?;
                Ok::<_, String>(Record {
                    line: n,
                    ts,
                    source,
                    data,
                })
            })();
            let parsed = record.and_then(|r| {
                parsers
                    .parse(&r, &mut observations)
                    .map_err(|e| e.to_string())
            });
            match parsed {
                Ok(()) => summary.accepted_lines += 1,
                Err(e) => {
                    summary.rejected_lines += 1;
                    if summary.errors.len() < ERRORS_REPORTED {
                        summary.errors.push(format!("line {n}: {e}"));
                    }
                }
            }
            for o in observations.drain(..) {
                publisher
                    .publish(&o)
                    .await
                    .map_err(|e| Status::unavailable(format!("the event bus: {e}")))?;
                summary.observations_published += 1;
            }
        }
        publisher
            .flush()
            .await
            .map_err(|e| Status::unavailable(format!("the event bus: {e}")))?;
        Ok(Response::new(summary))
    }

    async fn list_insights(
        &self,
        request: Request<proto::ListInsightsRequest>,
    ) -> Result<Response<proto::ListInsightsResponse>, Status> {
        let r = request.into_inner();
        let report = self.api.report();
        let insights = report
            .insights
            .iter()
            .filter(|i| {
                r.name.is_empty()
                    || r.namespace.is_empty()
                    || crate::client::concerns(i, &r.namespace, &r.name)
            })
            .map(to_proto)
            .collect();
        Ok(Response::new(proto::ListInsightsResponse { insights }))
    }

    type StreamInsightsStream = InsightStream;

    async fn stream_insights(
        &self,
        _: Request<proto::StreamInsightsRequest>,
    ) -> Result<Response<InsightStream>, Status> {
        let receiver = self.api.subscribe();
        let current: Vec<proto::Insight> =
            self.api.report().insights.iter().map(to_proto).collect();
        let backlog = futures_util::stream::iter(current.into_iter().map(Ok));
        let live = futures_util::stream::unfold(receiver, |mut rx| async move {
            let item = match rx.recv().await {
                Ok(i) => Ok(to_proto(&i)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => Err(Status::data_loss(
                    format!("{n} insights missed: this reader fell behind"),
                )),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            Some((item, rx))
        });
        Ok(Response::new(Box::pin(backlog.chain(live))))
    }

    async fn get_topology(
        &self,
        request: Request<proto::GetTopologyRequest>,
    ) -> Result<Response<proto::Topology>, Status> {
        let e = request
            .into_inner()
            .entity
            .ok_or_else(|| Status::invalid_argument("entity is required"))?;
        let kind = EntityKind::parse(&e.kind)
            .ok_or_else(|| Status::invalid_argument(format!("unknown kind {:?}", e.kind)))?;
        let key = EntityKey {
            cluster: None,
            kind,
            namespace: (!e.namespace.is_empty()).then_some(e.namespace),
            name: e.name,
        };
        let (reply, answer) = oneshot::channel();
        self.topology
            .send(TopologyQuery { entity: key, reply })
            .await
            .map_err(|_| Status::unavailable("the engine is not running"))?;
        let edges = answer
            .await
            .map_err(|_| Status::unavailable("the engine did not answer"))?;
        let Some(edges) = edges else {
            return Ok(Response::new(proto::Topology::default()));
        };
        let relations = edges
            .iter()
            .map(|edge| proto::Relation {
                from: Some(key_entity(&edge.from)),
                kind: match edge.kind {
                    EdgeKind::Relation(k) => format!("{k:?}"),
                    EdgeKind::Selects => "Selects".to_owned(),
                },
                to: Some(key_entity(&edge.to)),
            })
            .collect();
        Ok(Response::new(proto::Topology {
            found: true,
            relations,
        }))
    }
}

/// Serves the API on `listener` until the process ends.
pub async fn serve(
    listener: std::net::TcpListener,
    api: Arc<ApiState>,
    token: Option<String>,
    topology: mpsc::Sender<TopologyQuery>,
    bus: NatsBusConfig,
    tls: Option<TlsFiles>,
) -> Result<()> {
    let service = GrpcApi { api, topology, bus };
    let check = move |request: Request<()>| -> Result<Request<()>, Status> {
        if let Some(expected) = &token {
            let given = request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if !given.is_some_and(|g| crate::http_api::same_secret(g, expected)) {
                return Err(Status::unauthenticated("a bearer token is required"));
            }
        }
        Ok(request)
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        crate::tls::install_provider();
        let (cert, key) = tls.read()?;
        let identity = tonic::transport::Identity::from_pem(cert, key);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .context("the TLS certificate or key is not usable")?;
    }
    listener.set_nonblocking(true)?;
    let incoming =
        tonic::transport::server::TcpIncoming::from(tokio::net::TcpListener::from_std(listener)?);
    builder
        .add_service(TapioServer::with_interceptor(service, check))
        .serve_with_incoming(incoming)
        .await
        .context("gRPC API failed")
}
