//! Cascades seen in traces: when the root of an insight is a service that others call,
//! and those callers' requests start failing after it, the failure spread — the root is
//! a dependency failure and the callers are part of the blast radius.

use jiff::SignedDuration;
use tapio_domain::{ChainStep, EntityName, EventId, Insight, RootCauseKind, Source};

use super::extend_unique;
use crate::telemetry::SpanStore;
use crate::topology::Topology;

/// How far before the root's time the callers' "before" period reaches.
const BEFORE: SignedDuration = SignedDuration::from_secs(10 * 60);
/// How long after the root the callers' failures are looked for.
const AFTER: SignedDuration = SignedDuration::from_secs(30 * 60);
/// Fewest failed calls for a caller to count as failing.
const MIN_FAILED: u64 = 5;

/// Services that call `service`, directly or through others, nearest first.
fn callers_upstream<'a>(topology: &'a Topology, service: &str) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    let mut frontier: Vec<&str> = topology.callers_of(service);
    while let Some(s) = frontier.first().copied() {
        frontier.remove(0);
        if s == service || seen.contains(&s) {
            continue;
        }
        seen.push(s);
        frontier.extend(topology.callers_of(s));
    }
    seen
}

/// Widens insights whose root service's callers failed after it.
pub fn widen_with_callers(insights: &mut [Insight], topology: &Topology, spans: &SpanStore) {
    for insight in insights.iter_mut() {
        let rc = &insight.root_cause;
        if !matches!(
            rc.kind,
            RootCauseKind::ApplicationError | RootCauseKind::Unknown
        ) {
            continue;
        }
        let Some(service) = rc.service.clone() else {
            continue;
        };
        let at = rc.at.as_nanosecond() as f64 / 1e9;
        let before = spans.errors_by_service(at - BEFORE.as_secs_f64(), at);
        let after = spans.errors_by_service(at, at + AFTER.as_secs_f64());
        let failing: Vec<(&str, u64, u64)> = callers_upstream(topology, &service)
            .into_iter()
            .filter_map(|caller| {
                let (errors, total) = after.get(caller).copied()?;
                let (errors_before, total_before) = before.get(caller).copied().unwrap_or((0, 0));
                let rate_before = errors_before as f64 / total_before.max(1) as f64;
                let rate_after = errors as f64 / total.max(1) as f64;
                (errors >= MIN_FAILED && rate_after > 2.0 * rate_before + 0.05)
                    .then_some((caller, errors, total))
            })
            .collect();
        if failing.is_empty() {
            continue;
        }
        let namespace = insight.root_cause.entity.namespace.clone();
        let names: Vec<String> = failing
            .iter()
            .map(|(s, e, t)| format!("{s} ({e} of {t} calls failed)"))
            .collect();
        let step = ChainStep {
            kind: "CallersFailing".to_owned(),
            entity: EntityName {
                kind: "Service".to_owned(),
                namespace: namespace.clone(),
                name: failing[0].0.to_owned(),
            },
            at: insight.symptom.at,
            evidence: failing
                .iter()
                .map(|(s, ..)| {
                    EventId::derive(
                        Source::Engine,
                        s.as_bytes(),
                        &format!("{service}@{}", rc.at),
                    )
                })
                .collect(),
            why: format!(
                "the services that call {service} failed after it: {}",
                names.join(", ")
            ),
        };
        if let Some(last) = insight.chain.last_mut() {
            last.why = format!("{service} was failing, so calls into it failed");
        }
        insight.chain.push(step);
        insight.root_cause.kind = RootCauseKind::DependencyFailure;
        insight.pattern = format!(
            "dependency-failure-{}",
            insight.pattern.split_once('-').map_or("", |(_, rest)| rest)
        );
        insight.confidence = (insight.confidence + 0.2).min(0.9);
        insight.summary = format!(
            "{} — its callers failed after it: {}",
            insight.summary,
            names.join(", ")
        );
        for (caller, ..) in &failing {
            let entity = EntityName {
                kind: "Service".to_owned(),
                namespace: namespace.clone(),
                name: (*caller).to_owned(),
            };
            extend_unique(&mut insight.affected, [entity]);
        }
    }
}
