//! Opening a recording: a path or `-`, plain, gzip or zstd.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const IO_BUFFER: usize = 256 * 1024;

/// How a recording's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Compression implied by a file name (`.gz`, `.zst`).
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Self::Gzip,
            Some("zst") => Self::Zstd,
            _ => Self::None,
        }
    }

    /// Compression recognised from the first bytes of a stream.
    pub fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&GZIP_MAGIC) {
            Self::Gzip
        } else if head.starts_with(&ZSTD_MAGIC) {
            Self::Zstd
        } else {
            Self::None
        }
    }
}

/// Opens `path` (or standard input for `-`) as a buffered stream of decompressed bytes.
///
/// Compression is recognised from the content, so a `.gz` file that is really plain text,
/// or compressed data on standard input, is read correctly too.
pub fn open_input(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path)?)
    };
    decompress(raw)
}

/// Wraps a byte stream so that gzip or zstd content is decompressed transparently.
pub fn decompress(raw: Box<dyn Read + Send>) -> io::Result<Box<dyn BufRead + Send>> {
    let mut buffered = BufReader::with_capacity(IO_BUFFER, raw);
    let head = buffered.fill_buf()?;
    Ok(match Compression::sniff(head) {
        Compression::Gzip => Box::new(BufReader::with_capacity(
            IO_BUFFER,
            flate2::bufread::MultiGzDecoder::new(buffered),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            IO_BUFFER,
            zstd::Decoder::with_buffer(buffered)?,
        )),
        Compression::None => Box::new(buffered),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_known_from_extension_and_magic() {
        assert_eq!(
            Compression::from_path(Path::new("a.jsonl.gz")),
            Compression::Gzip
        );
        assert_eq!(
            Compression::from_path(Path::new("a.jsonl.zst")),
            Compression::Zstd
        );
        assert_eq!(
            Compression::from_path(Path::new("a.jsonl")),
            Compression::None
        );
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::sniff(&ZSTD_MAGIC), Compression::Zstd);
        assert_eq!(Compression::sniff(b"{\"ts\""), Compression::None);
        assert_eq!(Compression::sniff(b""), Compression::None);
    }
}
