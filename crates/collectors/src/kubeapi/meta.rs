//! Object metadata helpers shared by the kind parsers.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use tapio_domain::{EntityKind, EntityRef, EntitySnapshot, Relation, RelationKind};

/// The entity an object's metadata names.
pub fn entity_of(kind: EntityKind, meta: &ObjectMeta) -> EntityRef {
    EntityRef {
        cluster: None,
        kind,
        namespace: if kind.is_namespaced() {
            meta.namespace.clone()
        } else {
            None
        },
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone(),
    }
}

/// The controlling owner (ownerReferences with `controller: true`), if any and known.
pub fn controller_of(meta: &ObjectMeta) -> Option<Relation> {
    let owner = meta
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))?;
    let kind = EntityKind::parse(&owner.kind)?;
    Some(Relation {
        kind: RelationKind::OwnedBy,
        target: EntityRef {
            cluster: None,
            kind,
            namespace: meta.namespace.clone(),
            name: owner.name.clone(),
            uid: Some(owner.uid.clone()),
        },
    })
}

/// A snapshot carrying the object's labels and controller relation.
pub fn snapshot_of(at: Timestamp, kind: EntityKind, meta: &ObjectMeta) -> EntitySnapshot {
    let mut snap = EntitySnapshot::bare(at, entity_of(kind, meta));
    snap.labels = meta.labels.clone().unwrap_or_default();
    snap.relations.extend(controller_of(meta));
    snap
}

/// `matchLabels` of a selector (expressions are not reduced to labels).
pub fn match_labels(selector: Option<&LabelSelector>) -> Option<BTreeMap<String, String>> {
    selector.and_then(|s| s.match_labels.clone())
}

/// A stable short hash of any serialisable value, for change detection.
pub fn digest<T: serde::Serialize + ?Sized>(value: &T) -> u64 {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    xxhash_rust::xxh3::xxh3_64(&bytes)
}
