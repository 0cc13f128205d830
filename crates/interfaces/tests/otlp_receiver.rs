//! The OTLP receiver of `tapio run` fed by real OpenTelemetry exporters (the official
//! Python SDK and OTLP exporters, installed by scripts/install-test-deps.sh): traces over
//! OTLP/gRPC and OTLP/HTTP, metrics over gRPC, logs over HTTP, plus a raw OTLP/JSON POST;
//! all recorded as `otlp` lines the replay parser reads.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{free_port, http_post, wait_for_port};

#[test]
fn real_exporters_reach_the_recording_over_grpc_and_http() {
    let dir = std::env::temp_dir().join(format!("tapio-otlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("otlp.jsonl");
    let (grpc, http) = (free_port(), free_port());
    let tapio = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["run", "--collector", "otlp", "--record"])
        .arg(&recording)
        .args(["--otlp-grpc", &format!("127.0.0.1:{grpc}")])
        .args(["--otlp-http", &format!("127.0.0.1:{http}")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for_port(grpc, Duration::from_secs(20)) && wait_for_port(http, Duration::from_secs(5))
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp_clients.py");
    let clients = Command::new("python3")
        .arg(script)
        .arg(format!("127.0.0.1:{grpc}"))
        .arg(format!("http://127.0.0.1:{http}"))
        .output()
        .unwrap();
    assert!(
        clients.status.success(),
        "the OpenTelemetry exporters failed (scripts/install-test-deps.sh installs them): {}",
        String::from_utf8_lossy(&clients.stderr)
    );
    // OTLP/JSON, as the OTLP/HTTP specification's JSON encoding has it.
    let json = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart-json"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /json","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000100000000"}]}]}]}"#;
    let (status, body) = http_post(http, "/v1/traces", "application/json", json.as_bytes());
    assert_eq!((status, body.as_str()), (200, "{}"));
    let (status, _) = http_post(http, "/v1/traces", "application/x-protobuf", b"\xff\xff");
    assert_eq!(status, 400, "a malformed body is refused");

    // Ctrl-C: the run stops, drains and finishes the recording.
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(tapio.id() as i32, libc::SIGINT) };
    let out = tapio.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("otlp     active   receiving OTLP/gRPC on"),
        "{stderr}"
    );
    assert!(stderr.contains("otlp: 5 export requests"), "{stderr}");
    let text = std::fs::read_to_string(&recording).unwrap();
    for service in [
        "cart-grpc",
        "cart-http",
        "cart-metrics",
        "cart-logs",
        "cart-json",
    ] {
        assert!(text.contains(service), "{service} missing from:\n{text}");
    }
    assert!(text.lines().all(|l| l.contains("\"source\":\"otlp\"")));
    let analysed = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["analyze", "--format", "json"])
        .arg(&recording)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&analysed.stdout).unwrap();
    assert_eq!(report["stats"]["rejected"], 0, "{report}");
    assert_eq!(report["stats"]["lines"], 5, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}
