//! The incident suite (`tests-data/incidents/`): one or more recordings per causal-rule
//! family, with decoys, and busy healthy clusters. Every incident's root cause must be at
//! rank 1 (an accepted kind naming an accepted entity), noise must give no insight at
//! confidence 0.5 or more, and Secret values must never appear in the output.

mod support;

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

/// The observations a recording replays into, in the order the engine takes them.
fn observations(path: &std::path::Path) -> Vec<tapio_domain::Observation> {
    let input = tapio_collectors::recording::open_input(path).expect("recording");
    let mut replay =
        tapio_collectors::Replay::new(tapio_collectors::recording::RecordingReader::new(input));
    let (mut all, mut batch) = (Vec::new(), Vec::new());
    while replay.next_batch(&mut batch, &mut |_| {}) {
        all.append(&mut batch);
    }
    all.append(&mut batch);
    all
}

/// The partitions of `count` that the bus delivers an observation to, as JetStream does:
/// its subject's namespace token picks one partition; subjects without one (cluster-scoped
/// facts) go to every partition.
fn delivered_to(o: &tapio_domain::Observation, count: u32) -> Vec<u32> {
    let subject = tapio_integrations::bus::nats::subject_of("suite", o);
    match subject.strip_prefix("tapio.events.") {
        Some(rest) => {
            let namespace = rest.split('.').nth(1).expect("a namespace token");
            vec![tapio_domain::partition_of(namespace, count)]
        }
        None => (0..count).collect(),
    }
}

/// Every recording of the suite analysed by 2 and by 3 partitions, each fed what the bus
/// delivers to it, as `correlation-service` replicas are: together (merged as every
/// replica's API merges them) they must name the root causes one process names, in its
/// order.
#[test]
fn partitions_find_the_root_causes_one_process_finds() {
    use tapio_domain::Partition;
    use tapio_intelligence::analysis::merge_partitions;
    use tapio_intelligence::Engine;
    let dir = suite_dir();
    let expected: Vec<Expected> =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let mut differences = Vec::new();
    for case in &expected {
        let all = observations(&dir.join(&case.file));
        let mut one = Engine::new();
        for o in &all {
            one.ingest(o.clone());
        }
        let single = one.analyze();
        for count in [2, 3] {
            let mut engines: Vec<Engine> = (0..count)
                .map(|index| Engine::for_partition(Partition { index, count }))
                .collect();
            for o in &all {
                for p in delivered_to(o, count) {
                    engines[p as usize].ingest(o.clone());
                }
            }
            // As every replica's API lists them: the partitions' insights as one cluster's.
            let union: Vec<Insight> = merge_partitions(
                (0..count)
                    .zip(&mut engines)
                    .flat_map(|(p, e)| e.analyze().into_iter().map(move |i| (Some(p), i)))
                    .collect(),
            )
            .into_iter()
            .map(|(_, i)| i)
            .collect();
            if support::roots(&single) != support::roots(&union) {
                differences.push(format!(
                    "{} with {count} partitions: {:?} instead of {:?}",
                    case.file,
                    support::roots(&union),
                    support::roots(&single)
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
