//! The DNS collector against real DNS traffic: a real dnsmasq in a network namespace of
//! its own (made with `ip netns`), queried over loopback inside it, captured by the
//! collector's AF_PACKET socket entered into that namespace. Needs root.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tapio_collectors::node_agents::dns::{self, DnsConfig};
use tapio_collectors::node_agents::LiveLine;
use tapio_collectors::node_sources::parse_dns;
use tapio_collectors::recording::Record;
use tapio_domain::{EventKind, Observation, Source};

/// A network namespace with loopback up and dnsmasq answering on 127.0.0.1:53.
struct DnsNamespace {
    name: String,
    dnsmasq: Child,
}

impl DnsNamespace {
    fn start() -> Self {
        let name = format!("tapio-dns-{}", std::process::id());
        let ip = |args: &[&str]| {
            let ok = Command::new("ip").args(args).status().map(|s| s.success());
            assert!(
                matches!(ok, Ok(true)),
                "`ip {}` failed: this test needs root and iproute2",
                args.join(" ")
            );
        };
        ip(&["netns", "add", &name]);
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        let dnsmasq = Command::new("ip")
            .args([
                "netns",
                "exec",
                &name,
                "dnsmasq",
                "--no-daemon",
                "--no-resolv",
            ])
            .args([
                "--no-hosts",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
            ])
            .args(["--port=53", "--pid-file", "--user=root"])
            .args(["--address=/ok.test/10.1.2.3", "--local=/nx.test/"])
            // An upstream that does not exist: dnsmasq never answers these.
            .args(["--server=/dead.test/127.0.0.9"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq is installed (scripts/install-test-deps.sh)");
        let ns = Self { name, dnsmasq };
        // Ready when it answers.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while ns
            .ask("127.0.0.1", "ok.test", 1, Duration::from_millis(200))
            .is_none()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "dnsmasq did not start"
            );
        }
        ns
    }

    fn path(&self) -> std::path::PathBuf {
        std::path::Path::new("/var/run/netns").join(&self.name)
    }

    /// Sends one A query from inside the namespace; the response code, if one came.
    fn ask(&self, server: &str, name: &str, id: u16, wait: Duration) -> Option<u8> {
        let path = self.path();
        let (server, name) = (server.to_owned(), name.to_owned());
        std::thread::spawn(move || {
            let ns = std::fs::File::open(path).unwrap();
            // SAFETY: setns on this (short-lived) thread only.
            assert_eq!(
                unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) },
                0
            );
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.set_read_timeout(Some(wait)).unwrap();
            let mut m = Message::new(id, MessageType::Query, OpCode::Query);
            m.metadata.recursion_desired = true;
            m.add_query(Query::query(
                Name::from_ascii(&name).unwrap(),
                RecordType::A,
            ));
            socket
                .send_to(&m.to_vec().unwrap(), (server.as_str(), 53))
                .unwrap();
            let mut buf = [0u8; 512];
            socket.recv(&mut buf).ok().map(|_| buf[3] & 0x0f)
        })
        .join()
        .unwrap()
    }
}

impl Drop for DnsNamespace {
    fn drop(&mut self) {
        let _ = self.dnsmasq.kill();
        let _ = self.dnsmasq.wait();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn recv(rx: &mut tokio::sync::mpsc::Receiver<LiveLine>, what: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(line) = rx.try_recv() {
            return serde_json::from_str(line.data.get()).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exchange for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn answers_nxdomain_and_timeouts_are_captured_in_a_namespace() {
    let ns = DnsNamespace::start();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let collector = dns::start(
        DnsConfig {
            node: "dns-test-node".into(),
            netns: Some(ns.path()),
            timeout: Duration::from_millis(500),
            max_pending: 1024,
        },
        tx,
    )
    .unwrap_or_else(|e| panic!("DNS capture: {e}"));

    assert_eq!(
        ns.ask("127.0.0.1", "ok.test", 11, Duration::from_secs(2)),
        Some(0)
    );
    let ok = recv(&mut rx, "ok.test");
    assert_eq!(ok["query"], "ok.test");
    assert_eq!(ok["rcode"], "NOERROR");
    assert_eq!(ok["answers"][0], "10.1.2.3");
    assert_eq!(
        (ok["client"].as_str(), ok["server"].as_str()),
        (Some("127.0.0.1"), Some("127.0.0.1"))
    );
    assert!(ok["latency_ms"].as_f64().unwrap() >= 0.0);

    assert_eq!(
        ns.ask("127.0.0.1", "nx.test", 12, Duration::from_secs(2)),
        Some(3)
    );
    let nx = recv(&mut rx, "nx.test");
    assert_eq!(
        (nx["query"].as_str(), nx["rcode"].as_str()),
        (Some("nx.test"), Some("NXDOMAIN"))
    );

    // Nothing listens on 127.0.0.2: no answer, so a TIMEOUT after 500 ms.
    assert_eq!(
        ns.ask("127.0.0.2", "lost.test", 13, Duration::from_millis(50)),
        None
    );
    let lost = recv(&mut rx, "lost.test");
    assert_eq!(
        (lost["query"].as_str(), lost["rcode"].as_str()),
        (Some("lost.test"), Some("TIMEOUT"))
    );
    assert!(lost["latency_ms"].as_f64().unwrap() >= 500.0);

    // The parser (the same one replay uses) makes the timeout a DNS failure of the client.
    let record = Record::live(Source::Dns, &lost);
    let mut out = Vec::new();
    parse_dns(&record, &mut out).unwrap();
    assert!(
        matches!(&out[..], [Observation::Event(e)]
            if matches!(&e.kind, EventKind::DnsFailure { client, rcode, .. } if client == "127.0.0.1" && rcode == "TIMEOUT")),
        "{out:?}"
    );
    let stats = collector.stats();
    assert_eq!(
        stats
            .kernel_drops
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    drop(collector);
}
