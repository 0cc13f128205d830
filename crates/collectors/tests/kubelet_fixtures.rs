//! The kubelet parser on real kubelet payloads captured on GKE, from DataDog's
//! integrations-core test fixtures (BSD-3-Clause; tests-data/kubelet/datadog/README.md
//! says where each comes from): the Summary API's `stats/summary` and the `pods` list.

use std::path::Path;

use serde_json::{json, Value};
use tapio_collectors::recording::Record;
use tapio_collectors::{kubelet, SourceParsers};
use tapio_domain::{EventKind, Observation, Source};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests-data/kubelet/datadog")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn record(line: u64, ts: &str, source: Source, data: Value) -> Record {
    Record {
        line,
        ts: ts.parse().unwrap(),
        source,
        data: serde_json::value::RawValue::from_string(data.to_string()).unwrap(),
    }
}

fn kubelet_line(endpoint: &str, node: &str, body: Value) -> Value {
    json!({"node": node, "endpoint": endpoint, "body": body})
}

fn events(out: &[Observation]) -> Vec<&tapio_domain::Event> {
    out.iter()
        .filter_map(|o| match o {
            Observation::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn a_real_summary_gives_every_container_its_memory_and_cpu() {
    let summary = fixture("stats_summary.json");
    let node = summary["node"]["nodeName"].as_str().unwrap().to_owned();
    // What the payload holds, counted independently of the parser.
    let mut expected = 0;
    for pod in summary["pods"].as_array().unwrap() {
        for c in pod["containers"].as_array().into_iter().flatten() {
            expected += usize::from(c["memory"]["workingSetBytes"].is_u64());
            expected += usize::from(c["cpu"]["usageNanoCores"].is_u64());
        }
    }
    let line = record(
        1,
        "2019-11-20T13:13:20Z",
        Source::Kubelet,
        kubelet_line("stats/summary", &node, summary.clone()),
    );
    let mut out = Vec::new();
    kubelet::parse(&line, &mut Default::default(), &mut out).unwrap();
    let samples: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Observation::Metric(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(samples.len(), expected);
    assert!(expected >= 30, "the fixture is the real 17-container one");
    let first_pod = &summary["pods"][0];
    let first = &first_pod["containers"][0];
    let sample = samples
        .iter()
        .find(|s| {
            s.name == tapio_domain::telemetry::metric_names::WORKING_SET
                && s.entity.name == first_pod["podRef"]["name"].as_str().unwrap()
                && s.attributes[0].1 == first["name"].as_str().unwrap()
        })
        .expect("the first container's working set");
    assert_eq!(
        sample.value,
        first["memory"]["workingSetBytes"].as_u64().unwrap() as f64
    );
    assert_eq!(
        sample.at.to_string(),
        first["memory"]["time"].as_str().unwrap()
    );
}

#[test]
fn a_real_pods_list_reports_its_failures_once() {
    let pods = fixture("pods_crashed.json");
    let node = "gke-haissam-default-pool-be5066f1-wnvn";
    let line = record(
        1,
        "2018-02-13T16:12:30Z",
        Source::Kubelet,
        kubelet_line("pods", node, pods.clone()),
    );
    let mut parsers = SourceParsers::default();
    let mut out = Vec::new();
    parsers.parse(&line, &mut out).unwrap();
    let evs = events(&out);
    let created = evs
        .iter()
        .filter(|e| matches!(e.kind, EventKind::PodCreated))
        .count();
    // Six pods, two of them sharing a name (different uids): six pods.
    assert_eq!(created, pods["items"].as_array().unwrap().len());
    let oom = evs
        .iter()
        .find(|e| matches!(&e.kind, EventKind::ContainerTerminated { reason, .. } if reason == "OOMKilled"))
        .expect("the OOMKilled container");
    assert_eq!(oom.entity.name, "fluentd-gcp-v2.0.10-9q9t4");
    assert_eq!(
        oom.entity.uid.as_deref(),
        Some("2edfd4d9-10ce-11e8-bd5a-42010af00137")
    );
    assert!(evs.iter().any(
        |e| matches!(&e.kind, EventKind::ContainerWaiting { reason, .. } if reason == "CrashLoopBackOff")
    ));

    // The next poll brings the same list: nothing new happened, nothing is reported.
    let again = record(
        2,
        "2018-02-13T16:12:40Z",
        Source::Kubelet,
        kubelet_line("pods", node, pods.clone()),
    );
    let mut out = Vec::new();
    parsers.parse(&again, &mut out).unwrap();
    assert!(events(&out).is_empty(), "{:?}", events(&out));

    // The API server's mirror of the static kube-proxy pod has its own uid but names the
    // kubelet's config hash: it is the same pod, not a new one.
    let mut mirror = pods["items"][0].clone();
    let hash = mirror["metadata"]["uid"].as_str().unwrap().to_owned();
    mirror["metadata"]["uid"] = json!("9b2f5c7e-10ce-11e8-bd5a-42010af00137");
    mirror["metadata"]["annotations"] =
        json!({"kubernetes.io/config.mirror": hash, "kubernetes.io/config.source": "file"});
    mirror["apiVersion"] = json!("v1");
    mirror["kind"] = json!("Pod");
    let watch = record(
        3,
        "2018-02-13T16:12:41Z",
        Source::Kubeapi,
        json!({"type": "ADDED", "object": mirror}),
    );
    let mut out = Vec::new();
    parsers.parse(&watch, &mut out).unwrap();
    assert!(
        !events(&out)
            .iter()
            .any(|e| matches!(e.kind, EventKind::PodCreated)),
        "the mirror pod is the static pod: {:?}",
        events(&out)
    );
}
