//! Text rendering for people: the chain drawn step by step, times relative to the
//! symptom, the recommendation last.

use std::fmt::Write;

use jiff::Timestamp;
use tapio_domain::{Insight, InsightReport};

fn relative(at: Timestamp, symptom: Timestamp) -> String {
    let secs = at.duration_since(symptom).as_secs();
    let sign = if secs < 0 { "-" } else { "+" };
    let s = secs.abs();
    if s >= 3600 {
        format!("{sign}{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{sign}{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{sign}{s}s")
    }
}

/// One insight as text.
pub fn insight(out: &mut String, n: usize, i: &Insight) {
    let _ = writeln!(
        out,
        "{n}. {}  [{} · confidence {:.2}]",
        i.summary, i.pattern, i.confidence
    );
    let rc = &i.root_cause;
    let mut owner = Vec::new();
    if let Some(w) = &rc.workload {
        owner.push(w.clone());
    }
    if let Some(s) = &rc.service {
        owner.push(format!("service {s}"));
    }
    let owner = if owner.is_empty() {
        String::new()
    } else {
        format!(" ({})", owner.join(", "))
    };
    let _ = writeln!(
        out,
        "   Root cause: {} — {}{} at {}",
        rc.kind, rc.entity, owner, rc.at
    );
    let _ = writeln!(
        out,
        "   Chain (times relative to the symptom at {}):",
        i.symptom.at
    );
    for (k, step) in i.chain.iter().enumerate() {
        let _ = writeln!(
            out,
            "     {:>8}  {}  {}  ({} event{})",
            relative(step.at, i.symptom.at),
            step.kind,
            step.entity,
            step.evidence.len(),
            if step.evidence.len() == 1 { "" } else { "s" }
        );
        if k + 1 < i.chain.len() && !step.why.is_empty() {
            let _ = writeln!(out, "              ↓ {}", step.why);
        }
    }
    if !i.affected.is_empty() {
        let names: Vec<String> = i.affected.iter().take(8).map(|a| a.to_string()).collect();
        let more = i.affected.len().saturating_sub(8);
        let _ = write!(out, "   Affected: {}", names.join(", "));
        if more > 0 {
            let _ = write!(out, " and {more} more");
        }
        let _ = writeln!(out);
    }
    for a in &i.alternatives {
        let _ = writeln!(
            out,
            "   Also considered: {} — {} ({:.2}): {}",
            a.root_cause.kind, a.root_cause.entity, a.confidence, a.why_not
        );
    }
    if !i.recommendations.is_empty() {
        let _ = writeln!(out, "   What to do:");
        for r in &i.recommendations {
            let _ = writeln!(out, "     - {r}");
        }
    }
}

/// A whole report as text.
pub fn report(r: &InsightReport) -> String {
    let mut out = String::new();
    if r.insights.is_empty() {
        let _ = writeln!(
            out,
            "No incident found: nothing in this recording needs explaining."
        );
    }
    for (n, i) in r.insights.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        insight(&mut out, n + 1, i);
    }
    let s = &r.stats;
    let _ = writeln!(
        out,
        "\n{} lines ({} rejected), {} events, {} entities, analysed in {:.0} ms",
        s.lines, s.rejected, s.events, s.entities, s.elapsed_ms
    );
    out
}
