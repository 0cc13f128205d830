//! ConfigMaps and Secrets: change detection through per-key hashes.
//!
//! Values are never deserialised into owned strings: each key's raw JSON value is hashed
//! where it lies in the input buffer, and only `key -> hash` is kept. For Secrets this is
//! the guarantee that values are never kept, logged or stored.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::value::RawValue;
use tapio_domain::{EntityKey, EntityKind, EventKind, Observation, Severity};

use super::meta::snapshot_of;
use crate::emit::Emitter;

/// A ConfigMap or Secret with its values left as raw, borrowed JSON.
#[derive(Deserialize)]
pub struct KeyedData<'a> {
    pub metadata: ObjectMeta,
    #[serde(default, borrow)]
    data: Option<BTreeMap<String, &'a RawValue>>,
    #[serde(default, borrow, rename = "binaryData")]
    binary_data: Option<BTreeMap<String, &'a RawValue>>,
    #[serde(default, borrow, rename = "stringData")]
    string_data: Option<BTreeMap<String, &'a RawValue>>,
}

/// A watch event of a ConfigMap or Secret.
#[derive(Deserialize)]
pub struct KeyedWatch<'a> {
    #[serde(borrow)]
    pub object: KeyedData<'a>,
}

impl KeyedData<'_> {
    fn hashes(&self) -> BTreeMap<String, [u8; 16]> {
        let maps = [&self.data, &self.binary_data, &self.string_data];
        maps.into_iter()
            .flatten()
            .flat_map(|m| m.iter())
            .map(|(k, v)| {
                let h = blake3::hash(v.get().as_bytes());
                let mut short = [0u8; 16];
                short.copy_from_slice(&h.as_bytes()[..16]);
                (k.clone(), short)
            })
            .collect()
    }
}

#[derive(Debug)]
struct DataDigest {
    uid: Option<String>,
    keys: BTreeMap<String, [u8; 16]>,
}

/// Last seen key hashes of every ConfigMap and Secret.
#[derive(Debug, Default)]
pub struct ConfigTracker {
    objects: HashMap<EntityKey, DataDigest>,
}

impl ConfigTracker {
    /// Processes a ConfigMap (`kind` = ConfigMap) or Secret (`kind` = Secret).
    pub fn observe(
        &mut self,
        kind: EntityKind,
        object: &KeyedData<'_>,
        deleted: bool,
        emit: &mut Emitter<'_>,
    ) {
        let at = emit.ts();
        let snap = snapshot_of(at, kind, &object.metadata);
        let entity = snap.entity.clone();
        let key = entity.key();
        if deleted {
            self.objects.remove(&key);
            emit.push(Observation::EntityGone { at, entity });
            return;
        }
        let now = DataDigest {
            uid: entity.uid.clone(),
            keys: object.hashes(),
        };
        let previous = self.objects.insert(key, now);
        emit.push(Observation::Entity(snap));
        let Some(previous) = previous else { return };
        let now = &self.objects[&entity.key()];
        if previous.uid != now.uid {
            return;
        }
        let changed: Vec<String> = now
            .keys
            .iter()
            .filter(|(k, h)| previous.keys.get(*k) != Some(h))
            .map(|(k, _)| k.clone())
            .chain(
                previous
                    .keys
                    .keys()
                    .filter(|k| !now.keys.contains_key(*k))
                    .cloned(),
            )
            .collect();
        if changed.is_empty() {
            return;
        }
        let kind = if kind == EntityKind::Secret {
            EventKind::SecretChanged { keys: changed }
        } else {
            EventKind::ConfigChanged { keys: changed }
        };
        emit.event("data", at, kind, Severity::Info, entity, None);
    }
}
