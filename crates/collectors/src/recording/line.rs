//! One line of a recording, as read.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tapio_domain::Source;

/// The framing of one recording line. `data` stays unparsed until its source's parser
/// reads it into that source's own types.
#[derive(Debug, Deserialize, Serialize)]
pub struct RecordLine<'a> {
    #[serde(borrow)]
    pub ts: &'a str,
    #[serde(borrow)]
    pub source: &'a str,
    #[serde(borrow)]
    pub data: &'a RawValue,
}

/// A well-formed line from a known source, ready for its parser.
#[derive(Debug, Clone)]
pub struct Record {
    /// 1-based line number in the input.
    pub line: u64,
    /// Event time (`ts`).
    pub ts: Timestamp,
    pub source: Source,
    /// The `data` payload, verbatim.
    pub data: Box<RawValue>,
}

impl Record {
    /// The record a live collector's JSON payload makes, as the first line of its input.
    pub fn live(source: Source, data: &serde_json::Value) -> Self {
        Self {
            line: 1,
            ts: Timestamp::now(),
            source,
            data: serde_json::value::to_raw_value(data).expect("a JSON value serialises"),
        }
    }
}
