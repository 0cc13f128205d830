//! The kubelet parser: `stats/summary` (per-container CPU and memory) and `pods` (the
//! node's view of pod status, diffed with the same tracker as the API server's).

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;
use serde_json::value::RawValue;
use tapio_domain::telemetry::metric_names;
use tapio_domain::{EntityKind, EntityRef, MetricSample};

use crate::emit::Emitter;
use crate::kubeapi::PodTracker;
use crate::node_agents::cpu_stat::CpuStatBody;
use crate::recording::Record;
use crate::ParseError;
use tapio_domain::Observation;

#[derive(Deserialize)]
struct KubeletLine<'a> {
    node: String,
    endpoint: &'a str,
    #[serde(borrow)]
    body: &'a RawValue,
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    pods: Vec<PodStats>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodStats {
    pod_ref: PodRef,
    #[serde(default)]
    containers: Vec<ContainerStats>,
}

#[derive(Deserialize)]
struct PodRef {
    name: String,
    namespace: String,
    #[serde(default)]
    uid: Option<String>,
}

#[derive(Deserialize)]
struct ContainerStats {
    name: String,
    #[serde(default)]
    cpu: Option<CpuStats>,
    #[serde(default)]
    memory: Option<MemoryStats>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CpuStats {
    #[serde(default)]
    time: Option<jiff::Timestamp>,
    #[serde(default)]
    usage_nano_cores: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemoryStats {
    #[serde(default)]
    time: Option<jiff::Timestamp>,
    #[serde(default)]
    working_set_bytes: Option<u64>,
}

#[derive(Deserialize)]
struct PodList {
    #[serde(default)]
    items: Vec<Pod>,
}

/// Parses one `kubelet` record.
pub fn parse(
    record: &Record,
    pods: &mut PodTracker,
    out: &mut Vec<Observation>,
) -> Result<(), ParseError> {
    let line: KubeletLine<'_> = serde_json::from_str(record.data.get()).map_err(|e| {
        ParseError::Payload(format!(
            "not a kubelet line {{\"node\",\"endpoint\",\"body\"}}: {e}"
        ))
    })?;
    let mut emit = Emitter::new(record, out);
    match line.endpoint {
        "stats/summary" => {
            let summary: Summary = serde_json::from_str(line.body.get()).map_err(|e| {
                ParseError::Payload(format!("stats/summary of node {}: {e}", line.node))
            })?;
            for pod in summary.pods {
                let entity = EntityRef::new(
                    EntityKind::Pod,
                    Some(&pod.pod_ref.namespace),
                    &pod.pod_ref.name,
                )
                .with_uid(pod.pod_ref.uid.as_deref());
                for c in pod.containers {
                    let attrs = vec![("container".to_owned(), c.name.clone())];
                    if let Some((t, ws)) =
                        c.memory.and_then(|m| Some((m.time, m.working_set_bytes?)))
                    {
                        emit.metric(MetricSample {
                            at: t.unwrap_or(record.ts),
                            entity: entity.clone(),
                            service: None,
                            name: metric_names::WORKING_SET.to_owned(),
                            value: ws as f64,
                            counter: false,
                            attributes: attrs.clone(),
                        });
                    }
                    if let Some((t, nc)) = c.cpu.and_then(|m| Some((m.time, m.usage_nano_cores?))) {
                        emit.metric(MetricSample {
                            at: t.unwrap_or(record.ts),
                            entity: entity.clone(),
                            service: None,
                            name: metric_names::CPU_USAGE.to_owned(),
                            value: nc as f64 / 1e9,
                            counter: false,
                            attributes: attrs,
                        });
                    }
                }
            }
            Ok(())
        }
        "pods" => {
            let list: PodList = serde_json::from_str(line.body.get())
                .map_err(|e| ParseError::Payload(format!("pods of node {}: {e}", line.node)))?;
            for pod in &list.items {
                pods.observe(pod, false, &mut emit);
            }
            Ok(())
        }
        "cgroup/cpu.stat" => {
            let body: CpuStatBody = serde_json::from_str(line.body.get()).map_err(|e| {
                ParseError::Payload(format!("cgroup/cpu.stat of node {}: {e}", line.node))
            })?;
            for c in body.containers {
                // Named by uid: the engine finds the pod in its topology.
                let entity = EntityRef::new(EntityKind::Pod, None, "").with_uid(Some(&c.pod_uid));
                let attributes = vec![("container_id".to_owned(), c.container_id.clone())];
                for (name, value) in [
                    (metric_names::CFS_PERIODS, c.nr_periods as f64),
                    (metric_names::CFS_THROTTLED_PERIODS, c.nr_throttled as f64),
                    (metric_names::CFS_THROTTLED_SECONDS, c.throttled_seconds),
                ] {
                    emit.metric(MetricSample {
                        at: record.ts,
                        entity: entity.clone(),
                        service: None,
                        name: name.to_owned(),
                        value,
                        counter: true,
                        attributes: attributes.clone(),
                    });
                }
            }
            Ok(())
        }
        other => Err(ParseError::Payload(format!(
            "unknown kubelet endpoint {other:?}"
        ))),
    }
}
