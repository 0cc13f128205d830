//! The DNS collector: captures DNS over UDP on the node with an `AF_PACKET` socket (a
//! classic BPF filter keeps only port 53) in a chosen network namespace, matches queries
//! to responses and writes one `dns` line per exchange: rcode, latency, answers, or
//! `TIMEOUT` when no answer came. The client address is resolved to a pod by the engine.

pub mod matcher;

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tapio_domain::Source;

use self::matcher::{udp_datagram, Matcher};
use super::{LineSender, LiveLine};

/// Settings of the DNS collector.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// The node name written into every line.
    pub node: String,
    /// The network namespace to capture in (a file such as `/var/run/netns/x` or
    /// `/proc/<pid>/ns/net`); the collector's own when `None`.
    pub netns: Option<PathBuf>,
    /// A query unanswered for this long is reported as `TIMEOUT`.
    pub timeout: Duration,
    /// At most this many queries wait for their answer.
    pub max_pending: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            node: super::node_name(),
            netns: None,
            timeout: Duration::from_secs(5),
            max_pending: 65_536,
        }
    }
}

/// Why DNS capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("cannot enter network namespace {path}: {source}")]
    Netns { path: String, source: io::Error },
    #[error("cannot open a packet socket (needs root or CAP_NET_RAW): {0}")]
    Socket(io::Error),
    #[error("cannot attach the port-53 filter: {0}")]
    Filter(io::Error),
    #[error("cannot start the capture thread: {0}")]
    Thread(io::Error),
}

/// What the collector has done so far.
#[derive(Debug, Default)]
pub struct DnsStats {
    pub packets: AtomicU64,
    pub exchanges: AtomicU64,
    /// Packets the kernel dropped because the socket's buffer was full.
    pub kernel_drops: AtomicU64,
    /// Queries given up before their timeout because too many were waiting.
    pub evicted: AtomicU64,
    pub malformed: AtomicU64,
}

/// The running collector; dropping it stops it.
pub struct DnsHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<DnsStats>,
}

impl DnsHandle {
    /// Counters of what it has seen.
    pub fn stats(&self) -> &DnsStats {
        &self.stats
    }
}

