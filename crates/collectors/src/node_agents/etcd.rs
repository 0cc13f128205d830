//! The etcd collector: watches the Kubernetes `/registry/` prefix and polls each member's
//! status and alarms through etcd's v3 JSON gateway (`/v3/watch`, `/v3/maintenance/*`).
//!
//! Stored values are never recorded: a watched event keeps its key (which names the
//! resource, namespace and name), the kind decoded from the value's storage envelope and a
//! SHA-256 of the value, so Secrets stored in etcd never leave it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tapio_domain::Source;

use super::{LineSender, LiveLine};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A gateway response bigger than this is refused (a watch response carries at most
/// etcd's request limit, 1.5 MiB by default, per event).
const MAX_MESSAGE: usize = 64 << 20;

/// Settings of the etcd collector.
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    /// Client URLs of the members (`http://127.0.0.1:2379`).
    pub endpoints: Vec<String>,
    /// The key prefix to watch.
    pub prefix: String,
    /// How often each member's status is read.
    pub status_every: Duration,
    /// Revision to resume the watch after (0: from now).
    pub resume_after: i64,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        Self {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: "/registry/".to_owned(),
            status_every: Duration::from_secs(10),
            resume_after: 0,
        }
    }
}

/// Why etcd could not be watched.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("etcd {endpoint}: {reason}")]
    Request { endpoint: String, reason: String },
    #[error("no etcd endpoints configured")]
    NoEndpoints,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new()).build(connector)
}

fn request_error(endpoint: &str, reason: impl ToString) -> EtcdError {
    EtcdError::Request {
        endpoint: endpoint.to_owned(),
        reason: reason.to_string(),
    }
}

/// POSTs `body` to `endpoint` + `path` and returns the response, failing on non-2xx.
async fn post(
    client: &HttpClient,
    endpoint: &str,
    path: &str,
    body: String,
) -> Result<hyper::Response<hyper::body::Incoming>, EtcdError> {
    let uri = format!("{}{path}", endpoint.trim_end_matches('/'));
    let req = hyper::Request::post(&uri)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| request_error(endpoint, e))?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| request_error(endpoint, e))?;
    if !resp.status().is_success() {
        return Err(request_error(
            endpoint,
            format!("{path}: HTTP {}", resp.status()),
        ));
    }
    Ok(resp)
}

/// POSTs and reads the whole JSON answer, bounded by `timeout`.
async fn call<T: for<'de> Deserialize<'de>>(
    client: &HttpClient,
    endpoint: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<T, EtcdError> {
    let work = async {
        let resp = post(client, endpoint, path, body.to_owned()).await?;
        let bytes = http_body_util::Limited::new(resp.into_body(), MAX_MESSAGE)
            .collect()
            .await
            .map_err(|e| request_error(endpoint, e))?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| request_error(endpoint, format!("{path}: {e}")))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| request_error(endpoint, format!("{path}: no answer within {timeout:?}")))?
}

/// A member id (uint64, often above `i64::MAX`) as the gateway writes it, as text; "0"
/// when absent.
fn member_id(v: &Option<serde_json::Value>) -> String {
    let id = match v {
        Some(serde_json::Value::String(s)) => s.parse::<u64>().unwrap_or(0),
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    };
    id.to_string()
}

