//! Workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob): topology and
//! pod-template diffs (image, resources, probes, env, restarts, replicas, job failure).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use tapio_domain::{EntityKey, EntityKind, EntityRef, EventKind, Observation, Severity};

use super::meta::{digest, match_labels, snapshot_of};
use crate::emit::Emitter;
use crate::quantity::{format_bytes, parse_quantity};

const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// What a workload's pod template and scale look like, reduced to what diffs need.
#[derive(Debug, Clone, Default, PartialEq)]
struct WorkloadDigest {
    uid: Option<String>,
    replicas: Option<i32>,
    restarted_at: Option<String>,
    containers: BTreeMap<String, ContainerSpecDigest>,
    failed: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct ContainerSpecDigest {
    image: String,
    memory_limit: Option<f64>,
    resources: u64,
    resources_text: String,
    probes: u64,
    env: u64,
}

impl ContainerSpecDigest {
    fn of(c: &Container) -> Self {
        let resources_text = c
            .resources
            .as_ref()
            .map(|r| {
                let part = |name: &str,
                            m: &Option<
                    BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
                >| {
                    m.iter()
                        .flatten()
                        .map(|(k, v)| format!("{name}.{k}={}", v.0))
                        .collect::<Vec<_>>()
                };
                let mut all = part("requests", &r.requests);
                all.extend(part("limits", &r.limits));
                all.join(", ")
            })
            .unwrap_or_default();
        Self {
            image: c.image.clone().unwrap_or_default(),
            memory_limit: c
                .resources
                .as_ref()
                .and_then(|r| r.limits.as_ref()?.get("memory"))
                .and_then(|q| parse_quantity(&q.0)),
            resources: digest(&c.resources),
            resources_text,
            probes: digest(&(&c.liveness_probe, &c.readiness_probe, &c.startup_probe)),
            env: digest(&(&c.env, &c.env_from, &c.command, &c.args)),
        }
    }
}

/// The parts of a workload object that the tracker reads.
pub struct WorkloadView<'a> {
    pub kind: EntityKind,
    pub meta: &'a ObjectMeta,
    pub selector: Option<&'a LabelSelector>,
    pub template: Option<&'a PodTemplateSpec>,
    pub replicas: Option<i32>,
    /// A failure condition (Job `Failed` with its reason and message).
    pub failure: Option<(String, String)>,
}

/// A workload object seen through what the tracker reads.
pub trait AsWorkload {
    fn view(&self) -> WorkloadView<'_>;
}

impl AsWorkload for Deployment {
    fn view(&self) -> WorkloadView<'_> {
        let spec = self.spec.as_ref();
        WorkloadView {
            kind: EntityKind::Deployment,
            meta: &self.metadata,
            selector: spec.map(|s| &s.selector),
            template: spec.map(|s| &s.template),
            replicas: spec.and_then(|s| s.replicas),
            failure: None,
        }
    }
}

impl AsWorkload for ReplicaSet {
    fn view(&self) -> WorkloadView<'_> {
        let spec = self.spec.as_ref();
        WorkloadView {
            kind: EntityKind::ReplicaSet,
            meta: &self.metadata,
            selector: spec.map(|s| &s.selector),
            template: spec.and_then(|s| s.template.as_ref()),
            replicas: spec.and_then(|s| s.replicas),
            failure: None,
        }
    }
}

impl AsWorkload for StatefulSet {
    fn view(&self) -> WorkloadView<'_> {
        let spec = self.spec.as_ref();
        WorkloadView {
            kind: EntityKind::StatefulSet,
            meta: &self.metadata,
            selector: spec.map(|s| &s.selector),
            template: spec.map(|s| &s.template),
            replicas: spec.and_then(|s| s.replicas),
            failure: None,
        }
    }
}

impl AsWorkload for DaemonSet {
    fn view(&self) -> WorkloadView<'_> {
        let spec = self.spec.as_ref();
        WorkloadView {
            kind: EntityKind::DaemonSet,
            meta: &self.metadata,
            selector: spec.map(|s| &s.selector),
            template: spec.map(|s| &s.template),
            replicas: None,
            failure: None,
        }
    }
}

impl AsWorkload for Job {
    fn view(&self) -> WorkloadView<'_> {
        let spec = self.spec.as_ref();
        let failure = self
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.type_ == "Failed" && c.status == "True")
            })
            .map(|c| {
                (
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default(),
                )
            });
        WorkloadView {
            kind: EntityKind::Job,
            meta: &self.metadata,
            selector: spec.and_then(|s| s.selector.as_ref()),
            template: spec.map(|s| &s.template),
            replicas: None,
            failure,
        }
    }
}

