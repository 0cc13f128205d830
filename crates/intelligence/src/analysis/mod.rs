//! The analysis engine: groups symptoms into incidents per workload, picks the best
//! causal chain for each, names its root cause with a confidence, lists the alternatives
//! it ranked lower and what to do about it.

mod cascade;
mod incidents;
mod insights;
mod partitions;
mod recommend;
mod roots;
mod service_insights;

pub use cascade::widen_with_callers;
pub use incidents::{find_incidents, Incident};
pub use insights::{explain_incidents, Analysis};
pub use partitions::merge_partitions;
pub use roots::{root_of, RootClass};
pub use service_insights::service_insights;

/// A stable insight id: the same parts (pattern, root, subject...) give the same id.
fn insight_id(parts: &[&[u8]]) -> String {
    let mut h = blake3::Hasher::new();
    for part in parts {
        h.update(part);
    }
    format!("in-{}", &h.finalize().to_hex()[..16])
}

/// Adds to `into` what it does not hold yet (affected objects of merged insights).
fn extend_unique<T: PartialEq>(into: &mut Vec<T>, more: impl IntoIterator<Item = T>) {
    for item in more {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

/// Confidences are reported with two decimals.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
