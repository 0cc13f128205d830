//! Writes recordings: one `{"ts","source","data"}` line per observation, compressed by
//! the file's extension.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use jiff::Timestamp;
use serde_json::value::RawValue;
use tapio_domain::Source;

use super::input::Compression;
use super::line::RecordLine;

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write recording: {0}")]
    Io(#[from] io::Error),
    #[error("cannot encode recording line: {0}")]
    Encode(#[from] serde_json::Error),
}

enum Sink {
    Plain(BufWriter<Box<dyn Write + Send>>),
    Gzip(flate2::write::GzEncoder<BufWriter<Box<dyn Write + Send>>>),
    Zstd(zstd::Encoder<'static, BufWriter<Box<dyn Write + Send>>>),
}

impl Sink {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::Plain(w) => w,
            Self::Gzip(w) => w,
            Self::Zstd(w) => w,
        }
    }
}

/// A recording being written. Call [`RecordingWriter::finish`] to complete compressed
/// output; dropping without it may leave a truncated frame (which readers report).
pub struct RecordingWriter {
    sink: Sink,
    lines: u64,
    /// Bytes of JSON Lines written, before compression.
    bytes: u64,
    line_buf: Vec<u8>,
}

impl RecordingWriter {
    /// Creates `path` (or writes to standard output for `-`), compressed per its extension.
    pub fn create(path: &Path) -> Result<Self, WriteError> {
        let out: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(io::stdout())
        } else {
            Box::new(File::create(path)?)
        };
        Self::new(out, Compression::from_path(path))
    }

    /// Wraps any writer.
    pub fn new(out: Box<dyn Write + Send>, compression: Compression) -> Result<Self, WriteError> {
        let out = BufWriter::with_capacity(256 * 1024, out);
        let sink = match compression {
            Compression::None => Sink::Plain(out),
            Compression::Gzip => Sink::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::default(),
            )),
            Compression::Zstd => Sink::Zstd(zstd::Encoder::new(out, 3)?),
        };
        Ok(Self {
            sink,
            lines: 0,
            bytes: 0,
            line_buf: Vec::with_capacity(4096),
        })
    }

    /// Appends one line.
    pub fn write(
        &mut self,
        ts: Timestamp,
        source: Source,
        data: &RawValue,
    ) -> Result<(), WriteError> {
        let ts = ts.to_string();
        let line = RecordLine {
            ts: &ts,
            source: source.as_str(),
            data,
        };
        self.line_buf.clear();
        serde_json::to_writer(&mut self.line_buf, &line)?;
        self.line_buf.push(b'\n');
        self.sink.writer().write_all(&self.line_buf)?;
        self.lines += 1;
        self.bytes += self.line_buf.len() as u64;
        Ok(())
    }

    /// Bytes of JSON Lines written so far, before compression.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Flushes everything and completes the compressed frame.
    pub fn finish(self) -> Result<(), WriteError> {
        let mut inner = match self.sink {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
            Sink::Zstd(w) => w.finish()?,
        };
        inner.flush()?;
        Ok(())
    }
}
