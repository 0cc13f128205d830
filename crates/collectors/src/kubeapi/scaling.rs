//! HorizontalPodAutoscalers (which workload they scale) and ResourceQuotas.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::ResourceQuota;
use tapio_domain::{EntityKind, EntityRef, Observation, Relation, RelationKind};

use super::meta::snapshot_of;
use crate::emit::Emitter;

/// Processes an HPA: a `Scales` relation to its target workload.
pub fn observe_hpa(hpa: &HorizontalPodAutoscaler, deleted: bool, emit: &mut Emitter<'_>) {
    let mut snap = snapshot_of(
        emit.ts(),
        EntityKind::HorizontalPodAutoscaler,
        &hpa.metadata,
    );
    if deleted {
        emit.push(Observation::EntityGone {
            at: snap.at,
            entity: snap.entity,
        });
        return;
    }
    if let Some(target) = hpa.spec.as_ref().map(|s| &s.scale_target_ref) {
        if let Some(kind) = EntityKind::parse(&target.kind) {
            snap.relations.push(Relation {
                kind: RelationKind::Scales,
                target: EntityRef::new(kind, hpa.metadata.namespace.as_deref(), &target.name),
            });
        }
    }
    emit.push(Observation::Entity(snap));
}

/// Processes a ResourceQuota: it exists in its namespace (its exhaustion is reported by the
/// controllers' `FailedCreate` events, which name the quota).
pub fn observe_quota(quota: &ResourceQuota, deleted: bool, emit: &mut Emitter<'_>) {
    let snap = snapshot_of(emit.ts(), EntityKind::ResourceQuota, &quota.metadata);
    if deleted {
        emit.push(Observation::EntityGone {
            at: snap.at,
            entity: snap.entity,
        });
    } else {
        emit.push(Observation::Entity(snap));
    }
}
