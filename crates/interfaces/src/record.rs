//! `tapio record`: run the live collectors (the API server's objects, every node's
//! kubelet through it, and this node's kernel, journal, DNS, CNI, etcd and OTLP where
//! they can run) and write what they see as a recording, so that an incident can be
//! analysed anywhere with `tapio analyze`. It is `tapio run` that only records.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::live::LiveOptions;
use crate::rotation::Rotation;
use crate::run::{self, Destination, RunOptions};

/// Records until `duration` has passed (or Ctrl-C, SIGTERM), rotating the file by size
/// when `rotation` says so. Fails when no collector can start. Returns the lines written.
pub async fn record(
    output: &Path,
    options: &LiveOptions,
    duration: Option<Duration>,
    rotation: Option<Rotation>,
) -> Result<u64> {
    let report = run::run(
        RunOptions {
            live: options.clone(),
            record: Some(output.to_owned()),
            rotation,
            // Nothing is analysed: the interval only paces an idle timer.
            analyze_every: Duration::from_secs(3600),
            duration,
            destination: Destination::RecordOnly,
        },
        |_| {},
    )
    .await?;
    Ok(report.stats.lines)
}
