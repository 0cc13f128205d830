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
