//! The web UI end to end: a recording published onto a real NATS JetStream bus, consumed
//! by `correlation-service`, and its page rendered by a real headless Chromium (Debian's
//! `chromium`, installed by scripts/install-test-deps.sh). The flagship incident must
//! show with its causal chain, root cause first; the screenshot is kept as an artifact.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{example, publish, CorrelationService, NatsServer};

const TOKEN: &str = "ui-test-token-5f1c";

fn chromium(url: &str, extra: &[&str]) -> String {
    let profile = std::env::temp_dir().join(format!("tapio-chromium-{}", std::process::id()));
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
        ])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--virtual-time-budget=10000")
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium is installed (scripts/install-test-deps.sh)");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn artifact(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn the_flagship_incident_shows_with_its_chain_in_chromium() {
    let Some(nats) = NatsServer::start("web-ui") else {
        return;
    };
    publish(&nats.url(), &example("flagship-configmap-oom.jsonl"));
    let service = CorrelationService::start(&nats.url(), TOKEN);
    let report = service.wait_for_insights(TOKEN);
    let id = report["insights"][0]["id"].as_str().unwrap().to_owned();

    // The API needs the token; the page's own files do not (they hold no data).
    assert_eq!(
        support::http_get(service.port, "/api/v1/insights", None).0,
        401
    );
    assert_eq!(
        support::http_get(service.port, "/api/v1/insights", Some("wrong")).0,
        401
    );
    assert_eq!(support::http_get(service.port, "/app.js", None).0, 200);
    let (status, metrics) = support::http_get(service.port, "/metrics", Some(TOKEN));
    assert_eq!(status, 200);
    assert!(
        metrics.contains("tapio_insights_published_total 1"),
        "{metrics}"
    );
    for family in [
        "tapio_observations_consumed_total{source=\"kubeapi\"}",
        "tapio_observations_consumed_total{source=\"topology\"}",
        "tapio_insights_current{pattern=\"config-change-oom\"} 1",
        "tapio_analysis_duration_seconds_count",
        "tapio_consumer_pending_messages 0",
    ] {
        assert!(metrics.contains(family), "{family} missing: {metrics}");
    }

    let url = format!(
        "http://127.0.0.1:{}/?token={TOKEN}#/insight/{id}",
        service.port
    );
    let dom = chromium(&url, &["--dump-dom"]);
    let fragment = scraper_like_root(&dom);
    assert!(
        fragment.contains("cart-config"),
        "the root cause step should name the ConfigMap: {fragment}"
    );
    assert!(
        dom.contains(&format!("data-id=\"{id}\"")),
        "the incident list shows it"
    );
    let steps = dom.matches("class=\"chain-step").count();
    assert!(steps >= 5, "the chain has its steps ({steps}): {dom}");
    assert!(
        dom.contains("kubectl -n shop rollout restart deployment/cart"),
        "recommendations"
    );

    let shot = artifact("web-ui-flagship.png");
    chromium(
        &url,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
        ],
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "a real screenshot at {} ({size} bytes)",
        shot.display()
    );
    eprintln!("screenshot: {}", shot.display());
}

/// The markup of the chain step marked as the root cause.
fn scraper_like_root(dom: &str) -> String {
    let at = dom
        .find("data-role=\"root\"")
        .unwrap_or_else(|| panic!("no root-cause step in the chain: {dom}"));
    let end = dom[at..].find("</g>").map_or(dom.len(), |e| at + e);
    dom[at..end].to_owned()
}
