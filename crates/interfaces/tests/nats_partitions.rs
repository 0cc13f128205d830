//! Scale-out over a real nats-server: correlation-service replicas that each own a namespace
//! partition of the events stream give, together, the insights of one `tapio analyze`
//! process; a standby replica of a partition takes over when the active one is killed.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::NatsServer;
use tapio_domain::{
    EntityKind, EntityRef, Event, EventId, EventKind, InsightReport, Observation, Partition,
    RawRef, Severity, Source, Timestamp,
};
use tapio_integrations::bus::nats::{NatsBusConfig, NatsPublisher, NatsSubscriber};

fn tapio(args: &[&str]) -> std::process::Output {
    support::succeed(Command::new(env!("CARGO_BIN_EXE_tapio")).args(args))
}

/// Publishes the recording with `tapio publish`; returns how many observations were stored.
fn publish(recording: &str, nats: &str, partitions: u32) -> u64 {
    let out = tapio(&[
        "publish",
        recording,
        "--nats",
        nats,
        "--partitions",
        &partitions.to_string(),
    ]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let words: Vec<&str> = said.split_whitespace().collect();
    words
        .iter()
        .position(|w| *w == "published")
        .and_then(|i| words.get(i + 1)?.parse().ok())
        .unwrap_or_else(|| panic!("no count in {said:?}"))
}

/// A generated cluster (30 nodes, 3,000 pods in 34 namespaces, one hour of churn) with its
/// two injected incidents, in two different namespaces; removed on drop.
struct Generated(PathBuf);

impl Generated {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("tapio-{name}-{}.jsonl.zst", std::process::id()));
        tapio(&[
            "generate",
            "--nodes",
            "30",
            "--pods",
            "3000",
            "--hours",
            "1",
            "-o",
            path.to_str().unwrap(),
        ]);
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Generated {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn analyse_locally(recording: &Path) -> InsightReport {
    let out = tapio(&["analyze", "--format", "json", recording.to_str().unwrap()]);
    serde_json::from_slice(&out.stdout).expect("insight JSON")
}

/// (id, root cause) of each insight, in a stable order.
fn answers(insights: &[tapio_domain::Insight]) -> BTreeSet<(String, String)> {
    insights
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                serde_json::to_string(&i.root_cause).expect("root cause JSON"),
            )
        })
        .collect()
}

/// A correlation-service replica of `partition` (of `partitions`) that exits once the
/// stream is drained and it has been idle for 3 s, printing its report; a standby takes
/// over from it `failover_after` seconds after it stops pulling.
fn replica(nats: &str, partitions: u32, partition: u32, port: u16, failover_after: u32) -> Child {
    serving(
        nats,
        partitions,
        partition,
        port,
        failover_after,
        &["--exit-when-idle", "3"],
    )
}

/// A replica that runs until killed, with more arguments.
fn serving(
    nats: &str,
    partitions: u32,
    partition: u32,
    port: u16,
    failover_after: u32,
    more: &[&str],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_correlation-service"))
        .args(["--nats", nats, "--durable", "scale", "--grpc-listen", "off"])
        .args(["--partitions", &partitions.to_string()])
        .args(["--partition", &partition.to_string()])
        .args(["--failover-after", &failover_after.to_string()])
        .args(more)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("correlation-service runs")
}

fn report_of(child: Child) -> InsightReport {
    report_within(child, Duration::from_secs(300))
}

/// The report of a replica that must exit within `limit` (killed and failed otherwise).
fn report_within(child: Child, limit: Duration) -> InsightReport {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let Ok(out) = rx.recv_timeout(limit) else {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        panic!("the replica did not finish within {limit:?}");
    };
    let out = out.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("insight JSON")
}

