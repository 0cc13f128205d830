//! The OTLP parser: OpenTelemetry export requests in the OTLP/HTTP JSON encoding
//! (`resourceMetrics`, `resourceSpans`, `resourceLogs`) into metric samples, spans and log
//! records tied to cluster entities through their resource attributes.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer};
use tapio_domain::{EntityKind, EntityRef, LogRecord, MetricSample, Observation, SpanRecord};

use crate::recording::Record;
use crate::ParseError;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ExportRequest {
    resource_metrics: Vec<ResourceMetrics>,
    resource_spans: Vec<ResourceSpans>,
    resource_logs: Vec<ResourceLogs>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Resource {
    attributes: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    #[serde(default)]
    value: AnyValue,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AnyValue {
    string_value: Option<String>,
    #[serde(deserialize_with = "opt_i64_lenient")]
    int_value: Option<i64>,
    double_value: Option<f64>,
    bool_value: Option<bool>,
}

impl AnyValue {
    fn as_text(&self) -> Option<String> {
        if let Some(s) = &self.string_value {
            return Some(s.clone());
        }
        if let Some(i) = self.int_value {
            return Some(i.to_string());
        }
        if let Some(d) = self.double_value {
            return Some(d.to_string());
        }
        self.bool_value.map(|b| b.to_string())
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ResourceMetrics {
    resource: Resource,
    scope_metrics: Vec<ScopeMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ScopeMetrics {
    metrics: Vec<Metric>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Metric {
    name: String,
    gauge: Option<NumberPoints>,
    sum: Option<NumberPoints>,
    histogram: Option<HistogramPoints>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct NumberPoints {
    data_points: Vec<NumberPoint>,
    is_monotonic: bool,
    /// 1 or "AGGREGATION_TEMPORALITY_DELTA", 2 or "..._CUMULATIVE".
    aggregation_temporality: Option<serde_json::Value>,
}

impl NumberPoints {
    /// A cumulative monotonic sum: a counter whose rate is the signal.
    fn is_counter(&self) -> bool {
        self.is_monotonic
            && match &self.aggregation_temporality {
                Some(serde_json::Value::Number(n)) => n.as_i64() == Some(2),
                Some(serde_json::Value::String(s)) => s.ends_with("CUMULATIVE"),
                _ => false,
            }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct NumberPoint {
    attributes: Vec<KeyValue>,
    #[serde(deserialize_with = "opt_u64_lenient")]
    time_unix_nano: Option<u64>,
    as_double: Option<f64>,
    #[serde(deserialize_with = "opt_i64_lenient")]
    as_int: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct HistogramPoints {
    data_points: Vec<HistogramPoint>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct HistogramPoint {
    attributes: Vec<KeyValue>,
    #[serde(deserialize_with = "opt_u64_lenient")]
    time_unix_nano: Option<u64>,
    #[serde(deserialize_with = "opt_u64_lenient")]
    count: Option<u64>,
    sum: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ResourceSpans {
    resource: Resource,
    scope_spans: Vec<ScopeSpans>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ScopeSpans {
    spans: Vec<Span>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Span {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    #[serde(deserialize_with = "opt_u64_lenient")]
    start_time_unix_nano: Option<u64>,
    #[serde(deserialize_with = "opt_u64_lenient")]
    end_time_unix_nano: Option<u64>,
    status: Option<Status>,
    /// `SPAN_KIND_CLIENT` = 3, `SPAN_KIND_PRODUCER` = 4 (number or enum name).
    kind: Option<serde_json::Value>,
    /// Only the peer's address is kept from the attributes.
    #[serde(rename = "attributes", deserialize_with = "peer_attribute")]
    peer: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Status {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// Span attributes that name the peer of an outgoing call, most specific first.
const PEER_KEYS: [&str; 4] = [
    "server.address",
    "net.peer.name",
    "peer.service",
    "net.sock.peer.addr",
];

/// Reads a span's attribute list keeping only the best peer address, without allocating
/// for the other attributes. Anything malformed in it (not a list, entries that are not
/// `{key, value}`, null values) is skipped, as the other attributes are: it never fails
/// the span.
fn peer_attribute<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::borrow::Cow;

    /// Accepts any JSON value, keeping what `Keep` makes of maps (and lists, for the
    /// outer level) and nothing of the rest.
    macro_rules! ignore_scalars {
        ($out:ty) => {
            fn visit_bool<E>(self, _: bool) -> Result<$out, E> {
                Ok(Default::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<$out, E> {
                Ok(Default::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<$out, E> {
                Ok(Default::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<$out, E> {
                Ok(Default::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<$out, E> {
                Ok(Default::default())
            }
            fn visit_unit<E>(self) -> Result<$out, E> {
                Ok(Default::default())
            }
            fn visit_none<E>(self) -> Result<$out, E> {
                Ok(Default::default())
            }
        };
    }

    /// One `{"key": …, "value": …}`: the peer key's rank and value, if it is one.
    #[derive(Default)]
    struct Entry(Option<(usize, String)>);

    impl<'de> Deserialize<'de> for Entry {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Entry;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an attribute {key, value}")
                }
                ignore_scalars!(Entry);
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Entry(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                    let mut rank = None;
                    let mut value: Option<AnyValue> = None;
                    while let Some(field) = map.next_key::<Cow<'de, str>>()? {
                        match field.as_ref() {
                            "key" => {
                                let key = map.next_value::<Option<Cow<'de, str>>>()?;
                                rank = key.and_then(|key| PEER_KEYS.iter().position(|k| *k == key));
                            }
                            // The key comes first in every exporter's output; a value seen
                            // before it is kept in case the key turns out to be a peer key.
                            "value" if rank.is_some() || value.is_none() => {
                                value = map.next_value::<Option<AnyValue>>()?;
                            }
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    Ok(Entry(rank.zip(value.and_then(|v| v.as_text()))))
                }
            }
            d.deserialize_any(V)
        }
    }

    struct Seq;
    impl<'de> Visitor<'de> for Seq {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of attributes")
        }
        ignore_scalars!(Option<String>);
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
            let mut best: Option<(usize, String)> = None;
            while let Some(Entry(found)) = seq.next_element()? {
                if let Some((rank, v)) = found {
                    if best.as_ref().is_none_or(|(b, _)| rank < *b) && !v.is_empty() {
                        best = Some((rank, v));
                    }
                }
            }
            Ok(best.map(|(_, v)| v))
        }
    }
    d.deserialize_any(Seq)
}

/// Whether a span is a call out of its service (CLIENT or PRODUCER).
fn is_outgoing(kind: &Option<serde_json::Value>) -> bool {
    match kind {
        Some(serde_json::Value::Number(n)) => matches!(n.as_i64(), Some(3 | 4)),
        Some(serde_json::Value::String(s)) => s == "SPAN_KIND_CLIENT" || s == "SPAN_KIND_PRODUCER",
        _ => false,
    }
}

/// The longest status message kept, in characters (client libraries can put whole
/// queries in it).
const MAX_STATUS_MESSAGE: usize = 512;

fn truncate_chars(mut s: String, max: usize) -> String {
    if let Some((cut, _)) = s.char_indices().nth(max) {
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ResourceLogs {
    resource: Resource,
    scope_logs: Vec<ScopeLogs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ScopeLogs {
    log_records: Vec<LogRecordJson>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct LogRecordJson {
    #[serde(deserialize_with = "opt_u64_lenient")]
    time_unix_nano: Option<u64>,
    #[serde(deserialize_with = "opt_u64_lenient")]
    observed_time_unix_nano: Option<u64>,
    severity_number: Option<serde_json::Value>,
    body: AnyValue,
}

/// OTLP JSON writes 64-bit integers as strings; producers also write plain numbers.
fn opt_u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Num(u64),
        Float(f64),
        Text(String),
    }
    Ok(match Option::<Lenient>::deserialize(d)? {
        None => None,
        Some(Lenient::Num(n)) => Some(n),
        Some(Lenient::Float(f)) if f >= 0.0 => Some(f as u64),
        Some(Lenient::Float(_)) => None,
        Some(Lenient::Text(s)) => s.parse().ok(),
    })
}

fn opt_i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Num(i64),
        Text(String),
    }
    Ok(match Option::<Lenient>::deserialize(d)? {
        None => None,
        Some(Lenient::Num(n)) => Some(n),
        Some(Lenient::Text(s)) => s.parse().ok(),
    })
}

fn nanos(n: Option<u64>, fallback: Timestamp) -> Timestamp {
    n.map(i128::from)
        .filter(|&n| n > 0)
        .and_then(|n| Timestamp::from_nanosecond(n).ok())
        .unwrap_or(fallback)
}

/// What the resource attributes say about where telemetry comes from.
struct Origin {
    entity: EntityRef,
    service: Option<String>,
}

fn origin(resource: &Resource) -> Origin {
    let get = |key: &str| {
        resource
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_text())
    };
    let namespace = get("k8s.namespace.name").or_else(|| get("service.namespace"));
    let service = get("service.name");
    let ns = namespace.as_deref();
    let entity = if let Some(pod) = get("k8s.pod.name") {
        EntityRef::new(EntityKind::Pod, ns, &pod).with_uid(get("k8s.pod.uid").as_deref())
    } else if let Some(d) = get("k8s.deployment.name") {
        EntityRef::new(EntityKind::Deployment, ns, &d)
    } else if let Some(s) = get("k8s.statefulset.name") {
        EntityRef::new(EntityKind::StatefulSet, ns, &s)
    } else if let Some(s) = &service {
        EntityRef::new(EntityKind::Service, ns, s)
    } else if let Some(n) = get("k8s.node.name").or_else(|| get("host.name")) {
        EntityRef::new(EntityKind::Node, None, &n)
    } else {
        EntityRef::new(EntityKind::Service, ns, "unknown_service")
    };
    Origin { entity, service }
}

fn attributes(kvs: &[KeyValue]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = kvs
        .iter()
        .filter_map(|kv| Some((kv.key.clone(), kv.value.as_text()?)))
        .collect();
    out.sort();
    out
}

fn status_is_error(status: &Option<Status>) -> Option<bool> {
    let code = status.as_ref()?.code.as_ref()?;
    Some(match code {
        serde_json::Value::Number(n) => n.as_i64() == Some(2),
        serde_json::Value::String(s) => s == "STATUS_CODE_ERROR",
        _ => false,
    })
}

/// Parses one `otlp` record.
pub fn parse(record: &Record, out: &mut Vec<Observation>) -> Result<(), ParseError> {
    let req: ExportRequest = serde_json::from_str(record.data.get())
        .map_err(|e| ParseError::Payload(format!("not an OTLP/JSON export request: {e}")))?;
    for rm in req.resource_metrics {
        let o = origin(&rm.resource);
        for m in rm.scope_metrics.into_iter().flat_map(|s| s.metrics) {
            let counter_by_name = m.name.ends_with("_total");
            let series = m
                .gauge
                .into_iter()
                .map(|g| (false, g))
                .chain(m.sum.map(|s| (s.is_counter(), s)));
            let points = series
                .flat_map(|(counter, p)| p.data_points.into_iter().map(move |d| (counter, d)));
            for (counter, p) in points {
                let Some(value) = p.as_double.or(p.as_int.map(|i| i as f64)) else {
                    continue;
                };
                if !value.is_finite() {
                    continue;
                }
                out.push(Observation::Metric(MetricSample {
                    at: nanos(p.time_unix_nano, record.ts),
                    entity: o.entity.clone(),
                    service: o.service.clone(),
                    name: m.name.clone(),
                    value,
                    counter: counter || counter_by_name,
                    attributes: attributes(&p.attributes),
                }));
            }
            for p in m.histogram.into_iter().flat_map(|h| h.data_points) {
                let (Some(count), Some(sum)) = (p.count, p.sum) else {
                    continue;
                };
                if count == 0 || !sum.is_finite() {
                    continue;
                }
                out.push(Observation::Metric(MetricSample {
                    at: nanos(p.time_unix_nano, record.ts),
                    entity: o.entity.clone(),
                    service: o.service.clone(),
                    name: format!("{}.mean", m.name),
                    value: sum / count as f64,
                    counter: false,
                    attributes: attributes(&p.attributes),
                }));
            }
        }
    }
    for rs in req.resource_spans {
        let o = origin(&rs.resource);
        let service = o.service.clone().unwrap_or_else(|| o.entity.name.clone());
        let pod = (o.entity.kind == EntityKind::Pod).then(|| o.entity.clone());
        for s in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
            let start = nanos(s.start_time_unix_nano, record.ts);
            let end = nanos(s.end_time_unix_nano, start);
            let error = status_is_error(&s.status);
            let status_message = match (error, s.status) {
                (
                    Some(true),
                    Some(Status {
                        message: Some(m), ..
                    }),
                ) if !m.is_empty() => Some(truncate_chars(m, MAX_STATUS_MESSAGE)),
                _ => None,
            };
            out.push(Observation::Span(SpanRecord {
                error,
                peer: s.peer.filter(|_| is_outgoing(&s.kind)),
                status_message,
                trace_id: s.trace_id,
                span_id: s.span_id,
                parent_span_id: s.parent_span_id.filter(|p| !p.is_empty()),
                service: service.clone(),
                pod: pod.clone(),
                name: s.name,
                start,
                end,
            }));
        }
    }
    for rl in req.resource_logs {
        let o = origin(&rl.resource);
        for l in rl.scope_logs.into_iter().flat_map(|s| s.log_records) {
            let at = nanos(l.time_unix_nano.or(l.observed_time_unix_nano), record.ts);
            let severity_number = l.severity_number.as_ref().and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_i64().map(|n| n as i32),
                _ => None,
            });
            out.push(Observation::Log(LogRecord {
                at,
                entity: o.entity.clone(),
                service: o.service.clone(),
                severity_number,
                body: l.body.as_text().unwrap_or_default(),
            }));
        }
    }
    Ok(())
}
