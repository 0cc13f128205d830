//! Parsers of the node-level sources whose payloads are the project's own or a standard
//! JSON shape: `ebpf`, `dns`, `cni`, `systemd` (journal export JSON) and `etcd` (JSON
//! gateway watch and status responses).

use serde::Deserialize;
use tapio_domain::{EntityKind, EntityRef, EventKind, Observation, Severity};

use crate::cgroup::parse_cgroup_path;
use crate::emit::Emitter;
use crate::recording::Record;
use crate::ParseError;

fn payload<'a, T: Deserialize<'a>>(record: &'a Record, what: &str) -> Result<T, ParseError> {
    serde_json::from_str(record.data.get()).map_err(|e| ParseError::Payload(format!("{what}: {e}")))
}

fn node_entity(node: &str) -> EntityRef {
    EntityRef::new(EntityKind::Node, None, node)
}

/// A pod named only by uid (resolved to its name by the topology), else the node.
fn pod_or_node(pod_uid: Option<&str>, cgroup_path: Option<&str>, node: &str) -> EntityRef {
    let uid = pod_uid.map(str::to_owned).or_else(|| {
        cgroup_path
            .and_then(parse_cgroup_path)
            .and_then(|ids| ids.pod_uid)
    });
    match uid {
        Some(uid) => EntityRef::new(EntityKind::Pod, None, "").with_uid(Some(&uid)),
        None => node_entity(node),
    }
}

#[derive(Deserialize)]
struct EbpfEvent {
    node: String,
    event: String,
    #[serde(default)]
    pid: u32,
    #[serde(default)]
    comm: String,
    #[serde(default)]
    cgroup_path: Option<String>,
    #[serde(default)]
    pod_uid: Option<String>,
    #[serde(default)]
    victim_pid: Option<u32>,
    #[serde(default)]
    victim_comm: Option<String>,
    #[serde(default)]
    memcg_limit_bytes: Option<u64>,
    #[serde(default)]
    exit_code: i32,
    #[serde(default)]
    signal: i32,
    #[serde(default)]
    daddr: String,
    #[serde(default)]
    dport: u16,
    #[serde(default)]
    errno: i32,
}

/// Parses one `ebpf` record.
pub fn parse_ebpf(record: &Record, out: &mut Vec<Observation>) -> Result<(), ParseError> {
    let e: EbpfEvent = payload(record, "ebpf event")?;
    let entity = pod_or_node(e.pod_uid.as_deref(), e.cgroup_path.as_deref(), &e.node);
    let (kind, severity) = match e.event.as_str() {
        "oom_kill" => (
            EventKind::OomKill {
                pid: e.victim_pid.unwrap_or(e.pid),
                comm: e.victim_comm.unwrap_or(e.comm),
                memcg_limit_bytes: e.memcg_limit_bytes,
            },
            Severity::Error,
        ),
        "process_exit" if e.exit_code != 0 || e.signal != 0 => (
            EventKind::ProcessExit {
                pid: e.pid,
                comm: e.comm,
                exit_code: e.exit_code,
                signal: e.signal,
            },
            Severity::Warning,
        ),
        "process_exit" => return Ok(()),
        "tcp_connect_failed" => (
            EventKind::TcpConnectFailed {
                daddr: e.daddr,
                dport: e.dport,
                errno: e.errno,
            },
            Severity::Warning,
        ),
        what @ ("tcp_retransmit" | "tcp_reset") => (
            EventKind::TcpTrouble {
                what: what.to_owned(),
                daddr: e.daddr,
                dport: e.dport,
            },
            Severity::Info,
        ),
        "tcp_rtt" => return Ok(()),
        other => return Err(ParseError::Payload(format!("unknown ebpf event {other:?}"))),
    };
    Emitter::new(record, out).event("ebpf", record.ts, kind, severity, entity, Some(e.node));
    Ok(())
}

#[derive(Deserialize)]
struct DnsLine {
    node: String,
    client: String,
    #[serde(default)]
    server: String,
    query: String,
    rcode: String,
}

/// Parses one `dns` record; only failures become events.
pub fn parse_dns(record: &Record, out: &mut Vec<Observation>) -> Result<(), ParseError> {
    let d: DnsLine = payload(record, "dns record")?;
    // NXDOMAIN is an answer (search-path lookups produce many); failures are the rest.
    if matches!(d.rcode.as_str(), "NOERROR" | "NXDOMAIN") {
        return Ok(());
    }
    // The client is named by address; the topology resolves it to a pod.
    let entity = node_entity(&d.node);
    Emitter::new(record, out).event(
        "dns",
        record.ts,
        EventKind::DnsFailure {
            client: d.client,
            query: d.query,
            rcode: d.rcode,
            server: d.server,
        },
        Severity::Warning,
        entity,
        Some(d.node),
    );
    Ok(())
}

