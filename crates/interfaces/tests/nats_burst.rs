//! A burst ten times the size of a steady load goes through the bus in bounded memory: the
//! publisher keeps at most `buffer_size` publishes unacknowledged and reads the recording
//! as it goes, so its peak memory does not grow with the burst. Real nats-server.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::NatsServer;

fn generate(path: &std::path::Path, nodes: u32, pods: u32) {
    support::succeed(
        Command::new(env!("CARGO_BIN_EXE_tapio"))
            .args([
                "generate",
                "--nodes",
                &nodes.to_string(),
                "--pods",
                &pods.to_string(),
            ])
            .args(["--hours", "1", "-o"])
            .arg(path),
    );
}

/// Publishes `path`; returns (observations published, peak resident memory in MiB),
/// the peak read from the kernel's high-water mark while the process runs.
fn publish(nats: &str, path: &std::path::Path) -> (u64, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .arg("publish")
        .arg(path)
        .args(["--nats", nats])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let published = stderr
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {stderr:?}"));
    (published, peak_kib / 1024)
}

#[test]
fn a_ten_times_burst_publishes_in_the_memory_of_the_steady_load() {
    let Some(nats) = NatsServer::start("burst") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("tapio-burst-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (steady, burst) = (dir.join("steady.jsonl.zst"), dir.join("burst.jsonl.zst"));
    generate(&steady, 20, 600);
    generate(&burst, 200, 6000);
    let (steady_n, steady_mib) = publish(&nats.url(), &steady);
    let (burst_n, burst_mib) = publish(&nats.url(), &burst);
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!(
        "steady: {steady_n} observations in {steady_mib} MiB; burst: {burst_n} in {burst_mib} MiB"
    );
    assert!(
        burst_n >= 8 * steady_n,
        "the burst is about ten times the steady load: {burst_n} vs {steady_n}"
    );
    assert!(
        burst_mib <= steady_mib * 2 + 16,
        "peak memory grew with the burst: {steady_mib} MiB -> {burst_mib} MiB"
    );
}
