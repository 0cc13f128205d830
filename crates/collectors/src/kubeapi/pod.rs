//! Pods: topology (owner, node, config and volume use, IPs) and status diffs (terminations,
//! restarts, waiting reasons, phases, evictions, scheduling failures).

use rustc_hash::FxHashMap as HashMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodSpec};
use tapio_domain::telemetry::metric_names;
use tapio_domain::{
    EntityKey, EntityKind, EntityRef, EntitySnapshot, EventKind, MetricSample, Observation,
    Relation, RelationKind, Severity,
};

use super::meta::snapshot_of;
use crate::emit::Emitter;
use crate::quantity::parse_quantity;

/// Waiting reasons that are part of a normal start, not a failure.
const BENIGN_WAITING: [&str; 2] = ["ContainerCreating", "PodInitializing"];

#[derive(Debug, Clone, Default, PartialEq)]
struct ContainerDigest {
    restarts: i32,
    waiting: Option<String>,
    terminated_at: Option<(Timestamp, i32)>,
    last_terminated_at: Option<(Timestamp, i32)>,
}

#[derive(Debug, Clone, Default)]
struct PodDigest {
    phase: String,
    evicted: bool,
    unschedulable: Option<String>,
    containers: HashMap<String, ContainerDigest>,
    memory_limits: Vec<(String, u64)>,
    spec_relations: u64,
}

/// Tracks the last seen status of every pod and turns changes into events. Shared by the
/// kubeapi watch and the kubelet `pods` endpoint so that one change is reported once.
///
/// Pods are told apart by name and identity: two pods of one name (a StatefulSet pod
/// being replaced, listed by the kubelet while the old one terminates) are two pods.
/// A static pod's identity is its config hash, which the kubelet uses as its uid and the
/// API server's mirror pod carries as an annotation, so both views are one pod.
#[derive(Debug, Default)]
pub struct PodTracker {
    pods: HashMap<(EntityKey, Option<String>), PodDigest>,
}

/// The annotation of a mirror pod naming the static pod it mirrors (its config hash).
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The annotation the kubelet puts on a static pod: its config hash (also its uid there).
const CONFIG_HASH_ANNOTATION: &str = "kubernetes.io/config.hash";

/// Which pod this is, across the kubelet's and the API server's views of it.
fn identity(pod: &Pod) -> Option<String> {
    let annotations = pod.metadata.annotations.as_ref();
    annotations
        .and_then(|a| {
            a.get(MIRROR_ANNOTATION)
                .or_else(|| a.get(CONFIG_HASH_ANNOTATION))
        })
        .cloned()
        .or_else(|| pod.metadata.uid.clone())
}

impl PodTracker {
    /// Number of pods currently known.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether no pod is known.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// Processes one pod as seen at the record's time. `deleted` for a DELETED watch event.
    pub fn observe(&mut self, pod: &Pod, deleted: bool, emit: &mut Emitter<'_>) {
        let at = emit.ts();
        let snap = pod_snapshot(at, pod);
        let entity = snap.entity.clone();
        let key = (entity.key(), identity(pod));
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());

        if deleted {
            self.pods.remove(&key);
            emit.event(
                "deleted",
                at,
                EventKind::PodDeleted,
                Severity::Info,
                entity.clone(),
                node,
            );
            emit.push(Observation::EntityGone { at, entity });
            return;
        }

        let previous = self.pods.get(&key).cloned();
        let mut digest = PodDigest::default();
        let first_sight = previous.is_none();
        let previous = previous.unwrap_or_default();

        let relations_digest = super::meta::digest(&snap.relations);
        digest.spec_relations = relations_digest;
        if first_sight || relations_digest != previous.spec_relations {
            emit.push(Observation::Entity(snap));
        }
        if first_sight {
            emit.event(
                "created",
                at,
                EventKind::PodCreated,
                Severity::Info,
                entity.clone(),
                node.clone(),
            );
        }

        digest.memory_limits = memory_limits(pod.spec.as_ref());
        if digest.memory_limits != previous.memory_limits {
            for (container, limit) in &digest.memory_limits {
                emit.metric(MetricSample {
                    at,
                    entity: entity.clone(),
                    service: None,
                    name: metric_names::MEMORY_LIMIT.to_owned(),
                    value: *limit as f64,
                    counter: false,
                    attributes: vec![("container".to_owned(), container.clone())],
                });
            }
        }

