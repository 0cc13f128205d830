//! The recording format of `shared/spec/recording.md`: JSON Lines of
//! `{"ts", "source", "data"}`, optionally gzip or zstd compressed, read as a stream.

mod input;
mod line;
mod reader;
mod reorder;
mod writer;

pub use input::{decompress, open_input, Compression};
pub use line::{Record, RecordLine};
pub use reader::{LineError, LineErrorKind, ReadStats, ReaderOptions, RecordingReader};
pub use writer::{RecordingWriter, WriteError};
