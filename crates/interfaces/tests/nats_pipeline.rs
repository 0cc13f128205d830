//! The pipeline over a real NATS JetStream server on loopback: a recording published by
//! `tapio publish` and consumed by `correlation-service` gives the same insights as
//! `tapio analyze` in one process; retried publishes are stored once; every observation
//! published is processed; a steady stream does not hold insights back.

mod support;

use std::process::Command;

use support::{example, NatsServer};
use tapio_domain::InsightReport;

fn tapio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(args)
        .output()
        .expect("tapio runs")
}

fn service(url: &str, durable: &str) -> InsightReport {
    let out = Command::new(env!("CARGO_BIN_EXE_correlation-service"))
        .args([
            "--nats",
            url,
            "--durable",
            durable,
            "--exit-when-idle",
            "1",
            "--failover-after",
            "2",
            "--grpc-listen",
            "off",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{}", support::free_port()))
        .output()
        .expect("correlation-service runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("insight JSON")
}

fn published_count(stderr: &[u8]) -> (u64, u64) {
    let text = String::from_utf8_lossy(stderr);
    let words: Vec<&str> = text.split_whitespace().collect();
    let n = |after: &str| -> u64 {
        words
            .iter()
            .position(|w| *w == after)
            .and_then(|i| words.get(i + 1))
            .and_then(|w| w.parse().ok())
            .unwrap_or(u64::MAX)
    };
    let dup = words
        .iter()
        .position(|w| w.starts_with('('))
        .and_then(|i| words[i].trim_start_matches('(').parse().ok())
        .unwrap_or(u64::MAX);
    (n("published"), dup)
}

#[test]
fn published_recording_gives_the_same_insights_as_one_process_and_retries_are_stored_once() {
    let Some(nats) = NatsServer::start("same-insights") else {
        return;
    };
    let file = example("flagship-configmap-oom.jsonl");
    let path = file.to_str().unwrap();
    let first = tapio(&["publish", path, "--nats", &nats.url()]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let (stored, dup) = published_count(&first.stderr);
    assert!(
        stored > 500 && dup == 0,
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // Publishing the same recording again is a retry: JetStream drops every message.
    let again = tapio(&["publish", path, "--nats", &nats.url()]);
    assert_eq!(
        published_count(&again.stderr),
        (0, stored),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let over_bus = service(&nats.url(), "same");
    let local: InsightReport =
        serde_json::from_slice(&tapio(&["analyze", "--format", "json", path]).stdout).unwrap();
    let ids = |r: &InsightReport| {
        r.insights
            .iter()
            .map(|i| (i.id.clone(), i.root_cause.clone()))
            .collect::<Vec<_>>()
    };
    assert!(!local.insights.is_empty());
    assert_eq!(ids(&over_bus), ids(&local));
}

#[test]
fn a_server_restart_between_publish_and_consume_loses_nothing() {
    let Some(mut nats) = NatsServer::start("restart") else {
        return;
    };
    let path = example("bad-image-rollout.jsonl");
    let out = tapio(&["publish", path.to_str().unwrap(), "--nats", &nats.url()]);
    assert!(out.status.success());
    nats.restart();
    let over_bus = service(&nats.url(), "restart");
    let local: InsightReport = serde_json::from_slice(
        &tapio(&["analyze", "--format", "json", path.to_str().unwrap()]).stdout,
    )
    .unwrap();
    assert_eq!(
        over_bus.insights.iter().map(|i| &i.id).collect::<Vec<_>>(),
        local.insights.iter().map(|i| &i.id).collect::<Vec<_>>()
    );
    assert_eq!(
        over_bus.stats.events, local.stats.events,
        "every event published was processed once"
    );
}

#[test]
fn a_service_killed_mid_stream_is_replaced_without_losing_or_doubling_anything() {
    let Some(nats) = NatsServer::start("kill") else {
        return;
    };
    let rec = std::env::temp_dir().join(format!("tapio-kill-{}.jsonl.zst", std::process::id()));
    let rec_s = rec.to_str().unwrap();
    let generated = tapio(&[
        "generate", "--nodes", "30", "--pods", "3000", "--hours", "1", "-o", rec_s,
    ]);
    assert!(generated.status.success());
    assert!(tapio(&["publish", rec_s, "--nats", &nats.url()])
        .status
        .success());

    let port = support::free_port();
    let mut first = Command::new(env!("CARGO_BIN_EXE_correlation-service"))
        .args([
            "--nats",
            &nats.url(),
            "--durable",
            "kill",
            "--exit-when-idle",
            "5",
            "--failover-after",
            "2",
            "--grpc-listen",
            "off",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(support::wait_for_port(
        port,
        std::time::Duration::from_secs(10)
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut consumed_at_kill = 0;
    while std::time::Instant::now() < deadline {
        consumed_at_kill =
            support::metric_sum(port, "tapio_observations_consumed_total").unwrap_or(0);
        if consumed_at_kill >= 1000 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        consumed_at_kill >= 1000,
        "the first replica consumed {consumed_at_kill}"
    );

    let replacement = service(&nats.url(), "kill");
    let local: InsightReport =
        serde_json::from_slice(&tapio(&["analyze", "--format", "json", rec_s]).stdout).unwrap();
    let _ = std::fs::remove_file(&rec);
    assert_eq!(
        replacement
            .insights
            .iter()
            .map(|i| &i.id)
            .collect::<Vec<_>>(),
        local.insights.iter().map(|i| &i.id).collect::<Vec<_>>()
    );
    assert_eq!(replacement.insights.len(), 2, "both injected incidents");
}

#[test]
fn a_steady_stream_of_observations_does_not_hold_insights_back() {
    use std::time::{Duration, Instant};
    use tapio_domain::{EntityKind, EntityRef, MetricSample, Observation, Timestamp};
    use tapio_integrations::bus::nats::{NatsBusConfig, NatsPublisher};

    let Some(nats) = NatsServer::start("steady") else {
        return;
    };
    let token = "steady-token";
    let service = support::CorrelationService::start(&nats.url(), token);
    support::publish(&nats.url(), &example("flagship-configmap-oom.jsonl"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut publisher = runtime
        .block_on(NatsPublisher::connect(&NatsBusConfig::new(&nats.url())))
        .unwrap();
    let sample = |i: i64| {
        Observation::Metric(MetricSample {
            at: Timestamp::from_second(1_800_000_000 + i).unwrap(),
            entity: EntityRef::new(EntityKind::Pod, Some("elsewhere"), "steady-0"),
            service: None,
            name: "requests".to_owned(),
            value: i as f64,
            counter: false,
            attributes: Vec::new(),
        })
    };
    // One observation every 100 ms: the stream never pauses for the 500 ms after which
    // the service analyses anyway, so only the periodic analysis can show the insight
    // while the observations keep coming.
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0.. {
        runtime
            .block_on(async {
                publisher.publish(&sample(i)).await?;
                publisher.flush().await
            })
            .unwrap();
        let (status, body) = support::http_get(service.port, "/api/v1/insights", Some(token));
        if status == 200 {
            let report: InsightReport = serde_json::from_str(&body).unwrap();
            if !report.insights.is_empty() {
                assert_eq!(report.insights[0].root_cause.entity.name, "cart-config");
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no insight within 60 s while observations kept arriving ({i} sent)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
