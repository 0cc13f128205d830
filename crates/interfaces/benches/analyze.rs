//! Analyze throughput against plain JSON parsing of the same recording.
//!
//! `cargo bench -p tapio-interfaces --bench analyze` generates a cluster recording (or
//! reads `TAPIO_BENCH_RECORDING`), then times (1) reading every line and parsing it into a
//! `serde_json::Value`, and (2) the whole `tapio analyze` pipeline on the same file, best
//! of three runs each, and prints lines/s, events/s and their ratio.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use tapio_collectors::recording::{open_input, ReaderOptions, RecordingWriter};
use tapio_interfaces::{generate, pipeline};

const RUNS: usize = 3;

/// The same allocator as the `tapio` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn recording() -> PathBuf {
    if let Ok(p) = std::env::var("TAPIO_BENCH_RECORDING") {
        return PathBuf::from(p);
    }
    let path = std::env::temp_dir().join("tapio-bench-500n-15000p-1h.jsonl.zst");
    if !path.exists() {
        let shape = generate::ClusterShape {
            nodes: 500,
            pods: 15_000,
            replicas: 10,
            hours: 1.0,
            rollouts_per_hour: 0.1,
            seed: 7,
            incidents: true,
        };
        let mut w = RecordingWriter::create(&path).expect("temp file");
        generate::generate(&shape, &mut w).expect("generate");
        w.finish().expect("finish");
    }
    path
}

fn best<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(out);
    }
    (best, last.expect("at least one run"))
}

fn main() {
    let path = recording();
    let (json_secs, (lines, bytes)) = best(|| {
        let mut input = open_input(&path).expect("open");
        let mut line = String::new();
        let (mut n, mut bytes) = (0u64, 0u64);
        while input.read_line(&mut line).expect("read") > 0 {
            let v: serde_json::Value = serde_json::from_str(&line).expect("json");
            std::hint::black_box(v);
            n += 1;
            bytes += line.len() as u64;
            line.clear();
        }
        (n, bytes)
    });
    let (analyze_secs, analysed) = best(|| {
        let input = open_input(&path).expect("open");
        pipeline::analyze(input, ReaderOptions::default(), 64, Box::new(|_| {}))
    });
    let events = analysed.engine_stats.events;
    let json_rate = lines as f64 / json_secs;
    let analyze_rate = lines as f64 / analyze_secs;
    println!(
        "recording: {} ({lines} lines, {:.0} MB of JSON)",
        path.display(),
        bytes as f64 / 1e6
    );
    println!(
        "plain JSON parse : {json_secs:>7.3} s  {json_rate:>10.0} lines/s  {:>7.1} MB/s",
        bytes as f64 / 1e6 / json_secs
    );
    println!(
        "tapio analyze    : {analyze_secs:>7.3} s  {analyze_rate:>10.0} lines/s  {:>10.0} events/s  ({} insights)",
        events as f64 / analyze_secs,
        analysed.report.insights.len()
    );
    println!(
        "ratio analyze/parse: {:.0} %",
        100.0 * analyze_rate / json_rate
    );
}