/// int64 fields arrive as JSON strings from the gateway.
fn int(v: &Option<serde_json::Value>) -> i64 {
    match v {
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

#[derive(Deserialize)]
struct StatusResponse {
    #[serde(default)]
    leader: Option<serde_json::Value>,
    #[serde(default, rename = "raftTerm")]
    raft_term: Option<serde_json::Value>,
    #[serde(default, rename = "dbSize")]
    db_size: Option<serde_json::Value>,
    #[serde(default)]
    errors: Vec<String>,
    #[serde(default)]
    header: Option<Header>,
}

#[derive(Deserialize, Default)]
struct Header {
    #[serde(default)]
    member_id: Option<serde_json::Value>,
    #[serde(default)]
    revision: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct AlarmResponse {
    #[serde(default)]
    alarms: Vec<Alarm>,
}

#[derive(Deserialize)]
struct Alarm {
    #[serde(default)]
    alarm: Option<String>,
}

/// The status line the collector writes (the `etcd` source's status shape).
#[derive(Debug, Serialize, Default, PartialEq)]
pub struct Status {
    pub leader: String,
    pub raft_term: i64,
    pub db_size: i64,
    pub member_id: String,
    pub errors: Vec<String>,
    pub alarms: Vec<String>,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_leader: Option<String>,
}

/// Reads one member's status and alarms. An unreachable member is a status too: its
/// error says why, and it has no leader.
pub async fn read_status(endpoint: &str, timeout: Duration) -> Status {
    let client = client();
    read_status_with(&client, endpoint, timeout).await
}

async fn read_status_with(client: &HttpClient, endpoint: &str, timeout: Duration) -> Status {
    if endpoint.starts_with("https://") {
        return Status {
            errors: vec![format!(
                "{endpoint}: TLS (client certificates) is not supported yet: use an http:// client URL"
            )],
            leader: "0".into(),
            ..Status::default()
        };
    }
    let started = Instant::now();
    let status: Result<StatusResponse, _> =
        call(client, endpoint, "/v3/maintenance/status", "{}", timeout).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            return Status {
                errors: vec![format!("unreachable: {e}")],
                leader: "0".into(),
                latency_ms,
                ..Status::default()
            }
        }
    };
    let alarms: Result<AlarmResponse, _> = call(
        client,
        endpoint,
        "/v3/maintenance/alarm",
        r#"{"action":"GET"}"#,
        timeout,
    )
    .await;
    let mut errors = status.errors;
    let alarms = match alarms {
        Ok(a) => a.alarms.into_iter().filter_map(|a| a.alarm).collect(),
        Err(e) => {
            errors.push(format!("alarms unreadable: {e}"));
            Vec::new()
        }
    };
    let header = status.header.unwrap_or_default();
    Status {
        leader: member_id(&status.leader),
        raft_term: int(&status.raft_term),
        db_size: int(&status.db_size),
        member_id: member_id(&header.member_id),
        errors,
        alarms,
        latency_ms,
        previous_leader: None,
    }
}

/// What a watched key names: `/registry/<resource>/<namespace>/<name>`,
/// `/registry/<resource>/<name>` (cluster-scoped) or, for API groups that prefix their
/// resources, `/registry/<group>/<resource>/<namespace>/<name>`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct StoredObject {
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The value is encrypted at rest (`k8s:enc:` envelope): its kind cannot be read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// Reads the key's path and the value's storage envelope.
pub fn stored_object(key: &str, value: &[u8]) -> Option<StoredObject> {
    let rest = key.strip_prefix("/registry/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    // API groups that prefix their resources have a dot in their name (`apps` does not
    // prefix; `apiextensions.k8s.io` does).
    let grouped = parts.first().is_some_and(|p| p.contains('.'));
    let (resource, namespace, name) = match (grouped, parts.as_slice()) {
        (false, [resource, name]) => ((*resource).to_owned(), None, *name),
        (false, [resource, ns, name]) => ((*resource).to_owned(), Some(*ns), *name),
        (true, [group, resource, name]) => (format!("{group}/{resource}"), None, *name),
        (true, [group, resource, ns, name]) => (format!("{group}/{resource}"), Some(*ns), *name),
        _ => return None,
    };
    let mut object = StoredObject {
        resource,
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
        api_version: None,
        kind: None,
        encrypted: value.starts_with(b"k8s:enc:"),
    };
    if let Some(envelope) = value.strip_prefix(b"k8s\x00") {
        if let Some((api_version, kind)) = protobuf_type_meta(envelope) {
            object.api_version = Some(api_version);
            object.kind = Some(kind);
        }
    } else if value.first() == Some(&b'{') {
        #[derive(Deserialize)]
        struct TypeMeta {
            #[serde(rename = "apiVersion")]
            api_version: Option<String>,
            kind: Option<String>,
        }
        if let Ok(t) = serde_json::from_slice::<TypeMeta>(value) {
            object.api_version = t.api_version;
            object.kind = t.kind;
        }
    }
    Some(object)
}

/// Reads a protobuf varint at `*at`.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The length-delimited field `field` of a protobuf message.
fn bytes_field(msg: &[u8], field: u64) -> Option<&[u8]> {
    let mut at = 0;
    while at < msg.len() {
        let tag = varint(msg, &mut at)?;
        match tag & 7 {
            0 => {
                varint(msg, &mut at)?;
            }
            1 => at = at.checked_add(8)?,
            2 => {
                let len = usize::try_from(varint(msg, &mut at)?).ok()?;
                let end = at.checked_add(len).filter(|&e| e <= msg.len())?;
                if tag >> 3 == field {
                    return Some(&msg[at..end]);
                }
                at = end;
            }
            5 => at = at.checked_add(4)?,
            _ => return None,
        }
    }
    None
}

/// `runtime.Unknown{typeMeta: {apiVersion: 1, kind: 2}}`: field 1 of the envelope.
fn protobuf_type_meta(envelope: &[u8]) -> Option<(String, String)> {
    let type_meta = bytes_field(envelope, 1)?;
    let text = |f| bytes_field(type_meta, f).map(|b| String::from_utf8_lossy(b).into_owned());
    Some((text(1)?, text(2)?))
}

#[derive(Deserialize)]
struct WatchMessage {
    #[serde(default)]
    result: Option<WatchResult>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WatchResult {
    #[serde(default)]
    header: Option<Header>,
    #[serde(default)]
    events: Vec<WatchEvent>,
    #[serde(default)]
    canceled: bool,
    #[serde(default)]
    compact_revision: Option<serde_json::Value>,
    #[serde(default)]
    cancel_reason: Option<String>,
}

#[derive(Deserialize)]
struct WatchEvent {
    /// Absent for PUT: the gateway omits enum defaults.
    #[serde(default, rename = "type")]
    kind: Option<String>,
    kv: Kv,
}

#[derive(Deserialize)]
struct Kv {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    mod_revision: Option<serde_json::Value>,
    #[serde(default)]
    version: Option<serde_json::Value>,
}

/// One recorded watch response (values replaced by their hash, see the module docs).
#[derive(Serialize)]
struct WatchLine<'a> {
    endpoint: &'a str,
    header: RevisionHeader,
    events: Vec<LineEvent>,
}

#[derive(Serialize)]
struct RevisionHeader {
    revision: i64,
}

#[derive(Serialize)]
struct LineEvent {
    #[serde(rename = "type")]
    kind: String,
    kv: LineKv,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<StoredObject>,
}

#[derive(Serialize)]
struct LineKv {
    key: String,
    mod_revision: i64,
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_sha256: Option<String>,
}

fn line(data: &impl Serialize) -> Option<LiveLine> {
    Some(LiveLine {
        ts: Timestamp::now(),
        source: Source::Etcd,
        data: serde_json::value::to_raw_value(data).ok()?,
    })
}

/// The end of the key range that starts with `prefix` (etcd's `range_end`).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Watches `config.prefix` on the first endpoint that answers and, independently, polls
/// every member's status, until `shutdown` completes or `out` closes. A broken watch
/// resumes after the last revision it delivered; a compacted one says what it lost (a
/// status error) and resumes from the compaction. Returns the last revision delivered,
/// to resume from.
pub async fn watch(
    config: EtcdConfig,
    out: LineSender,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<i64, EtcdError> {
    if config.endpoints.is_empty() {
        return Err(EtcdError::NoEndpoints);
    }
    if let Some(tls) = config.endpoints.iter().find(|e| e.starts_with("https://")) {
        return Err(request_error(
            tls,
            "TLS (client certificates) is not supported yet: use an http:// client URL",
        ));
    }
    let client = client();
    let revision = AtomicI64::new(config.resume_after);
    // Either loop ends only when nobody reads its lines any more.
    tokio::select! {
        () = shutdown => {}
        () = watch_loop(&client, &config, &out, &revision) => {}
        () = status_loop(&client, &config, &out) => {}
    }
    Ok(revision.load(Ordering::Relaxed))
}

/// Every `status_every`, each member's status, with the leader it had before when that
/// changed.
async fn status_loop(client: &HttpClient, config: &EtcdConfig, out: &LineSender) {
    let mut leaders: Vec<Option<String>> = vec![None; config.endpoints.len()];
    let mut ticker = tokio::time::interval(config.status_every);
    loop {
        ticker.tick().await;
        for (i, ep) in config.endpoints.iter().enumerate() {
            let mut status = read_status_with(client, ep, Duration::from_secs(5)).await;
            if let Some(prev) = leaders[i].as_ref().filter(|p| **p != status.leader) {
                status.previous_leader = Some(prev.clone());
            }
            leaders[i] = Some(status.leader.clone());
            let data = serde_json::json!({"endpoint": ep, "status": status});
            if let Some(l) = line(&data) {
                if out.send(l).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The watch, reconnected (to the next endpoint) whenever it breaks or ends.
async fn watch_loop(
    client: &HttpClient,
    config: &EtcdConfig,
    out: &LineSender,
    revision: &AtomicI64,
) {
    let mut backoff = Duration::from_millis(100);
    let mut turn = 0usize;
    loop {
        let endpoint = config.endpoints[turn % config.endpoints.len()].clone();
        turn += 1;
        let from = revision.load(Ordering::Relaxed);
        let body = serde_json::json!({"create_request": {
            "key": B64.encode(config.prefix.as_bytes()),
            "range_end": B64.encode(prefix_end(&config.prefix)),
            "start_revision": if from > 0 { from + 1 } else { 0 },
            "progress_notify": true,
        }})
        .to_string();
        match post(client, &endpoint, "/v3/watch", body).await {
            Ok(resp) => {
                if !stream_events(resp.into_body(), &endpoint, out, revision, &mut backoff).await {
                    return;
                }
            }
            Err(e) => {
                if !send_status_error(out, &endpoint, &e.to_string()).await {
                    return;
                }
            }
        }
        // The stream broke or ended (the server's watch timeout, a restart): watch again,
        // after a pause that grows while streams keep ending without news.
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Reads one watch stream to its end, sending a line per response with events. False
/// when nobody reads the lines any more.
async fn stream_events(
    mut body: hyper::body::Incoming,
    endpoint: &str,
    out: &LineSender,
    revision: &AtomicI64,
    backoff: &mut Duration,
) -> bool {
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return true };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        if buf.len() > MAX_MESSAGE {
            return true;
        }
        // The gateway writes one JSON object per line.
        while let Some(end) = memchr::memchr(b'\n', &buf) {
            let message: Vec<u8> = buf.drain(..=end).collect();
            let Ok(message) = serde_json::from_slice::<WatchMessage>(&message) else {
                continue;
            };
            if let Some(err) = message.error {
                return send_status_error(out, endpoint, &format!("watch: {err}")).await;
            }
            let Some(result) = message.result else {
                continue;
            };
            if result.canceled {
                let compacted = int(&result.compact_revision);
                let reason = result.cancel_reason.unwrap_or_default();
                let msg = if compacted > 0 {
                    let lost = format!(
                        "revisions {} to {}",
                        revision.load(Ordering::Relaxed) + 1,
                        compacted - 1
                    );
                    revision.store(compacted - 1, Ordering::Relaxed);
                    format!("watch compacted: {lost} cannot be seen any more")
                } else {
                    format!("watch canceled: {reason}")
                };
                return send_status_error(out, endpoint, &msg).await;
            }
            if result.events.is_empty() {
                continue;
            }
            let header_rev = result.header.as_ref().map_or(0, |h| int(&h.revision));
            let mut events = Vec::with_capacity(result.events.len());
            for e in result.events {
                let key = B64.decode(&e.kv.key).unwrap_or_default();
                let value =
                    e.kv.value
                        .as_deref()
                        .map(|v| B64.decode(v).unwrap_or_default());
                let mod_revision = int(&e.kv.mod_revision);
                revision.fetch_max(mod_revision, Ordering::Relaxed);
                events.push(LineEvent {
                    kind: e.kind.unwrap_or_else(|| "PUT".to_owned()),
                    object: stored_object(
                        &String::from_utf8_lossy(&key),
                        value.as_deref().unwrap_or_default(),
                    ),
                    kv: LineKv {
                        key: e.kv.key,
                        mod_revision,
                        version: int(&e.kv.version),
                        value_sha256: value.map(|v| hex(&Sha256::digest(&v))),
                    },
                });
            }
            let data = WatchLine {
                endpoint,
                header: RevisionHeader {
                    revision: header_rev,
                },
                events,
            };
            if let Some(l) = line(&data) {
                if out.send(l).await.is_err() {
                    return false;
                }
            }
            *backoff = Duration::from_millis(100);
        }
    }
    true
}

/// Reports a watch problem as a status error of `endpoint`; false when nobody listens.
async fn send_status_error(out: &LineSender, endpoint: &str, message: &str) -> bool {
    let status = serde_json::json!({"endpoint": endpoint, "status": {"errors": [message]}});
    match line(&status) {
        Some(l) => out.send(l).await.is_ok(),
        None => true,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_and_protobuf_envelopes_name_the_object() {
        let value = b"k8s\x00\n\x0f\n\x02v1\x12\tConfigMap\x12\x03abc";
        let o = stored_object("/registry/configmaps/shop/cart-config", value).unwrap();
        assert_eq!(o.resource, "configmaps");
        assert_eq!(o.namespace.as_deref(), Some("shop"));
        assert_eq!(o.name, "cart-config");
        assert_eq!(o.kind.as_deref(), Some("ConfigMap"));
        assert_eq!(o.api_version.as_deref(), Some("v1"));
        let node = stored_object("/registry/minions/node-1", b"k8s:enc:aescbc:v1:key1:xx").unwrap();
        assert_eq!(
            (node.namespace, node.encrypted, node.kind),
            (None, true, None)
        );
        let crd = stored_object(
            "/registry/example.com/widgets/ns/w1",
            br#"{"apiVersion":"example.com/v1","kind":"Widget"}"#,
        )
        .unwrap();
        assert_eq!(crd.resource, "example.com/widgets");
        assert_eq!(crd.kind.as_deref(), Some("Widget"));
        let definition = stored_object(
            "/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com",
            b"",
        )
        .unwrap();
        assert_eq!(definition.namespace, None);
        assert_eq!(definition.name, "widgets.example.com");
        assert_eq!(stored_object("/other/x", b""), None);
    }

    #[test]
    fn member_ids_above_i64_stay_whole() {
        let big = Some(serde_json::Value::String("13835058055282163712".into()));
        assert_eq!(member_id(&big), "13835058055282163712");
        assert_eq!(member_id(&None), "0");
    }

    #[test]
    fn prefix_end_is_the_next_key_after_the_prefix() {
        assert_eq!(prefix_end("/registry/"), b"/registry0");
    }

    proptest! {
        #[test]
        fn any_value_is_read_without_panicking(
            key in "/registry/[a-z/]{0,40}",
            value in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut v = b"k8s\x00".to_vec();
            v.extend_from_slice(&value);
            let _ = stored_object(&key, &v);
            let _ = stored_object(&key, &value);
        }
    }
}
