//! The records Tapio's eBPF program writes to its ring buffer (`struct tapio_event` in
//! `bpf/tapio_event.h`), decoded and turned into the `ebpf` recording payload.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::cgroup::parse_cgroup_path;

/// Size of `struct tapio_event`; the C header asserts the same number.
pub const EVENT_SIZE: usize = 104;

/// What happened, as `enum tapio_event_kind` numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    OomKill,
    ProcessExit,
    TcpConnectFailed,
    TcpReset,
    TcpRetransmit,
}

impl EventKind {
    fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            1 => Self::OomKill,
            2 => Self::ProcessExit,
            3 => Self::TcpConnectFailed,
            4 => Self::TcpReset,
            5 => Self::TcpRetransmit,
            _ => return None,
        })
    }

    /// The `event` name the recording format uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::OomKill => "oom_kill",
            Self::ProcessExit => "process_exit",
            Self::TcpConnectFailed => "tcp_connect_failed",
            Self::TcpReset => "tcp_reset",
            Self::TcpRetransmit => "tcp_retransmit",
        }
    }
}

/// Why a ring-buffer record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("eBPF record of {0} bytes, expected {EVENT_SIZE}")]
    Size(usize),
    #[error("eBPF record of unknown kind {0}")]
    Kind(u32),
}

/// One decoded `struct tapio_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// `CLOCK_BOOTTIME` nanoseconds.
    pub ts_boot_ns: u64,
    /// Kernfs id of the task's memory-controller cgroup; 0 when unknown.
    pub cgroup_id: u64,
    pub memcg_limit_pages: u64,
    pub kind: EventKind,
    pub pid: u32,
    pub exit_code: i32,
    pub signal: i32,
    pub err: i32,
    pub sport: u16,
    pub dport: u16,
    pub state: u16,
    /// Smoothed RTT of the connection, microseconds (0: not measured yet).
    pub srtt_us: u32,
    pub saddr: Option<IpAddr>,
    pub daddr: Option<IpAddr>,
    pub comm: String,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

fn addr(family: u16, bytes: &[u8]) -> Option<IpAddr> {
    const AF_INET: u16 = 2;
    const AF_INET6: u16 = 10;
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        AF_INET6 => {
            let v6: [u8; 16] = bytes[..16].try_into().expect("16 bytes");
            Some(IpAddr::V6(Ipv6Addr::from(v6)))
        }
        _ => None,
    }
}

impl RawEvent {
    /// Decodes one ring-buffer record (the kernel's byte order).
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() != EVENT_SIZE {
            return Err(DecodeError::Size(b.len()));
        }
        let raw_kind = u32_at(b, 24);
        let kind = EventKind::from_raw(raw_kind).ok_or(DecodeError::Kind(raw_kind))?;
        let family = u16_at(b, 44);
        let comm = &b[88..104];
        let comm_len = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
        Ok(Self {
            ts_boot_ns: u64_at(b, 0),
            cgroup_id: u64_at(b, 8),
            memcg_limit_pages: u64_at(b, 16),
            kind,
            pid: u32_at(b, 28),
            exit_code: u32_at(b, 32) as i32,
            signal: u32_at(b, 36) as i32,
            err: u32_at(b, 40) as i32,
            sport: u16_at(b, 46),
            dport: u16_at(b, 48),
            state: u16_at(b, 50),
            srtt_us: u32_at(b, 52),
            saddr: addr(family, &b[56..72]),
            daddr: addr(family, &b[72..88]),
            comm: String::from_utf8_lossy(&comm[..comm_len]).into_owned(),
        })
    }
}

/// The `ebpf` recording payload (see the recording spec); absent fields are omitted.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    pub node: &'a str,
    pub event: &'static str,
    pub pid: u32,
    pub comm: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub victim_pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub victim_comm: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memcg_limit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saddr: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daddr: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// The connection's smoothed RTT where the kernel had measured one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srtt_us: Option<u32>,
}

