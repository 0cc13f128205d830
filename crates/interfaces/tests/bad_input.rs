//! Bad input end to end: malformed, truncated, binary and huge-line recordings produce a
//! clear message naming the line, the rest is still analysed, and nothing panics.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tapio_domain::{InsightReport, RootCauseKind};

fn flagship() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/flagship-configmap-oom.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapio-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(["analyze", "--format", "json"])
        .arg(path)
        .output()
        .expect("tapio runs")
}

fn report(out: &Output) -> InsightReport {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("insight JSON on stdout")
}

fn still_finds_the_flagship(r: &InsightReport) {
    assert_eq!(r.insights[0].root_cause.kind, RootCauseKind::ConfigChange);
    assert_eq!(r.insights[0].root_cause.entity.name, "cart-config");
}

#[test]
fn malformed_and_binary_lines_are_named_and_skipped() {
    let mut lines = flagship();
    let n = lines.len();
    lines.insert(n / 2, "{\"ts\": \"2026-03-10T10:05:00Z\", \"source\": \"kubeapi\", \"data\": {\"type\": \"MODIFIED\"".to_owned());
    lines.insert(n / 3, "\u{0}\u{1}\u{fffd}binary".to_owned());
    lines.insert(10, "{\"ts\": \"2026-03-10T10:01:20Z\", \"source\": \"kubeapi\", \"data\": {\"type\": \"ADDED\", \"object\": {\"kind\": \"Pod\", \"apiVersion\": \"v1\", \"metadata\": 7}}}".to_owned());
    lines.insert(
        11,
        "{\"ts\": \"2026-03-10T10:01:20Z\", \"source\": \"gadget\", \"data\": {}}".to_owned(),
    );
    let path = scratch("malformed.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = run(&path);
    let r = report(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:11: kubeapi payload: Pod:", path.display())),
        "{stderr}"
    );
    // Inserted at index n/3, after two lines were inserted earlier in the file.
    assert!(
        stderr.contains(&format!(
            ":{}: binary data (control byte 0x00 at byte 0)",
            n / 3 + 3
        )),
        "{stderr}"
    );
    assert!(stderr.contains("unknown sources (gadget)"), "{stderr}");
    assert_eq!(r.stats.rejected, 3);
    still_finds_the_flagship(&r);
}

#[test]
fn a_truncated_compressed_recording_is_analysed_up_to_the_cut() {
    let text = flagship().join("\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let path = scratch("cut.jsonl.gz");
    std::fs::write(&path, &bytes[..bytes.len() - 200]).unwrap();
    let out = run(&path);
    let r = report(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("input ends early"), "{stderr}");
    assert!(r.stats.lines > 100);
    still_finds_the_flagship(&r);
}

#[test]
fn a_huge_line_is_rejected_with_its_number() {
    let mut lines = flagship();
    let huge = format!(
        "{{\"ts\": \"2026-03-10T10:01:20Z\", \"source\": \"otlp\", \"data\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(17 * 1024 * 1024)
    );
    lines.insert(20, huge);
    let path = scratch("huge.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = run(&path);
    let r = report(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":21: line is"), "{stderr}");
    assert!(stderr.contains("byte limit"), "{stderr}");
    still_finds_the_flagship(&r);
}

#[test]
fn a_file_of_random_bytes_gives_an_empty_answer_not_a_crash() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let path = scratch("random.bin");
    std::fs::write(&path, bytes).unwrap();
    let r = report(&run(&path));
    assert!(r.insights.is_empty());
    assert!(r.stats.rejected > 0);
}

#[test]
fn a_missing_file_is_a_clear_error_with_exit_code_1() {
    let out = run(Path::new("/nonexistent/recording.jsonl"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open recording /nonexistent/recording.jsonl"),
        "{stderr}"
    );
}
