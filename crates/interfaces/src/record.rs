//! `tapio record`: run the live collectors (the API server's objects, every node's
//! kubelet through it, and this node's kernel, journal, DNS, CNI and etcd where they can
//! run) and write what they see as a recording, so that an incident can be analysed
//! anywhere with `tapio analyze`.

use std::path::Path;
use std::time::Duration;

use crate::rotation::{RotatingWriter, Rotation};
use anyhow::{Context, Result};

use crate::live::{self, LiveOptions};

/// Lines in flight between the collectors and the writer.
const CHANNEL: usize = 4096;

/// What a recording run wrote.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub lines: u64,
}

/// Records until `duration` has passed (or Ctrl-C), rotating the file by size when
/// `rotation` says so. Fails when no collector can start.
pub async fn record(
    output: &Path,
    options: &LiveOptions,
    duration: Option<Duration>,
    rotation: Option<Rotation>,
) -> Result<Recorded> {
    let mut writer = RotatingWriter::create(output, rotation)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(CHANNEL);
    let mut collectors = live::start_reporting(options, tx).await?;
    let mut recorded = Recorded::default();
    let stop = live::stop_after(duration);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some((name, how)) = collectors.next_ended(), if collectors.running() => {
                live::report_ended(&name, &how);
            }
            line = rx.recv() => match line {
                Some(line) => {
                    writer.write(line.ts, line.source, &line.data)?;
                    recorded.lines += 1;
                }
                None => break,
            },
        }
    }
    for line in live::stop_draining(collectors, &mut rx).await {
        writer.write(line.ts, line.source, &line.data)?;
        recorded.lines += 1;
    }
    writer.finish()?;
    Ok(recorded)
}
