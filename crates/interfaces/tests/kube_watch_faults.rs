//! The live kubeapi collector (the real kube-rs client and kube-runtime watcher) against a
//! real HTTP server in this test that speaks the Kubernetes list/watch protocol: chunked
//! watch streams from a resourceVersion, a connection dropped mid-stream, 500 and 429
//! answers, a 410 Gone that forces a relist, and a burst of 10,000 changes. No Kubernetes
//! API server can run here, so the server plays one, with real Pod payload shapes; it is
//! itself checked against `kubectl get pods -w`.

mod support;

use std::collections::{BTreeMap, VecDeque};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tapio_collectors::kubeapi::live::watch_cluster_objects;

/// What the next watch of pods gets.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Streams this many events, then the connection breaks mid-stream.
    DropAfter(usize),
    /// Answers with this HTTP status (429 with `Retry-After: 1`).
    Status(u16),
    /// Streams nothing until the test releases it, then a watch `ERROR` event: 410 Gone
    /// (the history it would need was compacted meanwhile).
    GoneWhenReleased,
}

/// A pretend API server: the pods' change history, and faults for the next watches.
#[derive(Default)]
struct FakeApi {
    /// (resourceVersion, watch event type, object), in order.
    history: Vec<(u64, &'static str, Value)>,
    faults: VecDeque<Fault>,
    /// The query of every pod watch, in order.
    pod_watches: Vec<String>,
    released: bool,
}

type Shared = Arc<Mutex<FakeApi>>;

fn pod(i: usize, rv: u64, generation: u64) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("web-{i}"), "namespace": "shop",
                     "uid": format!("00000000-0000-4000-8000-{i:012}"),
                     "resourceVersion": rv.to_string(),
                     "creationTimestamp": "2026-11-26T00:00:00Z",
                     "labels": {"app": "web", "generation": generation.to_string()}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "nginx:1.27"}]},
        "status": {"phase": "Running"}
    })
}

impl FakeApi {
    fn push(&mut self, kind: &'static str, i: usize, generation: u64) -> u64 {
        let rv = self.latest() + 1;
        self.history.push((rv, kind, pod(i, rv, generation)));
        rv
    }

    fn latest(&self) -> u64 {
        self.history.last().map_or(5, |(rv, _, _)| *rv)
    }

    /// The list: each pod's latest version, at the latest resourceVersion.
    fn list(&self) -> Value {
        let mut current: BTreeMap<String, &Value> = BTreeMap::new();
        for (_, kind, o) in &self.history {
            let name = o["metadata"]["name"].as_str().unwrap().to_owned();
            if *kind == "DELETED" {
                current.remove(&name);
            } else {
                current.insert(name, o);
            }
        }
        json!({"apiVersion": "v1", "kind": "PodList",
               "metadata": {"resourceVersion": self.latest().to_string()},
               "items": current.values().collect::<Vec<_>>()})
    }
}

fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

fn json_response(status: u16, body: Value) -> Response {
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if status == 429 {
        r = r.header("retry-after", "1");
    }
    r.body(Body::from(body.to_string())).unwrap()
}

