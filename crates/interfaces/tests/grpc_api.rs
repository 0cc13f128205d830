//! The gRPC API of `correlation-service` with the generated tonic client: recording lines
//! submitted over gRPC go through the parsers onto a real NATS JetStream bus, the engine
//! explains them, and the insights and topology come back over gRPC; every call needs the
//! token.

mod support;

use std::time::Duration;

use support::{example, free_port, wait_for_port, CorrelationService, NatsServer};
use tapio_interfaces::grpc_api::proto::tapio_client::TapioClient;
use tapio_interfaces::grpc_api::proto::{
    Entity, GetTopologyRequest, ListInsightsRequest, RecordLine, StreamInsightsRequest,
};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::Request;

const TOKEN: &str = "grpc-test-token-7d21";

fn authorized<T>(message: T) -> Request<T> {
    let mut r = Request::new(message);
    let value: MetadataValue<_> = format!("Bearer {TOKEN}").parse().unwrap();
    r.metadata_mut().insert("authorization", value);
    r
}

fn lines() -> Vec<RecordLine> {
    let text = std::fs::read_to_string(example("flagship-configmap-oom.jsonl")).unwrap();
    let mut lines: Vec<RecordLine> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            RecordLine {
                source: v["source"].as_str().unwrap().to_owned(),
                ts: v["ts"].as_str().unwrap().to_owned(),
                data_json: v["data"].to_string(),
            }
        })
        .collect();
    lines.push(RecordLine {
        source: "bogus".into(),
        ts: "2026-03-10T10:00:00Z".into(),
        data_json: "{}".into(),
    });
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_list_stream_and_topology_over_grpc() {
    let Some(nats) = NatsServer::start("grpc-api") else {
        return;
    };
    let port = free_port();
    let _service = CorrelationService::start_with(
        &nats.url(),
        TOKEN,
        &["--grpc-listen".into(), format!("127.0.0.1:{port}")],
    );
    assert!(wait_for_port(port, Duration::from_secs(20)));
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = TapioClient::new(channel);

    let denied = client
        .list_insights(ListInsightsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);

    let lines = lines();
    let total = lines.len() as u64;
    let summary = client
        .submit_events(authorized(futures_util::stream::iter(lines)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (summary.accepted_lines, summary.rejected_lines),
        (total - 1, 1)
    );
    assert!(summary.errors[0].contains(&format!("line {total}: unknown source \"bogus\"")));
    assert!(summary.observations_published > 100, "{summary:?}");

    // The stream starts with what is known and goes on with what comes.
    let mut stream = client
        .stream_insights(authorized(StreamInsightsRequest {}))
        .await
        .unwrap()
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(60), stream.message())
        .await
        .expect("an insight within 60 s")
        .unwrap()
        .unwrap();
    let rc = first.root_cause.as_ref().unwrap();
    assert_eq!(
        (rc.kind.as_str(), rc.entity.as_ref().unwrap().name.as_str()),
        ("ConfigChange", "cart-config")
    );
    assert!(
        first.chain.len() >= 5 && !first.recommendations.is_empty(),
        "{first:?}"
    );

    let listed = client
        .list_insights(authorized(ListInsightsRequest {
            namespace: "shop".into(),
            name: "cart".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.insights[0].id, first.id);

    let pod = first.symptom.clone().unwrap();
    let topology = client
        .get_topology(authorized(GetTopologyRequest {
            entity: Some(pod.clone()),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(topology.found);
    let from_pod: Vec<(String, String)> = topology
        .relations
        .iter()
        .filter(|r| r.from.as_ref() == Some(&pod))
        .map(|r| {
            let to = r.to.as_ref().unwrap();
            (r.kind.clone(), format!("{}/{}", to.kind, to.name))
        })
        .collect();
    assert!(
        from_pod
            .iter()
            .any(|(k, to)| k == "OwnedBy" && to.starts_with("ReplicaSet/cart-")),
        "{from_pod:?}"
    );
    assert!(from_pod.iter().any(|(k, _)| k == "RunsOn"), "{from_pod:?}");
    assert!(
        from_pod.iter().any(|(_, to)| to == "ConfigMap/cart-config"),
        "{from_pod:?}"
    );
    let unknown = client
        .get_topology(authorized(GetTopologyRequest {
            entity: Some(Entity {
                kind: "Pod".into(),
                namespace: "shop".into(),
                name: "nope".into(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!unknown.found);
}
