//! `config/tapio.yaml`: the collectors to run, the bus buffer and the pipeline endpoint.
//! Unknown fields are rejected and every problem is reported at once, with its line.

use std::fmt;
use std::path::{Path, PathBuf};

use garde::Validate;
use serde::Deserialize;

/// Collector names `collectors.enabled` accepts.
pub const COLLECTORS: [&str; 9] = [
    "kubeapi", "kubelet", "cgroup", "ebpf", "etcd", "systemd", "cni", "dns", "otlp",
];

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Validate)]
#[serde(default)]
pub struct Config {
    #[garde(dive)]
    pub collectors: CollectorsConfig,
    #[garde(dive)]
    pub pipeline: PipelineConfig,
}

/// `collectors:`
#[derive(Debug, Clone, PartialEq, Deserialize, Validate)]
#[serde(default)]
pub struct CollectorsConfig {
    /// Collectors to start (`kubeapi`, `kubelet`, `cgroup`, `ebpf`, `etcd`, `systemd`, `cni`,
    /// `dns`, `otlp`).
    #[garde(custom(known_collectors))]
    pub enabled: Vec<String>,
    /// Observations in flight between collectors and the engine before publishers wait.
    #[garde(range(min = 1, max = 10_000_000))]
    pub buffer_size: usize,
}

/// `pipeline:`
#[derive(Debug, Clone, PartialEq, Deserialize, Validate)]
#[serde(default)]
pub struct PipelineConfig {
    /// `host:port` of the correlation service, or a `nats://` URL for the NATS bus.
    #[garde(custom(endpoint_shape))]
    pub endpoint: String,
    /// Namespace partitions of the NATS events stream (how many correlation-service
    /// partitions share the work); the same for every component of a deployment.
    #[garde(range(min = 1, max = 1024))]
    pub partitions: u32,
}

impl Default for CollectorsConfig {
    fn default() -> Self {
        Self {
            enabled: COLLECTORS.iter().map(|s| s.to_string()).collect(),
            buffer_size: 2000,
        }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            endpoint: "localhost:50051".to_owned(),
            partitions: 1,
        }
    }
}

fn known_collectors(enabled: &[String], _: &()) -> garde::Result {
    let unknown: Vec<&str> = enabled
        .iter()
        .map(String::as_str)
        .filter(|c| !COLLECTORS.contains(c))
        .collect();
    if !unknown.is_empty() {
        return Err(garde::Error::new(format!(
            "unknown collector(s) {}; known: {}",
            unknown.join(", "),
            COLLECTORS.join(", ")
        )));
    }
    let mut seen = enabled.to_vec();
    seen.sort();
    seen.dedup();
    if seen.len() != enabled.len() {
        return Err(garde::Error::new("a collector is listed twice"));
    }
    Ok(())
}

fn endpoint_shape(endpoint: &str, _: &()) -> garde::Result {
    if let Some(rest) = endpoint.strip_prefix("nats://") {
        return if rest.is_empty() {
            Err(garde::Error::new("nats:// URL without a host"))
        } else {
            Ok(())
        };
    }
    match endpoint.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(garde::Error::new(format!(
            "{endpoint:?} is not host:port (e.g. localhost:50051) nor a nats:// URL"
        ))),
    }
}

/// Everything wrong with a configuration file.
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    /// One message per problem, each naming its line where known.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} has {} problem{}:",
            self.path.display(),
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Line (1-based) of the last path segment's key, found under its parents' nesting.
fn line_of_key(text: &str, path: &str) -> Option<usize> {
    let mut from_line = 0;
    let mut line = None;
    for segment in path.split('.') {
        let found = text
            .lines()
            .enumerate()
            .skip(from_line)
            .find(|(_, l)| {
                let t = l.trim_start().trim_start_matches("- ");
                t.strip_prefix(segment)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })?
            .0;
        from_line = found + 1;
        line = Some(found + 1);
    }
    line
}

/// Parses and validates configuration text; `path` only names it in messages.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    let parsed: Result<Config, _> = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_ignored::deserialize(de, |p| unknown.push(p.to_string()))
    });
    let config = match parsed {
        Err(e) => {
            problems.push(e.to_string());
            None
        }
        Ok(config) => {
            // A second pass validates with garde, so that every issue carries its location.
            if let Err(e) = serde_saphyr::from_str_valid::<Config>(text) {
                problems.push(e.to_string());
            }
            Some(config)
        }
    };
    for field in unknown.iter().rev() {
        let line = line_of_key(text, field)
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        problems.insert(0, format!("{line}unknown field `{field}`"));
    }
    match config {
        Some(config) if problems.is_empty() => Ok(config),
        _ => Err(ConfigError {
            path: path.to_owned(),
            problems,
        }),
    }
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.to_owned(),
        problems: vec![format!("cannot read: {e}")],
    })?;
    parse(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config, ConfigError> {
        parse(text, Path::new("tapio.yaml"))
    }

    #[test]
    fn the_shipped_config_is_valid_and_equals_the_defaults() {
        let shipped = load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/tapio.yaml"
        )))
        .unwrap();
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn missing_fields_take_defaults() {
        let c = parse_str("collectors:\n  buffer_size: 10\n").unwrap();
        assert_eq!(c.collectors.buffer_size, 10);
        assert_eq!(c.pipeline.endpoint, "localhost:50051");
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_line() {
        let text = "collectors:\n  enabeld: [kubeapi]\n  enabled: [kubeapi, gadget]\n  buffer_size: 0\npipeline:\n  endpoint: nowhere\n  tls: true\n";
        let err = parse_str(text).unwrap_err();
        let all = err.to_string();
        assert!(
            all.contains("line 2: unknown field `collectors.enabeld`"),
            "{all}"
        );
        assert!(
            all.contains("line 7: unknown field `pipeline.tls`"),
            "{all}"
        );
        assert!(all.contains("gadget"), "{all}");
        assert!(all.contains("buffer_size"), "{all}");
        assert!(all.contains("nowhere"), "{all}");
    }

    #[test]
    fn type_errors_name_their_place() {
        let err = parse_str("collectors:\n  buffer_size: lots\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
