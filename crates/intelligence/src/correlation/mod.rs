//! The correlation engine: events on an event-time timeline, a catalogue of causal rules
//! (one file per family under `rules/`), and the backward search that links a symptom to
//! its causes along the topology.

mod chain;
mod link;
pub mod rules;
mod timeline;

pub use chain::{CausalStep, ChainSearch};
pub(crate) use link::caller_workloads;
pub use link::Link;
pub use rules::{CausalRule, RULES};
pub use timeline::Timeline;
