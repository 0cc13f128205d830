//! Entities with their versions over time and the reverse edges that answer "who uses
//! this ConfigMap", "which pods run on this node", "which services call this one".

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use tapio_domain::{EntityKey, EntityKind, EntityRef, EntitySnapshot, Relation, RelationKind};

/// One entity as it was from `from` until the next version (or `gone`).
#[derive(Debug, Clone)]
pub struct EntityVersion {
    pub from: Timestamp,
    pub uid: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub selector: Option<BTreeMap<String, String>>,
    pub relations: Vec<Relation>,
    pub addresses: Vec<String>,
}

#[derive(Debug, Default)]
struct History {
    versions: Vec<EntityVersion>,
    gone: Option<Timestamp>,
}

/// The topology graph with history.
///
/// An entity seen first at time T is assumed to have looked the same before T (a
/// recording starts with the initial list of objects that already existed).
#[derive(Debug, Default)]
pub struct Topology {
    entities: HashMap<EntityKey, History>,
    by_uid: HashMap<String, EntityKey>,
    by_address: HashMap<String, EntityKey>,
    /// target -> sources having a relation to it (any version).
    reverse: HashMap<EntityKey, HashSet<(RelationKind, EntityKey)>>,
    /// Observed service-to-service calls: (caller, callee) -> number of calls seen.
    calls: HashMap<(String, String), u64>,
    /// Service and NetworkPolicy keys by namespace and kind, for selector matching.
    selectors: HashMap<(Option<String>, EntityKind), HashSet<EntityKey>>,
}

impl Topology {
    /// Applies a snapshot: a new version of the entity from `snap.at` on.
    pub fn apply(&mut self, snap: &EntitySnapshot) {
        let key = snap.entity.key();
        if let Some(uid) = &snap.entity.uid {
            self.by_uid.insert(uid.clone(), key.clone());
        }
        for address in &snap.addresses {
            if snap.entity.kind == EntityKind::Pod || !self.by_address.contains_key(address) {
                self.by_address.insert(address.clone(), key.clone());
            }
        }
        for rel in &snap.relations {
            self.reverse
                .entry(rel.target.key())
                .or_default()
                .insert((rel.kind, key.clone()));
        }
        if matches!(key.kind, EntityKind::Service | EntityKind::NetworkPolicy) {
            self.selectors
                .entry((key.namespace.clone(), key.kind))
                .or_default()
                .insert(key.clone());
        }
        let history = self.entities.entry(key).or_default();
        history.gone = None;
        history.versions.push(EntityVersion {
            from: snap.at,
            uid: snap.entity.uid.clone(),
            labels: snap.labels.clone(),
            selector: snap.selector.clone(),
            relations: snap.relations.clone(),
            addresses: snap.addresses.clone(),
        });
    }

    /// Records that an entity stopped existing at `at`.
    pub fn remove(&mut self, entity: &EntityRef, at: Timestamp) {
        if let Some(h) = self.entities.get_mut(&entity.key()) {
            h.gone = Some(at);
        }
    }

    /// Records an observed call from one service to another.
    pub fn observe_call(&mut self, caller: &str, callee: &str) {
        if caller != callee {
            *self
                .calls
                .entry((caller.to_owned(), callee.to_owned()))
                .or_default() += 1;
        }
    }

    /// Services observed calling `callee`.
    pub fn callers_of(&self, callee: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .calls
            .keys()
            .filter(|(_, c)| c == callee)
            .map(|(a, _)| a.as_str())
            .collect();
        v.sort_unstable();
        v
    }

    /// Services `caller` was observed calling.
    pub fn callees_of(&self, caller: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .calls
            .keys()
            .filter(|(a, _)| a == caller)
            .map(|(_, c)| c.as_str())
            .collect();
        v.sort_unstable();
        v
    }

    /// Number of entities ever seen.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// Whether no entity was seen.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// The entity as it was at `at` (`None` once it was gone).
    pub fn version_at(&self, key: &EntityKey, at: Timestamp) -> Option<&EntityVersion> {
        let h = self.entities.get(key)?;
        if h.gone.is_some_and(|g| at >= g) {
            return None;
        }
        let idx = h.versions.partition_point(|v| v.from <= at);
        h.versions.get(idx.saturating_sub(1))
    }

    /// Whether the entity is known at all.
    pub fn contains(&self, key: &EntityKey) -> bool {
        self.entities.contains_key(key)
    }

