//! The bodies each sink expects.

use serde_json::{json, Value};
use tapio_domain::Insight;

use super::dedup::fingerprint;
use super::NotifyPolicy;

fn entity(e: &tapio_domain::EntityName) -> String {
    match &e.namespace {
        Some(ns) => format!("{} {ns}/{}", e.kind, e.name),
        None => format!("{} {}", e.kind, e.name),
    }
}

fn link(i: &Insight, policy: &NotifyPolicy) -> Option<String> {
    policy
        .ui_url
        .as_ref()
        .map(|u| format!("{}/#/insight/{}", u.trim_end_matches('/'), i.id))
}

/// The chain, one step a line, cause first.
fn chain(i: &Insight) -> String {
    i.chain
        .iter()
        .map(|s| format!("{} — {}", s.kind, entity(&s.entity)))
        .collect::<Vec<_>>()
        .join("\n→ ")
}

/// Alertmanager API v2: a list of alerts, labels identifying the incident.
pub(super) fn alertmanager(i: &Insight, policy: &NotifyPolicy) -> String {
    let rc = &i.root_cause;
    let severity = if i.confidence >= 0.8 {
        "critical"
    } else {
        "warning"
    };
    let mut alert = json!({
        "labels": {
            "alertname": "TapioIncident",
            "pattern": i.pattern,
            "root_cause_kind": format!("{:?}", rc.kind),
            "root_cause": entity(&rc.entity),
            "namespace": rc.entity.namespace.clone().unwrap_or_default(),
            "severity": severity,
            "fingerprint": fingerprint(i),
        },
        "annotations": {
            "summary": i.summary,
            "description": chain(i),
            "confidence": format!("{:.2}", i.confidence),
            "recommendation": i.recommendations.join("\n"),
        },
        "startsAt": rc.at.to_string(),
        // Firing until Tapio would announce it again, so that Alertmanager does not
        // resolve it after its resolve_timeout meanwhile.
        "endsAt": jiff::Timestamp::now()
            .checked_add(policy.repeat_after)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    });
    if let Some(url) = link(i, policy) {
        alert["generatorURL"] = Value::String(url);
    }
    json!([alert]).to_string()
}

/// Slack incoming webhook: text plus a block layout (mrkdwn).
pub(super) fn slack(i: &Insight, policy: &NotifyPolicy) -> String {
    let mut text = format!(
        "*{}* (confidence {:.2})\n*Root cause:* {}\n```{}```",
        i.summary,
        i.confidence,
        entity(&i.root_cause.entity),
        chain(i)
    );
    if let Some(first) = i.recommendations.first() {
        text.push_str(&format!("\n*What to do:* {first}"));
    }
    if let Some(url) = link(i, policy) {
        text.push_str(&format!("\n<{url}|Open in Tapio>"));
    }
    json!({
        "text": i.summary,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    })
    .to_string()
}
