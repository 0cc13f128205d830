//! L2 intelligence: the topology graph, the correlation engine (event-time windows, causal
//! rules, topology distance, anomaly detection) and the analysis engine (causal chains,
//! confidence, alternatives, recommendations). Pure computation over domain observations.

pub mod analysis;
pub mod anomaly;
pub mod baseline;
pub mod correlation;
mod engine;
pub mod service_rca;
pub mod telemetry;
pub mod topology;

pub use engine::{Engine, EngineStats};