impl AsWorkload for CronJob {
    fn view(&self) -> WorkloadView<'_> {
        WorkloadView {
            kind: EntityKind::CronJob,
            meta: &self.metadata,
            selector: None,
            template: self
                .spec
                .as_ref()
                .and_then(|s| s.job_template.spec.as_ref())
                .map(|s| &s.template),
            replicas: None,
            failure: None,
        }
    }
}

/// Last seen template of every workload.
#[derive(Debug, Default)]
pub struct WorkloadTracker {
    workloads: HashMap<EntityKey, WorkloadDigest>,
}

impl WorkloadTracker {
    /// Processes one workload object.
    pub fn observe(&mut self, view: WorkloadView<'_>, deleted: bool, emit: &mut Emitter<'_>) {
        let at = emit.ts();
        let mut snap = snapshot_of(at, view.kind, view.meta);
        snap.selector = match_labels(view.selector);
        let entity = snap.entity.clone();
        let key = entity.key();
        if deleted {
            self.workloads.remove(&key);
            emit.push(Observation::EntityGone { at, entity });
            return;
        }
        let template = view.template;
        let digest = WorkloadDigest {
            uid: entity.uid.clone(),
            replicas: view.replicas,
            restarted_at: template.and_then(|t| {
                t.metadata
                    .as_ref()?
                    .annotations
                    .as_ref()?
                    .get(RESTARTED_AT)
                    .cloned()
            }),
            containers: template
                .and_then(|t| t.spec.as_ref())
                .map(|s| {
                    s.containers
                        .iter()
                        .map(|c| (c.name.clone(), ContainerSpecDigest::of(c)))
                        .collect()
                })
                .unwrap_or_default(),
            failed: view.failure.as_ref().map(|(r, _)| r.clone()),
        };
        let previous = self
            .workloads
            .insert(key, digest.clone())
            .filter(|p| p.uid == digest.uid);
        emit.push(Observation::Entity(snap));
        let Some(previous) = previous else {
            return;
        };
        // ReplicaSets carry an immutable copy of their Deployment's template and are scaled
        // by it: the Deployment reports those changes.
        if view.kind != EntityKind::ReplicaSet {
            template_diff(&previous, &digest, &entity, emit);
            if let (Some(from), Some(to)) = (previous.replicas, digest.replicas) {
                if from != to {
                    emit.event(
                        "replicas",
                        at,
                        EventKind::ReplicasChanged { from, to },
                        Severity::Info,
                        entity.clone(),
                        None,
                    );
                }
            }
        }
        if let Some((reason, message)) = view.failure {
            if previous.failed.as_ref() != Some(&reason) {
                emit.event(
                    "failed",
                    at,
                    EventKind::JobFailed { reason, message },
                    Severity::Error,
                    entity,
                    None,
                );
            }
        }
    }
}

fn template_diff(
    before: &WorkloadDigest,
    now: &WorkloadDigest,
    entity: &EntityRef,
    emit: &mut Emitter<'_>,
) {
    let at = emit.ts();
    if now.restarted_at.is_some() && now.restarted_at != before.restarted_at {
        emit.event(
            "restarted",
            at,
            EventKind::RolloutRestarted,
            Severity::Info,
            entity.clone(),
            None,
        );
    }
    for (name, c) in &now.containers {
        let Some(old) = before.containers.get(name) else {
            continue;
        };
        if c.image != old.image {
            emit.event(
                &format!("{name}/image"),
                at,
                EventKind::ImageChanged {
                    container: name.clone(),
                    from: old.image.clone(),
                    to: c.image.clone(),
                },
                Severity::Info,
                entity.clone(),
                None,
            );
        }
        if c.resources != old.resources {
            let lowered = match (old.memory_limit, c.memory_limit) {
                (Some(a), Some(b)) if b < a => Some(b as u64),
                _ => None,
            };
            let change = match (old.memory_limit, c.memory_limit, lowered) {
                (Some(a), Some(b), Some(_)) => {
                    format!("limits.memory {} -> {}", format_bytes(a), format_bytes(b))
                }
                _ => format!("{} -> {}", old.resources_text, c.resources_text),
            };
            emit.event(
                &format!("{name}/resources"),
                at,
                EventKind::ResourcesChanged {
                    container: name.clone(),
                    change,
                    memory_limit_lowered_to: lowered,
                },
                Severity::Info,
                entity.clone(),
                None,
            );
        }
        if c.probes != old.probes {
            emit.event(
                &format!("{name}/probes"),
                at,
                EventKind::ProbeChanged {
                    container: name.clone(),
                },
                Severity::Info,
                entity.clone(),
                None,
            );
        }
        if c.env != old.env {
            emit.event(
                &format!("{name}/env"),
                at,
                EventKind::EnvChanged {
                    container: name.clone(),
                },
                Severity::Info,
                entity.clone(),
                None,
            );
        }
    }
}
