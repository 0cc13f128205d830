//! Metric series on a common time grid of rows, classified into signal families.

use std::collections::BTreeMap;

use tapio_domain::EntityKind;

use crate::anomaly::median;
use crate::telemetry::SeriesStore;

/// At most this many rows are analysed (the most recent ones).
const MAX_ROWS: usize = 2_000;

/// What a metric series measures, for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Resource use (CPU, memory, syscalls, bytes, throughput).
    Resource,
    /// Latency, duration, success or error rates of what the service serves.
    Latency,
    /// Latency of calls the service makes (not scored on the service itself).
    ClientLatency,
    /// Per-edge latency as the caller reports it.
    EdgeBySource,
    /// Per-edge latency as the callee reports it.
    EdgeByDestination,
}

impl Family {
    /// Absolute floor of the robust scale: latencies are in seconds (1 ms floor).
    pub fn abs_floor(self) -> f64 {
        match self {
            Self::Resource => 1e-6,
            _ => 1e-3,
        }
    }

    fn of_metric(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase();
        // Node-wide metrics say nothing about one service; limits and requests are settings.
        if n.starts_with("node_") || n.contains("limit") || n.contains("resource_requests") {
            return None;
        }
        let latency_like = ["latency", "duration", "success", "error"]
            .iter()
            .any(|k| n.contains(k));
        Some(match (latency_like, n.contains("client")) {
            (true, true) => Self::ClientLatency,
            (true, false) => Self::Latency,
            _ => Self::Resource,
        })
    }
}

/// One series on the grid, attributed to a service.
#[derive(Debug, Clone)]
pub struct Signal {
    /// The service it is evidence about (for edges: the callee).
    pub service: String,
    pub family: Family,
    pub label: String,
    /// For edges: the caller.
    pub caller: Option<String>,
    /// Value per row (`None` where the series had no point).
    pub rows: Vec<Option<f64>>,
}

/// Every signal on one grid of rows.
#[derive(Debug, Clone)]
pub struct MetricGrid {
    pub signals: Vec<Signal>,
    /// Time of row 0, seconds since the epoch.
    pub t_first: f64,
    /// Row width in seconds (the typical sampling interval).
    pub row_secs: f64,
    pub rows: usize,
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl MetricGrid {
    /// Puts every service-attributed series on a grid; `None` if there is none.
    pub fn build(series: &SeriesStore) -> Option<Self> {
        struct Raw {
            service: String,
            family: Family,
            label: String,
            caller: Option<String>,
            points: Vec<(f64, f64)>,
        }
        let mut raw: Vec<Raw> = Vec::new();
        for (key, points) in series.iter() {
            let pts: Vec<(f64, f64)> = points
                .iter()
                .map(|(t, v)| (t.as_nanosecond() as f64 / 1e9, *v))
                .collect();
            if pts.is_empty() {
                continue;
            }
            let attrs = &key.attributes;
            if let (Some(src), Some(dst)) = (
                attr(attrs, "source_workload"),
                attr(attrs, "destination_workload"),
            ) {
                let reporter = attr(attrs, "reporter").unwrap_or("source");
                raw.push(Raw {
                    service: dst.to_owned(),
                    family: if reporter == "source" {
                        Family::EdgeBySource
                    } else {
                        Family::EdgeByDestination
                    },
                    label: format!("{src}->{dst} {} ({reporter})", key.metric),
                    caller: Some(src.to_owned()),
                    points: pts,
                });
                continue;
            }
            let service = match (&key.service, key.entity.kind) {
                (Some(s), _) => s.clone(),
                (None, EntityKind::Service) => key.entity.name.clone(),
                _ => continue,
            };
            let Some(family) = Family::of_metric(&key.metric) else {
                continue;
            };
            raw.push(Raw {
                service,
                family,
                label: format!("{} {}", key.entity.name, key.metric),
                caller: None,
                points: pts,
            });
        }
        if raw.is_empty() {
            return None;
        }
        raw.sort_by(|a, b| a.label.cmp(&b.label).then(a.service.cmp(&b.service)));
        let t_last = raw
            .iter()
            .flat_map(|r| r.points.iter().map(|p| p.0))
            .fold(f64::MIN, f64::max);
        let intervals: Vec<f64> = raw
            .iter()
            .filter_map(|r| {
                let d: Vec<f64> = r
                    .points
                    .windows(2)
                    .map(|w| w[1].0 - w[0].0)
                    .filter(|d| *d > 0.0)
                    .collect();
                (!d.is_empty()).then(|| median(&d))
            })
            .collect();
        let row_secs = if intervals.is_empty() {
            60.0
        } else {
            median(&intervals).clamp(10.0, 300.0)
        };
        let t_min = raw
            .iter()
            .flat_map(|r| r.points.iter().map(|p| p.0))
            .fold(f64::MAX, f64::min);
        let t_first = t_min.max(t_last - row_secs * (MAX_ROWS as f64 - 1.0));
        let row_of = |t: f64| ((t - t_first) / row_secs).round();
        let rows = row_of(t_last) as usize + 1;
        let signals = raw
            .into_iter()
            .map(|r| {
                let mut cells: BTreeMap<usize, f64> = BTreeMap::new();
                for (t, v) in r.points {
                    let row = row_of(t);
                    if row >= 0.0 && v.is_finite() {
                        cells.insert(row as usize, v);
                    }
                }
                let mut rows_v = vec![None; rows];
                for (i, v) in cells {
                    if i < rows {
                        rows_v[i] = Some(v);
                    }
                }
                Signal {
                    service: r.service,
                    family: r.family,
                    label: r.label,
                    caller: r.caller,
                    rows: rows_v,
                }
            })
            .collect();
        Some(Self {
            signals,
            t_first,
            row_secs,
            rows,
        })
    }
}
