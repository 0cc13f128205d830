//! `tapio insights` and `tapio explain --server` against a real correlation-service fed
//! by a real NATS JetStream bus: the current insights, then new ones as they appear.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{example, publish, CorrelationService, NatsServer};

const TOKEN: &str = "cli-test-token-93ab";

fn tapio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(args)
        .env("TAPIO_API_TOKEN", TOKEN)
        .output()
        .expect("tapio runs")
}

#[test]
fn follow_prints_new_insights_as_they_appear() {
    let Some(nats) = NatsServer::start("insights-cli") else {
        return;
    };
    publish(&nats.url(), &example("flagship-configmap-oom.jsonl"));
    let service = CorrelationService::start(&nats.url(), TOKEN);
    service.wait_for_insights(TOKEN);
    let server = format!("http://127.0.0.1:{}", service.port);

    // The current report, and the chain for one pod.
    let listed = support::succeed(
        Command::new(env!("CARGO_BIN_EXE_tapio"))
            .args(["insights", "--server", &server])
            .env("TAPIO_API_TOKEN", TOKEN),
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("ConfigMap shop/cart-config changed"));
    let explained = tapio(&[
        "explain",
        "shop/cart",
        "--server",
        &server,
        "--format",
        "json",
    ]);
    assert!(explained.status.success());
    let none = tapio(&["explain", "shop/unrelated", "--server", &server]);
    assert_eq!(none.status.code(), Some(3));
    let denied = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["insights", "--server", &server])
        .env_remove("TAPIO_API_TOKEN")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&denied.stderr).contains("wants a token"));

    let mut follow = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args([
            "insights", "--follow", "--format", "json", "--server", &server,
        ])
        .env("TAPIO_API_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || -> serde_json::Value {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("an insight line within 60 s");
        serde_json::from_str(&line).unwrap()
    };
    let first = next();
    assert_eq!(first["root_cause"]["entity"]["name"], "cart-config");

    // A second incident reaches the bus: it is printed as it appears.
    publish(&nats.url(), &example("bad-image-rollout.jsonl"));
    let second = next();
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["root_cause"]["kind"], "ImageChange", "{second:#}");
    let _ = follow.kill();
    let _ = follow.wait();
}
