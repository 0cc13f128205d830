//! `tapio publish`: replay a recording through the collectors' parsers onto the NATS bus,
//! as node collectors do live.

use std::io::BufRead;

use anyhow::{Context, Result};
use tapio_collectors::recording::{LineError, ReaderOptions};
use tapio_integrations::bus::nats::{NatsBusConfig, NatsPublisher};

use crate::pipeline::spawn_replay;

/// What a publish run did.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub observations: u64,
    pub duplicates: u64,
    pub rejected_lines: u64,
}

/// Publishes every observation of `input`; waits for all acknowledgements.
pub async fn publish_recording(
    input: Box<dyn BufRead + Send>,
    cfg: &NatsBusConfig,
    on_error: Box<dyn FnMut(&LineError) + Send>,
) -> Result<Published> {
    let mut publisher = NatsPublisher::connect(cfg).await?;
    // The replay is synchronous: it runs on its own thread, with a bounded hand-off.
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let reader = spawn_replay(input, ReaderOptions::default(), on_error, move |batch| {
        tx.blocking_send(batch).is_ok()
    });
    while let Some(batch) = rx.recv().await {
        for o in &batch {
            publisher.publish(o).await.context("publishing to NATS")?;
        }
    }
    publisher.flush().await?;
    let rejected_lines = reader.join().unwrap_or_default().read.rejected_total();
    Ok(Published {
        observations: publisher.published,
        duplicates: publisher.duplicates,
        rejected_lines,
    })
}
