//! The live kubelet collector: every node's `stats/summary` and `pods`, fetched through
//! the API server's node proxy (`/api/v1/nodes/<node>/proxy/...`, the same RBAC-guarded
//! path `kubectl get --raw` uses), at an interval, as `kubelet` lines of the recording.

use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::{Api, Client};
use serde_json::value::RawValue;

use crate::kubeapi::live::WatchLine;

/// The kubelet endpoints Tapio reads.
pub const ENDPOINTS: [&str; 2] = ["stats/summary", "pods"];

/// Why one poll failed (reported; the next poll tries again).
#[derive(Debug, thiserror::Error)]
#[error("kubelet of node {node}, {endpoint}: {source}")]
pub struct PollError {
    pub node: String,
    pub endpoint: &'static str,
    #[source]
    pub source: kube::Error,
}

async fn poll_once(client: &Client) -> Vec<Result<WatchLine, PollError>> {
    let nodes: Vec<String> = match Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
    {
        Ok(list) => list
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect(),
        Err(source) => {
            return vec![Err(PollError {
                node: "*".to_owned(),
                endpoint: "nodes",
                source,
            })]
        }
    };
    let mut out = Vec::new();
    for node in nodes {
        for endpoint in ENDPOINTS {
            let path = format!("/api/v1/nodes/{node}/proxy/{endpoint}");
            let request = http::Request::get(path)
                .body(Vec::new())
                .expect("a valid request");
            let line = match client.request_text(request).await {
                Ok(body) => {
                    let data = format!(
                        "{{\"node\":{},\"endpoint\":{},\"body\":{}}}",
                        serde_json::Value::String(node.clone()),
                        serde_json::Value::String(endpoint.to_owned()),
                        if serde_json::from_str::<serde::de::IgnoredAny>(&body).is_ok() {
                            body
                        } else {
                            "null".to_owned()
                        }
                    );
                    RawValue::from_string(data).ok().map(|data| {
                        Ok(WatchLine {
                            ts: Timestamp::now(),
                            data,
                        })
                    })
                }
                Err(source) => Some(Err(PollError {
                    node: node.clone(),
                    endpoint,
                    source,
                })),
            };
            out.extend(line);
        }
    }
    out
}

/// Polls every node's kubelet every `interval`, forever.
pub fn poll_kubelets(
    client: &Client,
    interval: Duration,
) -> BoxStream<'static, Result<WatchLine, PollError>> {
    let client = client.clone();
    stream::unfold(client, move |client| async move {
        let lines = poll_once(&client).await;
        tokio::time::sleep(interval).await;
        Some((stream::iter(lines), client))
    })
    .flatten()
    .boxed()
}
