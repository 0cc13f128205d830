//! Nodes: addresses, labels, condition flips (Ready, MemoryPressure, DiskPressure,
//! PIDPressure, NetworkUnavailable) and taints added.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use tapio_domain::{EntityKey, EntityKind, EventKind, Observation, Severity};

use super::meta::snapshot_of;
use crate::emit::Emitter;

/// What was last seen of a node: condition statuses and taints.
#[derive(Debug, Default)]
struct NodeDigest {
    conditions: BTreeMap<String, String>,
    taints: BTreeSet<String>,
}

/// Last seen conditions and taints of every node.
#[derive(Debug, Default)]
pub struct NodeTracker {
    nodes: HashMap<EntityKey, NodeDigest>,
}

/// Whether a condition in this status is a problem. A pressure condition whose status is
/// Unknown only says the kubelet stopped reporting (Ready says that already).
fn is_unhealthy(c: &NodeCondition) -> bool {
    match c.type_.as_str() {
        "Ready" => c.status != "True",
        _ => c.status == "True",
    }
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
        let now = NodeDigest {
            conditions: conditions
                .iter()
                .flat_map(|cs| cs.iter())
                .map(|c| (c.type_.clone(), c.status.clone()))
                .collect(),
            taints: node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .map(|t| {
                    format!(
                        "{}={}:{}",
                        t.key,
                        t.value.as_deref().unwrap_or_default(),
                        t.effect
                    )
                })
                .collect(),
        };
        let previous = self.nodes.insert(entity.key(), now);
        let node_name = Some(entity.name.clone());
        for c in conditions.iter().flat_map(|cs| cs.iter()) {
            let before = previous.as_ref().and_then(|p| p.conditions.get(&c.type_));
            let changed = before.is_some_and(|b| *b != c.status);
            let unhealthy_on_first_sight = before.is_none() && is_unhealthy(c);
            if !(changed || unhealthy_on_first_sight) {
                continue;
            }
            let severity = if is_unhealthy(c) {
                Severity::Error
            } else {
                Severity::Info
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
                node_name.clone(),
            );
        }
        // Taints added after the node was first seen: the kubelet's own not-ready and
        // pressure taints follow conditions already reported, so they are left out.
        if let Some(previous) = previous {
            let current = &self.nodes[&entity.key()].taints;
            let added: Vec<String> = current
                .difference(&previous.taints)
                .filter(|t| !t.starts_with("node.kubernetes.io/"))
                .cloned()
                .collect();
            if !added.is_empty() {
                emit.event(
                    "taints",
                    at,
                    EventKind::TaintsChanged { added },
                    Severity::Info,
                    entity,
                    node_name,
                );
            }
        }
    }
}
