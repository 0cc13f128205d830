//! `tapio record` with the real kube-rs client against a real HTTP server that speaks the
//! Kubernetes list/watch protocol (no API server binary can run on these machines): an
//! initial list with a resourceVersion, then a chunked watch stream of JSON events, in the
//! payload shapes the API server sends. The recording must analyse to the incident the
//! server played, and Secret values must not reach it; `tapio run` live reaches the same
//! conclusions, in one process and through a real NATS server to `correlation-service`.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Value};
use tapio_domain::{InsightReport, RootCauseKind};

/// Collection path -> (list items, watch events streamed to the first watcher).
type Collections = BTreeMap<String, (Vec<Value>, Vec<Value>)>;

fn ts(offset_secs: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_secs)).to_string()
}

fn meta(name: &str, uid: &str, rv: u32) -> Value {
    json!({"name": name, "namespace": "shop", "uid": uid, "resourceVersion": rv.to_string(),
           "creationTimestamp": ts(-3600), "managedFields": [{"manager": "kubectl", "operation": "Update"}]})
}

fn pod(rv: u32, restarts: i32, last: Value, state: Value) -> Value {
    let mut m = meta(
        "cart-7d9f8b6c5d-x2x7q",
        "1b7c7a52-3f7e-4c4e-9a51-0b6f3c0d9e11",
        rv,
    );
    m["labels"] = json!({"app": "cart", "pod-template-hash": "7d9f8b6c5d"});
    m["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "cart-7d9f8b6c5d",
        "uid": "9e0c2d5a-8b1f-4a7e-b3c4-2f6d8e9a0b1c", "controller": true, "blockOwnerDeletion": true}]);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": m,
        "spec": {"nodeName": "node-1", "containers": [{"name": "cart", "image": "shop/cart:1.4",
            "envFrom": [{"configMapRef": {"name": "cart-config"}}], "resources": {"limits": {"memory": "512Mi"}}}]},
        "status": {"phase": "Running", "podIP": "10.1.0.5", "containerStatuses": [{"name": "cart", "image": "shop/cart:1.4",
            "imageID": "", "ready": restarts == 0, "restartCount": restarts, "lastState": last, "state": state}]}})
}

fn config(rv: u32, pool: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cart-config", "5d0e2b1e-0000-4000-8000-0000000000c1", rv),
           "data": {"DB_POOL_MAX_SIZE": pool}})
}

/// The story: cart-config's pool size raised, the container reloads it... and is
/// OOM-killed into CrashLoopBackOff.
fn collections() -> Collections {
    let running = json!({"running": {"startedAt": ts(-3000)}});
    let oom = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": ts(-3000), "finishedAt": ts(0)}});
    let backoff = json!({"waiting": {"reason": "CrashLoopBackOff",
        "message": "back-off 10s restarting failed container=cart pod=cart-7d9f8b6c5d-x2x7q_shop(1b7c7a52-3f7e-4c4e-9a51-0b6f3c0d9e11)"}});
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("cart-db", "5d0e2b1e-0000-4000-8000-0000000000d1", 12),
        "type": "Opaque", "data": {"password": "c3VwZXJzZWNyZXQ="}});
    let mut c = Collections::new();
    c.insert(
        "/api/v1/pods".into(),
        (
            vec![pod(10, 0, json!({}), running.clone())],
            vec![json!({"type": "MODIFIED", "object": pod(21, 1, oom, backoff)})],
        ),
    );
    c.insert(
        "/api/v1/configmaps".into(),
        (
            vec![config(11, "20")],
            vec![json!({"type": "MODIFIED", "object": config(20, "200")})],
        ),
    );
    c.insert("/api/v1/secrets".into(), (vec![secret], vec![]));
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "uid": "5d0e2b1e-0000-4000-8000-0000000000e1", "resourceVersion": "5"},
        "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ts(-86400)}]}});
    c.insert("/api/v1/nodes".into(), (vec![node], vec![]));
    c
}

fn list_kind(path: &str) -> &'static str {
    match path.rsplit('/').next().unwrap_or_default() {
        "pods" => "PodList",
        "nodes" => "NodeList",
        "configmaps" => "ConfigMapList",
        "secrets" => "SecretList",
        _ => "List",
    }
}

async fn api(State(state): State<Script>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    // The kubelet, through the API server's node proxy.
    if path == "/api/v1/nodes/node-1/proxy/stats/summary" {
        let summary = json!({"node": {"nodeName": "node-1"}, "pods": [{"podRef": {"name": "cart-7d9f8b6c5d-x2x7q", "namespace": "shop", "uid": "1b7c7a52-3f7e-4c4e-9a51-0b6f3c0d9e11"},
            "containers": [{"name": "cart", "memory": {"time": ts(0), "workingSetBytes": 400_000_000u64}, "cpu": {"time": ts(0), "usageNanoCores": 250_000_000u64}}]}]});
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(summary.to_string()))
            .unwrap();
    }
    if path == "/api/v1/nodes/node-1/proxy/pods" {
        let pods = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []});
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(pods.to_string()))
            .unwrap();
    }
    let watch = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let (items, events) = {
        let mut all = state.lock().unwrap();
        match all.get_mut(&path) {
            // The scripted events go to the first watch only; a re-watch sees none.
            Some((items, events)) if watch => (items.clone(), std::mem::take(events)),
            Some((items, _)) => (items.clone(), Vec::new()),
            None => (Vec::new(), Vec::new()),
        }
    };
    if !watch {
        let body = json!({"kind": list_kind(&path), "apiVersion": "v1", "metadata": {"resourceVersion": "100"}, "items": items});
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
    }
    // A chunked stream: one JSON event per chunk, a pause between them, then the server
    // ends the watch (as its timeout does) and kube-runtime watches again.
    let chunks =
        futures_util::stream::unfold((events.into_iter(), 0u32), |(mut it, n)| async move {
            tokio::time::sleep(Duration::from_millis(if n == 0 { 300 } else { 100 })).await;
            let next = it.next()?;
            Some((Ok::<_, std::io::Error>(format!("{next}\n")), (it, n + 1)))
        });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(chunks))
        .unwrap()
}

