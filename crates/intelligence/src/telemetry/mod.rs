//! Telemetry kept for analysis: bounded metric series, a compact span store and error-log
//! templates.

mod logs;
mod series;
mod spans;

pub use logs::{is_error, template, ErrorLogs};
pub use series::{SeriesKey, SeriesStore};
pub use spans::{CompactSpan, SpanStore};
