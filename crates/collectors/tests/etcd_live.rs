//! The etcd collector against a real etcd (Debian's `etcd-server`) on loopback: watch with
//! kinds decoded from storage envelopes, values never recorded, resume after a stop
//! without loss or duplicates, member status, and a real NOSPACE alarm from a tiny quota.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tapio_collectors::node_agents::etcd::{watch, EtcdConfig};
use tapio_collectors::node_agents::LiveLine;
use tapio_collectors::node_sources::parse_etcd;
use tapio_collectors::recording::Record;
use tapio_domain::{EventKind, Observation, Source};
use tokio::sync::{mpsc, oneshot};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A single-member etcd with a 2 MB backend quota, killed on drop.
struct Etcd {
    url: String,
    child: Child,
    dir: std::path::PathBuf,
}

impl Etcd {
    fn start() -> Self {
        let (client, peer) = (free_port(), free_port());
        let dir = std::env::temp_dir().join(format!("tapio-etcd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "t", "--data-dir"])
            .arg(&dir)
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("t={peer_url}")])
            .args(["--quota-backend-bytes", "2000000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd is installed (scripts/install-test-deps.sh installs etcd-server)");
        let etcd = Self { url, child, dir };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !etcd.ctl(&["endpoint", "health"], None) {
            assert!(
                std::time::Instant::now() < deadline,
                "etcd did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        etcd
    }

    /// Runs etcdctl; `value` goes to its standard input.
    fn ctl(&self, args: &[&str], value: Option<&[u8]>) -> bool {
        let mut child = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcdctl is installed (etcd-client)");
        let mut stdin = child.stdin.take().unwrap();
        if let Some(v) = value {
            stdin.write_all(v).unwrap();
        }
        drop(stdin);
        child.wait().unwrap().success()
    }

    /// The store's current revision.
    fn revision(&self) -> i64 {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url, "endpoint", "status", "-w", "json"])
            .output()
            .unwrap();
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        status[0]["Status"]["header"]["revision"].as_i64().unwrap()
    }

    /// Whether etcd has raised a NOSPACE alarm.
    fn out_of_space(&self) -> bool {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url, "alarm", "list"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("NOSPACE")
    }

    fn put(&self, key: &str, value: &[u8]) {
        assert!(self.ctl(&["put", key], Some(value)), "etcdctl put {key}");
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A storage envelope as the API server writes it: `k8s\0` + runtime.Unknown.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = vec![0x0a, api_version.len() as u8];
    type_meta.extend_from_slice(api_version.as_bytes());
    type_meta.extend_from_slice(&[0x12, kind.len() as u8]);
    type_meta.extend_from_slice(kind.as_bytes());
    let mut v = b"k8s\x00".to_vec();
    v.extend_from_slice(&[0x0a, type_meta.len() as u8]);
    v.extend_from_slice(&type_meta);
    v.extend_from_slice(&[0x12, raw.len() as u8]);
    v.extend_from_slice(raw);
    v
}

struct Watcher {
    rx: mpsc::Receiver<LiveLine>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<i64>,
}

fn start(url: &str, resume_after: i64) -> Watcher {
    let (tx, rx) = mpsc::channel(256);
    let (stop, stopped) = oneshot::channel::<()>();
    let config = EtcdConfig {
        endpoints: vec![url.to_owned()],
        status_every: Duration::from_millis(200),
        resume_after,
        ..EtcdConfig::default()
    };
    let task = tokio::spawn(async move {
        watch(config, tx, async {
            let _ = stopped.await;
        })
        .await
        .expect("watch ends cleanly")
    });
    Watcher { rx, stop, task }
}

/// Lines until `done` accepts one, failing after 20 s.
async fn until(
    rx: &mut mpsc::Receiver<LiveLine>,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    loop {
        let line = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} within 20 s: {got:#?}"))
            .expect("the collector runs");
        let v: serde_json::Value = serde_json::from_str(line.data.get()).unwrap();
        let hit = done(&v);
        got.push(v);
        if hit {
            return got;
        }
    }
}

fn watched_names(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l["events"].as_array())
        .flatten()
        .map(|e| e["object"]["name"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn parse(line: &serde_json::Value) -> Vec<Observation> {
    let record = Record::live(Source::Etcd, line);
    let mut out = Vec::new();
    parse_etcd(&record, &mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_status_resume_and_alarms_against_a_real_etcd() {
    let etcd = Etcd::start();
    // From the current revision, so that nothing written after this line can be missed
    // while the watch is being set up.
    let mut first = start(&etcd.url, etcd.revision());
    // A healthy status first: the member has a leader and nothing to report.
    let status = until(&mut first.rx, "status", |v| v.get("status").is_some()).await;
    let status = status.last().unwrap();
    assert_ne!(status["status"]["leader"], "0", "{status}");
    assert!(parse(status).is_empty(), "{:?}", parse(status));

    etcd.put(
        "/registry/configmaps/shop/cart-config",
        &envelope("v1", "ConfigMap", b"x"),
    );
    etcd.put(
        "/registry/secrets/shop/db",
        &envelope("v1", "Secret", b"hunter2-SECRET"),
    );
    let lines = until(&mut first.rx, "the Secret's event", |v| {
        watched_names(std::slice::from_ref(v)).contains(&"db".to_owned())
    })
    .await;
    let events: Vec<&serde_json::Value> = lines
        .iter()
        .filter_map(|l| l["events"].as_array())
        .flatten()
        .collect();
    let cm = events
        .iter()
        .find(|e| e["object"]["name"] == "cart-config")
        .unwrap();
    assert_eq!(cm["type"], "PUT");
    assert_eq!(cm["object"]["kind"], "ConfigMap");
    assert_eq!(cm["object"]["namespace"], "shop");
    let secret = events.iter().find(|e| e["object"]["name"] == "db").unwrap();
    assert_eq!(secret["object"]["kind"], "Secret");
    assert_eq!(secret["kv"]["value_sha256"].as_str().unwrap().len(), 64);
    let all = serde_json::to_string(&lines).unwrap();
    assert!(!all.contains("hunter2"), "a stored value reached a line");
    assert!(secret["kv"].get("value").is_none());

    first.stop.send(()).unwrap();
    let revision = first.task.await.unwrap();
    assert!(revision >= 3, "{revision}");

    // Written while stopped: the resumed watch delivers exactly these, once.
    etcd.put("/registry/pods/shop/cart-1", &envelope("v1", "Pod", b"a"));
    etcd.put("/registry/pods/shop/cart-2", &envelope("v1", "Pod", b"b"));
    let mut second = start(&etcd.url, revision);
    etcd.put("/registry/pods/shop/cart-3", &envelope("v1", "Pod", b"c"));
    let lines = until(&mut second.rx, "cart-3", |v| {
        watched_names(std::slice::from_ref(v)).contains(&"cart-3".to_owned())
    })
    .await;
    assert_eq!(watched_names(&lines), ["cart-1", "cart-2", "cart-3"]);

    // Fill the 2 MB quota: etcd raises NOSPACE, and the status says so. Writes are retried
    // until etcd refuses one (a write can also fail by timing out on a busy machine).
    let big = vec![b'x'; 700_000];
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut i = 0;
    while !etcd.out_of_space() {
        assert!(
            std::time::Instant::now() < deadline,
            "etcd raised no NOSPACE alarm after {i} writes of 700 kB"
        );
        let _ = etcd.ctl(
            &[
                "--command-timeout=30s",
                "put",
                &format!("/registry/configmaps/shop/big-{i}"),
            ],
            Some(&big),
        );
        i += 1;
    }
    let lines = until(&mut second.rx, "a NOSPACE alarm", |v| {
        v["status"]["alarms"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    let alarm = lines.last().unwrap();
    assert_eq!(alarm["status"]["alarms"][0], "NOSPACE");
    let events = parse(alarm);
    assert!(
        events.iter().any(|o| matches!(o, Observation::Event(e)
            if matches!(&e.kind, EventKind::EtcdTrouble { what, .. } if what == "alarm"))),
        "{events:?}"
    );
    second.stop.send(()).unwrap();
    second.task.await.unwrap();
}
