//! Live collectors that run on a node and see what `kubectl` cannot: the kernel (eBPF),
//! the journal, DNS traffic, CNI and etcd. Each turns what it sees into recording lines
//! of its source, so that the same parser reads them live and in replay.

pub mod cgroups;
pub mod cni;
pub mod cpu_stat;
pub mod dns;
pub mod ebpf;
pub mod etcd;
pub mod journal;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::value::RawValue;
use tapio_domain::Source;
use tokio::sync::mpsc::error::TrySendError;

/// One line a live collector produced: what a recording stores and a parser reads.
#[derive(Debug)]
pub struct LiveLine {
    pub ts: Timestamp,
    pub source: Source,
    pub data: Box<RawValue>,
}

/// Where live collectors send their lines. Bounded: a full channel makes the collector
/// wait (and, for the kernel's ring buffer, the kernel count what it had to drop).
pub type LineSender = tokio::sync::mpsc::Sender<LiveLine>;

/// Sends from a collector's own thread: waits while the channel is full (backpressure:
/// the kernel-side buffers then fill and count their drops) but gives up once `stop` is
/// set or nobody reads any more. Whether the line was sent.
pub(crate) fn send_from_thread(out: &LineSender, line: LiveLine, stop: &AtomicBool) -> bool {
    let mut line = line;
    loop {
        match out.try_send(line) {
            Ok(()) => return true,
            Err(TrySendError::Closed(_)) => return false,
            Err(TrySendError::Full(back)) => {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                line = back;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// The name of this node: `NODE_NAME` (set from the downward API in the DaemonSet),
/// else the kernel's host name.
pub fn node_name() -> String {
    std::env::var("NODE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}
