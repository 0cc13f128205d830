//! L3 integrations: the bus that carries observations from collectors to the engine (an
//! in-process bounded channel by default), and — as they land — storage, exporters and
//! alert sinks.

pub mod bus;
