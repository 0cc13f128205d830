//! `tapio run`: the embedded default. Every live collector that can run here feeds the
//! same parsers `tapio analyze` uses, and the engine in this process; new and changed
//! insights are printed as they appear. With `--pipeline nats://...` the observations go
//! to the NATS bus for `correlation-service` instead.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tapio_collectors::recording::{Record, RecordingWriter};
use tapio_collectors::SourceParsers;
use tapio_domain::{Insight, InsightReport, Observation, Stats};
use tapio_integrations::bus::nats::{NatsBusConfig, NatsPublisher};
use tapio_intelligence::Engine;

use crate::live::{self, LiveOptions};
use crate::news::InsightNews;

/// Lines in flight between the collectors and the engine.
const CHANNEL: usize = 4096;

/// How `tapio run` runs.
pub struct RunOptions {
    pub live: LiveOptions,
    /// Also write everything seen to this recording.
    pub record: Option<PathBuf>,
    /// How often the engine re-analyses.
    pub analyze_every: Duration,
    /// Stop after this long (default: at Ctrl-C).
    pub duration: Option<Duration>,
    /// Publish to the NATS bus instead of analysing here.
    pub pipeline: Option<NatsBusConfig>,
}

/// Where observations go: the engine here, or the bus.
enum Sink {
    Embedded(Box<Engine>),
    Nats(Box<NatsPublisher>),
}

/// Runs until the duration ends or Ctrl-C, calling `on_new` with every insight that is
/// new or changed since the last analysis. Returns the last report (empty in pipeline
/// mode, where the correlation service analyses).
pub async fn run(options: RunOptions, mut on_new: impl FnMut(&Insight)) -> Result<InsightReport> {
    let started = Instant::now();
    let mut sink = match &options.pipeline {
        Some(cfg) => {
            Sink::Nats(Box::new(NatsPublisher::connect(cfg).await.with_context(
                || format!("cannot reach the NATS bus at {}", cfg.url),
            )?))
        }
        None => Sink::Embedded(Box::default()),
    };
    let mut writer = match &options.record {
        Some(path) => Some(
            RecordingWriter::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(CHANNEL);
    let mut collectors = live::start(&options.live, tx).await;
    for s in &collectors.statuses {
        eprintln!("{s}");
    }
    anyhow::ensure!(
        collectors.statuses.iter().any(|s| s.active),
        "no collector could start (see above)"
    );
    let mut parsers = SourceParsers::default();
    let mut observations = Vec::new();
    let mut lines = 0u64;
    let mut rejected = 0u64;
    let mut news = InsightNews::default();
    let mut ticker = tokio::time::interval(options.analyze_every);
    let stop = live::stop_after(options.duration);
    tokio::pin!(stop);
    loop {
        let line = tokio::select! {
            () = &mut stop => break,
            Some((name, how)) = collectors.next_ended(), if collectors.running() => {
                live::report_ended(&name, &how);
                continue;
            }
            _ = ticker.tick() => {
                if let Sink::Embedded(engine) = &mut sink {
                    news.changed(&engine.analyze()).into_iter().for_each(&mut on_new);
                }
                continue;
            }
            line = rx.recv() => match line {
                Some(line) => line,
                None => break,
            },
        };
        lines += 1;
        if let Some(w) = writer.as_mut() {
            w.write(line.ts, line.source, &line.data)?;
        }
        let record = Record {
            line: lines,
            ts: line.ts,
            source: line.source,
            data: line.data,
        };
        if let Err(e) = parsers.parse(&record, &mut observations) {
            rejected += 1;
            if rejected <= 20 {
                eprintln!("warning: {} line {lines}: {e}", record.source.as_str());
            }
        }
        deliver(&mut sink, &mut observations).await?;
    }
    collectors.stop().await;
    if let Some(w) = writer {
        w.finish()?;
    }
    let (insights, stats) = match &mut sink {
        Sink::Embedded(engine) => {
            let last = engine.analyze();
            news.changed(&last).into_iter().for_each(&mut on_new);
            (last, engine.stats())
        }
        Sink::Nats(publisher) => {
            publisher.flush().await?;
            (Vec::new(), Default::default())
        }
    };
    Ok(InsightReport {
        insights,
        stats: Stats {
            lines,
            rejected,
            events: stats.events,
            entities: stats.entities,
            elapsed_ms: (started.elapsed().as_secs_f64() * 1000.0).round(),
        },
    })
}

async fn deliver(sink: &mut Sink, observations: &mut Vec<Observation>) -> Result<()> {
    match sink {
        Sink::Embedded(engine) => observations.drain(..).for_each(|o| engine.ingest(o)),
        Sink::Nats(publisher) => {
            for o in observations.drain(..) {
                publisher.publish(&o).await.context("publishing to NATS")?;
            }
        }
    }
    Ok(())
}
