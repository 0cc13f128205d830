//! Test support: real processes on loopback.

// Each integration test binary uses a different part of this module.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `n` different free loopback ports: all bound at once, then released (ports taken one
/// after the other with `free_port` can repeat, and a server given a taken port fails).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// Waits until `port` accepts connections, up to `limit`.
pub fn wait_for_port(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A real `nats-server` with JetStream on a loopback port, stopped on drop.
pub struct NatsServer {
    pub port: u16,
    pub store: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server with a fresh store, or `None` (with the reason printed) when the
    /// binary is missing outside CI. In CI a missing server fails the test.
    pub fn start(name: &str) -> Option<Self> {
        let found = Command::new("nats-server")
            .arg("--version")
            .output()
            .is_ok();
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "nats-server is not installed (scripts/install-test-deps.sh installs it)"
            );
            eprintln!("skipped: nats-server not installed (run scripts/install-test-deps.sh)");
            return None;
        }
        let store = std::env::temp_dir().join(format!("tapio-nats-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let mut server = Self {
            port: free_port(),
            store,
            child: None,
        };
        server.restart();
        Some(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL: no graceful shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        assert!(
            wait_for_port(self.port, Duration::from_secs(10)),
            "nats-server did not listen on {}",
            self.port
        );
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// The repository's example recordings.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// The sum of a metric family's samples (every label set) on a service's /metrics, or
/// `None` while it does not answer.
pub fn metric_sum(port: u16, name: &str) -> Option<u64> {
    let (status, body) = http_get(port, "/metrics", None);
    (status == 200).then(|| {
        body.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    })
}

/// A plain HTTP/1.1 GET on loopback: (status, body). `token` goes in as a bearer token.
pub fn http_get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    http_exchange(port, &format!("GET {path} HTTP/1.1\r\n{auth}"), b"")
}

/// A plain HTTP/1.1 POST on loopback: (status, body).
pub fn http_post(port: u16, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let head = format!(
        "POST {path} HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    http_exchange(port, &head, body)
}

/// Sends a request (`head`: request line and headers, each ending in CRLF) and reads
/// the whole answer.
fn http_exchange(port: u16, head: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the server listens");
    write!(stream, "{head}Host: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// A kubeconfig in `dir` for an API server on loopback `port` (plain HTTP, no user).
pub fn kubeconfig(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: test\ncurrent-context: test\nusers:\n- name: test\n  user: {{}}\n"),
    )
    .unwrap();
    path
}

/// `correlation-service` serving HTTP on `port`, fed by the NATS server at `nats`, with
/// the API token `token`; killed on drop.
pub struct CorrelationService {
    pub port: u16,
    child: Child,
}

impl CorrelationService {
    pub fn start(nats: &str, token: &str) -> Self {
        Self::start_with(nats, token, &[])
    }

    /// Started with more command-line arguments.
    pub fn start_with(nats: &str, token: &str, args: &[String]) -> Self {
        let port = free_port();
        let mut args = args.to_vec();
        if !args.iter().any(|a| a == "--grpc-listen") {
            args.extend(["--grpc-listen".into(), "off".into()]);
        }
        let child = Command::new(env!("CARGO_BIN_EXE_correlation-service"))
            .args(["--nats", nats, "--listen", &format!("127.0.0.1:{port}")])
            .args(&args)
            .env("TAPIO_API_TOKEN", token)
            .stdout(Stdio::null())
            .spawn()
            .expect("correlation-service runs");
        assert!(
            wait_for_port(port, Duration::from_secs(20)),
            "no HTTP on {port}"
        );
        Self { port, child }
    }

    /// Waits until the API lists at least one insight; returns the report's JSON.
    pub fn wait_for_insights(&self, token: &str) -> serde_json::Value {
        self.wait_for_report(token, "insights", |r| {
            r["insights"].as_array().is_some_and(|a| !a.is_empty())
        })
    }

    /// Waits until the API's report satisfies `done`; returns it.
    pub fn wait_for_report(
        &self,
        token: &str,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = http_get(self.port, "/api/v1/insights", Some(token));
            if status == 200 {
                let report: serde_json::Value = serde_json::from_str(&body).unwrap();
                if done(&report) {
                    return report;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within 60 s ({status}: {body})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for CorrelationService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes a recording onto the bus with `tapio publish`.
pub fn publish(nats: &str, recording: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .arg("publish")
        .arg(recording)
        .args(["--nats", nats])
        .output()
        .expect("tapio runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd`, failing the test with its standard error unless it succeeded.
pub fn succeed(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Serves `app` on a loopback port from a thread of its own; returns the port once it
/// accepts connections.
pub fn serve_router(app: axum::Router) -> u16 {
    let port = free_port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    assert!(wait_for_port(port, Duration::from_secs(10)));
    port
}

/// Notifications received: (sink, body) of each.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

/// An Alertmanager-compatible (`/api/v2/alerts`) and a Slack-compatible (`/slack`)
/// receiver on a loopback port; returns the port and what it received.
pub fn alert_receiver() -> (u16, Received) {
    let got: Received = Default::default();
    let keep = |path: &'static str, store: Received| {
        axum::routing::post(move |body: axum::Json<serde_json::Value>| async move {
            store.lock().unwrap().push((path.to_owned(), body.0));
            "ok"
        })
    };
    let app = axum::Router::new()
        .route("/api/v2/alerts", keep("alertmanager", got.clone()))
        .route("/slack", keep("slack", got.clone()));
    (serve_router(app), got)
}

/// (root cause kind, entity) of each insight, in order: what an analysis concluded.
pub fn roots(insights: &[tapio_domain::Insight]) -> Vec<String> {
    insights
        .iter()
        .map(|i| format!("{:?} {}", i.root_cause.kind, i.root_cause.entity))
        .collect()
}