#[derive(Deserialize)]
struct CniLine {
    node: String,
    op: String,
    #[serde(default)]
    pod: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Parses one `cni` record; failed operations become events on the pod.
pub fn parse_cni(record: &Record, out: &mut Vec<Observation>) -> Result<(), ParseError> {
    let c: CniLine = payload(record, "cni record")?;
    let Some(error) = c.error else { return Ok(()) };
    // IP pools and plugin configuration are per node: the failure is the node's.
    let entity = node_entity(&c.node);
    Emitter::new(record, out).event(
        "cni",
        record.ts,
        EventKind::CniFailure {
            op: c.op,
            message: match c.pod {
                Some(pod) => format!("{error} (pod {pod})"),
                None => error,
            },
        },
        Severity::Error,
        entity,
        Some(c.node),
    );
    Ok(())
}

#[derive(Deserialize)]
struct JournalEntry {
    #[serde(default, rename = "_HOSTNAME")]
    hostname: Option<String>,
    #[serde(default, rename = "_SYSTEMD_UNIT")]
    unit: Option<String>,
    /// systemd's own messages about a unit name it here (their `_SYSTEMD_UNIT` is init.scope).
    #[serde(default, rename = "UNIT")]
    about_unit: Option<String>,
    #[serde(default, rename = "SYSLOG_IDENTIFIER")]
    identifier: Option<String>,
    #[serde(default, rename = "PRIORITY")]
    priority: Option<String>,
    #[serde(default, rename = "MESSAGE")]
    message: Option<serde_json::Value>,
}

/// Journal messages of the kubelet and container runtime that signal node trouble.
const KNOWN_TROUBLE: [&str; 14] = [
    "PLEG is not healthy",
    "eviction manager: attempting to reclaim",
    "Failed to pull image",
    "certificate has expired",
    "Failed with result",
    "Main process exited, code=exited, status=",
    "failed to run Kubelet",
    "container runtime is down",
    "Container runtime sanity check failed",
    "container runtime network not ready",
    "Failed to ensure lease exists",
    "database space exceeded",
    "unknown flag",
    "Skipping pod synchronization",
];

/// Parses one `systemd` record (a `journalctl -o json` entry).
pub fn parse_systemd(record: &Record, out: &mut Vec<Observation>) -> Result<(), ParseError> {
    let j: JournalEntry = payload(record, "journal entry")?;
    // MESSAGE is a string, or an array of bytes when it is not valid UTF-8.
    let message = match j.message {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Array(bytes)) => {
            let raw: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64().map(|b| b as u8))
                .collect();
            String::from_utf8_lossy(&raw).into_owned()
        }
        _ => String::new(),
    };
    let priority: u8 = j
        .priority
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or(6);
    let known = KNOWN_TROUBLE.iter().any(|k| message.contains(k));
    if !known && priority > 3 {
        return Ok(());
    }
    let unit = j
        .about_unit
        .or(j.unit.filter(|u| u != "init.scope"))
        .or(j.identifier)
        .unwrap_or_else(|| "unknown".to_owned());
    let host = j.hostname.unwrap_or_default();
    // Unit trouble is the node's trouble: the engine resolves the host name to the Node.
    let entity = node_entity(&host);
    let severity = if priority <= 3 {
        Severity::Error
    } else {
        Severity::Warning
    };
    Emitter::new(record, out).event(
        "journal",
        record.ts,
        EventKind::UnitTrouble { unit, message },
        severity,
        entity,
        Some(host),
    );
    Ok(())
}

#[derive(Deserialize)]
struct EtcdLine {
    endpoint: String,
    #[serde(default)]
    status: Option<EtcdStatus>,
}

#[derive(Deserialize)]
struct EtcdStatus {
    #[serde(default)]
    leader: Option<serde_json::Value>,
    #[serde(default)]
    previous_leader: Option<serde_json::Value>,
    #[serde(default)]
    errors: Vec<String>,
    #[serde(default)]
    alarms: Vec<String>,
    #[serde(default)]
    latency_ms: Option<f64>,
}

/// A status answer slower than this is a slow member (etcd itself warns from 100 ms on
/// for requests; a status read that takes a second means the member is struggling).
const ETCD_SLOW_MS: f64 = 1000.0;

fn no_leader(leader: Option<&serde_json::Value>) -> bool {
    leader.is_some_and(|l| l.is_null() || l == "0" || l == 0)
}

/// Parses one `etcd` record: no leader, leader changes, alarms, slow answers and errors
/// in a status become events; watch responses carry objects that also arrive through the
/// API server and add nothing here yet.
pub fn parse_etcd(record: &Record, out: &mut Vec<Observation>) -> Result<(), ParseError> {
    let e: EtcdLine = payload(record, "etcd response")?;
    let Some(status) = e.status else {
        return Ok(());
    };
    let entity = EntityRef::new(EntityKind::EtcdMember, None, &e.endpoint);
    let mut emit = Emitter::new(record, out);
    let mut trouble = |discriminator: &str, what: &str, message: String, severity| {
        emit.event(
            discriminator,
            record.ts,
            EventKind::EtcdTrouble {
                what: what.to_owned(),
                message,
            },
            severity,
            entity.clone(),
            None,
        );
    };
    if no_leader(status.leader.as_ref()) && status.errors.is_empty() {
        trouble("noleader", "no leader", String::new(), Severity::Critical);
    }
    if let (Some(from), Some(to)) = (&status.previous_leader, &status.leader) {
        if !no_leader(Some(to)) {
            let message = format!("leader changed from {from} to {to}");
            trouble("leader", "leader change", message, Severity::Warning);
        }
    }
    for (i, alarm) in status.alarms.iter().enumerate() {
        let message = format!("alarm {alarm} raised");
        trouble(&format!("alarm/{i}"), "alarm", message, Severity::Critical);
    }
    if let Some(ms) = status.latency_ms.filter(|&ms| ms >= ETCD_SLOW_MS) {
        let message = format!("status answered in {ms:.0} ms");
        trouble("slow", "slow response", message, Severity::Warning);
    }
    for (i, err) in status.errors.iter().enumerate() {
        trouble(&format!("error/{i}"), "error", err.clone(), Severity::Error);
    }
    Ok(())
}
