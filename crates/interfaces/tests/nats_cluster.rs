//! The pipeline on a real 3-server NATS JetStream cluster (nats-server from PyPI, as
//! scripts/install-test-deps.sh installs it), with streams kept in three copies: a
//! recording published through one server, that server killed, and the correlation
//! service reading the whole stream through another gives the insights of a
//! single-process `tapio analyze`.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{example, free_port, free_ports, wait_for_port};
use tapio_domain::InsightReport;

/// Three JetStream servers routed to each other; killed on drop.
struct Cluster {
    clients: Vec<u16>,
    servers: Vec<Option<Child>>,
    stores: Vec<PathBuf>,
}

impl Cluster {
    fn start() -> Option<Self> {
        if Command::new("nats-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "nats-server is not installed (scripts/install-test-deps.sh installs it)"
            );
            eprintln!("skipped: nats-server not installed");
            return None;
        }
        // Six different ports: a route port equal to another server's would keep that
        // server out of the cluster, and JetStream could not place three copies.
        let ports = free_ports(6);
        let (clients, routes) = (ports[..3].to_vec(), ports[3..].to_vec());
        let mut cluster = Self {
            clients: clients.clone(),
            servers: Vec::new(),
            stores: Vec::new(),
        };
        for i in 0..3 {
            let store =
                std::env::temp_dir().join(format!("tapio-nats-cluster-{}-{i}", std::process::id()));
            let _ = std::fs::remove_dir_all(&store);
            let others: Vec<String> = (0..3)
                .filter(|&j| j != i)
                .map(|j| format!("nats://127.0.0.1:{}", routes[j]))
                .collect();
            let child = Command::new("nats-server")
                .args(["-js", "-a", "127.0.0.1", "-p", &clients[i].to_string()])
                .args(["--server_name", &format!("n{i}"), "--cluster_name", "tapio"])
                .args(["--cluster", &format!("nats://127.0.0.1:{}", routes[i])])
                .args(["--routes", &others.join(",")])
                .arg("-sd")
                .arg(&store)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts");
            cluster.servers.push(Some(child));
            cluster.stores.push(store);
        }
        for &port in &clients {
            assert!(
                wait_for_port(port, Duration::from_secs(20)),
                "server on {port}"
            );
        }
        Some(cluster)
    }

    fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.clients[i])
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.servers[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill(i);
            let _ = std::fs::remove_dir_all(&self.stores[i]);
        }
    }
}

#[test]
fn a_three_server_cluster_loses_a_server_and_nothing_else() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let recording = example("flagship-configmap-oom.jsonl");
    // JetStream needs its cluster formed (a meta leader elected) before streams can be
    // made: publishing is retried until it is.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
            .arg("publish")
            .arg(&recording)
            .args(["--nats", &cluster.url(0), "--stream-replicas", "3"])
            .output()
            .unwrap();
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "publishing never succeeded: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    cluster.kill(0);

    let out = support::succeed(
        Command::new(env!("CARGO_BIN_EXE_correlation-service"))
            .args(["--nats", &cluster.url(1), "--stream-replicas", "3"])
            .args(["--exit-when-idle", "2", "--grpc-listen", "off"])
            .args(["--listen", &format!("127.0.0.1:{}", free_port())]),
    );
    let served: InsightReport = serde_json::from_slice(&out.stdout).unwrap();
    let local = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["analyze", "--format", "json"])
        .arg(&recording)
        .output()
        .unwrap();
    let local: InsightReport = serde_json::from_slice(&local.stdout).unwrap();
    let ids = |r: &InsightReport| r.insights.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    assert!(!local.insights.is_empty());
    assert_eq!(ids(&served), ids(&local));
}
