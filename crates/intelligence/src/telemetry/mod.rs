//! Telemetry kept for analysis: bounded metric series and a compact span store.

mod series;
mod spans;

pub use series::{SeriesKey, SeriesStore};
pub use spans::{CompactSpan, SpanStore};
