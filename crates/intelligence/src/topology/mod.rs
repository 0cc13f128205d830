//! The live topology graph: which entity owns, mounts, selects, runs on or calls which,
//! with history so that it can be asked how things stood at a past event time.

mod graph;

pub use graph::{short_host, Edge, EdgeKind, EntityVersion, Topology};
