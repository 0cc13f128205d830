//! Cluster entities (pods, workloads, config, nodes, services...) and the relations between
//! them that make up the topology.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The kind of a cluster entity. Kubernetes kinds keep their API spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityKind {
    Cluster,
    Namespace,
    Node,
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ConfigMap,
    Secret,
    Service,
    EndpointSlice,
    PersistentVolumeClaim,
    NetworkPolicy,
    HorizontalPodAutoscaler,
    ResourceQuota,
    /// A host process or systemd unit (kubelet, containerd...).
    Unit,
    /// One etcd member, named by its client URL.
    EtcdMember,
    /// Something outside the cluster that its workloads call (a managed database, a
    /// payment API), named by the host name the callers use.
    ExternalService,
}

impl EntityKind {
    /// Every kind, in declaration order.
    pub const ALL: [EntityKind; 21] = [
        Self::Cluster,
        Self::Namespace,
        Self::Node,
        Self::Pod,
        Self::Deployment,
        Self::ReplicaSet,
        Self::StatefulSet,
        Self::DaemonSet,
        Self::Job,
        Self::CronJob,
        Self::ConfigMap,
        Self::Secret,
        Self::Service,
        Self::EndpointSlice,
        Self::PersistentVolumeClaim,
        Self::NetworkPolicy,
        Self::HorizontalPodAutoscaler,
        Self::ResourceQuota,
        Self::Unit,
        Self::EtcdMember,
        Self::ExternalService,
    ];

    /// The Kubernetes `kind` spelling (`"Deployment"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster => "Cluster",
            Self::Namespace => "Namespace",
            Self::Node => "Node",
            Self::Pod => "Pod",
            Self::Deployment => "Deployment",
            Self::ReplicaSet => "ReplicaSet",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
            Self::Service => "Service",
            Self::EndpointSlice => "EndpointSlice",
            Self::PersistentVolumeClaim => "PersistentVolumeClaim",
            Self::NetworkPolicy => "NetworkPolicy",
            Self::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            Self::ResourceQuota => "ResourceQuota",
            Self::Unit => "Unit",
            Self::EtcdMember => "EtcdMember",
            Self::ExternalService => "ExternalService",
        }
    }

    /// Parses a Kubernetes `kind` spelling.
    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// Workloads own pods through a controller chain.
    pub fn is_workload(self) -> bool {
        matches!(
            self,
            Self::Deployment
                | Self::ReplicaSet
                | Self::StatefulSet
                | Self::DaemonSet
                | Self::Job
                | Self::CronJob
        )
    }

    /// Whether entities of this kind live in a namespace.
    pub fn is_namespaced(self) -> bool {
        !matches!(
            self,
            Self::Cluster
                | Self::Namespace
                | Self::Node
                | Self::Unit
                | Self::EtcdMember
                | Self::ExternalService
        )
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of one entity: what it is and where it lives.
///
/// Two references name the same entity when cluster, kind, namespace and name agree; the
/// `uid` distinguishes incarnations (a pod deleted and recreated under the same name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityRef {
    /// The cluster, when Tapio watches several; `None` for the only one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub kind: EntityKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl EntityRef {
    /// A reference without a uid.
    pub fn new(kind: EntityKind, namespace: Option<&str>, name: &str) -> Self {
        Self {
            cluster: None,
            kind,
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            uid: None,
        }
    }

    /// The same reference with a uid.
    pub fn with_uid(mut self, uid: Option<&str>) -> Self {
        self.uid = uid.map(str::to_owned);
        self
    }

    /// Kind, namespace and name without the uid: the key the topology indexes by.
    pub fn key(&self) -> EntityKey {
        EntityKey {
            cluster: self.cluster.clone(),
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// An entity's identity without its incarnation uid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityKey {
    pub cluster: Option<String>,
    pub kind: EntityKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl EntityKey {
    /// Turns the key back into a reference without uid.
    pub fn to_ref(&self) -> EntityRef {
        EntityRef {
            cluster: self.cluster.clone(),
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            uid: None,
        }
    }
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_ref(), f)
    }
}

/// How one entity relates to another; the edge labels of the topology graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RelationKind {
    /// The source is controlled by the target (ownerReferences with `controller: true`).
    OwnedBy,
    /// The pod mounts the target ConfigMap/Secret as a volume (plain or projected).
    MountsConfig,
    /// The pod reads the target ConfigMap/Secret through `env` or `envFrom`.
    ReadsEnvFrom,
    /// The pod runs on the target node.
    RunsOn,
    /// The pod uses the target PersistentVolumeClaim.
    Claims,
    /// The source (HPA) scales the target workload.
    Scales,
    /// The source service was observed calling the target service.
    Calls,
}

/// A directed edge from the entity that carries it to `target`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relation {
    pub kind: RelationKind,
    pub target: EntityRef,
}

/// What a collector knows about an entity at one moment: its labels, its selector (for
/// Services, NetworkPolicies and the like) and its outgoing relations.
///
/// Each snapshot replaces the previous one for the same entity from `at` on; the topology
/// keeps the history so that it can be queried as of a past time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitySnapshot {
    pub at: Timestamp,
    pub entity: EntityRef,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Label selector (`matchLabels`) for Services, NetworkPolicies, workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub relations: Vec<Relation>,
    /// Pod IPs, node addresses, service cluster IPs: used to attribute network telemetry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
}

impl EntitySnapshot {
    /// A snapshot with no labels, selector, relations or addresses.
    pub fn bare(at: Timestamp, entity: EntityRef) -> Self {
        Self {
            at,
            entity,
            labels: BTreeMap::new(),
            selector: None,
            relations: Vec::new(),
            addresses: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_kubernetes_spelling() {
        for kind in EntityKind::ALL {
            assert_eq!(EntityKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EntityKind::parse("Gadget"), None);
    }

    #[test]
    fn display_names_namespace_and_name() {
        let r = EntityRef::new(EntityKind::ConfigMap, Some("shop"), "cart-config");
        assert_eq!(r.to_string(), "ConfigMap shop/cart-config");
        let n = EntityRef::new(EntityKind::Node, None, "node-1");
        assert_eq!(n.to_string(), "Node node-1");
    }
}
