//! Error logs grouped into templates: the variable parts of a message (numbers, ids,
//! addresses, quoted values) are masked, so that "connection refused to 10.0.3.7:5432" and
//! "connection refused to 10.0.3.9:5432" count as one kind of error. Counts are kept per
//! entity, template and minute, for spike detection.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rustc_hash::FxHashMap as HashMap;
use tapio_domain::{EntityKey, LogRecord};

/// Words of a message kept in its template.
const TEMPLATE_WORDS: usize = 12;
/// Most templates kept per entity (the rest are counted under one overflow template).
const MAX_TEMPLATES: usize = 200;
/// OTLP severity number of ERROR.
const ERROR_SEVERITY: i32 = 17;

/// Whether a log record reports an error: ERROR or worse, or — when it has no severity —
/// an error word in its text.
pub fn is_error(log: &LogRecord) -> bool {
    match log.severity_number {
        Some(n) if n > 0 => n >= ERROR_SEVERITY,
        _ => {
            let b = log.body.to_ascii_lowercase();
            [
                "error",
                "exception",
                "panic",
                "fatal",
                "failed",
                "refused",
                "timeout",
            ]
            .iter()
            .any(|w| b.contains(w))
        }
    }
}

fn is_variable(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_digit())
        || word.starts_with(['"', '\''])
        || (word.len() >= 16 && word.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}

/// The template of a message: its first words with variable parts masked as `<*>`.
pub fn template(body: &str) -> String {
    body.split_whitespace()
        .take(TEMPLATE_WORDS)
        .map(|w| if is_variable(w) { "<*>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Errors of one template on one entity, counted per minute (minute since the epoch).
#[derive(Debug)]
pub struct ErrorLogSeries<'a> {
    pub entity: &'a EntityKey,
    pub template: &'a str,
    pub counts: Vec<(i64, f64)>,
}

/// Error-log counts per entity, template and minute.
#[derive(Debug, Default)]
pub struct ErrorLogs {
    counts: HashMap<EntityKey, HashMap<String, BTreeMap<i64, u32>>>,
    /// First and last minute of any log seen (errors or not): the window counts live in.
    span: Option<(i64, i64)>,
}

impl ErrorLogs {
    /// Counts one record if it reports an error.
    pub fn push(&mut self, log: &LogRecord) {
        let minute = log.at.as_second().div_euclid(60);
        self.span = Some(
            self.span
                .map_or((minute, minute), |(a, b)| (a.min(minute), b.max(minute))),
        );
        if !is_error(log) {
            return;
        }
        let templates = self.counts.entry(log.entity.key()).or_default();
        let mut t = template(&log.body);
        if !templates.contains_key(&t) && templates.len() >= MAX_TEMPLATES {
            t = "<other errors>".to_owned();
        }
        *templates.entry(t).or_default().entry(minute).or_default() += 1;
    }

    /// Forgets the counts of minutes before `horizon`.
    pub fn forget_before(&mut self, horizon: Timestamp) {
        let first = horizon.as_second().div_euclid(60);
        for templates in self.counts.values_mut() {
            for minutes in templates.values_mut() {
                *minutes = minutes.split_off(&first);
            }
            templates.retain(|_, minutes| !minutes.is_empty());
        }
        self.counts.retain(|_, templates| !templates.is_empty());
        self.span = self
            .span
            .filter(|&(_, last)| last >= first)
            .map(|(a, b)| (a.max(first), b));
    }

    /// Every (entity, template) with its per-minute counts over the whole log window,
    /// minutes without errors included as zeros.
    pub fn series(&self) -> Vec<ErrorLogSeries<'_>> {
        let Some((first, last)) = self.span else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (entity, templates) in &self.counts {
            for (t, minutes) in templates {
                let points = (first..=last)
                    .map(|m| (m, f64::from(minutes.get(&m).copied().unwrap_or(0))))
                    .collect();
                out.push(ErrorLogSeries {
                    entity,
                    template: t,
                    counts: points,
                });
            }
        }
        out.sort_by(|a, b| (a.entity, a.template).cmp(&(b.entity, b.template)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn variable_parts_are_masked() {
        assert_eq!(
            template("connection refused to 10.0.3.7:5432 after 3 retries"),
            template("connection refused to 10.0.3.9:5432 after 5 retries")
        );
        assert_eq!(template("user \"bob\" not found"), "user <*> not found");
        assert_ne!(template("disk full"), template("connection refused"));
    }

    proptest! {
        #[test]
        fn templates_never_panic_and_stay_short(s in ".{0,400}") {
            let t = template(&s);
            prop_assert!(t.split_whitespace().count() <= TEMPLATE_WORDS);
        }
    }
}
