//! The live kubeapi collector: kube-rs watchers (initial list, then watch; resume from
//! resourceVersion, relist on 410 Gone, bookmarks and backoff are kube-runtime's) for every
//! kind Tapio models, turned into watch events of the recording's `kubeapi` shape — the same
//! bytes a recording replays, read by the same parser.
//!
//! Each watcher remembers the resourceVersion it last reported per object: a relist
//! (after 410 Gone, or when a watch restarts from scratch) repeats nothing already
//! reported, and reports as DELETED what disappeared while no watch ran.
//!
//! `managedFields` are dropped. Secret values are replaced by their SHA-256 before the
//! object leaves this module: change detection still works, values never reach a line,
//! a log or a recording.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use futures_util::stream::{select_all, BoxStream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::{apps, autoscaling, batch, core, discovery, events, networking};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One observation of the API server, ready to be recorded or parsed.
#[derive(Debug)]
pub struct WatchLine {
    pub ts: Timestamp,
    /// `{"type": ADDED|MODIFIED|DELETED, "object": {...}}`.
    pub data: Box<RawValue>,
}

/// Why a watch failed (kube-runtime retries with backoff; these are reported).
pub type WatchError = watcher::Error;

/// Removes what must not be recorded: managedFields everywhere, Secret values.
fn sanitise(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if object.get("kind").and_then(Value::as_str) == Some("Secret") {
        for field in ["data", "stringData"] {
            if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
                for v in map.values_mut() {
                    let digest = Sha256::digest(v.to_string().as_bytes());
                    *v = Value::String(format!("sha256:{digest:x}"));
                }
            }
        }
    }
    object
}

fn line(kind: &str, object: Value) -> Option<WatchLine> {
    let data = serde_json::json!({"type": kind, "object": object});
    Some(WatchLine {
        ts: Timestamp::now(),
        data: RawValue::from_string(data.to_string()).ok()?,
    })
}

/// What one watcher has already reported, so that a relist (after a 410 Gone or a
/// restart of the watch) repeats nothing already seen and reports what went away
/// meanwhile. Holds one small stub per live object, as a reflector would hold objects.
#[derive(Default)]
struct Seen {
    /// uid -> (resourceVersion, stub to name the object in a DELETED line).
    objects: HashMap<String, (String, Value)>,
    /// During a relist: the uids listed so far.
    listed: Option<HashSet<String>>,
}

impl Seen {
    fn stub(object: &Value) -> Value {
        let meta = &object["metadata"];
        serde_json::json!({
            "apiVersion": object["apiVersion"], "kind": object["kind"],
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}
        })
    }

    /// The lines one watcher event makes.
    fn lines<K: Serialize>(&mut self, event: watcher::Event<K>) -> Vec<WatchLine> {
        let object = |o: &K| serde_json::to_value(o).ok().map(sanitise);
        match event {
            watcher::Event::Init => {
                self.listed = Some(HashSet::new());
                Vec::new()
            }
            watcher::Event::InitApply(o) | watcher::Event::Apply(o) => {
                let Some(o) = object(&o) else {
                    return Vec::new();
                };
                let uid = o["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
                let rv = o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if let Some(listed) = self.listed.as_mut() {
                    listed.insert(uid.clone());
                }
                let known = self.objects.get(&uid).map(|(v, _)| v);
                if known == Some(&rv) {
                    return Vec::new();
                }
                let kind = if known.is_some() { "MODIFIED" } else { "ADDED" };
                self.objects.insert(uid, (rv, Self::stub(&o)));
                line(kind, o).into_iter().collect()
            }
            watcher::Event::Delete(o) => {
                let Some(o) = object(&o) else {
                    return Vec::new();
                };
                if let Some(uid) = o["metadata"]["uid"].as_str() {
                    self.objects.remove(uid);
                }
                line("DELETED", o).into_iter().collect()
            }
            // Objects the new list no longer has were deleted while no watch ran.
            watcher::Event::InitDone => {
                let Some(listed) = self.listed.take() else {
                    return Vec::new();
                };
                let gone: Vec<String> = self
                    .objects
                    .keys()
                    .filter(|uid| !listed.contains(*uid))
                    .cloned()
                    .collect();
                gone.into_iter()
                    .filter_map(|uid| self.objects.remove(&uid))
                    .filter_map(|(_, stub)| line("DELETED", stub))
                    .collect()
            }
        }
    }
}

