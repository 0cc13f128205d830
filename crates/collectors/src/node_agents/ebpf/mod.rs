//! The eBPF collector: CO-RE programs (`bpf/tapio.bpf.c`, BTF tracepoints only) report
//! OOM kills, failed process exits and TCP connect failures, resets and retransmits
//! through a ring buffer; each event's cgroup id is resolved to the pod that owns it.
//!
//! Loading needs the `ebpf` feature (the program is compiled with clang at build time),
//! kernel BTF (`/sys/kernel/btf/vmlinux`) and the right to load BPF programs (root or
//! `CAP_BPF` + `CAP_PERFMON`).

pub mod event;
#[cfg(feature = "ebpf")]
mod loader;

use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "ebpf")]
pub use loader::{start, EbpfHandle};

/// Kernel BTF, which CO-RE relocation reads.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Why the eBPF collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    #[error(
        "this build has no eBPF support (rebuild with `--features ebpf`; needs clang, libbpf-dev, libelf-dev and zlib1g-dev)"
    )]
    NotBuilt,
    #[error("kernel BTF is missing ({KERNEL_BTF}): the kernel needs CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf,
    #[error(transparent)]
    Cgroups(#[from] super::cgroups::CgroupError),
    #[error("cannot load the eBPF object: {0}")]
    Load(String),
    #[error("cannot attach program {program}: {reason}")]
    Attach { program: String, reason: String },
    #[error("cannot read the ring buffer: {0}")]
    RingBuffer(String),
}

/// What the collector has done so far; shared with whoever reports it.
#[derive(Debug, Default)]
pub struct EbpfStats {
    /// Events decoded and sent on.
    pub events: AtomicU64,
    /// Records the kernel could not put in the full ring buffer.
    pub kernel_drops: AtomicU64,
    /// Records that did not decode (a program/loader mismatch).
    pub decode_errors: AtomicU64,
}

impl EbpfStats {
    /// A snapshot: (events, kernel drops, decode errors).
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.events.load(Ordering::Relaxed),
            self.kernel_drops.load(Ordering::Relaxed),
            self.decode_errors.load(Ordering::Relaxed),
        )
    }
}

/// Settings of the eBPF collector.
#[derive(Debug, Clone)]
pub struct EbpfConfig {
    /// The node name written into every event.
    pub node: String,
    /// Ring buffer size in bytes (a power of two, a multiple of the page size).
    pub ring_bytes: u32,
}

impl Default for EbpfConfig {
    fn default() -> Self {
        Self {
            node: super::node_name(),
            ring_bytes: 1 << 20,
        }
    }
}