#[test]
fn two_and_three_partitions_give_the_insights_of_one_process() {
    let recording = Generated::new("partitions");
    let local = analyse_locally(&recording.0);
    assert_eq!(local.insights.len(), 2, "both injected incidents");
    for partitions in [2u32, 3] {
        let Some(nats) = NatsServer::start(&format!("partitions-{partitions}")) else {
            return;
        };
        let published = publish(recording.path(), &nats.url(), partitions);
        let replicas: Vec<Child> = (0..partitions)
            .map(|p| replica(&nats.url(), partitions, p, support::free_port(), 2))
            .collect();
        let reports: Vec<InsightReport> = replicas.into_iter().map(report_of).collect();

        let together: Vec<tapio_domain::Insight> = reports
            .iter()
            .flat_map(|r| r.insights.iter().cloned())
            .collect();
        assert_eq!(
            answers(&together),
            answers(&local.insights),
            "{partitions} partitions"
        );
        // Each incident is reported by one partition only.
        assert_eq!(
            together.len(),
            local.insights.len(),
            "{partitions} partitions"
        );
        // The work is shared: every partition took a part of the observations, none all
        // of them (cluster-scoped facts go to every partition, so the sum is larger).
        let taken: Vec<u64> = reports.iter().map(|r| r.stats.lines).collect();
        assert!(
            taken.iter().all(|&t| t > 0 && t < published),
            "{partitions} partitions took {taken:?} of {published} observations"
        );
        assert!(
            taken.iter().sum::<u64>() > published,
            "{partitions} partitions took {taken:?} of {published} observations"
        );
    }
}

#[test]
fn a_component_with_another_partition_count_is_refused_with_both_layouts_named() {
    let recording = support::example("flagship-configmap-oom.jsonl");
    let recording = recording.to_str().unwrap();
    let one = "published";
    let three = "tapio.events.{{partition(3,2)}}";
    // (partitions the stream was made with, partitions tried, found layout, expected layout)
    for (made, tried, found, expected) in [(1, 3, one, three), (3, 1, three, one)] {
        let Some(nats) = NatsServer::start(&format!("partition-mismatch-{made}")) else {
            return;
        };
        let url = nats.url();
        publish(recording, &url, made);
        let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
            .args(["publish", recording, "--nats", &url])
            .args(["--partitions", &tried.to_string()])
            .output()
            .expect("tapio runs");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{tried} partitions accepted");
        assert!(
            said.contains(&format!("stores subjects as {found}"))
                && said.contains(&format!("expects {expected}"))
                && said.contains("pipeline.partitions"),
            "{said}"
        );
    }
}

