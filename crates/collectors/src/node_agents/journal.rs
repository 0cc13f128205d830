//! The systemd collector: follows the journal by running `journalctl -o json --follow`
//! (as Vector does), for the units and syslog identifiers chosen, and persists the
//! cursor of the last entry handed on, so a restart resumes exactly where it stopped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::value::RawValue;
use tapio_domain::Source;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{LineSender, LiveLine};

/// Units whose trouble is node trouble, followed unless the configuration says otherwise.
pub const DEFAULT_UNITS: [&str; 4] = [
    "kubelet.service",
    "containerd.service",
    "crio.service",
    "docker.service",
];

/// A journal line longer than this is skipped (the journal caps fields at 64 KiB by
/// default; a bigger line is not a kubelet message).
const MAX_LINE: usize = 1 << 20;

/// How often the cursor is written while entries flow.
const CURSOR_EVERY: Duration = Duration::from_secs(1);

/// Settings of the journal collector.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// `_SYSTEMD_UNIT`s to follow (with systemd's own messages about them).
    pub units: Vec<String>,
    /// `SYSLOG_IDENTIFIER`s to follow, for daemons not run as units.
    pub identifiers: Vec<String>,
    /// Where the cursor is kept between runs; without one, following starts now.
    pub cursor_file: Option<PathBuf>,
    /// The `journalctl` to run.
    pub journalctl: PathBuf,
    /// A journal directory to read instead of the system journal (`journalctl -D`).
    pub directory: Option<PathBuf>,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            units: DEFAULT_UNITS.iter().map(|u| (*u).to_owned()).collect(),
            identifiers: Vec::new(),
            cursor_file: None,
            journalctl: PathBuf::from("journalctl"),
            directory: None,
        }
    }
}

/// Why the journal could not be followed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot run {journalctl}: {source}")]
    Spawn {
        journalctl: String,
        source: std::io::Error,
    },
    #[error("cannot read journalctl's output: {0}")]
    Read(std::io::Error),
    #[error("cannot write the journal cursor to {path}: {source}")]
    Cursor {
        path: String,
        source: std::io::Error,
    },
    #[error("nothing to follow: no units and no identifiers configured")]
    NothingToFollow,
}

/// The fields the collector itself needs from an entry.
#[derive(Deserialize)]
struct Position<'a> {
    #[serde(rename = "__CURSOR", borrow)]
    cursor: std::borrow::Cow<'a, str>,
    #[serde(rename = "__REALTIME_TIMESTAMP", default)]
    realtime_us: Option<std::borrow::Cow<'a, str>>,
}

/// Checks that `journalctl` runs (it is what reads the journal files).
pub async fn check_prerequisites(config: &JournalConfig) -> Result<(), JournalError> {
    if config.units.is_empty() && config.identifiers.is_empty() {
        return Err(JournalError::NothingToFollow);
    }
    Command::new(&config.journalctl)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .await
        .map(|_| ())
        .map_err(|source| JournalError::Spawn {
            journalctl: config.journalctl.display().to_string(),
            source,
        })
}

/// Starts `journalctl` for `config`, resuming after `cursor` when there is one.
fn spawn(config: &JournalConfig, cursor: Option<&str>) -> Result<Child, JournalError> {
    let mut cmd = Command::new(&config.journalctl);
    cmd.args(["--output=json", "--follow", "--all", "--no-pager"]);
    match cursor {
        Some(c) => cmd.arg(format!("--after-cursor={c}")),
        None => cmd.arg("--since=now"),
    };
    if let Some(dir) = &config.directory {
        cmd.arg("--directory").arg(dir);
    }
    // journalctl ORs matches of the same field and of `-u`/`-t` given together.
    for unit in &config.units {
        cmd.arg(format!("--unit={unit}"));
    }
    for id in &config.identifiers {
        cmd.arg(format!("--identifier={id}"));
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| JournalError::Spawn {
            journalctl: config.journalctl.display().to_string(),
            source,
        })
}

/// Follows the journal until `shutdown` completes or `out` closes, restarting
/// `journalctl` (from the last cursor) if it ends, and saves the cursor of the last entry
/// handed on before returning. Lines that are not journal entries are skipped.
pub async fn follow(
    config: JournalConfig,
    out: LineSender,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), JournalError> {
    tokio::pin!(shutdown);
    let mut cursor = match &config.cursor_file {
        Some(path) => tokio::fs::read_to_string(path)
            .await
            .ok()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty()),
        None => None,
    };
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut child = spawn(&config, cursor.as_deref())?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut last_saved = tokio::time::Instant::now();
        let mut saved = cursor.clone();
        loop {
            let next = tokio::select! {
                () = &mut shutdown => {
                    return save_cursor(&config, cursor.as_deref(), &mut saved).await;
                }
                next = lines.next_line() => next.map_err(JournalError::Read)?,
            };
            let Some(line) = next else { break };
            if line.len() > MAX_LINE {
                continue;
            }
            let Ok(position) = serde_json::from_str::<Position<'_>>(&line) else {
                continue;
            };
            let ts = position
                .realtime_us
                .as_deref()
                .and_then(|us| us.parse::<i64>().ok())
                .and_then(|us| Timestamp::from_microsecond(us).ok())
                .unwrap_or_else(Timestamp::now);
            let next_cursor = position.cursor.into_owned();
            let Ok(data) = RawValue::from_string(line) else {
                continue;
            };
            let sent = out
                .send(LiveLine {
                    ts,
                    source: Source::Systemd,
                    data,
                })
                .await;
            if sent.is_err() {
                return save_cursor(&config, cursor.as_deref(), &mut saved).await;
            }
            cursor = Some(next_cursor);
            backoff = Duration::from_millis(200);
            if last_saved.elapsed() >= CURSOR_EVERY {
                save_cursor(&config, cursor.as_deref(), &mut saved).await?;
                last_saved = tokio::time::Instant::now();
            }
        }
        save_cursor(&config, cursor.as_deref(), &mut saved).await?;
        // journalctl ended (rotated away, killed): start again from the cursor.
        let _ = child.wait().await;
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Writes `cursor` (atomically: temporary file, then rename) if it moved.
async fn save_cursor(
    config: &JournalConfig,
    cursor: Option<&str>,
    saved: &mut Option<String>,
) -> Result<(), JournalError> {
    let (Some(path), Some(cursor)) = (&config.cursor_file, cursor) else {
        return Ok(());
    };
    if saved.as_deref() == Some(cursor) {
        return Ok(());
    }
    let err = |source| JournalError::Cursor {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, cursor).await.map_err(err)?;
    tokio::fs::rename(&tmp, path).await.map_err(err)?;
    *saved = Some(cursor.to_owned());
    Ok(())
}
