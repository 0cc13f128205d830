//! Insights from the service-level ranking (telemetry without cluster events): the top
//! candidate as the incident's root cause, the next ones as lower-ranked hypotheses, each
//! with the evidence that placed it.

use jiff::Timestamp;
use tapio_domain::{
    ChainStep, EntityName, EventId, Insight, RootCause, RootCauseKind, Source, Symptom,
};

use super::{insight_id, round2};
use crate::service_rca::{Candidate, EvidenceFamily, ServiceRanking};

/// Latency or errors must rise at least this much (robust sigmas) for an incident.
const MIN_INCIDENT_SCORE: f64 = 6.0;
/// Lower-ranked candidates are listed while they deviate at least this much.
const MIN_CANDIDATE_SCORE: f64 = 3.0;
/// Most candidates listed for one incident.
const MAX_CANDIDATES: usize = 5;
/// A score at which the evidence alone is beyond doubt (the scores are capped at 50).
const CONVINCING_SCORE: f64 = 15.0;

fn kind_of(c: &Candidate) -> RootCauseKind {
    let Some((_, e)) = c.top.first() else {
        return RootCauseKind::Unknown;
    };
    let label = e.label.to_ascii_lowercase();
    match e.family {
        EvidenceFamily::Resource if label.contains("cpu") => RootCauseKind::CpuSaturation,
        EvidenceFamily::Resource if label.contains("memory") => RootCauseKind::MemoryLeak,
        EvidenceFamily::EdgeBySource
        | EvidenceFamily::EdgeByDestination
        | EvidenceFamily::CallGap => RootCauseKind::NetworkDelay,
        _ => RootCauseKind::ApplicationError,
    }
}

fn describe(c: &Candidate) -> String {
    c.top
        .iter()
        .map(|(v, e)| format!("{} ({:+.1}σ, counted {:.1})", e.label, e.z, v))
        .collect::<Vec<_>>()
        .join("; ")
}

fn evidence_ids(c: &Candidate, onset: Timestamp) -> Vec<EventId> {
    c.top
        .iter()
        .map(|(_, e)| EventId::derive(Source::Engine, e.label.as_bytes(), &onset.to_string()))
        .collect()
}

fn service_entity(service: &str, namespace: Option<&str>) -> EntityName {
    EntityName {
        kind: "Service".to_owned(),
        namespace: namespace.map(str::to_owned),
        name: service.to_owned(),
    }
}

fn recommendations(kind: RootCauseKind, service: &str, namespace: Option<&str>) -> Vec<String> {
    let ns = namespace.map(|n| format!("-n {n} ")).unwrap_or_default();
    let mut out = match kind {
        RootCauseKind::CpuSaturation => vec![
            format!("Check CPU use and throttling of {service}'s pods: kubectl {ns}top pod -l app={service}"),
            format!("Look for a noisy neighbour on the same node, or raise {service}'s CPU limit"),
        ],
        RootCauseKind::NetworkDelay => vec![format!(
            "Check the network path into {service}: packet loss, retransmits and latency between its callers' nodes and its pods"
        )],
        RootCauseKind::MemoryLeak => vec![format!("Check {service}'s memory growth: kubectl {ns}top pod -l app={service}")],
        _ => vec![format!(
            "Look at {service}'s recent errors and changes: kubectl {ns}logs -l app={service} --since=15m, and its last rollout"
        )],
    };
    out.push(format!(
        "Traces of {service} around the onset show where the time goes"
    ));
    out
}

/// Insights for the ranking, best first; none when the strongest deviation is too weak
/// to call an incident.
pub fn service_insights(
    ranking: &ServiceRanking,
    namespace_of: impl Fn(&str) -> Option<String>,
) -> Vec<Insight> {
    let Some(best) = ranking.candidates.first() else {
        return Vec::new();
    };
    // An incident is something users felt (latency or errors up); when the evidence on
    // which service started it is weak, the candidates are still listed, with a low
    // confidence that says so.
    if ranking.degradation < MIN_INCIDENT_SCORE || best.score < MIN_CANDIDATE_SCORE {
        return Vec::new();
    }
    let onset = Timestamp::from_nanosecond((ranking.onset.at * 1e9) as i128)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    // Confidence: how clearly the best beats the second, and how strong its evidence is.
    let strength = (best.score / CONVINCING_SCORE).min(1.0);
    let top_confidence = (0.5 + 0.4 * ranking.margin()) * strength;
    let symptom_candidate = ranking
        .candidates
        .iter()
        .skip(1)
        .find(|c| c.score >= MIN_CANDIDATE_SCORE);
    let mut out = Vec::new();
    for (rank, c) in ranking.candidates.iter().take(MAX_CANDIDATES).enumerate() {
        if rank > 0 && c.score < MIN_CANDIDATE_SCORE {
            break;
        }
        let namespace = namespace_of(&c.service);
        let kind = kind_of(c);
        let entity = service_entity(&c.service, namespace.as_deref());
        let confidence = if rank == 0 {
            top_confidence
        } else {
            (top_confidence * 0.5 * c.score / best.score).min(0.45)
        };
        let (symptom_service, symptom_why) =
            match symptom_candidate.filter(|s| s.service != c.service) {
                Some(s) => (s.service.clone(), describe(s)),
                None => (c.service.clone(), describe(c)),
            };
        let symptom_entity =
            service_entity(&symptom_service, namespace_of(&symptom_service).as_deref());
        let mut chain = vec![ChainStep {
            kind: format!("{kind}"),
            entity: entity.clone(),
            at: onset,
            evidence: evidence_ids(c, onset),
            why: describe(c),
        }];
        if symptom_service != c.service {
            chain.push(ChainStep {
                kind: "Degradation".to_owned(),
                entity: symptom_entity.clone(),
                at: onset,
                evidence: symptom_candidate
                    .map(|s| evidence_ids(s, onset))
                    .unwrap_or_default(),
                why: symptom_why,
            });
        }
        let pattern = format!("service-{}", format!("{kind:?}").to_ascii_lowercase());
        let id = insight_id(&[
            pattern.as_bytes(),
            c.service.as_bytes(),
            onset.to_string().as_bytes(),
        ]);
        let lead = if rank == 0 && ranking.tie_broken() {
            "Most likely cause (tie broken by corroborating evidence)".to_owned()
        } else if rank == 0 {
            "Most likely cause".to_owned()
        } else {
            format!("Candidate #{}", rank + 1)
        };
        out.push(Insight {
            id,
            pattern,
            confidence: round2(confidence),
            summary: format!(
                "{lead}: {kind} in service {} from {} (onset {}), seen as {}",
                c.service,
                onset,
                if ranking.onset.precise {
                    "from traces"
                } else {
                    "from metrics"
                },
                c.top
                    .first()
                    .map_or(String::new(), |(_, e)| e.label.clone())
            ),
            root_cause: RootCause {
                kind,
                entity: entity.clone(),
                workload: None,
                service: Some(c.service.clone()),
                at: onset,
            },
            symptom: Symptom {
                kind: "Degradation".to_owned(),
                entity: symptom_entity,
                at: onset,
            },
            chain,
            alternatives: Vec::new(),
            recommendations: recommendations(kind, &c.service, namespace.as_deref()),
            affected: vec![entity],
        });
    }
    out
}
