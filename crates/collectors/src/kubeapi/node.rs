//! Nodes: addresses, labels and condition flips (Ready, MemoryPressure, DiskPressure,
//! PIDPressure, NetworkUnavailable).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use k8s_openapi::api::core::v1::Node;
use tapio_domain::{EntityKey, EntityKind, EventKind, Observation, Severity};

use super::meta::snapshot_of;
use crate::emit::Emitter;

/// Last seen condition statuses of every node.
#[derive(Debug, Default)]
pub struct NodeTracker {
    nodes: HashMap<EntityKey, BTreeMap<String, String>>,
}

impl NodeTracker {
    /// Processes one Node object.
    pub fn observe(&mut self, node: &Node, deleted: bool, emit: &mut Emitter<'_>) {
        let at = emit.ts();
        let mut snap = snapshot_of(at, EntityKind::Node, &node.metadata);
        let entity = snap.entity.clone();
        if deleted {
            self.nodes.remove(&entity.key());
            emit.push(Observation::EntityGone { at, entity });
            return;
        }
        let status = node.status.as_ref();
        snap.addresses = status
            .and_then(|s| s.addresses.as_ref())
            .map(|a| a.iter().map(|a| a.address.clone()).collect())
            .unwrap_or_default();
        emit.push(Observation::Entity(snap));
        let conditions = status.and_then(|s| s.conditions.as_ref());
        let now: BTreeMap<String, String> = conditions
            .iter()
            .flat_map(|cs| cs.iter())
            .map(|c| (c.type_.clone(), c.status.clone()))
            .collect();
        let previous = self.nodes.insert(entity.key(), now.clone());
        for c in conditions.iter().flat_map(|cs| cs.iter()) {
            let before = previous.as_ref().and_then(|p| p.get(&c.type_));
            let healthy = if c.type_ == "Ready" { "True" } else { "False" };
            let changed = before.is_some_and(|b| *b != c.status);
            let unhealthy_on_first_sight = before.is_none() && c.status != healthy;
            if !(changed || unhealthy_on_first_sight) {
                continue;
            }
            let severity = if c.status == healthy {
                Severity::Info
            } else {
                Severity::Error
            };
            let when = c.last_transition_time.as_ref().map_or(at, |t| t.0);
            emit.event(
                &format!("{}/{}", c.type_, c.status),
                when,
                EventKind::NodeConditionChanged {
                    condition: c.type_.clone(),
                    status: c.status.clone(),
                    message: c.message.clone().unwrap_or_default(),
                },
                severity,
                entity.clone(),
                Some(entity.name.clone()),
            );
        }
    }
}