/// What the list/watch test server serves, to be played again.
type Script = std::sync::Arc<std::sync::Mutex<Collections>>;

/// The list/watch test server playing `collections()`, a temporary directory
/// (`tapio-<name>-<pid>`) and a kubeconfig in it that points at the server.
fn list_watch_server(name: &str) -> (Script, std::path::PathBuf, std::path::PathBuf) {
    let state: Script = std::sync::Arc::new(std::sync::Mutex::new(collections()));
    let port = support::serve_router(axum::Router::new().fallback(api).with_state(state.clone()));
    let dir = std::env::temp_dir().join(format!("tapio-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = support::kubeconfig(&dir, port);
    (state, dir, kubeconfig)
}

/// What an analysis concluded: pattern, root entity and symptom entity of each insight.
fn conclusions(
    r: &InsightReport,
) -> Vec<(String, tapio_domain::EntityName, tapio_domain::EntityName)> {
    r.insights
        .iter()
        .map(|i| {
            (
                i.pattern.clone(),
                i.root_cause.entity.clone(),
                i.symptom.entity.clone(),
            )
        })
        .collect()
}

/// `tapio run` with the kubeapi and kubelet collectors against the server, for 3 s, with
/// more arguments; its standard output.
fn run_live(kubeconfig: &std::path::Path, more: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args([
            "run",
            "--duration",
            "3",
            "--interval",
            "1",
            "--kubelet-interval",
            "1",
        ])
        .args(["--collector", "kubeapi", "--collector", "kubelet"])
        .args(more)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("kubeapi  active"), "{stderr}");
    out.stdout
}

#[test]
fn run_with_a_nats_pipeline_gives_the_correlation_service_what_one_process_concludes() {
    let Some(nats) = support::NatsServer::start("run-pipeline") else {
        return;
    };
    let (script, dir, kubeconfig) = list_watch_server("run-pipeline");
    // The live collectors publish to NATS instead of analysing.
    run_live(&kubeconfig, &["--pipeline", &nats.url()]);
    let service = support::succeed(
        Command::new(env!("CARGO_BIN_EXE_correlation-service"))
            .args([
                "--nats",
                &nats.url(),
                "--exit-when-idle",
                "1",
                "--grpc-listen",
                "off",
            ])
            .args(["--listen", &format!("127.0.0.1:{}", support::free_port())]),
    );
    let over_bus: InsightReport = serde_json::from_slice(&service.stdout).unwrap();
    // The same story played again, analysed in one process.
    *script.lock().unwrap() = collections();
    let local: InsightReport =
        serde_json::from_slice(&run_live(&kubeconfig, &["--format", "json"])).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!local.insights.is_empty());
    assert_eq!(conclusions(&over_bus), conclusions(&local));
}

#[test]
fn record_against_a_list_watch_server_analyses_to_the_played_incident() {
    let (script, dir, kubeconfig) = list_watch_server("record");
    let out = dir.join("recorded.jsonl");
    let record = support::succeed(
        Command::new(env!("CARGO_BIN_EXE_tapio"))
            .args(["record", "--duration", "3", "--kubelet-interval", "1"])
            .args(["--collector", "kubeapi", "--collector", "kubelet", "-o"])
            .arg(&out)
            .env("KUBECONFIG", &kubeconfig),
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains("c3VwZXJzZWNyZXQ=") && !text.contains("managedFields"),
        "{text}"
    );
    // Nor in anything the collector logged.
    let logged = String::from_utf8_lossy(&record.stderr);
    assert!(!logged.contains("c3VwZXJzZWNyZXQ=") && !logged.contains("supersecret"));
    assert!(text.contains("\"source\":\"kubeapi\""));
    assert!(
        text.contains("\"source\":\"kubelet\"") && text.contains("\"endpoint\":\"stats/summary\""),
        "{text}"
    );

    let analysed = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["analyze", "--format", "json"])
        .arg(&out)
        .output()
        .unwrap();
    let report: InsightReport = serde_json::from_slice(&analysed.stdout).unwrap();
    // Nor in the events and insights made from it.
    for out in [&analysed.stdout, &analysed.stderr] {
        let out = String::from_utf8_lossy(out);
        assert!(!out.contains("c3VwZXJzZWNyZXQ=") && !out.contains("supersecret"));
    }

    // The live run against the same server (playing the incident again) reaches the
    // same conclusions.
    *script.lock().unwrap() = collections();
    let live: InsightReport =
        serde_json::from_slice(&run_live(&kubeconfig, &["--format", "json"])).unwrap();
    assert_eq!(conclusions(&live), conclusions(&report), "{:?}", live.stats);
    let _ = std::fs::remove_dir_all(&dir);
    let top = report
        .insights
        .first()
        .unwrap_or_else(|| panic!("no insight from:\n{text}"));
    assert_eq!(top.root_cause.kind, RootCauseKind::ConfigChange, "{top:#?}");
    assert_eq!(top.root_cause.entity.name, "cart-config");
}
