//! L1 collectors: read what the cluster and its nodes did — live or from a recording — and
//! turn it into domain observations with the same parser either way.

pub mod cgroup;
pub mod emit;
pub mod kubeapi;
pub mod kubelet;
pub mod kubelet_poll;
pub mod node_agents;
pub mod node_sources;
pub mod otlp;
pub mod otlp_receiver;
pub mod quantity;
pub mod recording;
mod replay;

pub use replay::{Replay, ReplayStats, SourceParsers};

/// Why one record's payload could not be parsed. The record is skipped; the rest goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{0}")]
    Payload(String),
}
