//! `tapio run` starts the collectors whose prerequisites exist, says which are active and
//! why the others are not, and goes on with the rest.

use std::process::Command;

#[test]
fn inactive_collectors_are_named_with_their_reason_and_the_rest_run() {
    let dir = std::env::temp_dir().join(format!("tapio-run-{}", std::process::id()));
    // A port someone else holds: the OTLP receiver cannot listen there.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["run", "--duration", "1", "--format", "json"])
        .args(["--collector", "cni", "--cni-conf-dir"])
        .arg(dir.join("missing"))
        .args(["--collector", "etcd", "--etcd", "http://127.0.0.1:1"])
        .args([
            "--collector",
            "systemd",
            "--journal-unit",
            "tapio-test-nothing.service",
        ])
        .args([
            "--collector",
            "otlp",
            "--otlp-grpc",
            "off",
            "--otlp-http",
            &taken,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "cni      active   watching pod network links (not: cannot read CNI configurations in"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("etcd     inactive unreachable"), "{stderr}");
    assert!(
        stderr.contains(&format!("otlp     inactive cannot listen on {taken}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("systemd  active   following tapio-test-nothing.service"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["insights"], serde_json::json!([]));
}

#[test]
fn nothing_to_run_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args([
            "run",
            "--duration",
            "1",
            "--collector",
            "etcd",
            "--etcd",
            "http://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no collector could start"));
    let bad = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["run", "--collector", "kubeapi", "--collector", "nope"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown collector"));
}
