//! Anomaly detection on telemetry: metric series per entity, robust change-point onsets,
//! and usage approaching a limit — each turned into an event on the common timeline.

mod onset;
mod series;

pub use onset::{detect_growth_runs, detect_onset, median, GrowthParams, Onset, OnsetParams};
pub use series::{SeriesKey, SeriesStore};
