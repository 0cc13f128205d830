//! The incident suite (`tests-data/incidents/`): one or more recordings per causal-rule
//! family, with decoys, and busy healthy clusters. Every incident's root cause must be at
//! rank 1 (an accepted kind naming an accepted entity), noise must give no insight at
//! confidence 0.5 or more, and Secret values must never appear in the output.

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use tapio_domain::{Insight, InsightReport};

#[derive(Deserialize)]
struct Entity {
    kind: String,
    #[serde(default)]
    namespace: Option<String>,
    name: String,
}

#[derive(Deserialize)]
struct Expected {
    file: String,
    expect: String,
    #[serde(default)]
    root_cause_kind: Option<String>,
    #[serde(default)]
    acceptable_root_kinds: Vec<String>,
    #[serde(default)]
    root_entity: Option<Entity>,
    #[serde(default)]
    acceptable_root_entities: Vec<Entity>,
    #[serde(default)]
    secret_values_must_not_appear: Vec<String>,
    /// The incident recurs (a CronJob failing every run): one insight that says so.
    #[serde(default)]
    periodic: bool,
    /// A case the engine does not answer correctly yet, and why. It must still fail: a
    /// case that starts passing is reported, to be promoted.
    #[serde(default)]
    open: Option<String>,
}

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests-data/incidents")
}

fn names(insight: &Insight, e: &Entity) -> bool {
    let rc = &insight.root_cause;
    let same = rc.entity.kind == e.kind
        && rc.entity.name == e.name
        && (e.namespace.is_none() || rc.entity.namespace == e.namespace);
    // A pod of the expected workload names the workload.
    let workload = rc.workload.as_deref() == Some(&format!("{}/{}", e.kind, e.name))
        && rc.entity.kind == "Pod";
    same || workload
}

#[test]
fn every_incident_is_found_at_rank_one_and_noise_stays_quiet() {
    let dir = suite_dir();
    let expected: Vec<Expected> =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    assert!(
        expected.len() >= 20,
        "the suite has {} cases",
        expected.len()
    );
    let mut failures = Vec::new();
    let mut open = Vec::new();
    for case in &expected {
        let before = failures.len();
        let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
            .args(["analyze", "--format", "json"])
            .arg(dir.join(&case.file))
            .output()
            .expect("tapio runs");
        assert!(
            out.status.success(),
            "{}: {}",
            case.file,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        for secret in &case.secret_values_must_not_appear {
            assert!(
                !text.contains(secret.as_str()),
                "{}: a Secret value reached the output",
                case.file
            );
        }
        let report: InsightReport = serde_json::from_slice(&out.stdout).unwrap();
        if case.expect == "none" {
            if let Some(i) = report.insights.iter().find(|i| i.confidence >= 0.5) {
                failures.push(format!(
                    "{}: confident insight on noise: {} ({})",
                    case.file, i.summary, i.confidence
                ));
            }
            continue;
        }
        let Some(top) = report.insights.first() else {
            match &case.open {
                Some(reason) => open.push(format!("{}: {reason}", case.file)),
                None => failures.push(format!("{}: no insight", case.file)),
            }
            continue;
        };
        let kinds: Vec<&str> = case
            .root_cause_kind
            .iter()
            .chain(&case.acceptable_root_kinds)
            .map(String::as_str)
            .collect();
        let kind = format!("{:?}", top.root_cause.kind);
        let entity_ok = case
            .root_entity
            .iter()
            .chain(&case.acceptable_root_entities)
            .any(|e| names(top, e));
        if case.periodic != top.pattern.ends_with("-periodic") {
            failures.push(format!(
                "{}: periodic should be {} (pattern {})",
                case.file, case.periodic, top.pattern
            ));
        }
        if !kinds.contains(&kind.as_str()) || !entity_ok {
            failures.push(format!(
                "{}: got {kind} {} (workload {:?}), want {kinds:?} {}",
                case.file,
                top.root_cause.entity,
                top.root_cause.workload,
                case.root_entity
                    .as_ref()
                    .map(|e| format!("{} {}", e.kind, e.name))
                    .unwrap_or_default()
            ));
        }
        if let Some(reason) = &case.open {
            if failures.len() == before {
                failures.push(format!(
                    "{}: marked open but now passes: promote it",
                    case.file
                ));
            } else {
                failures.truncate(before);
                open.push(format!("{}: {reason}", case.file));
            }
        }
    }
    eprintln!("{} open cases:\n{}", open.len(), open.join("\n"));
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        expected.len(),
        failures.join("\n")
    );
}
