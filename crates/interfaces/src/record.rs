//! `tapio record`: watch a live cluster's API server (and, through it, every node's
//! kubelet) and write what it sees as a recording, so that an incident can be analysed
//! anywhere with `tapio analyze`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use tapio_collectors::kubeapi::live::watch_cluster_objects;
use tapio_collectors::kubelet_poll::poll_kubelets;
use tapio_collectors::recording::RecordingWriter;
use tapio_domain::Source;

/// What a recording run wrote.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub lines: u64,
    pub watch_errors: u64,
}

/// Records until `duration` has passed (or Ctrl-C): the API server's objects, and every
/// node's kubelet every `kubelet_interval` (not at all when `None`). The client comes
/// from the kubeconfig (`KUBECONFIG`, `~/.kube/config`) or, inside a pod, from the
/// service account.
pub async fn record(
    output: &Path,
    namespaces: &[String],
    duration: Option<Duration>,
    kubelet_interval: Option<Duration>,
) -> Result<Recorded> {
    let client = kube::Client::try_default()
        .await
        .context("cannot build a Kubernetes client (kubeconfig or in-cluster service account)")?;
    let mut writer = RecordingWriter::create(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let objects = watch_cluster_objects(&client, namespaces)
        .map(|r| r.map(|l| (Source::Kubeapi, l)).map_err(|e| e.to_string()));
    let kubelets = match kubelet_interval {
        Some(every) => poll_kubelets(&client, every)
            .map(|r| r.map(|l| (Source::Kubelet, l)).map_err(|e| e.to_string()))
            .boxed(),
        None => futures_util::stream::empty().boxed(),
    };
    let mut lines = futures_util::stream::select(objects, kubelets);
    let mut recorded = Recorded::default();
    let stop = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            next = lines.next() => match next {
                None => break,
                Some(Ok((source, line))) => {
                    writer.write(line.ts, source, &line.data)?;
                    recorded.lines += 1;
                }
                Some(Err(e)) => {
                    recorded.watch_errors += 1;
                    if recorded.watch_errors <= 20 {
                        eprintln!("warning: {e} (retrying)");
                    }
                }
            }
        }
    }
    writer.finish()?;
    Ok(recorded)
}
