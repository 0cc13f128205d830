//! `tapio insights` and `tapio explain --server`: a client of correlation-service's
//! insights API, for the current report or (with `--follow`) its stream of new insights.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tapio_domain::{Insight, InsightReport};

/// Largest report accepted.
const MAX_REPORT: usize = 256 << 20;
/// Largest single stream event accepted.
const MAX_EVENT: usize = 16 << 20;

/// Where the service is and how to authenticate.
#[derive(Debug, Clone)]
pub struct Server {
    /// `http://host:port`.
    pub url: String,
    pub token: Option<String>,
    /// A CA certificate (PEM) to trust beside the system's, for `https://` URLs.
    pub ca: Option<std::path::PathBuf>,
}

impl Server {
    async fn get(&self, path: &str) -> Result<hyper::Response<Incoming>> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client_config(self.ca.as_deref())?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client: Client<_, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(connector);
        let uri = format!("{}{path}", self.url.trim_end_matches('/'));
        let mut req = hyper::Request::get(&uri);
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let resp = client
            .request(req.body(Empty::new())?)
            .await
            .with_context(|| format!("cannot reach {uri}"))?;
        match resp.status().as_u16() {
            200 => Ok(resp),
            401 => bail!("{uri}: the service wants a token (--token-file or TAPIO_API_TOKEN)"),
            s => bail!("{uri}: HTTP {s}"),
        }
    }

    /// The current report.
    pub async fn report(&self) -> Result<InsightReport> {
        let resp = self.get("/api/v1/insights").await?;
        let body = http_body_util::Limited::new(resp.into_body(), MAX_REPORT)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the report: {e}"))?
            .to_bytes();
        serde_json::from_slice(&body).context("the service's report is not insight JSON")
    }

    /// Calls `on_insight` for every insight the service has and every new or changed one
    /// after it, until the service closes the stream.
    pub async fn follow(&self, mut on_insight: impl FnMut(Insight)) -> Result<()> {
        let resp = self.get("/api/v1/insights/stream").await?;
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.context("the insight stream broke")?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(end) = find_event_end(&buf) {
                let event: Vec<u8> = buf.drain(..end).collect();
                if let Some(insight) = parse_event(&String::from_utf8_lossy(&event))? {
                    on_insight(insight);
                }
            }
            if buf.len() > MAX_EVENT {
                bail!("a stream event exceeds {MAX_EVENT} bytes");
            }
        }
        Ok(())
    }
}

/// End (exclusive, with its blank line) of the first complete server-sent event.
fn find_event_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2)
}

/// The insight an `insight` event carries; `None` for keep-alives and other events.
fn parse_event(event: &str) -> Result<Option<Insight>> {
    let mut kind = "message";
    let mut data = String::new();
    for line in event.lines() {
        if let Some(k) = line.strip_prefix("event:") {
            kind = k.trim();
        } else if let Some(d) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(d.strip_prefix(' ').unwrap_or(d));
        }
    }
    match kind {
        "insight" => Ok(Some(
            serde_json::from_str(&data).context("an insight event is not insight JSON")?,
        )),
        "lagged" => {
            eprintln!("warning: {data} insights were missed (this reader fell behind)");
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Whether `insight` concerns `namespace/name` (as root cause, symptom, a chain step or
/// an affected entity), or the workload of that name its root cause belongs to.
pub fn concerns(insight: &Insight, namespace: &str, name: &str) -> bool {
    let hit =
        |e: &tapio_domain::EntityName| e.namespace.as_deref() == Some(namespace) && e.name == name;
    let rc = &insight.root_cause;
    let workload = rc.entity.namespace.as_deref() == Some(namespace)
        && rc
            .workload
            .as_deref()
            .is_some_and(|w| w.rsplit('/').next() == Some(name));
    workload
        || hit(&rc.entity)
        || hit(&insight.symptom.entity)
        || insight.chain.iter().any(|s| hit(&s.entity))
        || insight.affected.iter().any(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_sent_events_split_and_parse() {
        let buf = b": keep-alive\n\nevent: lagged\ndata: 3\n\nevent: ins";
        let end = find_event_end(buf).unwrap();
        assert_eq!(
            parse_event(std::str::from_utf8(&buf[..end]).unwrap()).unwrap(),
            None
        );
        assert!(find_event_end(&buf[end..]).is_some());
        assert!(parse_event("event: insight\ndata: {not json\n\n").is_err());
    }
}
