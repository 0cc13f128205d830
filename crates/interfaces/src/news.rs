//! Which insights of a new analysis are news: not seen before, or changed (an incident
//! that grew or got a better explanation changes its summary).

use std::collections::HashMap;

use tapio_domain::Insight;

/// The summaries last reported, by insight id.
#[derive(Debug, Default)]
pub struct InsightNews {
    shown: HashMap<String, String>,
}

impl InsightNews {
    /// The insights of `latest` that are new or changed since the last call.
    pub fn changed<'a>(&mut self, latest: &'a [Insight]) -> Vec<&'a Insight> {
        latest
            .iter()
            .filter(|i| {
                let news = self.shown.get(&i.id) != Some(&i.summary);
                if news {
                    self.shown.insert(i.id.clone(), i.summary.clone());
                }
                news
            })
            .collect()
    }
}
