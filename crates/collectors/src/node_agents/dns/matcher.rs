//! DNS over UDP as captured at the network layer: IPv4/IPv6 + UDP headers read by hand
//! (two fixed layouts), the DNS message by hickory-proto, and queries matched to their
//! responses by (client address, client port, transaction id).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use serde::Serialize;

/// Answers kept per response (a name with hundreds of records says nothing more).
const MAX_ANSWERS: usize = 16;

/// A UDP datagram to or from port 53.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub payload: &'a [u8],
}

/// Reads an IP packet (no link-layer header) carrying UDP. `None` for anything else:
/// other protocols, IPv4 fragments after the first, IPv6 extension headers, truncation.
pub fn udp_datagram(packet: &[u8]) -> Option<Datagram<'_>> {
    let (src, dst, udp) = match packet.first()? >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let fragment_offset = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]) & 0x1fff;
            if ihl < 20 || *packet.get(9)? != 17 || fragment_offset != 0 {
                return None;
            }
            let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
            let end = total.min(packet.len());
            let src: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = packet.get(16..20)?.try_into().ok()?;
            (
                IpAddr::V4(Ipv4Addr::from(src)),
                IpAddr::V4(Ipv4Addr::from(dst)),
                packet.get(ihl..end)?,
            )
        }
        6 => {
            if *packet.get(6)? != 17 {
                return None;
            }
            let src: [u8; 16] = packet.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
            let len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                packet.get(40..(40 + len).min(packet.len()))?,
            )
        }
        _ => return None,
    };
    let sport = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let dport = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    let payload = udp.get(8..len.min(udp.len()))?;
    Some(Datagram {
        src,
        dst,
        sport,
        dport,
        payload,
    })
}

