//! One notification per incident: an incident is known by what caused it (root-cause
//! kind and entity) and its pattern, which stay the same while it grows and while its
//! insight is re-derived by every analysis. It is announced again only after
//! `repeat_after` (as Alertmanager's `repeat_interval`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tapio_domain::Insight;

/// Incidents remembered at most; the oldest are forgotten first.
const REMEMBERED: usize = 100_000;

/// The identity of the incident an insight describes.
pub fn fingerprint(i: &Insight) -> String {
    let rc = &i.root_cause;
    let key = format!(
        "{}|{:?}|{}|{}|{}",
        i.pattern,
        rc.kind,
        rc.entity.kind,
        rc.entity.namespace.as_deref().unwrap_or(""),
        rc.entity.name
    );
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
}

/// Which incidents were announced, and when.
#[derive(Debug)]
pub struct Dedup {
    repeat_after: Duration,
    announced: HashMap<String, Instant>,
}

impl Dedup {
    /// Announces an incident again after `repeat_after`.
    pub fn new(repeat_after: Duration) -> Self {
        Self {
            repeat_after,
            announced: HashMap::new(),
        }
    }

    /// Whether `insight` should be announced now (and, if so, records that it was).
    pub fn admit(&mut self, insight: &Insight, now: Instant) -> bool {
        let key = fingerprint(insight);
        if let Some(at) = self.announced.get(&key) {
            if now.duration_since(*at) < self.repeat_after {
                return false;
            }
        }
        if self.announced.len() >= REMEMBERED {
            if let Some(oldest) = self
                .announced
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
            {
                self.announced.remove(&oldest);
            }
        }
        self.announced.insert(key, now);
        true
    }

    /// Forgets that `insight` was announced (its notification could not go out).
    pub fn forget(&mut self, insight: &Insight) {
        self.announced.remove(&fingerprint(insight));
    }
}

/// A token bucket: `burst` notifications at once, refilled at `per_minute`.
#[derive(Debug)]
pub struct RateLimit {
    burst: f64,
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    pub fn new(burst: u32, per_minute: u32, now: Instant) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute) / 60.0,
            tokens: f64::from(burst.max(1)),
            at: now,
        }
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_holds_a_burst_then_refills() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(2, 60, t0);
        assert!(limit.take(t0) && limit.take(t0));
        assert!(!limit.take(t0));
        assert!(limit.take(t0 + Duration::from_secs(1)));
    }
}