fn status_object(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

async fn api(State(state): State<Shared>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let watch = query_value(&query, "watch").is_some_and(|v| v == "true" || v == "1");
    // Discovery, which kubectl needs.
    match path.as_str() {
        "/api" => {
            return json_response(
                200,
                json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
            )
        }
        "/apis" => {
            return json_response(
                200,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}),
            )
        }
        "/api/v1" => {
            return json_response(
                200,
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
            "resources": [{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
                           "verbs": ["get", "list", "watch"], "shortNames": ["po"]}]}),
            )
        }
        _ => {}
    }
    let pods = path == "/api/v1/pods" || path == "/api/v1/namespaces/shop/pods";
    if !pods {
        // Every other kind: nothing, and watches that stay quiet for a while.
        if watch {
            let quiet = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, std::io::Error>(String::new())
            });
            return Response::builder().body(Body::from_stream(quiet)).unwrap();
        }
        return json_response(
            200,
            json!({"apiVersion": "v1", "kind": "List",
            "metadata": {"resourceVersion": "1"}, "items": []}),
        );
    }
    if !watch {
        let list = state.lock().unwrap().list();
        return json_response(200, list);
    }
    let from: u64 = query_value(&query, "resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let fault = {
        let mut s = state.lock().unwrap();
        s.pod_watches.push(query.clone());
        s.faults.pop_front()
    };
    match fault {
        Some(Fault::Status(code)) => {
            let reason = if code == 429 {
                "TooManyRequests"
            } else {
                "InternalError"
            };
            return json_response(code, status_object(code, reason, "injected by the test"));
        }
        Some(Fault::GoneWhenReleased) => {
            let gone = futures_util::stream::once(async move {
                while !state.lock().unwrap().released {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let event = json!({"type": "ERROR", "object": status_object(410, "Expired",
                    &format!("too old resource version: {from} (compacted)"))});
                Ok::<_, std::io::Error>(format!("{event}\n"))
            });
            return Response::builder()
                .header("content-type", "application/json")
                .body(Body::from_stream(gone))
                .unwrap();
        }
        _ => {}
    }
    let limit = match fault {
        Some(Fault::DropAfter(n)) => Some(n),
        _ => None,
    };
    // Streams history after `from` as it grows, for a few seconds (a watch timeout), or
    // breaks the connection after `limit` events.
    let stream = futures_util::stream::unfold(
        (state, from, 0usize, Instant::now()),
        move |(state, mut last, mut sent, started)| async move {
            loop {
                if limit.is_some_and(|n| sent >= n) {
                    let broken =
                        std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected drop");
                    return Some((Err(broken), (state, last, usize::MAX, started)));
                }
                if sent == usize::MAX || started.elapsed() > Duration::from_secs(4) {
                    return None;
                }
                let next = {
                    let s = state.lock().unwrap();
                    s.history.iter().find(|(rv, _, _)| *rv > last).cloned()
                };
                match next {
                    Some((rv, kind, object)) => {
                        last = rv;
                        sent += 1;
                        let line = format!("{}\n", json!({"type": kind, "object": object}));
                        return Some((Ok(line), (state, last, sent, started)));
                    }
                    None => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        },
    );
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// Serves `state` on a loopback port; returns the port.
fn serve(state: Shared) -> u16 {
    support::serve_router(axum::Router::new().fallback(api).with_state(state))
}

fn client(port: u16) -> kube::Client {
    let config = kube::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

/// The live collector, running: the (name, resourceVersion) of every Pod line so far.
struct Collector {
    seen: Arc<Mutex<Vec<(String, u64)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    fn start(port: u16) -> Self {
        let seen: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
        let store = seen.clone();
        let task = tokio::spawn(async move {
            let mut lines = watch_cluster_objects(&client(port), &[]);
            while let Some(line) = lines.next().await {
                let Ok(line) = line else { continue };
                let v: Value = serde_json::from_str(line.data.get()).unwrap();
                if v["object"]["kind"] == "Pod" {
                    let meta = &v["object"]["metadata"];
                    let rv = meta["resourceVersion"].as_str().unwrap().parse().unwrap();
                    store
                        .lock()
                        .unwrap()
                        .push((meta["name"].as_str().unwrap().to_owned(), rv));
                }
            }
        });
        Self { seen, task }
    }

    /// Waits until the lines so far satisfy `done`; returns them.
    async fn until(
        &self,
        what: &str,
        done: impl Fn(&[(String, u64)]) -> bool,
    ) -> Vec<(String, u64)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if done(&seen) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 60 s: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn has_rv(rv: u64) -> impl Fn(&[(String, u64)]) -> bool {
    move |s| s.iter().any(|(_, r)| *r == rv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_watch_resumes_through_500_and_429_without_loss_or_duplicates() {
    let state = Shared::default();
    {
        let mut s = state.lock().unwrap();
        s.push("ADDED", 99, 1); // rv 6: in the first list
    }
    let port = serve(state.clone());
    state.lock().unwrap().faults.extend([
        Fault::DropAfter(7),
        Fault::Status(500),
        Fault::Status(429),
    ]);
    let collector = Collector::start(port);
    collector.until("the first list", has_rv(6)).await;
    let last = {
        let mut s = state.lock().unwrap();
        for i in 0..10 {
            s.push("ADDED", i, 1);
        }
        for i in 0..10 {
            s.push("MODIFIED", i, 2);
        }
        s.latest()
    };
    collector.until("every change", has_rv(last)).await;
    // One more change: anything repeated would have come before it.
    let marker = state.lock().unwrap().push("MODIFIED", 3, 3);
    let seen = collector.until("the marker", has_rv(marker)).await;
    let rvs: Vec<u64> = seen.iter().map(|(_, rv)| *rv).collect();
    let expected: Vec<u64> = (6..=marker).collect();
    assert_eq!(rvs, expected, "every change exactly once, in order");
    // The drop, the 500 and the 429 were each followed by another watch. kube-runtime
    // resumes from the resourceVersion of its last list, so the server sent the seven
    // changes before the drop again: the collector's memory of what it reported is what
    // keeps every change to one line.
    let watches = state.lock().unwrap().pod_watches.clone();
    assert!(watches.len() >= 4, "{watches:?}");
    assert!(
        watches
            .iter()
            .all(|w| query_value(w, "resourceVersion").is_some()),
        "every watch resumes from a resourceVersion: {watches:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_gone_relists_and_repeats_nothing_already_seen() {
    let state = Shared::default();
    {
        let mut s = state.lock().unwrap();
        for i in 0..10 {
            s.push("ADDED", i, 1); // rv 6..15
        }
        s.faults.push_back(Fault::GoneWhenReleased);
    }
    let port = serve(state.clone());
    let collector = Collector::start(port);
    collector.until("the first list", |s| s.len() >= 10).await;
    // Five pods change while the watch is stuck; then the server says the history it
    // would need is gone: the client relists, and sees five new versions and five it
    // already had.
    {
        let mut s = state.lock().unwrap();
        for i in 0..5 {
            s.push("MODIFIED", i, 2); // rv 16..20
        }
        s.released = true;
    }
    collector.until("the relist", has_rv(20)).await;
    let marker = state.lock().unwrap().push("MODIFIED", 7, 3);
    let seen = collector.until("the marker", has_rv(marker)).await;
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a line repeated after the relist: {seen:?}"
    );
    assert_eq!(seen.len(), 10 + 5 + 1, "{seen:?}");
    let watches = state.lock().unwrap().pod_watches.clone();
    assert!(watches.len() >= 2, "{watches:?}");
}

/// Peak resident memory of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ten_thousand_changes_arrives_whole_in_bounded_memory() {
    const CHANGES: usize = 10_000;
    let state = Shared::default();
    state.lock().unwrap().push("ADDED", 0, 0);
    let port = serve(state.clone());
    let collector = Collector::start(port);
    collector.until("the first list", has_rv(6)).await;
    let before = peak_rss_kib();
    let last = {
        let mut s = state.lock().unwrap();
        for n in 0..CHANGES {
            s.push("MODIFIED", n % 100, 1 + n as u64 / 100);
        }
        s.latest()
    };
    let seen = collector.until("the burst", has_rv(last)).await;
    assert_eq!(seen.len(), 1 + CHANGES, "every change arrives once");
    let grown_mib = (peak_rss_kib() - before) / 1024;
    // The server keeps the whole history in this process too; the collector must not
    // add more than a bounded amount on top of it.
    assert!(grown_mib < 200, "peak memory grew by {grown_mib} MiB");
}

#[test]
fn kubectl_watches_the_test_server() {
    let state = Shared::default();
    for i in 0..3 {
        state.lock().unwrap().push("ADDED", i, 1);
    }
    let port = serve(state.clone());
    let dir = std::env::temp_dir().join(format!("tapio-kubectl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = support::kubeconfig(&dir, port);
    let mut kubectl = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "get",
            "pods",
            "--all-namespaces",
            "--watch",
            "--output",
            "name",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl is installed");
    let stdout = kubectl.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("kubectl printed a line")
    };
    let listed: Vec<String> = (0..3).map(|_| next()).collect();
    assert_eq!(listed, ["pod/web-0", "pod/web-1", "pod/web-2"]);
    // A change arrives through kubectl's watch.
    state.lock().unwrap().push("MODIFIED", 1, 2);
    assert_eq!(next(), "pod/web-1");
    let _ = kubectl.kill();
    let _ = kubectl.wait();
    std::fs::remove_dir_all(&dir).unwrap();
}