/// One answered (or unanswered) query: the `dns` recording payload.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exchange {
    pub node: String,
    pub client: IpAddr,
    pub server: IpAddr,
    pub query: String,
    pub qtype: String,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`, ... or `TIMEOUT` (no answer).
    pub rcode: String,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<String>,
}

fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

type Key = (IpAddr, u16, u16);

struct Pending {
    at: Instant,
    server: IpAddr,
    query: String,
    qtype: String,
}

/// Matches queries to responses. Bounded: at most `capacity` queries wait; when full the
/// oldest is given up early (no line is written for it) and counted in `evicted`.
pub struct Matcher {
    node: String,
    timeout: Duration,
    capacity: usize,
    pending: HashMap<Key, Pending>,
    order: VecDeque<(Instant, Key)>,
    /// Queries given up early because too many were waiting.
    pub evicted: u64,
    /// Datagrams on port 53 that were not DNS messages.
    pub malformed: u64,
}

impl Matcher {
    /// A matcher for `node` that calls a query unanswered after `timeout`.
    pub fn new(node: &str, timeout: Duration, capacity: usize) -> Self {
        Self {
            node: node.to_owned(),
            timeout,
            capacity: capacity.max(1),
            pending: HashMap::new(),
            order: VecDeque::new(),
            evicted: 0,
            malformed: 0,
        }
    }

    /// Takes one datagram seen at `now`; returns the exchange it completes, if any. The
    /// same packet seen twice (on loopback, or on a veth and a bridge) counts once.
    pub fn datagram(&mut self, d: &Datagram<'_>, now: Instant) -> Option<Exchange> {
        if d.sport != 53 && d.dport != 53 {
            return None;
        }
        let Ok(message) = Message::from_vec(d.payload) else {
            self.malformed += 1;
            return None;
        };
        let id = message.metadata.id;
        match message.metadata.message_type {
            MessageType::Query if d.dport == 53 => {
                let key = (d.src, d.sport, id);
                let q = message.queries.first()?;
                if self.pending.contains_key(&key) {
                    return None;
                }
                if self.pending.len() >= self.capacity {
                    self.evict_oldest();
                }
                self.pending.insert(
                    key,
                    Pending {
                        at: now,
                        server: d.dst,
                        query: q.name.to_string().trim_end_matches('.').to_owned(),
                        qtype: q.query_type.to_string(),
                    },
                );
                self.order.push_back((now, key));
                None
            }
            MessageType::Response if d.sport == 53 => {
                let p = self.pending.remove(&(d.dst, d.dport, id))?;
                let answers = message
                    .answers
                    .iter()
                    .take(MAX_ANSWERS)
                    .map(|r| r.data.to_string())
                    .collect();
                Some(Exchange {
                    node: self.node.clone(),
                    client: d.dst,
                    server: p.server,
                    query: p.query,
                    qtype: p.qtype,
                    rcode: rcode_name(message.metadata.response_code),
                    latency_ms: now.duration_since(p.at).as_secs_f64() * 1000.0,
                    answers,
                })
            }
            _ => None,
        }
    }

    /// Queries unanswered for longer than the timeout, as `TIMEOUT` exchanges.
    pub fn expire(&mut self, now: Instant) -> Vec<Exchange> {
        let mut out = Vec::new();
        while let Some(&(at, key)) = self.order.front() {
            if now.duration_since(at) < self.timeout {
                break;
            }
            self.order.pop_front();
            // The key may have been answered and reused by a newer query since.
            if self.pending.get(&key).is_some_and(|p| p.at == at) {
                let p = self.pending.remove(&key).expect("just seen");
                out.push(self.timed_out(key, p, now));
            }
        }
        out
    }

    fn evict_oldest(&mut self) {
        while let Some((at, key)) = self.order.pop_front() {
            if self.pending.get(&key).is_some_and(|p| p.at == at) {
                self.pending.remove(&key);
                self.evicted += 1;
                return;
            }
        }
    }

    fn timed_out(&self, key: Key, p: Pending, now: Instant) -> Exchange {
        Exchange {
            node: self.node.clone(),
            client: key.0,
            server: p.server,
            query: p.query,
            qtype: p.qtype,
            rcode: "TIMEOUT".into(),
            latency_ms: now.duration_since(p.at).as_secs_f64() * 1000.0,
            answers: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};
    use proptest::prelude::*;

    fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let total = 20 + 8 + payload.len();
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn message(id: u16, kind: MessageType, rcode: ResponseCode) -> Vec<u8> {
        let mut m = Message::new(id, kind, OpCode::Query);
        m.metadata.response_code = rcode;
        m.add_query(Query::query(
            Name::from_ascii("db.shop.svc.cluster.local.").unwrap(),
            RecordType::A,
        ));
        m.to_vec().unwrap()
    }

    #[test]
    fn a_query_and_its_response_make_one_exchange() {
        let mut m = Matcher::new("n1", Duration::from_secs(2), 10);
        let t0 = Instant::now();
        let q = ipv4_udp(
            [10, 0, 0, 7],
            [10, 96, 0, 10],
            40000,
            53,
            &message(7, MessageType::Query, ResponseCode::NoError),
        );
        let r = ipv4_udp(
            [10, 96, 0, 10],
            [10, 0, 0, 7],
            53,
            40000,
            &message(7, MessageType::Response, ResponseCode::ServFail),
        );
        assert_eq!(m.datagram(&udp_datagram(&q).unwrap(), t0), None);
        // Seen a second time (another interface): still one pending query.
        assert_eq!(m.datagram(&udp_datagram(&q).unwrap(), t0), None);
        let e = m
            .datagram(&udp_datagram(&r).unwrap(), t0 + Duration::from_millis(12))
            .unwrap();
        assert_eq!(e.client.to_string(), "10.0.0.7");
        assert_eq!(e.server.to_string(), "10.96.0.10");
        assert_eq!(e.query, "db.shop.svc.cluster.local");
        assert_eq!((e.qtype.as_str(), e.rcode.as_str()), ("A", "SERVFAIL"));
        assert!((e.latency_ms - 12.0).abs() < 0.01);
        assert!(
            m.datagram(&udp_datagram(&r).unwrap(), t0).is_none(),
            "answered once"
        );
    }

    #[test]
    fn unanswered_queries_time_out_and_the_bound_holds() {
        let mut m = Matcher::new("n1", Duration::from_secs(2), 2);
        let t0 = Instant::now();
        for id in 0..3u16 {
            let q = ipv4_udp(
                [10, 0, 0, 7],
                [10, 96, 0, 10],
                40000,
                53,
                &message(id, MessageType::Query, ResponseCode::NoError),
            );
            m.datagram(&udp_datagram(&q).unwrap(), t0);
        }
        assert_eq!(m.evicted, 1);
        assert!(m.expire(t0 + Duration::from_secs(1)).is_empty());
        let timeouts = m.expire(t0 + Duration::from_secs(3));
        assert_eq!(timeouts.len(), 2);
        assert!(timeouts.iter().all(|e| e.rcode == "TIMEOUT"));
    }

    proptest! {
        #[test]
        fn any_packet_is_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut m = Matcher::new("n", Duration::from_secs(1), 4);
            if let Some(d) = udp_datagram(&bytes) {
                let _ = m.datagram(&d, Instant::now());
            }
            let mut v4 = ipv4_udp([1, 2, 3, 4], [5, 6, 7, 8], 1234, 53, &bytes);
            let _ = udp_datagram(&v4).map(|d| m.datagram(&d, Instant::now()));
            v4.truncate(bytes.len() % 40);
            let _ = udp_datagram(&v4);
        }
    }
}