        let Some(status) = pod.status.as_ref() else {
            self.pods.insert(key, digest);
            return;
        };

        // A pod being deleted stops its containers on purpose: what they report then is
        // a shutdown, not a failure.
        let terminating = pod.metadata.deletion_timestamp.is_some();
        digest.phase = status.phase.clone().unwrap_or_default();
        if !first_sight && digest.phase != previous.phase && !digest.phase.is_empty() {
            let severity = if digest.phase == "Failed" && !terminating {
                Severity::Error
            } else {
                Severity::Info
            };
            emit.event(
                "phase",
                at,
                EventKind::PodPhaseChanged {
                    from: previous.phase.clone(),
                    to: digest.phase.clone(),
                },
                severity,
                entity.clone(),
                node.clone(),
            );
        }

        digest.evicted = status.reason.as_deref() == Some("Evicted");
        if digest.evicted && !previous.evicted {
            emit.event(
                "evicted",
                at,
                EventKind::PodEvicted {
                    message: status.message.clone().unwrap_or_default(),
                },
                Severity::Error,
                entity.clone(),
                node.clone(),
            );
        }

        digest.unschedulable = status.conditions.as_ref().and_then(|cs| {
            cs.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                .filter(|c| c.reason.as_deref() == Some("Unschedulable"))
                .map(|c| c.message.clone().unwrap_or_default())
        });
        if let Some(message) = &digest.unschedulable {
            if previous.unschedulable.as_ref() != Some(message) {
                emit.event(
                    "unschedulable",
                    at,
                    EventKind::SchedulingFailed {
                        message: message.clone(),
                    },
                    Severity::Warning,
                    entity.clone(),
                    None,
                );
            }
        }

        let all_statuses = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten());
        for cs in all_statuses {
            let before = previous
                .containers
                .get(&cs.name)
                .cloned()
                .unwrap_or_default();
            let ctx = PodContext {
                pod: &entity,
                node: node.as_deref(),
                at,
                first_sight,
                terminating,
            };
            let now = container_diff(cs, &before, &ctx, emit);
            digest.containers.insert(cs.name.clone(), now);
        }
        self.pods.insert(key, digest);
    }
}

/// What a container diff needs to know about its pod.
struct PodContext<'a> {
    pod: &'a EntityRef,
    node: Option<&'a str>,
    at: Timestamp,
    first_sight: bool,
    /// The pod is being deleted: its containers stop on purpose.
    terminating: bool,
}

/// Compares one container's status with its previous digest, emitting what changed.
fn container_diff(
    cs: &ContainerStatus,
    before: &ContainerDigest,
    ctx: &PodContext<'_>,
    emit: &mut Emitter<'_>,
) -> ContainerDigest {
    let PodContext {
        pod,
        node,
        at,
        first_sight,
        terminating,
    } = *ctx;
    let name = &cs.name;
    let node = node.map(str::to_owned);
    let mut now = ContainerDigest {
        restarts: cs.restart_count,
        ..ContainerDigest::default()
    };

    let mut terminated = |slot: &str,
                          t: &k8s_openapi::api::core::v1::ContainerStateTerminated,
                          seen: Option<(Timestamp, i32)>|
     -> Option<(Timestamp, i32)> {
        let finished = t.finished_at.as_ref().map_or(at, |f| f.0);
        let key = Some((finished, t.exit_code));
        if key != seen && !(t.exit_code == 0 && t.reason.as_deref() == Some("Completed")) {
            emit.event(
                &format!("{name}/{slot}/{finished}"),
                finished,
                EventKind::ContainerTerminated {
                    container: name.clone(),
                    reason: t.reason.clone().unwrap_or_else(|| "Error".to_owned()),
                    exit_code: t.exit_code,
                    signal: t.signal,
                },
                if terminating {
                    Severity::Info
                } else {
                    Severity::Error
                },
                pod.clone(),
                node.clone(),
            );
        }
        key
    };

    if let Some(t) = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
        now.last_terminated_at = terminated("last", t, before.last_terminated_at);
    }
    if let Some(t) = cs.state.as_ref().and_then(|s| s.terminated.as_ref()) {
        // The same termination moves from state to lastState on restart: report it once.
        let seen = before.terminated_at.or(now.last_terminated_at);
        now.terminated_at = terminated("state", t, seen);
    }

    if cs.restart_count > before.restarts && !first_sight {
        emit.event(
            &format!("{name}/restart/{}", cs.restart_count),
            at,
            EventKind::ContainerRestarted {
                container: name.clone(),
                restarts: cs.restart_count,
            },
            Severity::Warning,
            pod.clone(),
            node.clone(),
        );
    }

    if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
        let reason = w.reason.clone().unwrap_or_default();
        if !reason.is_empty() && !BENIGN_WAITING.contains(&reason.as_str()) {
            if before.waiting.as_ref() != Some(&reason) {
                emit.event(
                    &format!("{name}/waiting/{reason}"),
                    at,
                    EventKind::ContainerWaiting {
                        container: name.clone(),
                        reason: reason.clone(),
                        message: w.message.clone().unwrap_or_default(),
                    },
                    Severity::Error,
                    pod.clone(),
                    node.clone(),
                );
            }
            now.waiting = Some(reason);
        }
    }
    now
}

