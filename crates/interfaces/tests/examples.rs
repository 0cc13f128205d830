//! End to end on the example recordings: `tapio analyze` must name the root cause, its
//! entity and the chain from cause to symptom, and say nothing on the healthy cluster.

use std::path::PathBuf;
use std::process::Command;

use tapio_domain::{InsightReport, RootCauseKind};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn analyze(path: &std::path::Path) -> (InsightReport, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["analyze", "--format", "json"])
        .arg(path)
        .output()
        .expect("tapio runs");
    assert!(
        out.status.success(),
        "tapio failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: InsightReport = serde_json::from_slice(&out.stdout).expect("insight JSON");
    (report, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn chain_kinds(report: &InsightReport) -> Vec<String> {
    report.insights[0]
        .chain
        .iter()
        .map(|s| s.kind.clone())
        .collect()
}

#[test]
fn flagship_config_change_leads_through_pool_and_memory_growth_to_oom_and_crashloop() {
    let (report, _) = analyze(&example("flagship-configmap-oom.jsonl"));
    let top = &report.insights[0];
    assert_eq!(top.root_cause.kind, RootCauseKind::ConfigChange);
    assert_eq!(top.root_cause.entity.kind, "ConfigMap");
    assert_eq!(top.root_cause.entity.namespace.as_deref(), Some("shop"));
    assert_eq!(top.root_cause.entity.name, "cart-config");
    assert_eq!(top.root_cause.workload.as_deref(), Some("Deployment/cart"));
    assert_eq!(top.pattern, "config-change-oom");
    assert!(top.confidence >= 0.7, "confidence {}", top.confidence);
    let kinds = chain_kinds(&report);
    assert_eq!(kinds.first().map(String::as_str), Some("ConfigChanged"));
    assert_eq!(kinds.last().map(String::as_str), Some("CrashLoopBackOff"));
    let pos = |k: &str| {
        kinds
            .iter()
            .position(|x| x.starts_with(k))
            .unwrap_or_else(|| panic!("{k} in {kinds:?}"))
    };
    assert!(
        pos("MetricAnomaly(db.client.connection.count)")
            < pos("MetricAnomaly(container_memory_working_set_bytes)")
    );
    assert!(pos("MetricAnomaly(container_memory_working_set_bytes)") < pos("OOMKilled"));
    // Every step carries evidence, and the chain runs forward in time.
    assert!(top.chain.iter().all(|s| !s.evidence.is_empty()));
    assert!(top.chain.windows(2).all(|w| w[0].at <= w[1].at));
    // Only the new pods are affected: the old ones were shut down by the rollout.
    assert_eq!(top.affected.len(), 2);
    assert!(top.recommendations.iter().any(|r| r.contains("512Mi")));
    // The unrelated monitoring ConfigMap edit is not the answer, in any insight.
    assert!(report
        .insights
        .iter()
        .all(|i| i.root_cause.entity.name != "prometheus-server"));
}

#[test]
fn bad_image_rollout_blames_the_image_change() {
    let (report, _) = analyze(&example("bad-image-rollout.jsonl"));
    assert_eq!(report.insights.len(), 1, "{:#?}", report.insights);
    let top = &report.insights[0];
    assert_eq!(top.root_cause.kind, RootCauseKind::ImageChange);
    assert_eq!(
        (
            top.root_cause.entity.kind.as_str(),
            top.root_cause.entity.name.as_str()
        ),
        ("Deployment", "checkout")
    );
    let kinds = chain_kinds(&report);
    assert_eq!(kinds.first().map(String::as_str), Some("ImageChanged"));
    assert!(kinds.last().unwrap().contains("Image"), "{kinds:?}");
    assert!(top
        .recommendations
        .iter()
        .any(|r| r.contains("rollout undo deployment/checkout")));
}

#[test]
fn bad_config_value_crashloop_blames_the_configmap_without_oom() {
    let (report, _) = analyze(&example("crashloop-bad-config.jsonl"));
    let top = &report.insights[0];
    assert_eq!(top.root_cause.kind, RootCauseKind::ConfigChange);
    assert_eq!(top.root_cause.entity.name, "checkout-config");
    assert_eq!(top.pattern, "config-change-crashloop");
    let kinds = chain_kinds(&report);
    assert!(
        kinds.iter().any(|k| k.starts_with("Error (exit 1)")),
        "{kinds:?}"
    );
    assert!(!kinds.iter().any(|k| k.contains("OOM")), "{kinds:?}");
}

#[test]
fn memory_leak_without_any_change_is_a_memory_leak() {
    let (report, _) = analyze(&example("oom-memory-leak.jsonl"));
    let top = &report.insights[0];
    assert_eq!(top.root_cause.kind, RootCauseKind::MemoryLeak);
    assert_eq!(
        top.root_cause.workload.as_deref(),
        Some("Deployment/ledger")
    );
    // The decoy edit of payments-api-config must not be blamed.
    assert!(report
        .insights
        .iter()
        .all(|i| i.root_cause.entity.name != "payments-api-config"));
}

#[test]
fn a_healthy_busy_cluster_gets_no_insight() {
    let (report, _) = analyze(&example("healthy-cluster.jsonl"));
    assert!(report.insights.is_empty(), "{:#?}", report.insights);
    assert!(report.stats.events > 0 && report.stats.entities > 0);
}

#[test]
fn the_same_input_gives_the_same_insight_ids() {
    let (a, _) = analyze(&example("flagship-configmap-oom.jsonl"));
    let (b, _) = analyze(&example("flagship-configmap-oom.jsonl"));
    let ids = |r: &InsightReport| r.insights.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
}
