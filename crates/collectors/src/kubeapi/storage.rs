//! PersistentVolumeClaims: existence and phase (a claim that is Lost fails its pods).

use rustc_hash::FxHashMap as HashMap;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use tapio_domain::{EntityKey, EntityKind, EventKind, Observation, Severity};

use super::meta::snapshot_of;
use crate::emit::Emitter;

/// Last seen phase of every claim.
#[derive(Debug, Default)]
pub struct ClaimTracker {
    phases: HashMap<EntityKey, String>,
}

impl ClaimTracker {
    /// Processes one PersistentVolumeClaim.
    pub fn observe(&mut self, pvc: &PersistentVolumeClaim, deleted: bool, emit: &mut Emitter<'_>) {
        let at = emit.ts();
        let snap = snapshot_of(at, EntityKind::PersistentVolumeClaim, &pvc.metadata);
        let entity = snap.entity.clone();
        if deleted {
            self.phases.remove(&entity.key());
            emit.push(Observation::EntityGone { at, entity });
            return;
        }
        emit.push(Observation::Entity(snap));
        let phase = pvc
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let previous = self.phases.insert(entity.key(), phase.clone());
        if phase == "Lost" && previous.as_deref() != Some("Lost") {
            emit.event(
                "lost",
                at,
                EventKind::VolumeFailed {
                    message: "PersistentVolumeClaim lost its volume".to_owned(),
                },
                Severity::Error,
                entity,
                None,
            );
        }
    }
}
