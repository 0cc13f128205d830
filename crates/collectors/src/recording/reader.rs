//! Streaming recording reader: bounded lines, per-line errors, event-time reordering.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead};

use jiff::{SignedDuration, Timestamp};
use serde_json::value::RawValue;
use tapio_domain::Source;

use super::line::{Record, RecordLine};
use super::reorder::ReorderBuffer;

/// Limits and tolerances of a [`RecordingReader`].
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// Longest accepted line; longer lines are rejected without being buffered.
    pub max_line_bytes: usize,
    /// How far out of event-time order a line may arrive and still be put back in order.
    pub reorder_tolerance: SignedDuration,
    /// Most lines held for reordering; past it the oldest leaves early (counted).
    pub reorder_capacity: usize,
    /// Most payload bytes held for reordering; past it the oldest leaves early (counted).
    pub reorder_max_bytes: usize,
    /// Most line errors kept with their message; the rest are only counted.
    pub max_kept_errors: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            max_line_bytes: 16 * 1024 * 1024,
            reorder_tolerance: SignedDuration::from_secs(60),
            reorder_capacity: 200_000,
            reorder_max_bytes: 64 * 1024 * 1024,
            max_kept_errors: 1_000,
        }
    }
}

/// Why a line was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LineErrorKind {
    /// Not a JSON object with `ts`, `source` and `data`.
    Malformed,
    /// `ts` is not an RFC 3339 time with an offset.
    BadTimestamp,
    /// Longer than [`ReaderOptions::max_line_bytes`].
    TooLong,
    /// Not UTF-8 (binary data).
    NotText,
    /// The payload did not fit its source's format.
    BadPayload,
    /// The input ended inside a compressed frame or could not be read further.
    Truncated,
}

impl LineErrorKind {
    /// A short name for summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::BadTimestamp => "bad timestamp",
            Self::TooLong => "too long",
            Self::NotText => "not text",
            Self::BadPayload => "bad payload",
            Self::Truncated => "truncated",
        }
    }
}

/// A rejected line: where, what kind of problem, and the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {detail}")]
pub struct LineError {
    pub line: u64,
    pub kind: LineErrorKind,
    pub detail: String,
}

/// What a read pass saw.
#[derive(Debug, Clone, Default)]
pub struct ReadStats {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Lines handed on as records.
    pub records: u64,
    /// Lines rejected, by reason.
    pub rejected: BTreeMap<LineErrorKind, u64>,
    /// Lines skipped because their source is unknown, by source name.
    pub unknown_sources: BTreeMap<String, u64>,
    /// Lines that arrived more than the reorder tolerance late (processed anyway).
    pub late: u64,
    /// Lines released before their turn because the reorder buffer was full.
    pub forced_out_of_order: u64,
    /// The first rejected lines, with their messages.
    pub errors: Vec<LineError>,
}

impl ReadStats {
    /// Total rejected lines.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Records a rejected line.
    pub fn reject(&mut self, error: LineError, keep: usize) {
        *self.rejected.entry(error.kind).or_default() += 1;
        if self.errors.len() < keep {
            self.errors.push(error);
        }
    }
}

impl fmt::Display for ReadStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} lines, {} records", self.lines, self.records)?;
        let rejected = self.rejected_total();
        if rejected > 0 {
            let reasons: Vec<String> = self
                .rejected
                .iter()
                .map(|(k, n)| format!("{n} {}", k.as_str()))
                .collect();
            write!(f, ", {rejected} rejected ({})", reasons.join(", "))?;
        }
        let unknown: u64 = self.unknown_sources.values().sum();
        if unknown > 0 {
            let names: Vec<&str> = self.unknown_sources.keys().map(String::as_str).collect();
            write!(f, ", {unknown} from unknown sources ({})", names.join(", "))?;
        }
        if self.late > 0 {
            write!(f, ", {} late", self.late)?;
        }
        Ok(())
    }
}

enum RawLine {
    Eof,
    Line,
    TooLong(usize),
}

/// Reads a recording line by line and yields its records in event-time order.
///
/// Rejected lines are recorded in [`ReadStats`] (and logged by the caller); reading goes
/// on with the next line. Memory is bounded by the longest accepted line plus the reorder
/// buffer.
pub struct RecordingReader<R> {
    input: R,
    options: ReaderOptions,
    buf: Vec<u8>,
    line_no: u64,
    reorder: ReorderBuffer,
    stats: ReadStats,
    input_done: bool,
}

impl<R: BufRead> RecordingReader<R> {
    /// A reader with default options.
    pub fn new(input: R) -> Self {
        Self::with_options(input, ReaderOptions::default())
    }

    /// A reader with the given options.
    pub fn with_options(input: R, options: ReaderOptions) -> Self {
        let reorder = ReorderBuffer::new(
            options.reorder_tolerance,
            options.reorder_capacity,
            options.reorder_max_bytes,
        );
        Self {
            input,
            options,
            buf: Vec::new(),
            line_no: 0,
            reorder,
            stats: ReadStats::default(),
            input_done: false,
        }
    }

    /// What has been read so far.
    pub fn stats(&self) -> ReadStats {
        let mut stats = self.stats.clone();
        stats.late = self.reorder.late;
        stats.forced_out_of_order = self.reorder.forced;
        stats
    }

