//! A flood of related failures makes one notification per incident: the crash-looping
//! rollout of examples/crashloop-bad-config.jsonl spread to 1,000 more pods, published
//! onto a real NATS JetStream bus, analysed by `correlation-service` pass after pass as
//! the flood arrives, announced to an Alertmanager-compatible and a Slack-compatible
//! receiver (real HTTP servers in this test).

mod support;

use serde_json::Value;
use support::{example, publish, CorrelationService, NatsServer};

const COPIES: usize = 1000;

/// The example with its failing pod's lines repeated for `COPIES` more pods, numbered
/// from `first`.
fn flood(first: usize) -> std::path::PathBuf {
    let source = example("crashloop-bad-config.jsonl");
    let analysed = std::process::Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["analyze", "--format", "json"])
        .arg(&source)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&analysed.stdout).unwrap();
    let pod = report["insights"][0]["symptom"]["entity"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = std::fs::read_to_string(&source).unwrap();
    let uid = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v["data"]["object"]["kind"] == "Pod" && v["data"]["object"]["metadata"]["name"] == pod
        })
        .and_then(|v| {
            v["data"]["object"]["metadata"]["uid"]
                .as_str()
                .map(str::to_owned)
        })
        .expect("the failing pod's object");
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if line.contains(&pod) {
            for i in first..first + COPIES {
                let copy_uid = format!("{}{:04x}", &uid[..uid.len() - 4], i);
                out.push_str(
                    &line
                        .replace(&pod, &format!("{pod}-f{i:04}"))
                        .replace(&uid, &copy_uid),
                );
                out.push('\n');
            }
        }
    }
    let path =
        std::env::temp_dir().join(format!("tapio-flood-{}-{first}.jsonl", std::process::id()));
    std::fs::write(&path, out).unwrap();
    path
}

const TOKEN: &str = "flood-test-token";

fn affected_pods(report: &Value) -> Option<usize> {
    let summary = report["insights"][0]["summary"].as_str()?;
    let (before, _) = summary.split_once(" pods affected")?;
    before.rsplit(' ').next()?.parse().ok()
}

#[test]
fn a_flood_of_related_failures_is_one_notification_per_incident() {
    let Some(nats) = NatsServer::start("alert-flood") else {
        return;
    };
    let (port, got) = support::alert_receiver();
    let service = CorrelationService::start_with(
        &nats.url(),
        TOKEN,
        &[
            "--alertmanager".into(),
            format!("http://127.0.0.1:{port}"),
            "--slack-webhook".into(),
            format!("http://127.0.0.1:{port}/slack"),
            "--ui-url".into(),
            "http://tapio.example:9091".into(),
        ],
    );
    // Two waves: the incident is announced on the first and grows with the second,
    // through further analysis passes, without being announced again.
    for wave in 0..2 {
        let recording = flood(wave * COPIES);
        publish(&nats.url(), &recording);
        let _ = std::fs::remove_file(&recording);
        let pods = (wave + 1) * COPIES + 1;
        let report = service.wait_for_report(TOKEN, &format!("{pods} pods affected"), |r| {
            affected_pods(r) == Some(pods)
        });
        let incidents = report["insights"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["confidence"].as_f64().unwrap() >= 0.5)
            .count();
        assert_eq!(incidents, 1, "{report:#}");
    }
    let (_, metrics) = support::http_get(service.port, "/metrics", Some(TOKEN));
    let analyses: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tapio_analyses_total "))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(analyses >= 2, "{metrics}");
    assert!(metrics.contains("tapio_alerts_sent_total 2\n"), "{metrics}");

    let got = got.lock().unwrap();
    let to = |sink: &str| got.iter().filter(|(p, _)| p == sink).count();
    assert_eq!((to("alertmanager"), to("slack")), (1, 1), "{got:#?}");
    let alert = &got.iter().find(|(p, _)| p == "alertmanager").unwrap().1[0];
    assert_eq!(alert["labels"]["alertname"], "TapioIncident");
    assert_eq!(
        alert["labels"]["root_cause"],
        "ConfigMap shop/checkout-config"
    );
    let link = alert["generatorURL"].as_str().unwrap();
    assert!(
        link.starts_with("http://tapio.example:9091/#/insight/in-"),
        "{link}"
    );
}
