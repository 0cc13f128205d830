//! The embedded pipeline: a recording replayed by the collectors' parsers on one thread,
//! carried over the in-process bus, and correlated and analysed on another.

use std::io::BufRead;
use std::thread::JoinHandle;
use std::time::Instant;

use tapio_collectors::recording::{LineError, ReaderOptions, RecordingReader};
use tapio_collectors::{Replay, ReplayStats};
use tapio_domain::{InsightReport, Observation, Stats};
use tapio_integrations::bus::memory_bus;
use tapio_intelligence::{Engine, EngineStats};

/// Observations per bus batch.
const BATCH: usize = 1024;

/// Result of analysing one recording.
#[derive(Debug)]
pub struct Analysed {
    pub report: InsightReport,
    pub replay: ReplayStats,
    pub engine_stats: EngineStats,
    /// The engine after the analysis, for further questions (baselines, topology).
    pub engine: Engine,
}

/// Replays `input` through the collectors' parsers on a thread of its own, handing
/// batches of about `BATCH` observations to `send` until the input ends or `send` says
/// stop (returns `false`). `on_error` hears every rejected line as it is found.
pub fn spawn_replay(
    input: Box<dyn BufRead + Send>,
    reader_options: ReaderOptions,
    mut on_error: Box<dyn FnMut(&LineError) + Send>,
    mut send: impl FnMut(Vec<Observation>) -> bool + Send + 'static,
) -> JoinHandle<ReplayStats> {
    std::thread::spawn(move || {
        let mut replay = Replay::new(RecordingReader::with_options(input, reader_options));
        let mut batch = Vec::with_capacity(BATCH);
        let mut record_obs = Vec::new();
        loop {
            let more = replay.next_batch(&mut record_obs, &mut *on_error);
            batch.append(&mut record_obs);
            if batch.len() >= BATCH || (!more && !batch.is_empty()) {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if !send(full) {
                    break;
                }
            }
            if !more {
                break;
            }
        }
        replay.stats()
    })
}

/// Replays `input` through parsers, bus and engine. `on_error` hears every rejected line
/// as it is found (from the reading thread). `buffer_batches` bounds the bus.
pub fn analyze(
    input: Box<dyn BufRead + Send>,
    reader_options: ReaderOptions,
    buffer_batches: usize,
    on_error: Box<dyn FnMut(&LineError) + Send>,
) -> Analysed {
    let started = Instant::now();
    let (publisher, subscriber) = memory_bus(buffer_batches);
    let producer = spawn_replay(input, reader_options, on_error, move |batch| {
        publisher.publish(batch).is_ok()
    });
    let mut engine = Engine::new();
    for batch in subscriber {
        for observation in batch {
            engine.ingest(observation);
        }
    }
    let replay = producer.join().unwrap_or_default();
    let insights = engine.analyze();
    let engine_stats = engine.stats();
    let report = InsightReport {
        insights,
        stats: Stats {
            lines: replay.read.lines,
            rejected: replay.read.rejected_total(),
            events: engine_stats.events,
            entities: engine_stats.entities,
            elapsed_ms: (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        },
    };
    Analysed {
        report,
        replay,
        engine_stats,
        engine,
    }
}
