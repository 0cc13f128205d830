//! Entities with their versions over time and the reverse edges that answer "who uses
//! this ConfigMap", "which pods run on this node", "which services call this one".
//!
//! Entities are numbered internally and label strings are interned, so that a cluster of
//! hundreds of thousands of pods fits in a few hundred bytes per pod version.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use tapio_domain::{EntityKey, EntityKind, EntityRef, EntitySnapshot, RelationKind};

/// Internal number of an entity.
type Id = u32;

/// Sorted `(key, value)` pairs of interned strings.
pub type Labels = Box<[(Arc<str>, Arc<str>)]>;

/// One entity as it was from `from` until the next version (or until it was gone).
#[derive(Debug, Clone)]
pub struct EntityVersion {
    pub from: Timestamp,
    pub uid: Option<Box<str>>,
    pub labels: Labels,
    /// Label selector (`matchLabels`) of Services, NetworkPolicies and workloads.
    pub selector: Option<Labels>,
    relations: Box<[(RelationKind, Id)]>,
}

impl EntityVersion {
    /// The value of one label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// Whether this version's selector matches `labels` (an empty selector matches nothing).
    pub fn selects(&self, labels: &Labels) -> bool {
        self.selector.as_ref().is_some_and(|sel| {
            !sel.is_empty()
                && sel
                    .iter()
                    .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
    }
}

#[derive(Debug)]
struct Node {
    key: EntityKey,
    versions: Vec<EntityVersion>,
    gone: Option<Timestamp>,
}

/// The topology graph with history.
///
/// An entity seen first at time T is assumed to have looked the same before T (a
/// recording starts with the initial list of objects that already existed).
#[derive(Debug, Default)]
pub struct Topology {
    nodes: Vec<Node>,
    ids: HashMap<EntityKey, Id>,
    by_uid: HashMap<Box<str>, Id>,
    by_address: HashMap<Box<str>, Id>,
    /// target -> sources having a relation to it (any version).
    reverse: HashMap<Id, Vec<(RelationKind, Id)>>,
    /// Entities by namespace and kind (selector matching, pods of a service).
    by_namespace: HashMap<(Option<String>, EntityKind), HashSet<Id>>,
    strings: HashSet<Arc<str>>,
    /// Observed service-to-service calls (caller, callee).
    calls: HashSet<(String, String)>,
}

/// How two entities are related in [`Topology::neighbourhood`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// A relation an entity's snapshot carries.
    Relation(RelationKind),
    /// A Service's selector matches the pod's labels.
    Selects,
}

/// A directed edge of the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: EntityKey,
    pub kind: EdgeKind,
    pub to: EntityKey,
}

