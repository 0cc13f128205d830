//! The recording reader and writer against the contract: round trips, compression,
//! disorder, and bad input of every kind (malformed, truncated, binary, huge lines).

use std::io::{BufReader, Cursor, Write};

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use serde_json::value::RawValue;
use tapio_collectors::recording::{
    open_input, Compression, LineErrorKind, ReaderOptions, Record, RecordingReader, RecordingWriter,
};
use tapio_domain::Source;

fn read_all(
    bytes: Vec<u8>,
    options: ReaderOptions,
) -> (Vec<Record>, Vec<tapio_collectors::recording::LineError>) {
    let input = tapio_collectors::recording::decompress(Box::new(Cursor::new(bytes))).unwrap();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for item in RecordingReader::with_options(input, options) {
        match item {
            Ok(r) => records.push(r),
            Err(e) => errors.push(e),
        }
    }
    (records, errors)
}

fn line(ts: &str, source: &str, data: &str) -> String {
    format!("{{\"ts\":\"{ts}\",\"source\":\"{source}\",\"data\":{data}}}\n")
}

#[test]
fn malformed_lines_are_reported_by_number_and_the_rest_is_read() {
    let text = [
        line("2026-01-01T00:00:00Z", "kubeapi", "{\"a\":1}"),
        "{not json\n".to_owned(),
        line("2026-01-01T00:00:01Z", "kubeapi", "{\"a\":2}"),
        "{\"ts\":\"yesterday\",\"source\":\"kubeapi\",\"data\":{}}\n".to_owned(),
        "{\"ts\":\"2026-01-01T00:00:02\",\"source\":\"kubeapi\",\"data\":{}}\n".to_owned(),
        "[1,2,3]\n".to_owned(),
        "\n".to_owned(),
        line("2026-01-01T00:00:03Z", "kubeapi", "{\"a\":3}"),
    ]
    .concat();
    let (records, errors) = read_all(text.into_bytes(), ReaderOptions::default());
    assert_eq!(records.len(), 3);
    let lines: Vec<(u64, LineErrorKind)> = errors.iter().map(|e| (e.line, e.kind)).collect();
    assert_eq!(
        lines,
        vec![
            (2, LineErrorKind::Malformed),
            (4, LineErrorKind::BadTimestamp),
            (5, LineErrorKind::BadTimestamp),
            (6, LineErrorKind::Malformed),
        ]
    );
    assert!(errors[0].to_string().starts_with("line 2: "));
}

#[test]
fn unknown_sources_are_counted_and_skipped() {
    let text = [
        line("2026-01-01T00:00:00Z", "syslog", "{}"),
        line("2026-01-01T00:00:01Z", "syslog", "{}"),
        line("2026-01-01T00:00:02Z", "dns", "{}"),
    ]
    .concat();
    let input = BufReader::new(Cursor::new(text.into_bytes()));
    let mut reader = RecordingReader::new(input);
    let records: Vec<_> = reader.by_ref().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(reader.stats().unknown_sources.get("syslog"), Some(&2));
}

#[test]
fn binary_garbage_is_rejected_line_by_line() {
    let mut bytes = line("2026-01-01T00:00:00Z", "kubeapi", "{}").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x00, 0x81, b'\n']);
    bytes.extend_from_slice(line("2026-01-01T00:00:01Z", "kubeapi", "{}").as_bytes());
    let (records, errors) = read_all(bytes, ReaderOptions::default());
    assert_eq!(records.len(), 2);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].line, errors[0].kind),
        (2, LineErrorKind::NotText)
    );
}

#[test]
fn a_huge_line_is_skipped_without_being_buffered() {
    let options = ReaderOptions {
        max_line_bytes: 1024,
        ..ReaderOptions::default()
    };
    let mut text = line("2026-01-01T00:00:00Z", "kubeapi", "{}");
    text.push_str(&format!(
        "{{\"ts\":\"2026-01-01T00:00:01Z\",\"source\":\"kubeapi\",\"data\":\"{}\"}}\n",
        "x".repeat(10_000)
    ));
    text.push_str(&line("2026-01-01T00:00:02Z", "kubeapi", "{}"));
    let (records, errors) = read_all(text.into_bytes(), options);
    assert_eq!(records.len(), 2);
    assert_eq!(
        (errors[0].line, errors[0].kind),
        (2, LineErrorKind::TooLong)
    );
    assert!(errors[0].detail.contains("1024 byte limit"));
}

