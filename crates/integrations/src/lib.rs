//! L3 integrations: the bus that carries observations from collectors to the engine (an
//! in-process bounded channel by default, NATS JetStream at scale), and the alert sinks
//! that tell people (Alertmanager, Slack) — one notification per incident.

pub mod alerts;
pub mod bus;
