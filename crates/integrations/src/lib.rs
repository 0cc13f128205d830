//! L3 integrations: the bus that carries observations from collectors to the engine (an
//! in-process bounded channel by default, NATS JetStream at scale), and — as they land —
//! storage, exporters and alert sinks.

pub mod bus;
