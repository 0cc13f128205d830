//! `tapio run`: the embedded default. Every live collector that can run here feeds the
//! same parsers `tapio analyze` uses, and the engine in this process; new and changed
//! insights are printed as they appear. With `--pipeline nats://...` the observations go
//! to the NATS bus for `correlation-service` instead.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tapio_collectors::node_agents::LiveLine;
use tapio_collectors::recording::Record;
use tapio_collectors::SourceParsers;
use tapio_domain::{Insight, InsightReport, Observation, Stats};
use tapio_integrations::bus::nats::{NatsBusConfig, NatsPublisher};
use tapio_intelligence::Engine;

use crate::live::{self, LiveOptions};
use crate::news::InsightNews;
use crate::rotation::{RotatingWriter, Rotation};

/// Lines in flight between the collectors and the engine.
const CHANNEL: usize = 4096;

/// Rejected lines reported one by one; the rest are counted.
const REJECTED_SHOWN: u64 = 20;

/// How `tapio run` runs.
pub struct RunOptions {
    pub live: LiveOptions,
    /// Also write everything seen to this recording, rotated as `rotation` says.
    pub record: Option<PathBuf>,
    pub rotation: Option<Rotation>,
    /// How often the engine re-analyses.
    pub analyze_every: Duration,
    /// Stop after this long (default: at Ctrl-C).
    pub duration: Option<Duration>,
    /// Where what the collectors see goes.
    pub destination: Destination,
}

/// What `tapio run` does with what it sees.
pub enum Destination {
    /// Analyses it here (the embedded default).
    Analyse,
    /// Publishes it to the NATS bus for correlation-service.
    Publish(NatsBusConfig),
    /// Only records it (`tapio record`).
    RecordOnly,
}

/// Where observations go: the engine here, the bus, or nowhere.
enum Sink {
    Embedded(Box<Engine>),
    Nats(Box<NatsPublisher>),
    Discard,
}

/// Takes the collectors' lines: records them, parses them and hands the observations on.
struct Intake {
    sink: Sink,
    writer: Option<RotatingWriter>,
    parsers: SourceParsers,
    observations: Vec<Observation>,
    lines: u64,
    rejected: u64,
    published: u64,
}

impl Intake {
    async fn take(&mut self, line: LiveLine) -> Result<()> {
        self.lines += 1;
        if let Some(w) = self.writer.as_mut() {
            w.write(line.ts, line.source, &line.data)?;
        }
        if matches!(self.sink, Sink::Discard) {
            return Ok(());
        }
        let record = Record {
            line: self.lines,
            ts: line.ts,
            source: line.source,
            data: line.data,
        };
        if let Err(e) = self.parsers.parse(&record, &mut self.observations) {
            self.rejected += 1;
            if self.rejected <= REJECTED_SHOWN {
                let source = record.source.as_str();
                eprintln!("warning: {source} line {}: {e}", self.lines);
            }
        }
        match &mut self.sink {
            Sink::Embedded(engine) => self.observations.drain(..).for_each(|o| engine.ingest(o)),
            Sink::Nats(publisher) => {
                for o in self.observations.drain(..) {
                    publisher.publish(&o).await.context("publishing to NATS")?;
                    self.published += 1;
                }
            }
            Sink::Discard => {}
        }
        Ok(())
    }
}

/// Runs until the duration ends or Ctrl-C, calling `on_new` with every insight that is
/// new or changed since the last analysis. Returns the last report (no insights in
/// pipeline mode, where the correlation service analyses, and `stats.events` counts the
/// observations published; nothing but `stats.lines` when only recording).
pub async fn run(options: RunOptions, mut on_new: impl FnMut(&Insight)) -> Result<InsightReport> {
    let started = Instant::now();
    let sink = match &options.destination {
        Destination::Publish(cfg) => {
            Sink::Nats(Box::new(NatsPublisher::connect(cfg).await.with_context(
                || format!("cannot reach the NATS bus at {}", cfg.url),
            )?))
        }
        Destination::Analyse => Sink::Embedded(Box::default()),
        Destination::RecordOnly => Sink::Discard,
    };
    let writer = match &options.record {
        Some(path) => Some(
            RotatingWriter::create(path, options.rotation)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(CHANNEL);
    let mut collectors = live::start_reporting(&options.live, tx).await?;
    let mut intake = Intake {
        sink,
        writer,
        parsers: SourceParsers::default(),
        observations: Vec::new(),
        lines: 0,
        rejected: 0,
        published: 0,
    };
    let mut news = InsightNews::default();
    let mut ticker = tokio::time::interval(options.analyze_every);
    let stop = live::stop_after(options.duration);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some((name, how)) = collectors.next_ended(), if collectors.running() => {
                live::report_ended(&name, &how);
            }
            _ = ticker.tick() => {
                if let Sink::Embedded(engine) = &mut intake.sink {
                    news.changed(&engine.analyze()).into_iter().for_each(&mut on_new);
                }
            }
            line = rx.recv() => match line {
                Some(line) => intake.take(line).await?,
                None => break,
            },
        }
    }
    for line in live::stop_draining(collectors, &mut rx).await {
        intake.take(line).await?;
    }
    if let Some(w) = intake.writer.take() {
        w.finish()?;
    }
    let (insights, events, entities) = match &mut intake.sink {
        Sink::Embedded(engine) => {
            let last = engine.analyze();
            news.changed(&last).into_iter().for_each(&mut on_new);
            let stats = engine.stats();
            (last, stats.events, stats.entities)
        }
        Sink::Nats(publisher) => {
            publisher.flush().await?;
            (Vec::new(), intake.published, 0)
        }
        Sink::Discard => (Vec::new(), 0, 0),
    };
    Ok(InsightReport {
        insights,
        stats: Stats {
            lines: intake.lines,
            rejected: intake.rejected,
            events,
            entities,
            elapsed_ms: (started.elapsed().as_secs_f64() * 1000.0).round(),
        },
    })
}
