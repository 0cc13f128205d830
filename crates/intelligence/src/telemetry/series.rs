//! Bounded metric series keyed by entity, metric name and point attributes.

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;

use jiff::Timestamp;
use tapio_domain::{EntityKey, MetricSample};

/// Identity of one series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub entity: EntityKey,
    /// The service the entity belongs to (`service.name`), when the source said.
    pub service: Option<String>,
    pub metric: String,
    pub attributes: Vec<(String, String)>,
}

/// One series' points, and whether it got any since the last analysis.
#[derive(Debug, Default)]
struct Series {
    points: VecDeque<(Timestamp, f64)>,
    changed: bool,
}

/// Keeps the most recent points of every series; the oldest points leave first.
#[derive(Debug)]
pub struct SeriesStore {
    series: HashMap<SeriesKey, Series>,
    /// Last raw value of each counter series, to turn the next one into a rate.
    counter_last: HashMap<SeriesKey, (Timestamp, f64)>,

    max_points: usize,
    /// Points dropped because a series was full (memory bound), counted.
    pub evicted_points: u64,
}

impl Default for SeriesStore {
    fn default() -> Self {
        Self::new(720)
    }
}

impl SeriesStore {
    /// A store keeping at most `max_points` per series.
    pub fn new(max_points: usize) -> Self {
        Self {
            series: HashMap::default(),
            counter_last: HashMap::default(),

            max_points: max_points.max(8),
            evicted_points: 0,
        }
    }

    /// Forgets the points before `horizon`, and series (with their counters' last values)
    /// that have none left.
    pub fn forget_before(&mut self, horizon: Timestamp) {
        for series in self.series.values_mut() {
            while series.points.front().is_some_and(|(t, _)| *t < horizon) {
                series.points.pop_front();
            }
        }
        self.series.retain(|_, s| !s.points.is_empty());
        self.counter_last.retain(|_, (t, _)| *t >= horizon);
    }

    /// Points held, and how many of them are at or after `from`.
    pub fn points_since(&self, from: Timestamp) -> (usize, usize) {
        self.series.values().fold((0, 0), |(all, recent), s| {
            let newer = s.points.iter().filter(|(t, _)| *t >= from).count();
            (all + s.points.len(), recent + newer)
        })
    }

    /// Adds one sample. Counters are stored as per-second rates between consecutive
    /// samples (a reset, where the counter goes down, starts over).
    pub fn push(&mut self, sample: &MetricSample) {
        let mut value = sample.value;
        let key = SeriesKey {
            entity: sample.entity.key(),
            service: sample.service.clone(),
            metric: sample.name.clone(),
            attributes: sample.attributes.clone(),
        };
        if sample.counter {
            let last = self
                .counter_last
                .insert(key.clone(), (sample.at, sample.value));
            let Some((t0, v0)) = last else { return };
            let dt = sample.at.duration_since(t0).as_secs_f64();
            if dt <= 0.0 || sample.value < v0 {
                return;
            }
            value = (sample.value - v0) / dt;
        }
        let series = self.series.entry(key).or_default();
        series.changed = true;
        let points = &mut series.points;
        // Points arrive in event-time order from the reader; keep it sorted if not.
        let pos = points
            .iter()
            .rposition(|(t, _)| *t <= sample.at)
            .map_or(0, |p| p + 1);
        points.insert(pos, (sample.at, value));
        if points.len() > self.max_points {
            points.pop_front();
            self.evicted_points += 1;
        }
    }

    /// The series that got points since the last call, with their points: what a repeated
    /// analysis needs to look at again.
    pub fn take_changed(&mut self) -> Vec<(SeriesKey, Vec<(Timestamp, f64)>)> {
        let mut out: Vec<(SeriesKey, Vec<(Timestamp, f64)>)> = self
            .series
            .iter_mut()
            .filter(|(_, s)| s.changed)
            .map(|(k, s)| {
                s.changed = false;
                (k.clone(), s.points.iter().copied().collect())
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every series.
    pub fn iter(&self) -> impl Iterator<Item = (&SeriesKey, &VecDeque<(Timestamp, f64)>)> {
        self.series.iter().map(|(k, s)| (k, &s.points))
    }

    /// Series of one entity and metric, any attributes.
    pub fn of(
        &self,
        entity: &EntityKey,
        metric: &str,
    ) -> Vec<(&SeriesKey, &VecDeque<(Timestamp, f64)>)> {
        let mut v: Vec<_> = self
            .iter()
            .filter(|(k, _)| &k.entity == entity && k.metric == metric)
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether there is no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}
