//! Backward search from a symptom to its possible causes: at each step, every rule whose
//! effect matches proposes earlier events related as the rule requires; the best few are
//! followed further back (a small beam), giving candidate chains root-first.

use jiff::SignedDuration;

use super::link::Link;
use super::rules::{CausalRule, RULES};
use super::timeline::Timeline;
use crate::topology::Topology;

/// A cause may be stamped slightly after its effect (different clocks, sampling).
const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(10);
/// How many causes are followed at each step.
const BEAM: usize = 3;
/// Longest chain followed.
const MAX_DEPTH: usize = 8;
/// Most chains returned for one symptom.
const MAX_CHAINS: usize = 64;

/// One step of a chain: an event and, unless it is the symptom, the rule that links it to
/// the next step with the strength of that link.
#[derive(Debug, Clone)]
pub struct CausalStep {
    /// Index of the event in the timeline.
    pub event: usize,
    /// The rule linking this step to the next one (`None` for the symptom).
    pub rule: Option<&'static CausalRule>,
    /// Link strength: rule prior discounted by the lag.
    pub strength: f64,
    /// Why this step leads to the next.
    pub why: String,
}

/// Finds causes of events on a timeline along a topology.
pub struct ChainSearch<'a> {
    pub timeline: &'a Timeline,
    pub topology: &'a Topology,
}

impl ChainSearch<'_> {
    /// Candidate causes of the event at `effect_idx`, strongest first.
    pub fn causes_of(&self, effect_idx: usize) -> Vec<CausalStep> {
        let effect = self.timeline.get(effect_idx);
        let mut out: Vec<CausalStep> = Vec::new();
        for rule in RULES.iter().filter(|r| (r.effect)(effect)) {
            let from = effect.at - rule.max_delay;
            let to = effect.at + CLOCK_SKEW;
            let candidates: Vec<usize> = match rule.link {
                Link::SameNode => match &effect.node {
                    Some(node) => self.timeline.on_node(node, from, to),
                    None => Vec::new(),
                },
                link => link
                    .candidate_entities(effect, self.topology)
                    .iter()
                    .flat_map(|k| self.timeline.of_entity(k, from, to))
                    .collect(),
            };
            for idx in candidates {
                if idx == effect_idx {
                    continue;
                }
                let cause = self.timeline.get(idx);
                if !(rule.cause)(cause) || !rule.link.holds(cause, effect, self.topology) {
                    continue;
                }
                let lag = effect.at.duration_since(cause.at).as_secs_f64().max(0.0);
                let max = rule.max_delay.as_secs_f64().max(1.0);
                let strength = rule.prior * (1.0 - 0.3 * (lag / max).min(1.0));
                out.push(CausalStep {
                    event: idx,
                    rule: Some(rule),
                    strength,
                    why: (rule.why)(cause, effect),
                });
            }
        }
        // Strongest first; among equals the later cause (closest to the effect) first.
        out.sort_by(|a, b| {
            b.strength
                .total_cmp(&a.strength)
                .then_with(|| {
                    self.timeline
                        .get(b.event)
                        .at
                        .cmp(&self.timeline.get(a.event).at)
                })
                .then_with(|| a.event.cmp(&b.event))
        });
        out.dedup_by_key(|s| s.event);
        out
    }

    /// Every candidate chain ending at `symptom_idx`, root first, symptom last.
    pub fn chains(&self, symptom_idx: usize) -> Vec<Vec<CausalStep>> {
        let symptom = CausalStep {
            event: symptom_idx,
            rule: None,
            strength: 1.0,
            why: String::new(),
        };
        let mut done = Vec::new();
        self.extend(vec![symptom], &mut done);
        for chain in &mut done {
            chain.reverse();
        }
        done
    }

    fn extend(&self, path: Vec<CausalStep>, done: &mut Vec<Vec<CausalStep>>) {
        if done.len() >= MAX_CHAINS {
            return;
        }
        let head = path.last().map(|s| s.event).unwrap_or_default();
        let causes: Vec<CausalStep> = if path.len() > MAX_DEPTH {
            Vec::new()
        } else {
            self.causes_of(head)
                .into_iter()
                .filter(|c| path.iter().all(|p| p.event != c.event))
                .take(BEAM)
                .collect()
        };
        if causes.is_empty() {
            done.push(path);
            return;
        }
        for cause in causes {
            let mut next = path.clone();
            next.push(cause);
            self.extend(next, done);
        }
    }
}
