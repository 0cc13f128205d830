//! Services, EndpointSlices and NetworkPolicies: who selects which pods, and policy changes.

use rustc_hash::FxHashMap as HashMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use tapio_domain::{
    EntityKey, EntityKind, EntityRef, EventKind, Observation, Relation, RelationKind, Severity,
};

use super::meta::{digest, match_labels, snapshot_of};
use crate::emit::Emitter;

const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Processes a Service: its selector and cluster IPs.
pub fn observe_service(svc: &Service, deleted: bool, emit: &mut Emitter<'_>) {
    let mut snap = snapshot_of(emit.ts(), EntityKind::Service, &svc.metadata);
    if deleted {
        emit.push(Observation::EntityGone {
            at: snap.at,
            entity: snap.entity,
        });
        return;
    }
    if let Some(spec) = &svc.spec {
        snap.selector = spec.selector.clone();
        snap.addresses = spec.cluster_ips.clone().unwrap_or_default();
    }
    emit.push(Observation::Entity(snap));
}

/// Processes an EndpointSlice: owned by its Service, addresses of ready endpoints.
pub fn observe_endpoint_slice(slice: &EndpointSlice, deleted: bool, emit: &mut Emitter<'_>) {
    let mut snap = snapshot_of(emit.ts(), EntityKind::EndpointSlice, &slice.metadata);
    if deleted {
        emit.push(Observation::EntityGone {
            at: snap.at,
            entity: snap.entity,
        });
        return;
    }
    if let Some(service) = snap.labels.get(SERVICE_NAME_LABEL).cloned() {
        if snap.relations.is_empty() {
            snap.relations.push(Relation {
                kind: RelationKind::OwnedBy,
                target: EntityRef::new(
                    EntityKind::Service,
                    slice.metadata.namespace.as_deref(),
                    &service,
                ),
            });
        }
    }
    snap.addresses = slice
        .endpoints
        .iter()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
        .flat_map(|e| e.addresses.iter().cloned())
        .collect();
    emit.push(Observation::Entity(snap));
}

/// Whether a policy restricts the ingress and the egress of the pods it selects: its
/// `policyTypes`, or when it has none, Kubernetes' default (always Ingress; Egress when it
/// has egress rules).
fn directions(policy: &NetworkPolicy) -> (bool, bool) {
    let Some(spec) = &policy.spec else {
        return (true, false);
    };
    match &spec.policy_types {
        Some(types) => (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        ),
        None => (true, spec.egress.is_some()),
    }
}

/// Last seen rules of every NetworkPolicy.
#[derive(Debug, Default)]
pub struct PolicyTracker {
    rules: HashMap<EntityKey, u64>,
}

impl PolicyTracker {
    /// Processes a NetworkPolicy: its pod selector, and an event when its rules change.
    pub fn observe(&mut self, policy: &NetworkPolicy, deleted: bool, emit: &mut Emitter<'_>) {
        let at = emit.ts();
        let mut snap = snapshot_of(at, EntityKind::NetworkPolicy, &policy.metadata);
        let entity = snap.entity.clone();
        if deleted {
            self.rules.remove(&entity.key());
            emit.push(Observation::EntityGone { at, entity });
            return;
        }
        snap.selector = policy
            .spec
            .as_ref()
            .map(|s| match_labels(s.pod_selector.as_ref()).unwrap_or_default());
        emit.push(Observation::Entity(snap));
        let rules = digest(&policy.spec);
        let previous = self.rules.insert(entity.key(), rules);
        // The first sight of a policy from an initial list is not a change; a policy that
        // appears later (created after a prior sighting of its namespace) is.
        let created = policy
            .metadata
            .creation_timestamp
            .as_ref()
            .is_some_and(|t| at.duration_since(t.0).as_secs() < 120);
        let changed = match previous {
            Some(p) => p != rules,
            None => created,
        };
        if changed {
            let (ingress, egress) = directions(policy);
            emit.event(
                "rules",
                at,
                EventKind::PolicyChanged {
                    created: previous.is_none(),
                    ingress,
                    egress,
                },
                Severity::Info,
                entity,
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(spec: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn a_policy_restricts_what_its_types_say_or_what_kubernetes_defaults_to() {
        let both =
            policy(serde_json::json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}));
        assert_eq!(directions(&both), (true, true));
        let egress = policy(serde_json::json!({"podSelector": {}, "policyTypes": ["Egress"]}));
        assert_eq!(directions(&egress), (false, true));
        // No policyTypes: Ingress always, Egress when there are egress rules.
        let plain = policy(serde_json::json!({"podSelector": {}}));
        assert_eq!(directions(&plain), (true, false));
        let with_egress = policy(serde_json::json!({"podSelector": {}, "egress": [{}]}));
        assert_eq!(directions(&with_egress), (true, true));
    }
}