#[test]
fn every_replica_serves_the_insights_of_every_partition() {
    let Some(nats) = NatsServer::start("merged-view") else {
        return;
    };
    let recording = Generated::new("merged-view");
    let local = analyse_locally(&recording.0);
    publish(recording.path(), &nats.url(), 2);
    // Partitions 0 and 1, and a standby of partition 0 that analyses nothing itself.
    let token = "merged-view";
    let replicas: Vec<support::CorrelationService> = [0, 1, 0]
        .into_iter()
        .map(|p| {
            let args = ["--partitions", "2", "--partition", &p.to_string()];
            support::CorrelationService::start_with(&nats.url(), token, &args.map(str::to_owned))
        })
        .collect();
    let expected = answers(&local.insights);
    for replica in &replicas {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = support::http_get(replica.port, "/api/v1/insights", Some(token));
            let seen = (status == 200)
                .then(|| serde_json::from_str::<InsightReport>(&body).ok())
                .flatten()
                .map(|r| answers(&r.insights));
            if seen.as_ref() == Some(&expected) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replica on {} shows {seen:?}, not {expected:?}",
                replica.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// An event about `pod` in `namespace`.
fn event(namespace: &str, pod: &str, kind: EventKind) -> Observation {
    Observation::Event(Event {
        id: EventId::derive(
            Source::Kubeapi,
            format!("{namespace}/{pod}").as_bytes(),
            kind.name(),
        ),
        at: Timestamp::from_second(1_700_000_000).unwrap(),
        source: Source::Kubeapi,
        kind,
        severity: Severity::Warning,
        entity: EntityRef::new(EntityKind::Pod, Some(namespace), pod),
        node: None,
        raw: RawRef::default(),
    })
}

#[test]
fn the_server_sends_each_namespace_to_the_partition_its_engine_analyses() {
    let Some(nats) = NatsServer::start("agree") else {
        return;
    };
    let count = 3;
    let mut bus = NatsBusConfig::new(&nats.url());
    bus.partitions = count;
    let namespaces: Vec<String> = (0..30).map(|i| format!("team-{i}")).collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Per namespace: a restart (evidence, for its partition only), the pod's topology and a
    // ConfigMap change (for every partition).
    let restart = |ns: &str| {
        event(
            ns,
            "api",
            EventKind::ContainerRestarted {
                container: "api".into(),
                restarts: 1,
            },
        )
    };
    let change = |ns: &str| {
        event(
            ns,
            "api",
            EventKind::ConfigChanged {
                keys: vec!["K".into()],
            },
        )
    };
    let gone = |ns: &str| Observation::EntityGone {
        at: Timestamp::from_second(1_700_000_000).unwrap(),
        entity: EntityRef::new(EntityKind::Pod, Some(ns), "api"),
    };
    rt.block_on(async {
        let mut publisher = NatsPublisher::connect(&bus).await.unwrap();
        for ns in &namespaces {
            for o in [restart(ns), change(ns), gone(ns)] {
                publisher.publish(&o).await.unwrap();
            }
        }
        publisher.flush().await.unwrap();
    });
    for index in 0..count {
        let mut expected: Vec<Observation> = namespaces
            .iter()
            .flat_map(|ns| {
                let own = Partition { index, count }.owns(ns);
                [own.then(|| restart(ns)), Some(change(ns)), Some(gone(ns))]
            })
            .flatten()
            .collect();
        let received = rt.block_on(async {
            let mut subscriber = NatsSubscriber::connect(&bus, "agree", index).await.unwrap();
            let mut received = Vec::new();
            while subscriber.pending().await.unwrap() > 0 || received.is_empty() {
                for delivery in subscriber
                    .fetch(Duration::from_secs(5))
                    .await
                    .unwrap()
                    .deliveries
                {
                    let (o, ack) = delivery.into_parts();
                    ack.ack().await.unwrap();
                    received.push(o);
                }
            }
            received
        });
        let key = |o: &Observation| serde_json::to_string(o).unwrap();
        let mut received: Vec<String> = received.iter().map(key).collect();
        let mut expected: Vec<String> = expected.drain(..).map(|o| key(&o)).collect();
        received.sort();
        expected.sort();
        assert_eq!(received, expected, "partition {index}");
    }
}

#[test]
fn an_insight_that_another_partition_replaced_leaves_every_replica() {
    let Some(nats) = NatsServer::start("superseded") else {
        return;
    };
    let url = nats.url();
    let first = |name: &str| {
        analyse_locally(&support::example(name))
            .insights
            .into_iter()
            .next()
            .expect("an insight")
    };
    let (a, b) = (
        first("flagship-configmap-oom.jsonl"),
        first("crashloop-bad-config.jsonl"),
    );
    assert_ne!(a.id, b.id);
    let token = "superseded";
    let args = ["--partitions", "2", "--partition", "1"].map(str::to_owned);
    let replica = support::CorrelationService::start_with(&url, token, &args);
    // This test is partition 0's active replica: it takes observations from the stream and
    // publishes analyses, one after each observation, as correlation-service does.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut bus = NatsBusConfig::new(&url);
    bus.partitions = 2;
    let (mut publisher, mut partition0) = rt.block_on(async {
        let publisher = NatsPublisher::connect(&bus).await.unwrap();
        let subscriber = NatsSubscriber::connect(&bus, "superseded", 0)
            .await
            .unwrap();
        (publisher, subscriber)
    });
    // The root of partition 0's incident changes to another and back: the other
    // partition's replica always lists exactly what partition 0 holds now.
    for (step, analysis) in [vec![a.clone()], vec![b.clone()], vec![a.clone()]]
        .into_iter()
        .enumerate()
    {
        rt.block_on(async {
            let node = Observation::EntityGone {
                at: Timestamp::from_second(1_700_000_000 + step as i64).unwrap(),
                entity: EntityRef::new(EntityKind::Node, None, &format!("node-{step}")),
            };
            publisher.publish(&node).await.unwrap();
            publisher.flush().await.unwrap();
            loop {
                let fetched = partition0.fetch(Duration::from_secs(1)).await.unwrap();
                if let Some(delivery) = fetched.deliveries.into_iter().next() {
                    delivery.into_parts().1.ack().await.unwrap();
                    break;
                }
            }
            partition0.publish_analysis(&analysis).await.unwrap();
        });
        let want = analysis[0].id.clone();
        replica.wait_for_report(token, &format!("step {step}: only {want}"), |r| {
            let ids: Vec<&str> = r["insights"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["id"].as_str())
                .collect();
            ids == [want.as_str()]
        });
    }
}

/// Two replicas of one partition: the one the server pins is stopped with `signal` once it
/// has consumed 1,000 observations; the standby must finish the stream with the insights
/// of one process, every observation counted once.
fn standby_takes_over(name: &str, signal: libc::c_int, failover_after: u32) {
    let Some(nats) = NatsServer::start(name) else {
        return;
    };
    let recording = Generated::new(name);
    let published = publish(recording.path(), &nats.url(), 1);

    let ports = [support::free_port(), support::free_port()];
    let mut replicas: Vec<Option<Child>> = ports
        .iter()
        .map(|&port| Some(replica(&nats.url(), 1, 0, port, failover_after)))
        .collect();
    for port in ports {
        assert!(support::wait_for_port(port, Duration::from_secs(20)));
    }
    // The server pins one of the two; find it by what it has consumed.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (active, consumed_at_stop) = loop {
        let consumed: Vec<u64> = ports
            .iter()
            .map(|&p| support::metric_sum(p, "tapio_observations_consumed_total").unwrap_or(0))
            .collect();
        if let Some(i) = consumed.iter().position(|&c| c >= 1000) {
            break (i, consumed);
        }
        assert!(
            Instant::now() < deadline,
            "no replica consumed 1,000 observations: {consumed:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let standby = 1 - active;
    assert_eq!(
        consumed_at_stop[standby], 0,
        "the standby consumed nothing while the active replica held the partition"
    );
    let stopped = replicas[active].take().unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(stopped.id() as libc::pid_t, signal) },
        0
    );
    stopped.wait_with_output().unwrap();

    // Well before the failover timeout of the graceful case, well after the other's.
    let report = report_within(replicas[standby].take().unwrap(), Duration::from_secs(120));
    let local = analyse_locally(&recording.0);
    assert_eq!(answers(&report.insights), answers(&local.insights));
    assert_eq!(report.insights.len(), 2, "both injected incidents");
    // It rebuilt the state from what the stopped replica had acknowledged, then went on:
    // every observation counted once.
    assert_eq!(report.stats.lines, published);
    assert_eq!(report.stats.events, local.stats.events);
}

/// Incidents that cross partitions (with 3: a cascade through two namespaces, a noisy
/// neighbour in another namespace than its victims, an outside API failing for callers in
/// two namespaces) through real replicas: every replica's API lists the root causes one
/// process finds, in its order.
#[test]
fn replicas_of_three_partitions_list_what_one_process_finds_for_incidents_across_them() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests-data/incidents");
    for case in [
        "dependency-ledger-down-cascade.jsonl",
        "node-memory-pressure-noisy-neighbour.jsonl",
        "dependency-external-api-outage.jsonl",
    ] {
        let recording = suite.join(case);
        let Some(nats) = NatsServer::start(&format!("across-{case}")) else {
            return;
        };
        let url = nats.url();
        let want = support::roots(&analyse_locally(&recording).insights);
        publish(recording.to_str().unwrap(), &url, 3);
        let token = "across";
        let replicas: Vec<support::CorrelationService> = (0..3)
            .map(|p: u32| {
                let args = ["--partitions", "3", "--partition", &p.to_string()];
                support::CorrelationService::start_with(&url, token, &args.map(str::to_owned))
            })
            .collect();
        for replica in &replicas {
            let port = replica.port;
            wait_until(&format!("{case}: replica on {port} lists {want:?}"), || {
                let (status, body) = support::http_get(port, "/api/v1/insights", Some(token));
                status == 200
                    && serde_json::from_str::<InsightReport>(&body)
                        .is_ok_and(|r| support::roots(&r.insights) == want)
            });
        }
    }
}

