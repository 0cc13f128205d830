//! Ranking services from their evidence. A deviation is blamed where it starts: latency
//! that a service's callees explain is discounted, a network slowdown is blamed on the
//! callee whose inbound edges slowed beyond what the caller shows on all its edges, and
//! ties are broken by how many kinds of evidence agree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::evidence::{Evidence, EvidenceFamily};
use crate::anomaly::median;

/// A ranked service with the evidence that put it there.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub service: String,
    /// Strength of the strongest evidence after discounts (robust sigmas, ≤ 50).
    pub score: f64,
    /// Sum over evidence families of each family's best score.
    pub corroboration: f64,
    /// The strongest pieces of evidence with their scores, best first.
    pub top: Vec<(f64, Evidence)>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Resource,
    Latency,
    SelfTime,
    LeafTime,
    Shape,
    Network,
    Other,
}

fn group(f: EvidenceFamily) -> Group {
    match f {
        EvidenceFamily::Resource => Group::Resource,
        EvidenceFamily::Latency => Group::Latency,
        EvidenceFamily::SelfTime => Group::SelfTime,
        EvidenceFamily::LeafTime => Group::LeafTime,
        EvidenceFamily::Shape => Group::Shape,
        EvidenceFamily::EdgeBySource
        | EvidenceFamily::EdgeByDestination
        | EvidenceFamily::CallGap => Group::Network,
        EvidenceFamily::ClientLatency => Group::Other,
    }
}

/// Ranks every service that has evidence, best first.
pub(super) fn rank(ev: &[Evidence]) -> Vec<Candidate> {
    let services: BTreeSet<&str> = ev.iter().map(|e| e.service.as_str()).collect();
    let mut callees: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut by_source: BTreeMap<(&str, &str), &Evidence> = BTreeMap::new();
    let mut by_destination: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for e in ev {
        let Some(caller) = e.caller.as_deref() else {
            continue;
        };
        let key = (caller, e.service.as_str());
        match e.family {
            EvidenceFamily::EdgeBySource => {
                callees.entry(caller).or_default().insert(&e.service);
                if by_source.get(&key).is_none_or(|prev| e.z > prev.z) {
                    by_source.insert(key, e);
                }
            }
            EvidenceFamily::EdgeByDestination => {
                callees.entry(caller).or_default().insert(&e.service);
                let v = by_destination.entry(key).or_insert(f64::MIN);
                *v = v.max(e.z);
            }
            _ => {}
        }
    }
    // Network delay on an edge: what the caller sees beyond what the callee sees, or the
    // caller-side gap measured in spans when that is larger.
    let mut network: BTreeMap<(&str, &str), (f64, &Evidence)> = by_source
        .iter()
        .map(|(k, e)| {
            (
                *k,
                (
                    e.z.max(0.0) - by_destination.get(k).copied().unwrap_or(0.0).max(0.0),
                    *e,
                ),
            )
        })
        .collect();
    for e in ev.iter().filter(|e| e.family == EvidenceFamily::CallGap) {
        let Some(caller) = e.caller.as_deref() else {
            continue;
        };
        let key = (caller, e.service.as_str());
        if network.get(&key).is_none_or(|(v, _)| e.z > *v) {
            network.insert(key, (e.z, e));
        }
    }

    // Each service's largest rise (seconds) in what it serves.
    let mut duration_rise: HashMap<&str, f64> = HashMap::new();
    for e in ev.iter().filter(|e| e.is_duration() && e.z > 0.0) {
        let r = duration_rise.entry(e.service.as_str()).or_insert(0.0);
        *r = r.max(e.rise.unwrap_or(0.0));
    }
    let mut ranked: Vec<Candidate> = services
        .iter()
        .map(|&s| {
            let my_callees = callees.get(s).into_iter().flatten();
            let explained = my_callees
                .clone()
                .filter_map(|c| by_source.get(&(s, *c)).map(|e| e.z))
                .fold(0.0, f64::max);
            // The same in seconds: what the callees' slowdown adds up to, as the calls
            // into them (caller's view) or their own serving latency, whichever is larger.
            let explained_secs: f64 = my_callees
                .map(|c| {
                    let edge = by_source
                        .get(&(s, *c))
                        .and_then(|e| e.rise)
                        .unwrap_or(0.0)
                        .max(0.0);
                    edge.max(duration_rise.get(c).copied().unwrap_or(0.0))
                })
                .sum();
            let mut cand: Vec<(f64, &Evidence)> = Vec::new();
            for e in ev.iter().filter(|e| e.service == s) {
                match e.family {
                    EvidenceFamily::Resource | EvidenceFamily::Shape => cand.push((e.z.abs(), e)),
                    EvidenceFamily::SelfTime if e.z > 0.0 => cand.push((e.z, e)),
                    EvidenceFamily::LeafTime if e.z > 0.0 => {
                        cand.push(((e.z - explained).max(0.0), e))
                    }
                    EvidenceFamily::Latency if e.z > 0.0 => {
                        let mut v = (e.z - explained).max(0.0);
                        // A callee explains a caller's slowdown only if it also does in seconds:
                        // keep the part of the rise the callees do not account for.
                        if let Some(rise) = e.rise.filter(|r| *r > 0.0 && e.is_duration()) {
                            v = v.max(e.z * (1.0 - explained_secs / rise).max(0.0));
                        }
                        cand.push((v, e))
                    }
                    _ => {}
                }
            }
            let mut inbound: Vec<(f64, &Evidence)> = network
                .iter()
                .filter(|((_, callee), _)| *callee == s)
                .map(|((caller, _), (v, e))| {
                    let siblings: Vec<f64> = network
                        .iter()
                        .filter(|((c2, x), _)| c2 == caller && *x != s)
                        .map(|(_, (v2, _))| *v2)
                        .collect();
                    let caller_wide = if siblings.is_empty() {
                        0.0
                    } else {
                        median(&siblings)
                    };
                    (v - caller_wide.max(0.0), *e)
                })
                .collect();
            inbound.sort_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((v, e)) = inbound.get(inbound.len() / 2) {
                cand.push((v.max(0.0), e));
            }
            let mut outbound: Vec<(f64, &Evidence)> = network
                .iter()
                .filter(|((caller, _), _)| *caller == s)
                .map(|(_, (v, e))| (*v, *e))
                .collect();
            outbound.sort_by(|a, b| a.0.total_cmp(&b.0));
            if outbound.len() >= 2 {
                let (v, e) = outbound[outbound.len() / 2];
                cand.push((v.max(0.0), e));
            }
            cand.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut best_per_group: BTreeMap<Group, f64> = BTreeMap::new();
            for (v, e) in &cand {
                let g = best_per_group.entry(group(e.family)).or_insert(0.0);
                *g = g.max(*v);
            }
            Candidate {
                service: s.to_owned(),
                score: cand.first().map_or(0.0, |c| c.0),
                corroboration: best_per_group.values().sum(),
                top: cand
                    .iter()
                    .take(3)
                    .map(|(v, e)| (*v, (*e).clone()))
                    .collect(),
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.corroboration.total_cmp(&a.corroboration))
            .then(a.service.cmp(&b.service))
    });
    ranked
}