    /// Resolves a uid to the entity that carries it.
    pub fn by_uid(&self, uid: &str) -> Option<&EntityKey> {
        self.by_uid.get(uid)
    }

    /// Resolves an IP address to the pod (or node, service) that had it.
    pub fn by_address(&self, address: &str) -> Option<&EntityKey> {
        self.by_address.get(address)
    }

    /// Completes a reference that carries only a uid (eBPF events) with its name.
    pub fn resolve(&self, entity: &EntityRef) -> EntityRef {
        if entity.name.is_empty() {
            if let Some(key) = entity.uid.as_deref().and_then(|u| self.by_uid(u)) {
                return key.to_ref().with_uid(entity.uid.as_deref());
            }
        }
        entity.clone()
    }

    /// The targets of `key`'s relations of `kind` at `at`.
    pub fn related(&self, key: &EntityKey, kind: RelationKind, at: Timestamp) -> Vec<EntityKey> {
        self.version_at(key, at)
            .map(|v| {
                v.relations
                    .iter()
                    .filter(|r| r.kind == kind)
                    .map(|r| r.target.key())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The controller chain above `key` at `at`, nearest first (Pod -> ReplicaSet ->
    /// Deployment).
    pub fn owner_chain(&self, key: &EntityKey, at: Timestamp) -> Vec<EntityKey> {
        let mut chain = Vec::new();
        let mut current = key.clone();
        while chain.len() < 8 {
            let Some(owner) = self
                .related(&current, RelationKind::OwnedBy, at)
                .into_iter()
                .next()
            else {
                break;
            };
            chain.push(owner.clone());
            current = owner;
        }
        chain
    }

    /// The top-level workload that owns `key` (a Deployment rather than its ReplicaSet).
    pub fn workload_of(&self, key: &EntityKey, at: Timestamp) -> Option<EntityKey> {
        self.owner_chain(key, at)
            .into_iter()
            .rfind(|k| k.kind.is_workload())
    }

    /// Pods controlled by `workload` (through any depth of owners) at `at`.
    pub fn pods_of(&self, workload: &EntityKey, at: Timestamp) -> Vec<EntityKey> {
        let mut out = Vec::new();
        let mut frontier = vec![workload.clone()];
        let mut depth = 0;
        while let Some(owner) = frontier.pop() {
            for child in self.sources_of(&owner, RelationKind::OwnedBy, at) {
                if child.kind == EntityKind::Pod {
                    out.push(child);
                } else if depth < 8 {
                    frontier.push(child);
                }
            }
            depth += 1;
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether `owner` is `key` itself or in its controller chain.
    pub fn is_owned_by(&self, key: &EntityKey, owner: &EntityKey, at: Timestamp) -> bool {
        key == owner || self.owner_chain(key, at).contains(owner)
    }

    /// Entities that had a relation of `kind` to `target` at `at`.
    pub fn sources_of(
        &self,
        target: &EntityKey,
        kind: RelationKind,
        at: Timestamp,
    ) -> Vec<EntityKey> {
        let mut out: Vec<EntityKey> = self
            .reverse
            .get(target)
            .into_iter()
            .flatten()
            .filter(|(k, src)| *k == kind && self.related(src, kind, at).contains(target))
            .map(|(_, src)| src.clone())
            .collect();
        out.sort();
        out
    }

    /// Whether pod `pod` used ConfigMap/Secret `config` (volume or env) at `at`.
    pub fn uses_config(&self, pod: &EntityKey, config: &EntityKey, at: Timestamp) -> bool {
        self.version_at(pod, at).is_some_and(|v| {
            v.relations.iter().any(|r| {
                matches!(
                    r.kind,
                    RelationKind::MountsConfig | RelationKind::ReadsEnvFrom
                ) && r.target.key() == *config
            })
        })
    }

    /// The node `pod` ran on at `at`.
    pub fn node_of(&self, pod: &EntityKey, at: Timestamp) -> Option<EntityKey> {
        self.related(pod, RelationKind::RunsOn, at)
            .into_iter()
            .next()
    }

    /// Services or NetworkPolicies of a namespace (entities that select pods).
    pub fn selecting(&self, namespace: Option<&str>, kind: EntityKind) -> Vec<EntityKey> {
        let mut v: Vec<EntityKey> = self
            .selectors
            .get(&(namespace.map(str::to_owned), kind))
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Services in the pod's namespace whose selector matched the pod's labels at `at`.
    pub fn services_of(&self, pod: &EntityKey, at: Timestamp) -> Vec<EntityKey> {
        let Some(pod_v) = self.version_at(pod, at) else {
            return Vec::new();
        };
        let mut out: Vec<EntityKey> = self
            .selecting(pod.namespace.as_deref(), EntityKind::Service)
            .into_iter()
            .filter(|k| {
                self.version_at(k, at)
                    .and_then(|v| v.selector.as_ref())
                    .is_some_and(|sel| {
                        !sel.is_empty()
                            && sel.iter().all(|(l, val)| pod_v.labels.get(l) == Some(val))
                    })
            })
            .collect();
        out.sort();
        out
    }

    /// The service name people use for `key`: a selecting Service, else the
    /// `app.kubernetes.io/name` / `app` label, else the workload name.
    pub fn service_name(&self, key: &EntityKey, at: Timestamp) -> Option<String> {
        if key.kind == EntityKind::Service {
            return Some(key.name.clone());
        }
        if let Some(s) = self.services_of(key, at).into_iter().next() {
            return Some(s.name);
        }
        let v = self.version_at(key, at)?;
        v.labels
            .get("app.kubernetes.io/name")
            .or_else(|| v.labels.get("app"))
            .cloned()
            .or_else(|| self.workload_of(key, at).map(|w| w.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_domain::EntityRef;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn snap(
        at: &str,
        kind: EntityKind,
        name: &str,
        rels: Vec<(RelationKind, EntityKind, &str)>,
    ) -> EntitySnapshot {
        let mut s = EntitySnapshot::bare(ts(at), EntityRef::new(kind, Some("shop"), name));
        s.relations = rels
            .into_iter()
            .map(|(k, tk, tn)| Relation {
                kind: k,
                target: EntityRef::new(tk, Some("shop"), tn),
            })
            .collect();
        s
    }

    #[test]
    fn owner_chains_resolve_to_the_top_workload() {
        let mut t = Topology::default();
        t.apply(&snap(
            "2026-01-01T00:00:00Z",
            EntityKind::Deployment,
            "cart",
            vec![],
        ));
        t.apply(&snap(
            "2026-01-01T00:00:00Z",
            EntityKind::ReplicaSet,
            "cart-7d9f",
            vec![(RelationKind::OwnedBy, EntityKind::Deployment, "cart")],
        ));
        t.apply(&snap(
            "2026-01-01T00:00:00Z",
            EntityKind::Pod,
            "cart-7d9f-x",
            vec![
                (RelationKind::OwnedBy, EntityKind::ReplicaSet, "cart-7d9f"),
                (
                    RelationKind::MountsConfig,
                    EntityKind::ConfigMap,
                    "cart-config",
                ),
            ],
        ));
        let pod = EntityRef::new(EntityKind::Pod, Some("shop"), "cart-7d9f-x").key();
        let at = ts("2026-01-01T00:05:00Z");
        assert_eq!(t.workload_of(&pod, at).unwrap().name, "cart");
        let cm = EntityRef::new(EntityKind::ConfigMap, Some("shop"), "cart-config").key();
        assert!(t.uses_config(&pod, &cm, at));
        assert_eq!(
            t.sources_of(&cm, RelationKind::MountsConfig, at),
            vec![pod.clone()]
        );
    }

    #[test]
    fn history_answers_as_of_a_past_time() {
        let mut t = Topology::default();
        t.apply(&snap(
            "2026-01-01T00:00:00Z",
            EntityKind::Pod,
            "p",
            vec![(RelationKind::MountsConfig, EntityKind::ConfigMap, "old")],
        ));
        t.apply(&snap(
            "2026-01-01T01:00:00Z",
            EntityKind::Pod,
            "p",
            vec![(RelationKind::MountsConfig, EntityKind::ConfigMap, "new")],
        ));
        let pod = EntityRef::new(EntityKind::Pod, Some("shop"), "p").key();
        let old = EntityRef::new(EntityKind::ConfigMap, Some("shop"), "old").key();
        let new = EntityRef::new(EntityKind::ConfigMap, Some("shop"), "new").key();
        assert!(t.uses_config(&pod, &old, ts("2026-01-01T00:30:00Z")));
        assert!(!t.uses_config(&pod, &new, ts("2026-01-01T00:30:00Z")));
        assert!(t.uses_config(&pod, &new, ts("2026-01-01T01:30:00Z")));
        // Before the first sighting, the first version holds.
        assert!(t.uses_config(&pod, &old, ts("2025-12-31T23:00:00Z")));
    }
}
