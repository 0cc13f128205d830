//! The bus between collectors and the engine. Publishers block when the bus is full
//! (backpressure), so nothing is dropped silently; consumers see batches in publish order.

mod memory;
pub mod nats;

pub use memory::{memory_bus, MemoryPublisher, MemorySubscriber};

/// Why a publish failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BusError {
    /// Every subscriber is gone; the batch was not delivered.
    #[error("the bus has no subscriber any more")]
    Closed,
    /// NATS refused or failed an operation.
    #[error("NATS: {0}")]
    Nats(String),
}
