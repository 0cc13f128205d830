//! Telemetry kept for analysis: bounded metric series, a compact span store, the calls
//! services make to their peers, and error-log templates.

mod calls;
mod interner;
mod logs;
mod series;
mod spans;

pub use calls::{CallStore, FailingPeer};
pub use logs::{is_error, template, ErrorLogs};
pub use series::{SeriesKey, SeriesStore};
pub use spans::{CompactSpan, SpanStore};