#[test]
fn a_truncated_gzip_file_yields_what_was_complete_and_says_where_it_ends() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..2000 {
        gz.write_all(
            line(
                &format!("2026-01-01T00:{:02}:{:02}Z", i / 60 % 60, i % 60),
                "kubeapi",
                "{\"n\":1}",
            )
            .as_bytes(),
        )
        .unwrap();
    }
    let full = gz.finish().unwrap();
    let cut = full[..full.len() * 2 / 3].to_vec();
    let (records, errors) = read_all(cut, ReaderOptions::default());
    assert!(records.len() > 100, "read {}", records.len());
    assert!(records.len() < 2000);
    let last = errors.last().expect("truncation is reported");
    assert_eq!(last.kind, LineErrorKind::Truncated);
    assert!(last.detail.contains("input ends early"));
}

#[test]
fn disorder_within_the_tolerance_is_put_back_in_order_and_late_lines_are_counted() {
    let text = [
        line("2026-01-01T00:00:10Z", "kubeapi", "{\"n\":1}"),
        line("2026-01-01T00:00:05Z", "kubeapi", "{\"n\":2}"),
        line("2026-01-01T00:03:00Z", "kubeapi", "{\"n\":3}"),
        line("2026-01-01T00:00:01Z", "kubeapi", "{\"n\":4}"),
    ]
    .concat();
    let input = BufReader::new(Cursor::new(text.into_bytes()));
    let mut reader = RecordingReader::new(input);
    let order: Vec<String> = reader
        .by_ref()
        .map(|r| r.unwrap().data.get().to_owned())
        .collect();
    assert_eq!(
        order,
        vec!["{\"n\":2}", "{\"n\":1}", "{\"n\":4}", "{\"n\":3}"]
    );
    assert_eq!(reader.stats().late, 1);
}

#[test]
fn reading_a_file_by_path_works_for_every_compression() {
    let dir = std::env::temp_dir().join(format!("tapio-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["r.jsonl", "r.jsonl.gz", "r.jsonl.zst"] {
        let path = dir.join(name);
        let mut w = RecordingWriter::create(&path).unwrap();
        let data = RawValue::from_string("{\"x\":1}".to_owned()).unwrap();
        w.write(
            Timestamp::from_second(1_800_000_000).unwrap(),
            Source::Dns,
            &data,
        )
        .unwrap();
        w.finish().unwrap();
        assert_eq!(
            Compression::sniff(&std::fs::read(&path).unwrap()) == Compression::None,
            name == "r.jsonl"
        );
        let records: Vec<_> = RecordingReader::new(open_input(&path).unwrap()).collect();
        assert_eq!(records.len(), 1, "{name}");
        assert_eq!(records[0].as_ref().unwrap().source, Source::Dns);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        ".{0,20}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn writer_then_reader_round_trips(
        items in prop::collection::vec((0i64..86_400, 0usize..8, arb_json()), 0..40),
        compression in prop_oneof![Just(Compression::None), Just(Compression::Gzip), Just(Compression::Zstd)],
    ) {
        let mut items = items;
        items.sort_by_key(|(t, _, _)| *t);
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
            fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
        }
        let mut w = RecordingWriter::new(Box::new(Shared(buf.clone())), compression).unwrap();
        let t0 = Timestamp::from_second(1_800_000_000).unwrap();
        for (t, s, data) in &items {
            let raw = RawValue::from_string(data.to_string()).unwrap();
            w.write(t0 + SignedDuration::from_secs(*t), Source::RECORDABLE[*s], &raw).unwrap();
        }
        w.finish().unwrap();
        let bytes = buf.lock().unwrap().clone();
        let (records, errors) = read_all(bytes, ReaderOptions::default());
        prop_assert!(errors.is_empty());
        prop_assert_eq!(records.len(), items.len());
        for (r, (t, s, data)) in records.iter().zip(&items) {
            prop_assert_eq!(r.ts, t0 + SignedDuration::from_secs(*t));
            prop_assert_eq!(r.source, Source::RECORDABLE[*s]);
            let back: serde_json::Value = serde_json::from_str(r.data.get()).unwrap();
            prop_assert_eq!(&back, data);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_every_line_is_accounted_for(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        let input = BufReader::new(Cursor::new(bytes.clone()));
        let mut reader = RecordingReader::new(input);
        let n = reader.by_ref().count() as u64;
        let stats = reader.stats();
        prop_assert!(stats.lines >= newlines);
        prop_assert!(n <= stats.lines);
    }
}