/// Name of a kernel TCP state (`include/net/tcp_states.h`).
fn tcp_state(state: u16) -> &'static str {
    match state {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

impl<'a> Payload<'a> {
    /// The payload of `event` seen on `node`; `cgroup_path` is where its cgroup id led
    /// (relative to the memory hierarchy's root), and names the pod and container when
    /// the kubelet made it. `page_size` converts the memcg limit to bytes.
    pub fn new(
        node: &'a str,
        event: &'a RawEvent,
        cgroup_path: Option<&'a str>,
        page_size: u64,
    ) -> Self {
        let ids = cgroup_path.and_then(parse_cgroup_path);
        let (pod_uid, container_id) = ids.map_or((None, None), |i| (i.pod_uid, i.container_id));
        let tcp = matches!(
            event.kind,
            EventKind::TcpConnectFailed | EventKind::TcpReset | EventKind::TcpRetransmit
        );
        let oom = event.kind == EventKind::OomKill;
        Self {
            node,
            event: event.kind.name(),
            pid: event.pid,
            comm: &event.comm,
            cgroup_id: (event.cgroup_id != 0).then_some(event.cgroup_id),
            cgroup_path,
            container_id,
            pod_uid,
            victim_pid: oom.then_some(event.pid),
            victim_comm: oom.then_some(event.comm.as_str()),
            // A memcg without a limit reports the page counter's maximum.
            memcg_limit_bytes: (oom
                && event.memcg_limit_pages != 0
                && event.memcg_limit_pages < u64::MAX / page_size / 2)
                .then(|| event.memcg_limit_pages * page_size),
            exit_code: (event.kind == EventKind::ProcessExit).then_some(event.exit_code),
            signal: (event.kind == EventKind::ProcessExit).then_some(event.signal),
            saddr: event.saddr.filter(|_| tcp),
            sport: tcp.then_some(event.sport),
            daddr: event.daddr.filter(|_| tcp),
            dport: tcp.then_some(event.dport),
            errno: (event.kind == EventKind::TcpConnectFailed).then_some(event.err),
            state: (matches!(event.kind, EventKind::TcpReset | EventKind::TcpRetransmit))
                .then(|| tcp_state(event.state)),
            srtt_us: (tcp && event.srtt_us > 0).then_some(event.srtt_us),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(kind: u32, family: u16) -> Vec<u8> {
        let mut b = vec![0u8; EVENT_SIZE];
        b[0..8].copy_from_slice(&42u64.to_ne_bytes());
        b[8..16].copy_from_slice(&7u64.to_ne_bytes());
        b[16..24].copy_from_slice(&5120u64.to_ne_bytes());
        b[24..28].copy_from_slice(&kind.to_ne_bytes());
        b[28..32].copy_from_slice(&1234u32.to_ne_bytes());
        b[40..44].copy_from_slice(&111i32.to_ne_bytes());
        b[44..46].copy_from_slice(&family.to_ne_bytes());
        b[46..48].copy_from_slice(&40000u16.to_ne_bytes());
        b[48..50].copy_from_slice(&5432u16.to_ne_bytes());
        b[56..60].copy_from_slice(&[10, 0, 0, 7]);
        b[72..76].copy_from_slice(&[10, 0, 0, 9]);
        b[88..93].copy_from_slice(b"java\0");
        b
    }

    #[test]
    fn connect_failure_decodes_to_the_spec_payload() {
        let e = RawEvent::decode(&record(3, 2)).unwrap();
        assert_eq!(e.kind, EventKind::TcpConnectFailed);
        assert_eq!(e.comm, "java");
        let path = "/kubepods/burstable/pod6f2a8f3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b";
        let json = serde_json::to_value(Payload::new("n1", &e, Some(path), 4096)).unwrap();
        assert_eq!(json["event"], "tcp_connect_failed");
        assert_eq!(json["daddr"], "10.0.0.9");
        assert_eq!(json["dport"], 5432);
        assert_eq!(json["errno"], 111);
        assert_eq!(json["pod_uid"], "6f2a8f3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b");
        assert!(json.get("memcg_limit_bytes").is_none());
    }

    #[test]
    fn oom_kill_carries_the_limit_in_bytes() {
        let e = RawEvent::decode(&record(1, 0)).unwrap();
        let json = serde_json::to_value(Payload::new("n1", &e, None, 4096)).unwrap();
        assert_eq!(json["event"], "oom_kill");
        assert_eq!(json["victim_pid"], 1234);
        assert_eq!(json["memcg_limit_bytes"], 5120 * 4096);
        assert!(json.get("daddr").is_none());
    }

    #[test]
    fn wrong_sizes_and_kinds_are_errors() {
        assert_eq!(RawEvent::decode(&[0; 10]), Err(DecodeError::Size(10)));
        assert_eq!(RawEvent::decode(&record(99, 2)), Err(DecodeError::Kind(99)));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(e) = RawEvent::decode(&bytes) {
                let _ = serde_json::to_string(&Payload::new("n", &e, None, 4096)).unwrap();
            }
        }
    }
}
