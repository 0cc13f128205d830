//! Anomaly detection on telemetry: robust statistics, change-point onsets and sustained
//! growth runs — each turned into an event on the common timeline by the engine.

mod onset;
mod stats;

pub use onset::{detect_growth_runs, detect_onset, GrowthParams, Onset, OnsetParams};
pub use stats::{median, robust_scale, RobustBaseline};
