//! The kubeapi parser: Kubernetes watch events (`{"type","object"}`) into topology
//! snapshots and change events. Objects are read into the real Kubernetes types from
//! `k8s-openapi`; the same parser serves the live watch and replay.

mod config;
mod kube_event;
mod meta;
mod network;
pub mod pod;
mod scaling;
mod storage;
mod workload;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use tapio_domain::{EntityKind, Observation};

use crate::emit::Emitter;
use crate::recording::Record;
use crate::ParseError;

pub use kube_event::classify as classify_event_reason;
pub use pod::PodTracker;

use config::{ConfigTracker, KeyedWatch};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use network::PolicyTracker;
use node::NodeTracker;
use storage::ClaimTracker;
use workload::{AsWorkload, WorkloadTracker};

pub mod live;
mod node;
mod peek;

/// A watch event read straight into the object's real type (other fields are skipped).
#[derive(Deserialize)]
struct Typed<T> {
    object: T,
}

/// Counters of what the parser skipped on purpose.
#[derive(Debug, Clone, Default)]
pub struct KubeApiStats {
    /// Watch BOOKMARK events (resourceVersion markers, no object change).
    pub bookmarks: u64,
    /// Watch ERROR events (a Status object from the server).
    pub watch_errors: u64,
    /// Objects of kinds Tapio does not model, by kind.
    pub unknown_kinds: std::collections::BTreeMap<String, u64>,
}

/// State the kubeapi parser keeps between watch events: the last seen shape of each object,
/// reduced to what change detection needs.
#[derive(Debug, Default)]
pub struct KubeApiParser {
    pub(crate) pods: PodTracker,
    workloads: WorkloadTracker,
    configs: ConfigTracker,
    nodes: NodeTracker,
    policies: PolicyTracker,
    claims: ClaimTracker,
    stats: KubeApiStats,
}

fn typed<T: DeserializeOwned>(data: &RawValue, kind: &str) -> Result<T, ParseError> {
    serde_json::from_str::<Typed<T>>(data.get())
        .map(|t| t.object)
        .map_err(|e| ParseError::Payload(format!("{kind}: {e}")))
}

impl KubeApiParser {
    fn workload<T: DeserializeOwned + AsWorkload>(
        &mut self,
        object: &RawValue,
        kind: &str,
        deleted: bool,
        emit: &mut Emitter<'_>,
    ) -> Result<(), ParseError> {
        let w: T = typed(object, kind)?;
        self.workloads.observe(w.view(), deleted, emit);
        Ok(())
    }

    /// What was skipped so far.
    pub fn stats(&self) -> &KubeApiStats {
        &self.stats
    }

    /// Parses one `kubeapi` record.
    pub fn parse(&mut self, record: &Record, out: &mut Vec<Observation>) -> Result<(), ParseError> {
        let Some(head) = peek::watch_head(record.data.get()) else {
            let detail = match serde_json::from_str::<serde::de::IgnoredAny>(record.data.get()) {
                Err(e) => e.to_string(),
                Ok(_) => "no \"type\" with an \"object\"".to_owned(),
            };
            return Err(ParseError::Payload(format!(
                "not a watch event {{\"type\",\"object\"}}: {detail}"
            )));
        };
        let deleted = match head.event_type {
            "ADDED" | "MODIFIED" => false,
            "DELETED" => true,
            "BOOKMARK" => {
                self.stats.bookmarks += 1;
                return Ok(());
            }
            "ERROR" => {
                self.stats.watch_errors += 1;
                return Ok(());
            }
            other => {
                return Err(ParseError::Payload(format!(
                    "unknown watch event type {other:?}"
                )))
            }
        };
        let object: &RawValue = &record.data;
        let mut emit = Emitter::new(record, out);
        let emit = &mut emit;
        match (head.kind, head.api_version) {
            ("Pod", _) => self.pods.observe(&typed(object, "Pod")?, deleted, emit),
            ("Deployment", _) => {
                self.workload::<Deployment>(object, "Deployment", deleted, emit)?
            }
            ("ReplicaSet", _) => {
                self.workload::<ReplicaSet>(object, "ReplicaSet", deleted, emit)?
            }
            ("StatefulSet", _) => {
                self.workload::<StatefulSet>(object, "StatefulSet", deleted, emit)?
            }
            ("DaemonSet", _) => self.workload::<DaemonSet>(object, "DaemonSet", deleted, emit)?,
            ("Job", _) => self.workload::<Job>(object, "Job", deleted, emit)?,
            ("CronJob", _) => self.workload::<CronJob>(object, "CronJob", deleted, emit)?,
            ("ConfigMap", _) => {
                let data: KeyedWatch<'_> = serde_json::from_str(object.get())
                    .map_err(|e| ParseError::Payload(format!("ConfigMap: {e}")))?;
                self.configs
                    .observe(EntityKind::ConfigMap, &data.object, deleted, emit);
            }
            ("Secret", _) => {
                // Never include serde's message here: it could quote part of a value.
                let data: KeyedWatch<'_> = serde_json::from_str(object.get()).map_err(|_| {
                    ParseError::Payload("Secret: object does not have the Secret shape".to_owned())
                })?;
                self.configs
                    .observe(EntityKind::Secret, &data.object, deleted, emit);
            }
            ("Node", _) => self.nodes.observe(&typed(object, "Node")?, deleted, emit),
            ("Service", _) => network::observe_service(&typed(object, "Service")?, deleted, emit),
            ("EndpointSlice", _) => {
                network::observe_endpoint_slice(&typed(object, "EndpointSlice")?, deleted, emit)
            }
            ("NetworkPolicy", _) => {
                self.policies
                    .observe(&typed(object, "NetworkPolicy")?, deleted, emit)
            }
            ("PersistentVolumeClaim", _) => {
                self.claims
                    .observe(&typed(object, "PersistentVolumeClaim")?, deleted, emit)
            }
            ("HorizontalPodAutoscaler", "autoscaling/v2") => {
                scaling::observe_hpa(&typed(object, "HorizontalPodAutoscaler")?, deleted, emit)
            }
            ("ResourceQuota", _) => {
                scaling::observe_quota(&typed(object, "ResourceQuota")?, deleted, emit)
            }
            ("Event", "events.k8s.io/v1") => {
                if !deleted {
                    kube_event::observe_events_v1(&typed(object, "Event")?, emit)
                }
            }
            ("Event", _) => {
                if !deleted {
                    kube_event::observe_core(&typed(object, "Event")?, emit)
                }
            }
            (other, _) => {
                *self
                    .stats
                    .unknown_kinds
                    .entry(other.to_owned())
                    .or_default() += 1;
            }
        }
        Ok(())
    }
}
