//! Replay: a recording read in event-time order through every source's parser.

use std::collections::BTreeMap;
use std::io::BufRead;

use tapio_domain::{Observation, Source};

use crate::kubeapi::{KubeApiParser, KubeApiStats};
use crate::recording::{LineError, ReadStats, Record, RecordingReader};
use crate::{kubelet, node_sources, otlp, ParseError};

/// The parsers of every source, with the state they keep between records.
#[derive(Debug, Default)]
pub struct SourceParsers {
    pub kubeapi: KubeApiParser,
}

impl SourceParsers {
    /// Parses one record of any source into `out`.
    pub fn parse(&mut self, record: &Record, out: &mut Vec<Observation>) -> Result<(), ParseError> {
        match record.source {
            Source::Kubeapi => self.kubeapi.parse(record, out),
            Source::Kubelet => kubelet::parse(record, &mut self.kubeapi.pods, out),
            Source::Otlp => otlp::parse(record, out),
            Source::Ebpf => node_sources::parse_ebpf(record, out),
            Source::Dns => node_sources::parse_dns(record, out),
            Source::Cni => node_sources::parse_cni(record, out),
            Source::Systemd => node_sources::parse_systemd(record, out),
            Source::Etcd => node_sources::parse_etcd(record, out),
            Source::Engine => Err(ParseError::Payload(
                "the engine source cannot be recorded".into(),
            )),
        }
    }
}

/// Figures of a replay: the reader's, plus records per source.
#[derive(Debug, Clone, Default)]
pub struct ReplayStats {
    pub read: ReadStats,
    pub records_by_source: BTreeMap<Source, u64>,
    pub observations: u64,
    /// What the kubeapi parser skipped on purpose (bookmarks, watch errors, unknown kinds).
    pub kubeapi: KubeApiStats,
}

/// Reads a recording and yields the observations of each record in event-time order.
///
/// Rejected lines and payloads are reported through `on_error` as they happen and counted
/// in the stats; they never stop the replay.
pub struct Replay<R> {
    reader: RecordingReader<R>,
    parsers: SourceParsers,
    by_source: BTreeMap<Source, u64>,
    observations: u64,
}

impl<R: BufRead> Replay<R> {
    /// Replays everything `reader` yields.
    pub fn new(reader: RecordingReader<R>) -> Self {
        Self {
            reader,
            parsers: SourceParsers::default(),
            by_source: BTreeMap::new(),
            observations: 0,
        }
    }

    /// Feeds the next record's observations into `out` (cleared first). Returns `false`
    /// once the input is exhausted.
    pub fn next_batch(
        &mut self,
        out: &mut Vec<Observation>,
        on_error: &mut dyn FnMut(&LineError),
    ) -> bool {
        out.clear();
        loop {
            match self.reader.next() {
                None => return false,
                Some(Err(e)) => on_error(&e),
                Some(Ok(record)) => {
                    *self.by_source.entry(record.source).or_default() += 1;
                    match self.parsers.parse(&record, out) {
                        Ok(()) => {
                            self.observations += out.len() as u64;
                            return true;
                        }
                        Err(ParseError::Payload(detail)) => {
                            out.clear();
                            let detail = format!("{} payload: {detail}", record.source);
                            self.reader.reject_payload(record.line, detail.clone());
                            on_error(&LineError {
                                line: record.line,
                                kind: crate::recording::LineErrorKind::BadPayload,
                                detail,
                            });
                        }
                    }
                }
            }
        }
    }

    /// Figures so far.
    pub fn stats(&self) -> ReplayStats {
        ReplayStats {
            read: self.reader.stats(),
            records_by_source: self.by_source.clone(),
            observations: self.observations,
            kubeapi: self.parsers.kubeapi.stats().clone(),
        }
    }
}
