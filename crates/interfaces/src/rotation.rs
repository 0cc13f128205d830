//! A recording that rotates: once the file holds `max_bytes` of lines (before
//! compression), it is completed and renamed `FILE.1` (older ones shift to `.2`, ...;
//! beyond `keep` they are removed) and a new `FILE` begins, so that `tapio record` can
//! run for days in bounded disk. Every file is a complete recording on its own
//! (`tapio analyze` reads compressed ones by their content, whatever their name).

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::value::RawValue;
use tapio_collectors::recording::{Compression, RecordingWriter, WriteError};
use tapio_domain::Source;

/// When to rotate.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// Bytes of lines per file, before compression.
    pub max_bytes: u64,
    /// Completed files kept beside the current one.
    pub keep: usize,
}

/// A recording writer that rotates by size.
pub struct RotatingWriter {
    path: PathBuf,
    rotation: Option<Rotation>,
    current: RecordingWriter,
    /// Completed files so far.
    pub rotated: u64,
}

fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl RotatingWriter {
    /// Creates `path` (or standard output for `-`, which never rotates).
    pub fn create(path: &Path, rotation: Option<Rotation>) -> Result<Self, WriteError> {
        Ok(Self {
            path: path.to_owned(),
            rotation: rotation.filter(|_| path != Path::new("-")),
            current: RecordingWriter::create(path)?,
            rotated: 0,
        })
    }

    /// Appends one line, rotating first if the current file is full.
    pub fn write(
        &mut self,
        ts: Timestamp,
        source: Source,
        data: &RawValue,
    ) -> Result<(), WriteError> {
        if let Some(r) = self.rotation {
            if self.current.bytes() >= r.max_bytes.max(1) {
                self.rotate(r)?;
            }
        }
        self.current.write(ts, source, data)
    }

    fn rotate(&mut self, r: Rotation) -> Result<(), WriteError> {
        let full = std::mem::replace(
            &mut self.current,
            RecordingWriter::new(Box::new(std::io::sink()), Compression::None)?,
        );
        full.finish()?;
        if r.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(numbered(&self.path, r.keep));
            for n in (1..r.keep).rev() {
                let from = numbered(&self.path, n);
                if from.exists() {
                    std::fs::rename(&from, numbered(&self.path, n + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(&self.path, 1))?;
        }
        self.current = RecordingWriter::create(&self.path)?;
        self.rotated += 1;
        Ok(())
    }

    /// Completes the current file.
    pub fn finish(self) -> Result<(), WriteError> {
        self.current.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_rotate_by_size_and_only_the_newest_are_kept() {
        let dir = std::env::temp_dir().join(format!("tapio-rotate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.jsonl.zst");
        let mut w = RotatingWriter::create(
            &path,
            Some(Rotation {
                max_bytes: 2000,
                keep: 2,
            }),
        )
        .unwrap();
        let data = RawValue::from_string(format!("{{\"pad\":\"{}\"}}", "x".repeat(100))).unwrap();
        for _ in 0..100 {
            w.write(Timestamp::UNIX_EPOCH, Source::Otlp, &data).unwrap();
        }
        assert!(w.rotated >= 5, "{}", w.rotated);
        w.finish().unwrap();
        let lines = |p: &Path| {
            use std::io::BufRead;
            tapio_collectors::recording::open_input(p)
                .unwrap()
                .lines()
                .count()
        };
        assert!(path.exists() && numbered(&path, 1).exists() && numbered(&path, 2).exists());
        assert!(
            !numbered(&path, 3).exists(),
            "only two completed files are kept"
        );
        // Each file is a whole recording of at most the size (plus one line).
        for p in [path.clone(), numbered(&path, 1), numbered(&path, 2)] {
            let n = lines(&p);
            assert!((1..=20).contains(&n), "{}: {n} lines", p.display());
        }
        assert_eq!(lines(&numbered(&path, 1)), lines(&numbered(&path, 2)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