/// Waits until `done` holds (checked every 50 ms), failing with `what` after 60 s.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "not within 60 s: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_replica_that_takes_over_does_not_announce_again_what_was_announced() {
    let Some(nats) = NatsServer::start("alert-takeover") else {
        return;
    };
    let url = nats.url();
    let (sink, got) = support::alert_receiver();
    let alertmanager = format!("http://127.0.0.1:{sink}");
    let alerting = ["--alertmanager", alertmanager.as_str()];
    let announced_roots = || -> Vec<String> {
        got.lock()
            .unwrap()
            .iter()
            .flat_map(|(_, alerts)| alerts.as_array().cloned().unwrap_or_default())
            .map(|a| a["labels"]["root_cause"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let example = |name: &str| support::example(name).to_str().unwrap().to_owned();
    publish(&example("flagship-configmap-oom.jsonl"), &url, 1);
    let ports = [support::free_port(), support::free_port()];
    let mut first = serving(&url, 1, 0, ports[0], 2, &alerting);
    wait_until("the first replica announces the incident", || {
        announced_roots().len() == 1
    });
    let second = serving(&url, 1, 0, ports[1], 2, &alerting);
    assert!(support::wait_for_port(ports[1], Duration::from_secs(20)));
    let lists = |port: u16, n: usize| {
        let (status, body) = support::http_get(port, "/api/v1/insights", None);
        status == 200
            && serde_json::from_str::<InsightReport>(&body).is_ok_and(|r| r.insights.len() == n)
    };
    // The standby has read what its partition published (it serves it).
    wait_until("the standby serves the published incident", || {
        lists(ports[1], 1)
    });
    first.kill().unwrap();
    first.wait().unwrap();
    // New observations: the second replica takes the partition over, rebuilds the state
    // (the announced incident among it) and finds a second incident.
    publish(&example("crashloop-bad-config.jsonl"), &url, 1);
    wait_until("the second replica lists both incidents", || {
        lists(ports[1], 2)
    });
    // It offered that analysis' alerts before its API showed it: each incident once.
    let mut announced = announced_roots();
    announced.sort();
    assert_eq!(
        announced,
        [
            "ConfigMap shop/cart-config",
            "ConfigMap shop/checkout-config"
        ]
    );
    drop(second);
}

#[test]
fn a_standby_replica_takes_over_when_the_active_one_is_killed() {
    // SIGKILL: the pin moves once the dead replica has not pulled for 2 s.
    standby_takes_over("standby-kill", libc::SIGKILL, 2);
}

#[test]
fn a_replica_stopped_gracefully_hands_its_partition_over_at_once() {
    // SIGTERM: the replica releases the pin as it stops, so the standby does not wait the
    // ten minutes the pin would otherwise last (the test would time out long before).
    standby_takes_over("standby-term", libc::SIGTERM, 600);
}