/// The first DNS label of a host name: how node names and host names meet.
pub fn short_host(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

impl Topology {
    fn id(&mut self, key: EntityKey) -> Id {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.nodes.len() as Id;
        self.nodes.push(Node {
            key: key.clone(),
            versions: Vec::new(),
            gone: None,
        });
        self.ids.insert(key, id);
        id
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(found) = self.strings.get(s) {
            return Arc::clone(found);
        }
        let arc: Arc<str> = Arc::from(s);
        self.strings.insert(Arc::clone(&arc));
        arc
    }

    fn labels<'a>(&mut self, map: impl IntoIterator<Item = (&'a String, &'a String)>) -> Labels {
        let mut v: Vec<(Arc<str>, Arc<str>)> = map
            .into_iter()
            .map(|(k, v)| (self.intern(k), self.intern(v)))
            .collect();
        v.sort();
        v.into_boxed_slice()
    }

    /// Applies a snapshot: a new version of the entity from `snap.at` on.
    pub fn apply(&mut self, snap: &EntitySnapshot) {
        let key = snap.entity.key();
        let id = self.id(key.clone());
        if let Some(uid) = &snap.entity.uid {
            self.by_uid.insert(uid.as_str().into(), id);
        }
        for address in &snap.addresses {
            if snap.entity.kind == EntityKind::Pod
                || !self.by_address.contains_key(address.as_str())
            {
                self.by_address.insert(address.as_str().into(), id);
            }
        }
        let mut relations = Vec::with_capacity(snap.relations.len());
        for rel in &snap.relations {
            let target = self.id(rel.target.key());
            let back = self.reverse.entry(target).or_default();
            if !back.contains(&(rel.kind, id)) {
                back.push((rel.kind, id));
            }
            relations.push((rel.kind, target));
        }
        self.by_namespace
            .entry((key.namespace.clone(), key.kind))
            .or_default()
            .insert(id);
        let labels = self.labels(&snap.labels);
        let selector = snap.selector.as_ref().map(|s| self.labels(s));
        let node = &mut self.nodes[id as usize];
        node.gone = None;
        node.versions.push(EntityVersion {
            from: snap.at,
            uid: snap.entity.uid.as_deref().map(Into::into),
            labels,
            selector,
            relations: relations.into_boxed_slice(),
        });
    }

    /// Forgets what entities looked like before `horizon`: of the versions older than it,
    /// only the last stays (how the entity looked at the horizon).
    pub fn forget_versions_before(&mut self, horizon: Timestamp) {
        for node in &mut self.nodes {
            let older = node.versions.partition_point(|v| v.from < horizon);
            if older > 1 {
                node.versions.drain(..older - 1);
            }
        }
    }

    /// Records that an entity stopped existing at `at`.
    pub fn remove(&mut self, entity: &EntityRef, at: Timestamp) {
        if let Some(&id) = self.ids.get(&entity.key()) {
            self.nodes[id as usize].gone = Some(at);
        }
    }

    /// Records an observed call from one service to another.
    pub fn observe_call(&mut self, caller: &str, callee: &str) {
        if caller != callee {
            self.calls.insert((caller.to_owned(), callee.to_owned()));
        }
    }

    /// Services observed calling `callee`.
    pub fn callers_of(&self, callee: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .calls
            .iter()
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
            .iter()
            .filter(|(a, _)| a == caller)
            .map(|(_, c)| c.as_str())
            .collect();
        v.sort_unstable();
        v
    }

    /// Number of entities ever seen (including relation targets not yet seen themselves).
    pub fn len(&self) -> usize {
        self.nodes.iter().filter(|n| !n.versions.is_empty()).count()
    }

    /// Whether no entity was seen.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn version_of(&self, id: Id, at: Timestamp) -> Option<&EntityVersion> {
        let node = &self.nodes[id as usize];
        if node.gone.is_some_and(|g| at >= g) {
            return None;
        }
        let idx = node.versions.partition_point(|v| v.from <= at);
        node.versions.get(idx.saturating_sub(1))
    }

    /// The entity as it was at `at` (`None` once it was gone, or if never seen).
    pub fn version_at(&self, key: &EntityKey, at: Timestamp) -> Option<&EntityVersion> {
        self.version_of(*self.ids.get(key)?, at)
    }

    /// Whether the entity is known at all.
    pub fn contains(&self, key: &EntityKey) -> bool {
        self.ids
            .get(key)
            .is_some_and(|&id| !self.nodes[id as usize].versions.is_empty())
    }

    /// Resolves a uid to the entity that carries it.
    pub fn by_uid(&self, uid: &str) -> Option<&EntityKey> {
        self.by_uid.get(uid).map(|&id| &self.nodes[id as usize].key)
    }

    /// Resolves an IP address to the pod (or node, service) that had it.
    pub fn by_address(&self, address: &str) -> Option<&EntityKey> {
        self.by_address
            .get(address)
            .map(|&id| &self.nodes[id as usize].key)
    }

    /// Completes a reference that carries only a uid (eBPF events) with its name, and
    /// maps a host name (`ip-10-0-1-23`) to the Node it is (`ip-10-0-1-23.eu-west-1...`).
    pub fn resolve(&self, entity: &EntityRef) -> EntityRef {
        if entity.name.is_empty() {
            if let Some(key) = entity.uid.as_deref().and_then(|u| self.by_uid(u)) {
                return key.to_ref().with_uid(entity.uid.as_deref());
            }
        }
        if entity.kind == EntityKind::Node && !self.contains(&entity.key()) {
            if let Some(node) = self.node_named(&entity.name) {
                return node.to_ref();
            }
        }
        entity.clone()
    }

    /// The Node a host name refers to: the same name, or the same first DNS label.
    pub fn node_named(&self, host: &str) -> Option<&EntityKey> {
        let short = short_host(host);
        self.by_namespace
            .get(&(None, EntityKind::Node))
            .into_iter()
            .flatten()
            .map(|&id| &self.nodes[id as usize].key)
            .filter(|k| k.name == host || short_host(&k.name) == short)
            .min()
    }

    fn related_ids(
        &self,
        id: Id,
        kind: RelationKind,
        at: Timestamp,
    ) -> impl Iterator<Item = Id> + '_ {
        self.version_of(id, at)
            .into_iter()
            .flat_map(|v| v.relations.iter())
            .filter(move |(k, _)| *k == kind)
            .map(|(_, t)| *t)
    }

    /// The targets of `key`'s relations of `kind` at `at`.
    pub fn related(&self, key: &EntityKey, kind: RelationKind, at: Timestamp) -> Vec<EntityKey> {
        let Some(&id) = self.ids.get(key) else {
            return Vec::new();
        };
        self.related_ids(id, kind, at)
            .map(|t| self.nodes[t as usize].key.clone())
            .collect()
    }

    /// The controller chain above `key` at `at`, nearest first (Pod -> ReplicaSet ->
    /// Deployment).
    pub fn owner_chain(&self, key: &EntityKey, at: Timestamp) -> Vec<EntityKey> {
        let mut chain = Vec::new();
        let Some(&start) = self.ids.get(key) else {
            return chain;
        };
        let mut current = start;
        while chain.len() < 8 {
            let Some(owner) = self.related_ids(current, RelationKind::OwnedBy, at).next() else {
                break;
            };
            chain.push(self.nodes[owner as usize].key.clone());
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

    /// Whether `owner` is `key` itself or in its controller chain.
    pub fn is_owned_by(&self, key: &EntityKey, owner: &EntityKey, at: Timestamp) -> bool {
        key == owner || self.owner_chain(key, at).contains(owner)
    }

    fn sources_ids(&self, target: Id, kind: RelationKind, at: Timestamp) -> Vec<Id> {
        let mut out: Vec<Id> = self
            .reverse
            .get(&target)
            .into_iter()
            .flatten()
            .filter(|(k, src)| *k == kind && self.related_ids(*src, kind, at).any(|t| t == target))
            .map(|(_, src)| *src)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Entities that had a relation of `kind` to `target` at `at`.
    pub fn sources_of(
        &self,
        target: &EntityKey,
        kind: RelationKind,
        at: Timestamp,
    ) -> Vec<EntityKey> {
        let Some(&id) = self.ids.get(target) else {
            return Vec::new();
        };
        let mut out: Vec<EntityKey> = self
            .sources_ids(id, kind, at)
            .into_iter()
            .map(|s| self.nodes[s as usize].key.clone())
            .collect();
        out.sort();
        out
    }

    /// Pods controlled by `workload` (through any depth of owners) at `at`.
    pub fn pods_of(&self, workload: &EntityKey, at: Timestamp) -> Vec<EntityKey> {
        let Some(&start) = self.ids.get(workload) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut frontier = vec![(start, 0)];
        while let Some((owner, depth)) = frontier.pop() {
            for child in self.sources_ids(owner, RelationKind::OwnedBy, at) {
                let key = &self.nodes[child as usize].key;
                if key.kind == EntityKind::Pod {
                    out.push(key.clone());
                } else if depth < 8 {
                    frontier.push((child, depth + 1));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether pod `pod` used ConfigMap/Secret `config` (volume or env) at `at`.
    pub fn uses_config(&self, pod: &EntityKey, config: &EntityKey, at: Timestamp) -> bool {
        let (Some(&p), Some(&c)) = (self.ids.get(pod), self.ids.get(config)) else {
            return false;
        };
        self.version_of(p, at).is_some_and(|v| {
            v.relations.iter().any(|(k, t)| {
                matches!(k, RelationKind::MountsConfig | RelationKind::ReadsEnvFrom) && *t == c
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
            .by_namespace
            .get(&(namespace.map(str::to_owned), kind))
            .into_iter()
            .flatten()
            .map(|&id| self.nodes[id as usize].key.clone())
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
            .by_namespace
            .get(&(pod.namespace.clone(), EntityKind::Service))
            .into_iter()
            .flatten()
            .filter(|&&id| {
                self.version_of(id, at)
                    .is_some_and(|v| v.selects(&pod_v.labels))
            })
            .map(|&id| self.nodes[id as usize].key.clone())
            .collect();
        out.sort();
        out
    }

    /// Every relation that starts or ends at `key` at `at`: its own (owners, config,
    /// node, claims, scale targets), the entities whose relations point at it (the pods
    /// of a workload, the users of a ConfigMap), and Service selection both ways.
    /// `None` when `key` was never seen.
    pub fn neighbourhood(&self, key: &EntityKey, at: Timestamp) -> Option<Vec<Edge>> {
        let &id = self.ids.get(key)?;
        let mut edges: Vec<Edge> = self
            .version_of(id, at)
            .into_iter()
            .flat_map(|v| v.relations.iter())
            .map(|&(kind, t)| Edge {
                from: key.clone(),
                kind: EdgeKind::Relation(kind),
                to: self.nodes[t as usize].key.clone(),
            })
            .collect();
        for (other, node) in self.nodes.iter().enumerate() {
            let pointing = self
                .version_of(other as Id, at)
                .into_iter()
                .flat_map(|v| v.relations.iter())
                .filter(|(_, t)| *t == id);
            for &(kind, _) in pointing {
                edges.push(Edge {
                    from: node.key.clone(),
                    kind: EdgeKind::Relation(kind),
                    to: key.clone(),
                });
            }
        }
        match key.kind {
            EntityKind::Service => {
                for pod in self.pods_of_service(key.namespace.as_deref(), &key.name, at) {
                    edges.push(Edge {
                        from: key.clone(),
                        kind: EdgeKind::Selects,
                        to: pod,
                    });
                }
            }
            EntityKind::Pod => {
                for service in self.services_of(key, at) {
                    edges.push(Edge {
                        from: service,
                        kind: EdgeKind::Selects,
                        to: key.clone(),
                    });
                }
            }
            _ => {}
        }
        Some(edges)
    }

    /// Pods selected at `at` by the Service named `service` in `namespace`.
    pub fn pods_of_service(
        &self,
        namespace: Option<&str>,
        service: &str,
        at: Timestamp,
    ) -> Vec<EntityKey> {
        let svc = EntityKey {
            cluster: None,
            kind: EntityKind::Service,
            namespace: namespace.map(str::to_owned),
            name: service.to_owned(),
        };
        let Some(svc_v) = self.version_at(&svc, at) else {
            return Vec::new();
        };
        let mut out: Vec<EntityKey> = self
            .by_namespace
            .get(&(svc.namespace.clone(), EntityKind::Pod))
            .into_iter()
            .flatten()
            .filter(|&&id| {
                self.version_of(id, at)
                    .is_some_and(|v| svc_v.selects(&v.labels))
            })
            .map(|&id| self.nodes[id as usize].key.clone())
            .collect();
        out.sort();
        out
    }

    /// What a peer of an outgoing call names (an IP address, `<svc>`, `<svc>.<ns>`,
    /// `<svc>.<ns>.svc.<domain>`, or a StatefulSet pod's `<pod>.<svc>.<ns>.svc.<domain>`),
    /// short names being relative to the caller's `namespace`: the service name and the
    /// pods behind it (just the one pod when the address names a pod).
    pub fn resolve_peer(
        &self,
        peer: &str,
        namespace: Option<&str>,
        at: Timestamp,
    ) -> Option<(String, Vec<EntityKey>)> {
        let host = peer.trim_end_matches('.');
        if host.parse::<std::net::IpAddr>().is_ok() {
            let key = self.by_address(host)?.clone();
            let service = self.service_name(&key, at)?;
            return match key.kind {
                EntityKind::Pod => Some((service, vec![key])),
                EntityKind::Service => {
                    let pods = self.pods_of_service(key.namespace.as_deref(), &key.name, at);
                    Some((service, pods))
                }
                _ => None,
            };
        }
        let labels: Vec<&str> = host.split('.').collect();
        let (pod, service, ns) = match labels.iter().position(|l| *l == "svc") {
            Some(3) => (Some(labels[0]), labels[1], labels[2]),
            Some(2) => (None, labels[0], labels[1]),
            None if labels.len() == 1 => (None, labels[0], namespace?),
            None if labels.len() == 2 => (None, labels[0], labels[1]),
            _ => return None,
        };
        let pods = self.pods_of_service(Some(ns), service, at);
        let named = pod.map(|p| EntityKey {
            cluster: None,
            kind: EntityKind::Pod,
            namespace: Some(ns.to_owned()),
            name: p.to_owned(),
        });
        match named {
            Some(p) if self.contains(&p) => Some((service.to_owned(), vec![p])),
            _ if !pods.is_empty() => Some((service.to_owned(), pods)),
            _ => None,
        }
    }

    /// The host of a peer that [`Self::resolve_peer`] cannot resolve, when it is outside the
    /// cluster: a host name of several labels that is neither a cluster name (`….svc…`,
    /// `….local`) nor `<service>.<namespace>` of a namespace the cluster has. Addresses and
    /// single labels never are: an address may be a pod not seen yet, a single label a
    /// Service of the caller's namespace.
    pub fn outside_host<'p>(&self, peer: &'p str) -> Option<&'p str> {
        let host = peer.trim_end_matches('.');
        if host.parse::<std::net::IpAddr>().is_ok() || host.ends_with(".local") {
            return None;
        }
        let labels: Vec<&str> = host.split('.').collect();
        let outside = match labels.as_slice() {
            [_] => false,
            _ if labels.contains(&"svc") => false,
            [_, namespace] => !self.has_namespace(namespace),
            _ => true,
        };
        outside.then_some(host)
    }

    /// Whether anything of `namespace` has been seen.
    fn has_namespace(&self, namespace: &str) -> bool {
        self.by_namespace
            .keys()
            .any(|(ns, _)| ns.as_deref() == Some(namespace))
    }

    /// Whether the service of `caller` was observed calling the service of `callee`.
    pub fn calls(&self, caller: &EntityKey, callee: &EntityKey, at: Timestamp) -> bool {
        match (self.service_name(caller, at), self.service_name(callee, at)) {
            (Some(a), Some(b)) => a != b && self.calls.contains(&(a, b)),
            _ => false,
        }
    }

    /// Pods of the services that `pod`'s service was observed calling.
    pub fn callee_pods(&self, pod: &EntityKey, at: Timestamp) -> Vec<EntityKey> {
        let Some(service) = self.service_name(pod, at) else {
            return Vec::new();
        };
        self.callees_of(&service)
            .into_iter()
            .flat_map(|callee| self.pods_of_service(pod.namespace.as_deref(), callee, at))
            .collect()
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
        v.label("app.kubernetes.io/name")
            .or_else(|| v.label("app"))
            .map(str::to_owned)
            .or_else(|| self.workload_of(key, at).map(|w| w.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_domain::{EntityRef, Relation};

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
    fn peers_resolve_by_address_service_name_and_statefulset_pod_name() {
        let at = ts("2026-01-01T00:00:00Z");
        let mut t = Topology::default();
        for pod in ["db-0", "db-1"] {
            let mut p = snap("2026-01-01T00:00:00Z", EntityKind::Pod, pod, vec![]);
            p.labels.insert("app".into(), "db".into());
            p.addresses = vec![format!("10.0.0.{}", if pod == "db-0" { 10 } else { 11 })];
            t.apply(&p);
        }
        let mut svc = snap("2026-01-01T00:00:00Z", EntityKind::Service, "db", vec![]);
        svc.selector = Some([("app".to_owned(), "db".to_owned())].into());
        t.apply(&svc);
        let pod = |n: &str| EntityRef::new(EntityKind::Pod, Some("shop"), n).key();
        let both = Some(("db".to_owned(), vec![pod("db-0"), pod("db-1")]));
        assert_eq!(t.resolve_peer("db.shop.svc.cluster.local", None, at), both);
        assert_eq!(t.resolve_peer("db.shop", None, at), both);
        assert_eq!(t.resolve_peer("db", Some("shop"), at), both);
        assert_eq!(
            t.resolve_peer("db", None, at),
            None,
            "a short name needs a namespace"
        );
        assert_eq!(
            t.resolve_peer("db-1.db.shop.svc.cluster.local.", None, at),
            Some(("db".to_owned(), vec![pod("db-1")]))
        );
        assert_eq!(
            t.resolve_peer("10.0.0.10", None, at),
            Some(("db".to_owned(), vec![pod("db-0")]))
        );
        for outside in [
            "api.psp.example.net",
            "10.9.9.9",
            "db.other.svc.cluster.local",
            "",
        ] {
            assert_eq!(t.resolve_peer(outside, Some("shop"), at), None, "{outside}");
        }
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