/// The pod's topology: owner, node, ConfigMaps/Secrets/PVCs it uses, and its IPs.
pub fn pod_snapshot(at: Timestamp, pod: &Pod) -> EntitySnapshot {
    let mut snap = snapshot_of(at, EntityKind::Pod, &pod.metadata);
    let ns = pod.metadata.namespace.as_deref();
    if let Some(spec) = &pod.spec {
        if let Some(node) = &spec.node_name {
            snap.relations.push(Relation {
                kind: RelationKind::RunsOn,
                target: EntityRef::new(EntityKind::Node, None, node),
            });
        }
        config_relations(spec, ns, &mut snap.relations);
    }
    if let Some(status) = &pod.status {
        let ips = status.pod_ips.iter().flatten().map(|ip| ip.ip.clone());
        snap.addresses.extend(ips);
        if snap.addresses.is_empty() {
            snap.addresses.extend(status.pod_ip.clone());
        }
    }
    snap
}

fn config_relations(spec: &PodSpec, ns: Option<&str>, out: &mut Vec<Relation>) {
    let mut add = |kind, target_kind, name: &str| {
        let rel = Relation {
            kind,
            target: EntityRef::new(target_kind, ns, name),
        };
        if !out.contains(&rel) {
            out.push(rel);
        }
    };
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = &v.config_map {
            add(RelationKind::MountsConfig, EntityKind::ConfigMap, &cm.name);
        }
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) {
            add(RelationKind::MountsConfig, EntityKind::Secret, s);
        }
        if let Some(pvc) = &v.persistent_volume_claim {
            add(
                RelationKind::Claims,
                EntityKind::PersistentVolumeClaim,
                &pvc.claim_name,
            );
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &src.config_map {
                add(RelationKind::MountsConfig, EntityKind::ConfigMap, &cm.name);
            }
            if let Some(s) = &src.secret {
                add(RelationKind::MountsConfig, EntityKind::Secret, &s.name);
            }
        }
    }
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter());
    for c in containers {
        for from in c.env_from.iter().flatten() {
            if let Some(cm) = &from.config_map_ref {
                add(RelationKind::ReadsEnvFrom, EntityKind::ConfigMap, &cm.name);
            }
            if let Some(s) = &from.secret_ref {
                add(RelationKind::ReadsEnvFrom, EntityKind::Secret, &s.name);
            }
        }
        for env in c.env.iter().flatten() {
            let Some(src) = &env.value_from else { continue };
            if let Some(cm) = &src.config_map_key_ref {
                add(RelationKind::ReadsEnvFrom, EntityKind::ConfigMap, &cm.name);
            }
            if let Some(s) = &src.secret_key_ref {
                add(RelationKind::ReadsEnvFrom, EntityKind::Secret, &s.name);
            }
        }
    }
}

fn memory_limits(spec: Option<&PodSpec>) -> Vec<(String, u64)> {
    spec.into_iter()
        .flat_map(|s| s.containers.iter())
        .filter_map(|c| {
            let q = c.resources.as_ref()?.limits.as_ref()?.get("memory")?;
            Some((c.name.clone(), parse_quantity(&q.0)? as u64))
        })
        .collect()
}
