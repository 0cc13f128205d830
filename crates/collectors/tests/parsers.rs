//! Property tests of every source parser: arbitrary and hostile payloads never panic (a
//! bad record is an error for that record only), and Secret values never leave the parser.

use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{json, Value};
use tapio_collectors::recording::Record;
use tapio_collectors::SourceParsers;
use tapio_domain::{Observation, Source};

fn record(source: Source, data: &Value) -> Record {
    Record {
        line: 1,
        ts: Timestamp::from_second(1_800_000_000).unwrap(),
        source,
        data: serde_json::value::RawValue::from_string(data.to_string()).unwrap(),
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-zA-Z0-9:./_-]{0,16}".prop_map(Value::String),
        prop_oneof![
            Just("ADDED"),
            Just("MODIFIED"),
            Just("DELETED"),
            Just("Pod"),
            Just("v1"),
            Just("stats/summary"),
            Just("pods"),
            Just("oom_kill"),
            Just("2026-01-01T00:00:00Z"),
            Just("OOMKilled"),
            Just("Warning"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z]{1,8}",
                    Just("metadata".to_owned()),
                    Just("status".to_owned()),
                    Just("spec".to_owned()),
                    Just("containerStatuses".to_owned()),
                    Just("name".to_owned()),
                    Just("kind".to_owned()),
                    Just("namespace".to_owned()),
                    Just("pods".to_owned()),
                    Just("resourceMetrics".to_owned()),
                    Just("scopeMetrics".to_owned()),
                    Just("metrics".to_owned()),
                    Just("gauge".to_owned()),
                    Just("dataPoints".to_owned()),
                    Just("resourceSpans".to_owned()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KINDS: [&str; 20] = [
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ConfigMap",
    "Secret",
    "Node",
    "Service",
    "EndpointSlice",
    "PersistentVolumeClaim",
    "NetworkPolicy",
    "HorizontalPodAutoscaler",
    "ResourceQuota",
    "Event",
    "Namespace",
    "Lease",
    "Gadget",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_payload_of_any_source_never_panics(data in arb_json(), s in 0usize..8) {
        let mut parsers = SourceParsers::default();
        let mut out = Vec::new();
        let _ = parsers.parse(&record(Source::RECORDABLE[s], &data), &mut out);
    }

    #[test]
    fn watch_events_of_every_kind_with_random_bodies_never_panic(
        kind in 0usize..KINDS.len(),
        body in arb_json(),
        t in prop_oneof![Just("ADDED"), Just("MODIFIED"), Just("DELETED"), Just("BOOKMARK"), Just("ERROR"), Just("WEIRD")],
    ) {
        let mut object = match body { Value::Object(m) => m, _ => Default::default() };
        object.insert("kind".into(), json!(KINDS[kind]));
        object.insert("apiVersion".into(), json!(if KINDS[kind] == "Event" { "events.k8s.io/v1" } else { "v1" }));
        let data = json!({"type": t, "object": Value::Object(object)});
        let mut parsers = SourceParsers::default();
        let mut out = Vec::new();
        let _ = parsers.parse(&record(Source::Kubeapi, &data), &mut out);
        let _ = parsers.parse(&record(Source::Kubeapi, &data), &mut out);
    }

    #[test]
    fn secret_values_never_reach_observations_or_errors(
        value in "[A-Za-z0-9]{24,40}",
        key in "[a-z]{1,10}",
        second in "[A-Za-z0-9]{24,40}",
    ) {
        let secret = |v: &str, rv: &str| json!({"type": "MODIFIED", "object": {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop", "uid": "5d0e2b1e-0000-4000-8000-000000000001", "resourceVersion": rv},
            "type": "Opaque",
            "data": {key.clone(): v, "static": "c3RhdGlj"},
            "stringData": {"plain": v},
        }});
        let mut parsers = SourceParsers::default();
        let mut out = Vec::new();
        parsers.parse(&record(Source::Kubeapi, &secret(&value, "1")), &mut out).unwrap();
        parsers.parse(&record(Source::Kubeapi, &secret(&second, "2")), &mut out).unwrap();
        let mut broken = secret(&value, "3");
        broken["object"]["data"] = json!(["not", "a", "map", value.clone()]);
        let err = parsers.parse(&record(Source::Kubeapi, &broken), &mut out).unwrap_err();
        let all = format!("{}{:?}", serde_json::to_string(&out).unwrap(), err);
        prop_assert!(!all.contains(&value));
        prop_assert!(!all.contains(&second));
        // The change itself is still seen, by key.
        let changed = out.iter().any(|o| matches!(o, Observation::Event(e)
            if matches!(&e.kind, tapio_domain::EventKind::SecretChanged { keys } if keys.contains(&key) && keys.contains(&"plain".to_owned()))));
        prop_assert!(changed);
    }

    #[test]
    fn a_client_span_keeps_the_most_specific_peer_of_any_attribute_list(
        attrs in proptest::collection::vec(
            (
                prop_oneof![
                    Just("server.address"), Just("net.peer.name"), Just("peer.service"),
                    Just("db.system"), Just("http.url"), Just("")
                ],
                prop_oneof![
                    "[a-z0-9.-]{0,30}".prop_map(|s| json!({"stringValue": s})),
                    any::<i32>().prop_map(|i| json!({"intValue": i})),
                    Just(json!({})),
                    Just(json!(null)),
                ],
            ),
            0..8,
        ),
        kind in prop_oneof![Just(json!(3)), Just(json!(2)), Just(json!("SPAN_KIND_PRODUCER")), Just(json!(null))],
        junk in prop_oneof![Just(json!(null)), Just(json!("x")), Just(json!([1, [2]])), Just(json!({"key": null}))],
    ) {
        let mut attributes: Vec<Value> = attrs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        // Malformed entries are skipped, not fatal.
        attributes.insert(attributes.len() / 2, junk);
        let data = json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [{
            "traceId": "01", "spanId": "02", "name": "q", "kind": kind,
            "startTimeUnixNano": "1", "endTimeUnixNano": "2", "attributes": attributes,
        }]}]}]});
        let mut out = Vec::new();
        SourceParsers::default().parse(&record(Source::Otlp, &data), &mut out).unwrap();
        let Some(Observation::Span(span)) = out.first() else {
            return Err(TestCaseError::fail("no span"));
        };
        let outgoing = kind == json!(3) || kind == json!("SPAN_KIND_PRODUCER");
        let expected = ["server.address", "net.peer.name", "peer.service"].iter().find_map(|key| {
            attrs.iter().filter(|(k, _)| k == key).find_map(|(_, v)| {
                v.get("stringValue").and_then(Value::as_str).map(str::to_owned)
                    .or_else(|| v.get("intValue").map(|i| i.to_string()))
                    .filter(|s| !s.is_empty())
            })
        });
        prop_assert_eq!(span.peer.clone(), expected.filter(|_| outgoing));
    }
}

