//! Symptoms and their grouping into incidents: one incident per affected workload (or
//! node) and period, not one per pod.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use tapio_domain::{EntityKey, EntityKind, Event, EventKind};

use crate::correlation::Timeline;
use crate::topology::Topology;

/// A quiet gap this long between symptoms of one workload starts a new incident.
const INCIDENT_GAP: SignedDuration = SignedDuration::from_secs(60 * 60);
/// A pod deleted this soon after its container ended was being shut down, not failing.
const SHUTDOWN_GRACE: SignedDuration = SignedDuration::from_secs(120);
/// Probe failures become a symptom once seen this many times in an incident.
const PROBE_FAILURES_FOR_SYMPTOM: usize = 3;

/// Waiting reasons that mean the container cannot run.
const FAILING_WAITING: [&str; 7] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Symptoms of one workload (or node, or Job) close together in time.
#[derive(Debug, Clone)]
pub struct Incident {
    /// The workload, node or object the symptoms belong to.
    pub subject: EntityKey,
    /// Timeline indexes of the symptoms, in time order.
    pub symptoms: Vec<usize>,
    /// Affected entities (pods, nodes), sorted.
    pub affected: Vec<EntityKey>,
}

fn is_symptom(e: &Event) -> bool {
    if e.severity < tapio_domain::Severity::Warning {
        return false;
    }
    match &e.kind {
        EventKind::ContainerWaiting { reason, .. } => FAILING_WAITING.contains(&reason.as_str()),
        EventKind::ContainerTerminated {
            reason, exit_code, ..
        } => reason == "OOMKilled" || *exit_code != 0,
        EventKind::PodPhaseChanged { to, .. } => to == "Failed",
        EventKind::NodeConditionChanged { .. } | EventKind::EtcdTrouble { .. } => {
            e.severity >= tapio_domain::Severity::Error
        }
        EventKind::PodEvicted { .. }
        | EventKind::SchedulingFailed { .. }
        | EventKind::CreateFailed { .. }
        | EventKind::SandboxFailed { .. }
        | EventKind::VolumeFailed { .. }
        | EventKind::JobFailed { .. }
        | EventKind::ProbeFailed { .. }
        // Calls into it failing for its callers, although it may look healthy itself.
        | EventKind::CallsFailing { .. } => true,
        _ => false,
    }
}

/// A container that ended because its pod was being deleted is not a failure.
fn is_shutdown(e: &Event, timeline: &Timeline) -> bool {
    let EventKind::ContainerTerminated { reason, .. } = &e.kind else {
        return false;
    };
    reason != "OOMKilled"
        && timeline
            .of_entity(&e.entity.key(), e.at, e.at + SHUTDOWN_GRACE)
            .iter()
            .any(|&i| matches!(timeline.get(i).kind, EventKind::PodDeleted))
}

/// The entity an incident is about: the top workload of a pod, else the entity itself.
fn subject_of(e: &Event, topology: &Topology) -> EntityKey {
    let key = e.entity.key();
    match key.kind {
        // The members of one etcd cluster fail together: one incident.
        EntityKind::EtcdMember => EntityKey {
            cluster: key.cluster,
            kind: EntityKind::EtcdMember,
            namespace: None,
            name: "etcd".to_owned(),
        },
        EntityKind::Pod | EntityKind::ReplicaSet | EntityKind::Job => {
            topology.workload_of(&key, e.at).unwrap_or(key)
        }
        _ => key,
    }
}

/// Finds the symptoms on the timeline and groups them into incidents.
pub fn find_incidents(timeline: &Timeline, topology: &Topology) -> Vec<Incident> {
    let mut by_subject: BTreeMap<EntityKey, Vec<usize>> = BTreeMap::new();
    for (idx, e) in timeline.events().iter().enumerate() {
        if is_symptom(e) && !is_shutdown(e, timeline) {
            by_subject
                .entry(subject_of(e, topology))
                .or_default()
                .push(idx);
        }
    }
    let mut incidents = Vec::new();
    for (subject, mut idxs) in by_subject {
        idxs.sort_by_key(|&i| (timeline.get(i).at, i));
        let mut current: Vec<usize> = Vec::new();
        for idx in idxs {
            let gap = current
                .last()
                .map(|&last| timeline.get(idx).at.duration_since(timeline.get(last).at));
            if gap.is_some_and(|g| g > INCIDENT_GAP) {
                incidents.extend(close(
                    subject.clone(),
                    std::mem::take(&mut current),
                    timeline,
                ));
            }
            current.push(idx);
        }
        incidents.extend(close(subject, current, timeline));
    }
    incidents
}

fn close(subject: EntityKey, symptoms: Vec<usize>, timeline: &Timeline) -> Option<Incident> {
    let probe_failures = symptoms
        .iter()
        .filter(|&&i| matches!(timeline.get(i).kind, EventKind::ProbeFailed { .. }))
        .count();
    let only_probes = probe_failures == symptoms.len();
    if symptoms.is_empty() || (only_probes && probe_failures < PROBE_FAILURES_FOR_SYMPTOM) {
        return None;
    }
    let mut affected: Vec<EntityKey> = symptoms
        .iter()
        .map(|&i| timeline.get(i).entity.key())
        .collect();
    affected.sort();
    affected.dedup();
    Some(Incident {
        subject,
        symptoms,
        affected,
    })
}
