//! The live kubeapi collector: kube-rs watchers (initial list, then watch; resume from
//! resourceVersion, relist on 410 Gone, bookmarks and backoff are kube-runtime's) for every
//! kind Tapio models, turned into watch events of the recording's `kubeapi` shape — the same
//! bytes a recording replays, read by the same parser.
//!
//! `managedFields` are dropped. Secret values are replaced by their SHA-256 before the
//! object leaves this module: change detection still works, values never reach a line,
//! a log or a recording.

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

fn line<K: Serialize>(kind: &str, object: &K) -> Option<WatchLine> {
    let object = sanitise(serde_json::to_value(object).ok()?);
    let data = serde_json::json!({"type": kind, "object": object});
    Some(WatchLine {
        ts: Timestamp::now(),
        data: RawValue::from_string(data.to_string()).ok()?,
    })
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
    events
        .filter_map(|event| async move {
            match event {
                Ok(watcher::Event::InitApply(o)) => line("ADDED", &o).map(Ok),
                Ok(watcher::Event::Apply(o)) => line("MODIFIED", &o).map(Ok),
                Ok(watcher::Event::Delete(o)) => line("DELETED", &o).map(Ok),
                Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                Err(e) => Some(Err(e)),
            }
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