#[test]
fn a_failed_client_span_carries_its_peer_and_a_bounded_status_message() {
    let message = format!(
        "FATAL: sorry, too many clients already {}",
        "x".repeat(2000)
    );
    let data = json!({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "orders-api"}}
    ]}, "scopeSpans": [{"spans": [
        {"traceId": "01", "spanId": "02", "name": "INSERT", "kind": 3,
         "startTimeUnixNano": "1", "endTimeUnixNano": "2",
         "attributes": [
            {"key": "db.system", "value": {"stringValue": "postgresql"}},
            {"key": "net.peer.name", "value": {"stringValue": "old-name"}},
            {"key": "server.address", "value": {"stringValue": "orders-db-0.orders-db.orders.svc.cluster.local"}}
         ],
         "status": {"code": 2, "message": message}},
        {"traceId": "01", "spanId": "03", "name": "POST /orders", "kind": 2,
         "startTimeUnixNano": "1", "endTimeUnixNano": "2",
         "attributes": [{"key": "server.address", "value": {"stringValue": "orders-api"}}]}
    ]}]}]});
    let mut out = Vec::new();
    SourceParsers::default()
        .parse(&record(Source::Otlp, &data), &mut out)
        .unwrap();
    let spans: Vec<&tapio_domain::SpanRecord> = out
        .iter()
        .filter_map(|o| match o {
            Observation::Span(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(
        spans[0].peer.as_deref(),
        Some("orders-db-0.orders-db.orders.svc.cluster.local")
    );
    let kept = spans[0].status_message.as_deref().unwrap();
    assert!(kept.starts_with("FATAL: sorry, too many clients already"));
    assert_eq!(kept.chars().count(), 513, "512 characters and an ellipsis");
    // A server span's own address is not a peer it called.
    assert_eq!(spans[1].peer, None);
    assert_eq!(spans[1].status_message, None);
}

#[test]
fn a_pod_that_restarts_after_an_oom_gives_termination_restart_and_back_off_once_each() {
    let pod = |rv: &str, restarts: i32, last: Value, state: Value| {
        json!({"type": "MODIFIED", "object": {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "cart-7d9f8b6c5d-x2x7q", "namespace": "shop", "uid": "1b7c7a52-3f7e-4c4e-9a51-0b6f3c0d9e11", "resourceVersion": rv,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "cart-7d9f8b6c5d", "uid": "9e0c2d5a-8b1f-4a7e-b3c4-2f6d8e9a0b1c", "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"nodeName": "node-1", "containers": [{"name": "cart", "image": "cart:1", "resources": {"limits": {"memory": "512Mi"}}}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "cart", "image": "cart:1", "imageID": "", "ready": false, "restartCount": restarts, "lastState": last, "state": state}]}
        }})
    };
    let oom = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:05:00Z"}});
    let backoff = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container=cart pod=cart-7d9f8b6c5d-x2x7q_shop(1b7c7a52-3f7e-4c4e-9a51-0b6f3c0d9e11)"}});
    let running = json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}});
    let mut parsers = SourceParsers::default();
    let mut out = Vec::new();
    for (rv, restarts, last, state) in [
        ("1", 0, json!({}), running.clone()),
        ("2", 1, oom.clone(), backoff.clone()),
        ("3", 1, oom, backoff),
    ] {
        parsers
            .parse(
                &record(Source::Kubeapi, &pod(rv, restarts, last, state)),
                &mut out,
            )
            .unwrap();
    }
    let kinds: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            Observation::Event(e) => Some(e.kind.name()),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "pod_created",
            "container_terminated",
            "container_restarted",
            "container_waiting"
        ]
    );
}
