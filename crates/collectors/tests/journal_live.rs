//! The journal collector against a real `systemd-journald` (started by
//! `scripts/start-test-services.sh`), written to with `systemd-cat`, read through the
//! real `journalctl`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use tapio_collectors::node_agents::journal::{follow, JournalConfig};
use tapio_collectors::node_agents::LiveLine;
use tapio_collectors::node_sources::parse_systemd;
use tapio_collectors::recording::Record;
use tapio_domain::{EventKind, Observation, Source};
use tokio::sync::{mpsc, oneshot};

fn require_journald() {
    assert!(
        std::path::Path::new("/run/systemd/journal/socket").exists(),
        "systemd-journald is not running: scripts/start-test-services.sh starts it"
    );
}

fn log(identifier: &str, priority: &str, message: &str) {
    let mut child = Command::new("systemd-cat")
        .args(["-t", identifier, "-p", priority])
        .stdin(Stdio::piped())
        .spawn()
        .expect("systemd-cat runs");
    writeln!(child.stdin.take().unwrap(), "{message}").unwrap();
    assert!(child.wait().unwrap().success());
}

/// Receives lines until one has `MESSAGE == last`, failing after 20 s.
async fn until(rx: &mut mpsc::Receiver<LiveLine>, last: &str) -> Vec<serde_json::Value> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let line = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no journal entry {last:?} within 20 s (got {got:?})"))
            .expect("the collector is running");
        let v: serde_json::Value = serde_json::from_str(line.data.get()).unwrap();
        let done = v["MESSAGE"] == last;
        got.push(v);
        if done {
            return got;
        }
    }
}

struct Follower {
    rx: mpsc::Receiver<LiveLine>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn start(config: &JournalConfig) -> Follower {
    let (tx, rx) = mpsc::channel(64);
    let (stop, stopped) = oneshot::channel::<()>();
    let config = config.clone();
    let task = tokio::spawn(async move {
        follow(config, tx, async {
            let _ = stopped.await;
        })
        .await
        .expect("follow ends cleanly");
    });
    Follower { rx, stop, task }
}

#[tokio::test]
async fn entries_flow_through_the_parser_and_resume_from_the_cursor() {
    require_journald();
    let id = format!("tapio-test-kubelet-{}", std::process::id());
    let dir = std::env::temp_dir().join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    let config = JournalConfig {
        units: Vec::new(),
        identifiers: vec![id.clone()],
        cursor_file: Some(dir.join("cursor")),
        ..JournalConfig::default()
    };

    // First run: starts now, so the marker written before it is not read.
    log(&id, "info", "before the collector started");
    let mut first = start(&config);
    // journalctl --since=now begins after it has started; a marker tells when it reads.
    let mut ready = Vec::new();
    for i in 0.. {
        let marker = format!("ready {i}");
        log(&id, "info", &marker);
        match tokio::time::timeout(Duration::from_millis(500), until(&mut first.rx, &marker)).await
        {
            Ok(lines) => {
                ready = lines;
                break;
            }
            Err(_) => assert!(i < 40, "journalctl never started reading"),
        }
    }
    assert!(ready
        .iter()
        .all(|v| v["MESSAGE"] != "before the collector started"));
    log(
        &id,
        "err",
        "PLEG is not healthy: pleg was last seen active 3m0s ago; threshold is 3m0s",
    );
    log(&id, "info", "first run done");
    let lines = until(&mut first.rx, "first run done").await;
    let pleg = lines
        .iter()
        .find(|v| v["MESSAGE"].as_str().unwrap_or("").starts_with("PLEG"))
        .expect("the PLEG message arrived");

    // The same parser as replay turns it into node trouble.
    let record = Record::live(Source::Systemd, pleg);
    let mut out = Vec::new();
    parse_systemd(&record, &mut out).unwrap();
    assert!(
        matches!(&out[..], [Observation::Event(e)] if matches!(&e.kind, EventKind::UnitTrouble { unit, .. } if *unit == id)),
        "{out:?}"
    );

    first.stop.send(()).unwrap();
    first.task.await.unwrap();

    // Written while nobody followed; the second run resumes after the saved cursor, so
    // these arrive, and nothing of the first run arrives again.
    log(&id, "warning", "while stopped 1");
    log(&id, "warning", "while stopped 2");
    let mut second = start(&config);
    log(&id, "info", "second run done");
    let again = until(&mut second.rx, "second run done").await;
    let messages: Vec<&str> = again.iter().filter_map(|v| v["MESSAGE"].as_str()).collect();
    assert_eq!(
        messages,
        ["while stopped 1", "while stopped 2", "second run done"]
    );
    second.stop.send(()).unwrap();
    second.task.await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