/// An object type the live collector can watch.
pub trait Watchable:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static
{
}

impl<K> Watchable for K where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug
        + Send
        + Sync
        + 'static
{
}

fn watch_api<K: Watchable>(api: Api<K>) -> BoxStream<'static, Result<WatchLine, WatchError>> {
    lines(watcher(api, watcher::Config::default()).default_backoff())
}

/// A namespaced kind, in one namespace or in all.
fn watch<K>(
    client: &Client,
    namespace: Option<&str>,
) -> BoxStream<'static, Result<WatchLine, WatchError>>
where
    K: Watchable + Resource<Scope = kube::core::NamespaceResourceScope>,
{
    watch_api(match namespace {
        Some(ns) => Api::<K>::namespaced(client.clone(), ns),
        None => Api::<K>::all(client.clone()),
    })
}

fn lines<K, S>(events: S) -> BoxStream<'static, Result<WatchLine, WatchError>>
where
    K: Serialize + Send + 'static,
    S: futures_util::Stream<Item = Result<watcher::Event<K>, WatchError>> + Send + 'static,
{
    let mut seen = Seen::default();
    events
        .flat_map(move |event| {
            let out: Vec<Result<WatchLine, WatchError>> = match event {
                Ok(e) => seen.lines(e).into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures_util::stream::iter(out)
        })
        .boxed()
}

/// Watches every modelled kind, cluster-wide or in the given namespaces (cluster-scoped
/// kinds — Nodes — are always watched cluster-wide).
pub fn watch_cluster_objects(
    client: &Client,
    namespaces: &[String],
) -> BoxStream<'static, Result<WatchLine, WatchError>> {
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().map(|n| Some(n.as_str())).collect()
    };
    let mut streams = vec![watch_api(Api::<core::v1::Node>::all(client.clone()))];
    for ns in scopes {
        streams.extend([
            watch::<core::v1::Pod>(client, ns),
            watch::<apps::v1::Deployment>(client, ns),
            watch::<apps::v1::ReplicaSet>(client, ns),
            watch::<apps::v1::StatefulSet>(client, ns),
            watch::<apps::v1::DaemonSet>(client, ns),
            watch::<batch::v1::Job>(client, ns),
            watch::<batch::v1::CronJob>(client, ns),
            watch::<core::v1::ConfigMap>(client, ns),
            watch::<core::v1::Secret>(client, ns),
            watch::<core::v1::Service>(client, ns),
            watch::<discovery::v1::EndpointSlice>(client, ns),
            watch::<core::v1::PersistentVolumeClaim>(client, ns),
            watch::<networking::v1::NetworkPolicy>(client, ns),
            watch::<autoscaling::v2::HorizontalPodAutoscaler>(client, ns),
            watch::<core::v1::ResourceQuota>(client, ns),
            watch::<core::v1::Event>(client, ns),
            watch::<events::v1::Event>(client, ns),
        ]);
    }
    select_all(streams).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_replaced_by_their_digest_and_managed_fields_dropped() {
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "managedFields": [{"manager": "kubectl"}]},
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"plain": "hunter2"}
        });
        let clean = sanitise(secret).to_string();
        assert!(
            !clean.contains("aHVudGVyMg==") && !clean.contains("hunter2"),
            "{clean}"
        );
        assert!(!clean.contains("managedFields"));
        assert!(clean.contains("\"password\":\"sha256:"));
    }
}
