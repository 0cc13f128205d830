//! Loading and attaching the programs, and draining their ring buffer on a thread of its
//! own (libbpf objects stay on the thread that made them).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::Timestamp;
use libbpf_rs::{MapCore, MapFlags, ObjectBuilder, RingBufferBuilder};
use tapio_domain::Source;

use super::event::{Payload, RawEvent};
use super::{EbpfConfig, EbpfError, EbpfStats};
use crate::node_agents::cgroups::{CgroupIndex, Hierarchy};
use crate::node_agents::{LineSender, LiveLine};

/// The object `build.rs` compiled from `bpf/tapio.bpf.c`.
static BPF_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tapio.bpf.o"));

/// How long one ring-buffer poll waits, which bounds how late a stop is noticed.
const POLL: Duration = Duration::from_millis(100);

type SharedStats = Arc<EbpfStats>;

/// The running collector. Dropping it stops it.
pub struct EbpfHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), EbpfError>>>,
    stats: SharedStats,
    programs: Vec<String>,
}

impl EbpfHandle {
    /// Counters of what it has seen.
    pub fn stats(&self) -> &EbpfStats {
        &self.stats
    }

    /// The programs attached.
    pub fn programs(&self) -> &[String] {
        &self.programs
    }

    /// Stops polling, detaches the programs and says how the thread ended.
    pub fn stop(mut self) -> Result<(), EbpfError> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(Ok(()), |t| t.join().unwrap_or(Ok(())))
    }
}

impl Drop for EbpfHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Loads and attaches the programs and starts sending `ebpf` lines to `out`. Returns once
/// every program is attached, or with the exact reason one could not be.
pub fn start(config: EbpfConfig, out: LineSender) -> Result<EbpfHandle, EbpfError> {
    // Checked first, so that the reason is exact rather than a relocation failure.
    if !std::path::Path::new(super::KERNEL_BTF).exists() {
        return Err(EbpfError::NoBtf);
    }
    let hierarchy = Hierarchy::discover("memory")?;
    let stop = Arc::new(AtomicBool::new(false));
    let stats = SharedStats::default();
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = {
        let (stop, stats) = (stop.clone(), stats.clone());
        std::thread::Builder::new()
            .name("tapio-ebpf".into())
            .spawn(move || run(config, hierarchy, out, stop, stats, ready_tx))
            .map_err(|e| EbpfError::Load(format!("cannot start its thread: {e}")))?
    };
    match ready_rx.recv() {
        Ok(programs) => Ok(EbpfHandle {
            stop,
            thread: Some(thread),
            stats,
            programs,
        }),
        // The thread ended before attaching: its result says why.
        Err(_) => Err(thread
            .join()
            .unwrap_or_else(|_| Err(EbpfError::Load("the loader thread panicked".into())))
            .err()
            .unwrap_or_else(|| EbpfError::Load("the loader stopped early".into()))),
    }
}

fn run(
    config: EbpfConfig,
    hierarchy: Hierarchy,
    out: LineSender,
    stop: Arc<AtomicBool>,
    stats: SharedStats,
    ready: mpsc::Sender<Vec<String>>,
) -> Result<(), EbpfError> {
    let mut open = ObjectBuilder::default()
        .open_memory(BPF_OBJECT)
        .map_err(|e| EbpfError::Load(e.to_string()))?;
    for mut map in open.maps_mut() {
        if map.name() == "events" {
            map.set_max_entries(config.ring_bytes)
                .map_err(|e| EbpfError::Load(format!("ring buffer size: {e}")))?;
        }
    }
    let object = open.load().map_err(|e| EbpfError::Load(e.to_string()))?;
    let mut links = Vec::new();
    let mut programs = Vec::new();
    for program in object.progs_mut() {
        let name = program.name().to_string_lossy().into_owned();
        let link = program.attach().map_err(|e| EbpfError::Attach {
            program: name.clone(),
            reason: e.to_string(),
        })?;
        links.push(link);
        programs.push(name);
    }
    let map = |name: &str| {
        object
            .maps()
            .find(|m| m.name() == name)
            .ok_or_else(|| EbpfError::Load(format!("the object has no map {name:?}")))
    };
    let events = map("events")?;
    let drops = map("drops")?;

    let pending: Rc<RefCell<Vec<RawEvent>>> = Rc::default();
    let mut builder = RingBufferBuilder::new();
    {
        let (pending, stats) = (pending.clone(), stats.clone());
        builder
            .add(&events, move |bytes: &[u8]| {
                match RawEvent::decode(bytes) {
                    Ok(event) => pending.borrow_mut().push(event),
                    Err(_) => {
                        stats.decode_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                0
            })
            .map_err(|e| EbpfError::RingBuffer(e.to_string()))?;
    }
    let ring = builder
        .build()
        .map_err(|e| EbpfError::RingBuffer(e.to_string()))?;
    let _ = ready.send(programs);

    let page_size = page_size();
    let mut cgroups = CgroupIndex::new(hierarchy);
    while !stop.load(Ordering::Relaxed) {
        ring.poll(POLL)
            .map_err(|e| EbpfError::RingBuffer(e.to_string()))?;
        let batch = std::mem::take(&mut *pending.borrow_mut());
        let boot_offset = boot_to_unix_ns();
        for event in batch {
            let path = match event.cgroup_id {
                0 => None,
                id => cgroups.resolve(id).map(str::to_owned),
            };
            let payload = Payload::new(&config.node, &event, path.as_deref(), page_size);
            let data = serde_json::value::to_raw_value(&payload)
                .map_err(|e| EbpfError::RingBuffer(e.to_string()))?;
            let at_ns = i128::from(event.ts_boot_ns) + boot_offset;
            let ts = Timestamp::from_nanosecond(at_ns).unwrap_or_else(|_| Timestamp::now());
            let line = LiveLine {
                ts,
                source: Source::Ebpf,
                data,
            };
            if !crate::node_agents::send_from_thread(&out, line, &stop) {
                return Ok(()); // nobody listens any more
            }
            stats.events.fetch_add(1, Ordering::Relaxed);
        }
        stats
            .kernel_drops
            .store(sum_percpu(&drops), Ordering::Relaxed);
    }
    drop(links);
    Ok(())
}

/// The per-CPU drop counters, summed.
fn sum_percpu(map: &libbpf_rs::Map<'_>) -> u64 {
    let key = 0u32.to_ne_bytes();
    map.lookup_percpu(&key, MapFlags::ANY)
        .ok()
        .flatten()
        .map_or(0, |cpus| {
            cpus.iter()
                .filter_map(|v| v.get(..8).and_then(|b| b.try_into().ok()))
                .map(u64::from_ne_bytes)
                .sum()
        })
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
}

/// Nanoseconds to add to a `CLOCK_BOOTTIME` reading to get Unix time.
fn boot_to_unix_ns() -> i128 {
    fn read(clock: libc::clockid_t) -> i128 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec to write into.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
    }
    read(libc::CLOCK_REALTIME) - read(libc::CLOCK_BOOTTIME)
}