impl Drop for DnsHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts capturing; returns once the socket is open and filtered in its namespace.
pub fn start(config: DnsConfig, out: LineSender) -> Result<DnsHandle, DnsError> {
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(DnsStats::default());
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = {
        let (stop, stats) = (stop.clone(), stats.clone());
        std::thread::Builder::new()
            .name("tapio-dns".into())
            .spawn(move || {
                // setns applies to this thread only: the socket lives in the namespace.
                let socket = open(&config);
                let socket = match socket {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                capture(&config, &socket, &out, &stop, &stats);
            })
            .map_err(DnsError::Thread)?
    };
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(DnsHandle {
            stop,
            thread: Some(thread),
            stats,
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(DnsError::Thread(io::Error::other(
            "the capture thread ended",
        ))),
    }
}

/// Classic BPF over the network-layer packet (`SOCK_DGRAM` strips the link layer):
/// accept UDP to or from port 53 over IPv4 (any header length) or IPv6 (no extension
/// headers), drop the rest.
const FILTER: [libc::sock_filter; 19] = {
    // Jump offsets count the instructions skipped after the jump.
    const fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }
    const LDB_ABS: u16 = 0x30; // A = byte at k
    const LDH_ABS: u16 = 0x28; // A = half-word at k
    const LDH_IND: u16 = 0x48; // A = half-word at X + k
    const LDX_MSH: u16 = 0xb1; // X = 4 * (byte at k & 0xf)
    const RSH: u16 = 0x74; // A >>= k
    const JEQ: u16 = 0x15; // if A == k
    const RET: u16 = 0x06;
    [
        op(LDB_ABS, 0, 0, 0),    // 0: version / IHL
        op(RSH, 0, 0, 4),        // 1: version
        op(JEQ, 0, 7, 4),        // 2: IPv4? else 10
        op(LDB_ABS, 0, 0, 9),    // 3: protocol
        op(JEQ, 0, 13, 17),      // 4: UDP? else drop
        op(LDX_MSH, 0, 0, 0),    // 5: X = header length
        op(LDH_IND, 0, 0, 0),    // 6: source port
        op(JEQ, 9, 0, 53),       // 7: 53? accept
        op(LDH_IND, 0, 0, 2),    // 8: destination port
        op(JEQ, 7, 8, 53),       // 9: 53? accept : drop
        op(JEQ, 0, 7, 6),        // 10: IPv6? else drop
        op(LDB_ABS, 0, 0, 6),    // 11: next header
        op(JEQ, 0, 5, 17),       // 12: UDP? else drop
        op(LDH_ABS, 0, 0, 40),   // 13: source port
        op(JEQ, 2, 0, 53),       // 14: 53? accept
        op(LDH_ABS, 0, 0, 42),   // 15: destination port
        op(JEQ, 0, 1, 53),       // 16: 53? accept : drop
        op(RET, 0, 0, 0x4_0000), // 17: accept (whole packet)
        op(RET, 0, 0, 0),        // 18: drop
    ]
};

fn open(config: &DnsConfig) -> Result<OwnedFd, DnsError> {
    if let Some(path) = &config.netns {
        let ns = File::open(path).map_err(|source| DnsError::Netns {
            path: path.display().to_string(),
            source,
        })?;
        // SAFETY: setns with a valid namespace fd; it only changes this thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(DnsError::Netns {
                path: path.display().to_string(),
                source: io::Error::last_os_error(),
            });
        }
    }
    let protocol = i32::from((libc::ETH_P_ALL as u16).to_be());
    // SAFETY: plain socket(2) call.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(DnsError::Socket(io::Error::last_os_error()));
    }
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let program = libc::sock_fprog {
        len: FILTER.len() as u16,
        filter: FILTER.as_ptr().cast_mut(),
    };
    setsockopt(&socket, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &program)
        .map_err(DnsError::Filter)?;
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    setsockopt(&socket, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout).map_err(DnsError::Socket)?;
    let buffer: libc::c_int = 4 << 20;
    let _ = setsockopt(&socket, libc::SOL_SOCKET, libc::SO_RCVBUF, &buffer);
    Ok(socket)
}

fn setsockopt<T>(socket: &OwnedFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Packets the kernel dropped since the last call (`PACKET_STATISTICS` resets them).
fn kernel_drops(socket: &OwnedFd) -> u64 {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `stats` and `len` are valid for writing.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut stats as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        u64::from(stats.tp_drops)
    } else {
        0
    }
}

fn capture(
    config: &DnsConfig,
    socket: &OwnedFd,
    out: &LineSender,
    stop: &AtomicBool,
    stats: &DnsStats,
) {
    let mut matcher = Matcher::new(&config.node, config.timeout, config.max_pending);
    let mut buf = vec![0u8; 65_536];
    let mut last_expiry = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `buf` is valid for `buf.len()` bytes of writing.
        let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let now = Instant::now();
        let mut done = Vec::new();
        if n > 0 {
            stats.packets.fetch_add(1, Ordering::Relaxed);
            if let Some(d) = udp_datagram(&buf[..n as usize]) {
                done.extend(matcher.datagram(&d, now));
            }
        }
        if now.duration_since(last_expiry) >= Duration::from_millis(100) {
            done.extend(matcher.expire(now));
            last_expiry = now;
            stats
                .kernel_drops
                .fetch_add(kernel_drops(socket), Ordering::Relaxed);
            stats.evicted.store(matcher.evicted, Ordering::Relaxed);
            stats.malformed.store(matcher.malformed, Ordering::Relaxed);
        }
        for exchange in done {
            let Ok(data) = serde_json::value::to_raw_value(&exchange) else {
                continue;
            };
            let line = LiveLine {
                ts: Timestamp::now(),
                source: Source::Dns,
                data,
            };
            if !super::send_from_thread(out, line, stop) {
                return;
            }
            stats.exchanges.fetch_add(1, Ordering::Relaxed);
        }
    }
}