    /// Records a payload error found by a later stage against its line.
    pub fn reject_payload(&mut self, line: u64, detail: String) {
        let keep = self.options.max_kept_errors;
        self.stats.reject(
            LineError {
                line,
                kind: LineErrorKind::BadPayload,
                detail,
            },
            keep,
        );
    }

    /// Reads one line into `self.buf` (without the newline), never holding more than the
    /// line limit.
    fn read_raw_line(&mut self) -> io::Result<RawLine> {
        self.buf.clear();
        let mut total = 0usize;
        let mut any = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                return Ok(match (any, total > self.options.max_line_bytes) {
                    (false, _) => RawLine::Eof,
                    (true, true) => RawLine::TooLong(total),
                    (true, false) => RawLine::Line,
                });
            }
            any = true;
            let (take, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            total += take;
            if total <= self.options.max_line_bytes {
                self.buf.extend_from_slice(&chunk[..take]);
            }
            self.input.consume(take + usize::from(found));
            if found {
                return Ok(if total > self.options.max_line_bytes {
                    RawLine::TooLong(total)
                } else {
                    RawLine::Line
                });
            }
        }
    }

    fn parse_line(&mut self) -> Result<Option<Record>, LineError> {
        let line = self.line_no;
        let err = |kind, detail: String| LineError { line, kind, detail };
        let mut bytes: &[u8] = &self.buf;
        if line == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        if bytes.last() == Some(&b'\r') {
            bytes = &bytes[..bytes.len() - 1];
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if let Some(pos) = bytes.iter().position(|&b| b < 0x20 && b != b'\t') {
            return Err(err(
                LineErrorKind::NotText,
                format!(
                    "binary data (control byte 0x{:02x} at byte {pos})",
                    bytes[pos]
                ),
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            err(
                LineErrorKind::NotText,
                format!("not UTF-8 text (binary data at byte {})", e.valid_up_to()),
            )
        })?;
        let parsed: RecordLine<'_> = serde_json::from_str(text).map_err(|e| {
            // JSON never holds raw control bytes: name binary data as such.
            match bytes.iter().position(|&b| b < 0x20 && b != b'\t') {
                Some(pos) => err(
                    LineErrorKind::NotText,
                    format!(
                        "binary data (control byte 0x{:02x} at byte {pos})",
                        bytes[pos]
                    ),
                ),
                None => err(
                    LineErrorKind::Malformed,
                    format!("not a recording line ({{\"ts\",\"source\",\"data\"}}): {e}"),
                ),
            }
        })?;
        let ts: Timestamp = parsed.ts.parse().map_err(|e| {
            err(
                LineErrorKind::BadTimestamp,
                format!("ts {:?} is not RFC 3339 with an offset: {e}", parsed.ts),
            )
        })?;
        let Some(source) = Source::parse(parsed.source) else {
            *self
                .stats
                .unknown_sources
                .entry(parsed.source.to_owned())
                .or_default() += 1;
            return Ok(None);
        };
        let data: Box<RawValue> = parsed.data.to_owned();
        Ok(Some(Record {
            line,
            ts,
            source,
            data,
        }))
    }

    /// Reads until one record or one line error is available, or the input ends.
    fn pull(&mut self) -> Option<Result<(), LineError>> {
        loop {
            let raw = match self.read_raw_line() {
                Ok(r) => r,
                Err(e) => {
                    self.input_done = true;
                    let kind = if e.kind() == io::ErrorKind::InvalidData {
                        LineErrorKind::NotText
                    } else {
                        LineErrorKind::Truncated
                    };
                    return Some(Err(LineError {
                        line: self.line_no + 1,
                        kind,
                        detail: format!("input ends early, nothing after this is read: {e}"),
                    }));
                }
            };
            match raw {
                RawLine::Eof => {
                    self.input_done = true;
                    return None;
                }
                RawLine::TooLong(n) => {
                    self.line_no += 1;
                    self.stats.lines += 1;
                    return Some(Err(LineError {
                        line: self.line_no,
                        kind: LineErrorKind::TooLong,
                        detail: format!(
                            "line is {n} bytes, over the {} byte limit; skipped",
                            self.options.max_line_bytes
                        ),
                    }));
                }
                RawLine::Line => {
                    self.line_no += 1;
                    self.stats.lines += 1;
                    match self.parse_line() {
                        Ok(Some(record)) => {
                            self.reorder.push(record);
                            return Some(Ok(()));
                        }
                        Ok(None) => continue,
                        Err(e) => return Some(Err(e)),
                    }
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for RecordingReader<R> {
    /// A record in event-time order, or a rejected line (reading continues after it).
    type Item = Result<Record, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.reorder.pop_ready() {
                self.stats.records += 1;
                return Some(Ok(record));
            }
            if self.input_done {
                let record = self.reorder.drain();
                if record.is_some() {
                    self.stats.records += 1;
                }
                return record.map(Ok);
            }
            match self.pull() {
                Some(Ok(())) => continue,
                Some(Err(e)) => {
                    let keep = self.options.max_kept_errors;
                    self.stats.reject(e.clone(), keep);
                    return Some(Err(e));
                }
                None => continue,
            }
        }
    }
}
