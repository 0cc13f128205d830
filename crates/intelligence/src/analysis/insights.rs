//! From incidents to insights: the best chain per incident, its root cause and
//! confidence, the evidence behind every step, alternatives, and next steps.

use std::collections::BTreeMap;

use jiff::Timestamp;
use tapio_domain::telemetry::metric_names;
use tapio_domain::{
    Alternative, ChainStep, EntityKey, EntityKind, EntityName, Event, EventId, EventKind, Insight,
    RootCause, RootCauseKind, Symptom,
};

use super::incidents::Incident;
use super::recommend::recommend;
use super::roots::{is_workload_change, root_of, RootClass};
use super::{extend_unique, insight_id, round2};
use crate::correlation::rules::CROSS_SERVICE_RULES;
use crate::correlation::{caller_workloads, CausalStep, ChainSearch, Timeline};
use crate::telemetry::SeriesStore;
use crate::topology::Topology;

/// Symptoms whose chains are tried per incident (the latest of each kind).
const SYMPTOMS_TRIED: usize = 10;
/// Evidence ids listed per chain step.
const EVIDENCE_PER_STEP: usize = 20;

/// What the analysis reads.
pub struct Analysis<'a> {
    pub timeline: &'a Timeline,
    pub topology: &'a Topology,
    pub series: &'a SeriesStore,
}

/// A scored chain, root first, trimmed to start at a root-capable event.
struct Scored {
    steps: Vec<CausalStep>,
    root: RootClass,
    score: f64,
    confidence: f64,
    /// Why other evidence speaks against this chain, when it does.
    contradicted: Option<String>,
}

fn score_chain(timeline: &Timeline, chain: &[CausalStep]) -> Option<Scored> {
    let start = chain
        .iter()
        .position(|s| root_of(timeline.get(s.event)).is_some())?;
    let steps = chain[start..].to_vec();
    let mut root = root_of(timeline.get(steps[0].event))?;
    // A failure that spread to the services calling it is a dependency failure for them.
    let cascades = steps.iter().any(|s| {
        s.rule
            .is_some_and(|r| CROSS_SERVICE_RULES.contains(&r.name))
    });
    if cascades
        && matches!(
            root.kind,
            RootCauseKind::ApplicationError | RootCauseKind::Unknown
        )
    {
        root = RootClass {
            kind: RootCauseKind::DependencyFailure,
            weight: root.weight.max(0.6),
        };
    }
    let links: Vec<f64> = steps[..steps.len() - 1]
        .iter()
        .map(|s| s.strength)
        .collect();
    let mean_strength = if links.is_empty() {
        1.0
    } else {
        (links.iter().map(|s| s.ln()).sum::<f64>() / links.len() as f64).exp()
    };
    let confidence = (root.weight * mean_strength).clamp(0.05, 0.97);
    // Longer explanations are preferred when their links are as strong.
    let score = confidence * (1.0 + 0.06 * links.len() as f64);
    Some(Scored {
        steps,
        root,
        score,
        confidence,
        contradicted: None,
    })
}

/// Calls into one dependency failing for several services at once: the dependency's name
/// and the callers.
fn shared_failure(e: &Event) -> Option<(&str, &[String])> {
    match &e.kind {
        EventKind::CallsFailing { callers, .. } if callers.len() > 1 => {
            Some((e.entity.name.as_str(), callers))
        }
        _ => None,
    }
}

/// A change someone made to one workload cannot explain the same failures in services it
/// did not touch. When another chain shows calls into a dependency failing for several
/// services at once, chains that blame a change for those failures keep a fraction of
/// their score and confidence.
fn demote_changes_with_shared_failures(timeline: &Timeline, scored: &mut [Scored]) {
    const CONTRADICTED: f64 = 0.6;
    let shared = scored
        .iter()
        .flat_map(|s| s.steps.iter())
        .find_map(|step| shared_failure(timeline.get(step.event)));
    let Some((dependency, callers)) = shared else {
        return;
    };
    for s in scored
        .iter_mut()
        .filter(|s| is_workload_change(s.root.kind))
    {
        s.score *= CONTRADICTED;
        s.confidence *= CONTRADICTED;
        s.contradicted = Some(format!(
            "calls into {dependency} failed for several services at once ({}): a change to one workload does not explain that",
            callers.join(", ")
        ));
    }
}

/// Calls into one dependency failing for several services at once are a root of their own
/// (the dependency), also where a chain leads further back from them (a change to one of
/// those services just before): the chain from that step on competes with the longer one.
fn add_shared_failures_as_roots(timeline: &Timeline, scored: &mut Vec<Scored>) {
    let shared = |step: &CausalStep| shared_failure(timeline.get(step.event)).is_some();
    let tails: Vec<Vec<CausalStep>> = scored
        .iter()
        .flat_map(|s| {
            (1..s.steps.len())
                .filter(|&k| shared(&s.steps[k]))
                .map(|k| s.steps[k..].to_vec())
        })
        .collect();
    for tail in tails {
        let known = scored.iter().any(|s| {
            s.steps.len() == tail.len()
                && s.steps.iter().zip(&tail).all(|(a, b)| a.event == b.event)
        });
        if !known {
            scored.extend(score_chain(timeline, &tail));
        }
    }
}

/// A root that another chain explains further back (its steps are that chain's tail, and
/// the extra links hold) is not a root: memory that grew because a pool filled up is not
/// a leak. Such chains keep a fraction of their score.
fn demote_explained_roots(timeline: &Timeline, scored: &mut [Scored]) {
    const EXPLAINED: f64 = 0.8;
    const LINK_HOLDS: f64 = 0.5;
    // Steps compared by what they are (entity and label), not by event: two onsets of
    // one series are the same step.
    let events: Vec<Vec<(EntityKey, String)>> = scored
        .iter()
        .map(|s| {
            s.steps
                .iter()
                .map(|x| {
                    let e = timeline.get(x.event);
                    (e.entity.key(), step_label(e))
                })
                .collect()
        })
        .collect();
    let explained: Vec<bool> = scored
        .iter()
        .enumerate()
        .map(|(i, a)| {
            scored.iter().enumerate().any(|(j, b)| {
                j != i
                    && events[j].len() > events[i].len()
                    && events[j].ends_with(&events[i])
                    && b.steps[..events[j].len() - events[i].len()]
                        .iter()
                        .all(|s| s.strength >= LINK_HOLDS)
                    && a.root.kind != b.root.kind
            })
        })
        .collect();
    for (s, e) in scored.iter_mut().zip(explained) {
        if e {
            s.score *= EXPLAINED;
        }
    }
}

/// Whether the incident comes back at a regular interval on new instances each time (a
/// CronJob whose every run fails): bursts separated by quiet gaps, at least three, evenly
/// spaced, each on entities the previous ones did not have. One pod failing and being
/// retried is a persistent failure, not a periodic one. Returns the interval and the
/// number of bursts.
fn recurrence(symptoms: impl Iterator<Item = (Timestamp, EntityKey)>) -> Option<(String, usize)> {
    const QUIET: f64 = 120.0;
    const MIN_BURSTS: usize = 3;
    const MAX_SPREAD: f64 = 0.3;
    let mut symptoms: Vec<(f64, EntityKey)> =
        symptoms.map(|(t, k)| (t.as_second() as f64, k)).collect();
    symptoms.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut starts: Vec<f64> = Vec::new();
    let mut seen: Vec<&EntityKey> = Vec::new();
    for (i, (t, who)) in symptoms.iter().enumerate() {
        if i == 0 || t - symptoms[i - 1].0 > QUIET {
            if seen.contains(&who) {
                return None;
            }
            starts.push(*t);
        }
        seen.push(who);
    }
    if starts.len() < MIN_BURSTS {
        return None;
    }
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
    (mean > 0.0 && sd / mean <= MAX_SPREAD).then(|| {
        let every = short_ago(
            Timestamp::UNIX_EPOCH,
            Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs_f64(mean),
        );
        (every, starts.len())
    })
}

fn slug(kind: RootCauseKind) -> String {
    let name = format!("{kind:?}");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn symptom_label(e: &Event) -> String {
    match &e.kind {
        EventKind::ContainerWaiting { reason, .. } => reason.clone(),
        EventKind::ContainerTerminated {
            reason, exit_code, ..
        } => format!("{reason} (exit {exit_code})"),
        EventKind::PodEvicted { .. } => "Evicted".to_owned(),
        EventKind::SchedulingFailed { .. } => "FailedScheduling".to_owned(),
        EventKind::CreateFailed { .. } => "FailedCreate".to_owned(),
        EventKind::SandboxFailed { .. } => "FailedCreatePodSandBox".to_owned(),
        EventKind::JobFailed { reason, .. } => reason.clone(),
        EventKind::NodeConditionChanged {
            condition, status, ..
        } => format!("{condition}={status}"),
        EventKind::ProbeFailed { probe, .. } => format!("{probe:?} probe failures"),
        EventKind::CallsFailing { callers, .. } => {
            format!("calls from {} failing", callers.join(", "))
        }
        EventKind::EtcdTrouble { what, message } if message.is_empty() => format!("etcd {what}"),
        EventKind::EtcdTrouble { message, .. } => format!("etcd {message}"),
        other => other.name().to_owned(),
    }
}

fn step_label(e: &Event) -> String {
    match &e.kind {
        EventKind::MetricAnomaly { metric, .. } => format!("MetricAnomaly({metric})"),
        EventKind::ContainerWaiting { .. }
        | EventKind::ContainerTerminated { .. }
        | EventKind::PodEvicted { .. }
        | EventKind::SchedulingFailed { .. }
        | EventKind::NodeConditionChanged { .. } => symptom_label(e),
        other => {
            let n = other.name();
            n.split('_').map(capitalise).collect()
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn short_ago(from: Timestamp, to: Timestamp) -> String {
    let secs = to.duration_since(from).as_secs().max(0);
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

impl Analysis<'_> {
    fn search(&self) -> ChainSearch<'_> {
        ChainSearch {
            timeline: self.timeline,
            topology: self.topology,
        }
    }

    /// The symptoms to try: the first and the latest of each distinct label, most recent
    /// first.
    fn symptoms_to_try(&self, incident: &Incident) -> Vec<usize> {
        let mut first_last: BTreeMap<(String, EntityKey), (usize, usize)> = BTreeMap::new();
        for &i in &incident.symptoms {
            let e = self.timeline.get(i);
            // One per label and entity kind: pods of one workload are alike, etcd
            // members or nodes are not.
            let who = if e.entity.kind == EntityKind::Pod {
                EntityKey {
                    cluster: None,
                    kind: EntityKind::Pod,
                    namespace: None,
                    name: String::new(),
                }
            } else {
                e.entity.key()
            };
            // The first occurrence (causes precede the first sign of trouble) and the
            // latest (the state the incident is in now).
            first_last
                .entry((symptom_label(e), who))
                .and_modify(|fl| fl.1 = i)
                .or_insert((i, i));
        }
        let mut v: Vec<usize> = first_last.into_values().flat_map(|(f, l)| [f, l]).collect();
        v.sort_unstable();
        v.dedup();
        v.sort_by_key(|&i| std::cmp::Reverse((self.timeline.get(i).at, i)));
        v.truncate(SYMPTOMS_TRIED);
        v
    }

    /// Ids of events like `e` (same kind and label) on other entities of the incident.
    fn evidence_for(
        &self,
        e: &Event,
        incident: &Incident,
        around: (Timestamp, Timestamp),
    ) -> Vec<EventId> {
        let mut ids = vec![e.id];
        let label = step_label(e);
        for key in &incident.affected {
            if *key == e.entity.key() {
                continue;
            }
            for i in self.timeline.of_entity(key, around.0, around.1) {
                let other = self.timeline.get(i);
                if other.kind.name() == e.kind.name()
                    && step_label(other) == label
                    && ids.len() < EVIDENCE_PER_STEP
                {
                    ids.push(other.id);
                }
            }
        }
        ids
    }

    fn memory_limit(&self, pod: &EntityKey, container: Option<&str>) -> Option<f64> {
        self.series
            .of(pod, metric_names::MEMORY_LIMIT)
            .into_iter()
            .filter(|(k, _)| {
                container
                    .is_none_or(|c| k.attributes.iter().any(|(a, v)| a == "container" && v == c))
            })
            .find_map(|(_, pts)| pts.back().map(|p| p.1))
    }

    fn root_cause(&self, e: &Event, kind: RootCauseKind, subject: &EntityKey) -> RootCause {
        // A DNS failure is the resolver's, not the asking pod's.
        let resolver = match &e.kind {
            EventKind::DnsFailure { server, .. } => self.topology.by_address(server).cloned(),
            _ => None,
        };
        let key = resolver.unwrap_or_else(|| e.entity.key());
        let workload = if key.kind.is_workload() {
            Some(key.clone())
        } else if key.kind == EntityKind::Pod {
            self.topology.workload_of(&key, e.at)
        } else if key.kind == EntityKind::Service {
            None
        } else {
            subject.kind.is_workload().then(|| subject.clone())
        };
        let service = match key.kind {
            EntityKind::Pod | EntityKind::Service => self.topology.service_name(&key, e.at),
            _ => workload.as_ref().and_then(|w| {
                self.topology
                    .pods_of(w, e.at)
                    .first()
                    .and_then(|p| self.topology.service_name(p, e.at))
            }),
        };
        RootCause {
            kind,
            entity: EntityName::from(&key.to_ref()),
            workload: workload.map(|w| format!("{}/{}", w.kind, w.name)),
            service,
            at: e.at,
        }
    }

    /// Explains one incident, or `None` if no chain could be scored.
    fn explain(&self, incident: &Incident) -> Option<Insight> {
        let search = self.search();
        let mut scored: Vec<Scored> = self
            .symptoms_to_try(incident)
            .into_iter()
            .flat_map(|s| search.chains(s))
            .filter_map(|c| score_chain(self.timeline, &c))
            .collect();
        add_shared_failures_as_roots(self.timeline, &mut scored);
        demote_explained_roots(self.timeline, &mut scored);
        demote_changes_with_shared_failures(self.timeline, &mut scored);
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.steps.len().cmp(&b.steps.len()).reverse())
                .then_with(|| a.steps[0].event.cmp(&b.steps[0].event))
        });
        let best = scored.first()?;
        let root_event = self.timeline.get(best.steps[0].event);
        let symptom_event = self.timeline.get(best.steps.last()?.event);
        let first = incident
            .symptoms
            .first()
            .map(|&i| self.timeline.get(i).at)
            .unwrap_or(symptom_event.at);
        let last = incident
            .symptoms
            .last()
            .map(|&i| self.timeline.get(i).at)
            .unwrap_or(symptom_event.at);
        let around = (root_event.at, last);

        let chain: Vec<ChainStep> = best
            .steps
            .iter()
            .map(|s| {
                let e = self.timeline.get(s.event);
                ChainStep {
                    kind: step_label(e),
                    entity: EntityName::from(&e.entity),
                    at: e.at,
                    evidence: self.evidence_for(e, incident, around),
                    why: s.why.clone(),
                }
            })
            .collect();

        let root_cause = self.root_cause(root_event, best.root.kind, &incident.subject);
        let oom_step = best
            .steps
            .iter()
            .map(|s| self.timeline.get(s.event))
            .find(|e| e.kind.is_oom());
        let container = best
            .steps
            .iter()
            .find_map(|s| match &self.timeline.get(s.event).kind {
                EventKind::ContainerTerminated { container, .. }
                | EventKind::ContainerWaiting { container, .. }
                    if !container.is_empty() =>
                {
                    Some(container.clone())
                }
                _ => None,
            });
        let oom_limit =
            oom_step.and_then(|e| self.memory_limit(&e.entity.key(), container.as_deref()));
        let workload_key = if incident.subject.kind.is_workload() {
            Some(&incident.subject)
        } else {
            None
        };

        let mut alternatives: Vec<Alternative> = Vec::new();
        for alt in scored.iter().skip(1) {
            let e = self.timeline.get(alt.steps[0].event);
            if e.id == root_event.id
                || alternatives.iter().any(|a| {
                    a.root_cause.entity == EntityName::from(&e.entity)
                        && a.root_cause.kind == alt.root.kind
                })
            {
                continue;
            }
            // The same kind of cause on another pod of the same workload is the same
            // cause, not an alternative.
            let same_workload = self.topology.workload_of(&e.entity.key(), e.at)
                == self
                    .topology
                    .workload_of(&root_event.entity.key(), root_event.at);
            if alt.root.kind == best.root.kind && (e.entity == root_event.entity || same_workload) {
                continue;
            }
            let why_not = if let Some(why) = &alt.contradicted {
                why.clone()
            } else if alt.steps.len() < best.steps.len() {
                format!(
                    "explains less: {} of {} steps of the chosen chain, with weaker links",
                    alt.steps.len(),
                    best.steps.len()
                )
            } else {
                format!(
                    "weaker evidence: {:.2} against {:.2} for the chosen cause",
                    alt.confidence, best.confidence
                )
            };
            alternatives.push(Alternative {
                root_cause: self.root_cause(e, alt.root.kind, &incident.subject),
                confidence: round2(alt.confidence.min(best.confidence * 0.95)),
                why_not,
            });
            if alternatives.len() >= 3 {
                break;
            }
        }

        let subject_text = match incident.subject.kind {
            EntityKind::EtcdMember => "the etcd cluster".to_owned(),
            _ => EntityName::from(&incident.subject.to_ref()).to_string(),
        };
        let label = |e: &Event| match (e.kind.is_oom(), oom_limit) {
            (true, Some(limit)) => {
                format!("OOMKilled at its {:.0}Mi limit", limit / (1024.0 * 1024.0))
            }
            _ => symptom_label(e),
        };
        let first_label = incident
            .symptoms
            .first()
            .map(|&i| label(self.timeline.get(i)))
            .unwrap_or_default();
        let now = label(symptom_event);
        let failing = if first_label == now {
            now.clone()
        } else {
            format!("{first_label}, now {now}")
        };
        // Calls that fail into the root fail for the workloads making them.
        let mut affected_keys = incident.affected.clone();
        if matches!(root_event.kind, EventKind::CallsFailing { .. }) {
            extend_unique(
                &mut affected_keys,
                caller_workloads(root_event, self.topology),
            );
        }
        let pods = affected_keys
            .iter()
            .filter(|k| k.kind == EntityKind::Pod)
            .count();
        let affected = if pods == affected_keys.len() {
            plural(pods, "pod", "pods")
        } else {
            plural(affected_keys.len(), "entity", "entities")
        };
        let when = if root_event.at <= first {
            format!("{} later", short_ago(root_event.at, first))
        } else {
            "and".to_owned()
        };
        // The root is the first symptom itself (calls into a dependency that fail with
        // nothing before them): said once.
        let root_is_symptom = incident
            .symptoms
            .first()
            .is_some_and(|&i| self.timeline.get(i).id == root_event.id);
        let summary = if root_is_symptom {
            format!(
                "{} {}; {} affected",
                EntityName::from(&root_event.entity),
                root_phrase(root_event),
                affected
            )
        } else {
            format!(
                "{} {}; {} {} {} failing ({}); {} affected",
                EntityName::from(&root_event.entity),
                root_phrase(root_event),
                when,
                subject_text,
                if root_event.at <= first {
                    "began"
                } else {
                    "keeps"
                },
                failing,
                affected,
            )
        };
        let symptom_kind = match &symptom_event.kind {
            _ if oom_step.is_some() => "oom".to_owned(),
            // Free-text labels (alarms, messages) would make unstable pattern names.
            EventKind::EtcdTrouble { .. }
            | EventKind::Other { .. }
            | EventKind::CallsFailing { .. } => symptom_event.kind.name().replace('_', "-"),
            _ => slug_label(&symptom_label(symptom_event)),
        };
        let periodic = recurrence(incident.symptoms.iter().map(|&i| {
            let e = self.timeline.get(i);
            (e.at, e.entity.key())
        }));
        let mut pattern = format!("{}-{}", slug(best.root.kind), symptom_kind);
        let mut summary = summary;
        if let Some((every, times)) = periodic {
            pattern.push_str("-periodic");
            summary.push_str(&format!("; it recurs every {every} ({times} times so far)"));
        }
        let id = insight_id(&[
            pattern.as_bytes(),
            &root_event.id.0.to_be_bytes(),
            subject_text.as_bytes(),
        ]);
        Some(Insight {
            id,
            pattern,
            confidence: round2(best.confidence),
            summary,
            root_cause,
            symptom: Symptom {
                kind: symptom_label(symptom_event),
                entity: EntityName::from(&symptom_event.entity),
                at: symptom_event.at,
            },
            chain,
            alternatives,
            recommendations: recommend(
                best.root.kind,
                root_event,
                // A dependency with no workload (outside the cluster): its first caller's.
                workload_key.or_else(|| affected_keys.iter().find(|k| k.kind.is_workload())),
                container.as_deref(),
                oom_limit,
            ),
            affected: affected_keys
                .iter()
                .map(|k| EntityName::from(&k.to_ref()))
                .collect(),
        })
    }
}

fn root_phrase(e: &Event) -> String {
    match &e.kind {
        EventKind::ConfigChanged { keys } | EventKind::SecretChanged { keys } => {
            format!("changed ({})", keys.join(", "))
        }
        EventKind::ImageChanged { to, .. } => format!("changed its image to {to}"),
        EventKind::ResourcesChanged { change, .. } => format!("changed resources ({change})"),
        EventKind::MetricAnomaly { metric, .. } => format!("showed {metric} growing"),
        EventKind::CallsFailing {
            callers,
            failed,
            total,
            message,
        } => {
            let outside = if e.entity.kind == EntityKind::ExternalService {
                "(outside the cluster) "
            } else {
                ""
            };
            let said = if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            };
            format!(
                "{outside}failed {failed} of {total} calls from {} in 10 min{said}",
                callers.join(", ")
            )
        }
        EventKind::ContainerTerminated { reason, .. } => format!("terminated ({reason})"),
        EventKind::ContainerWaiting { reason, .. } => format!("was stuck in {reason}"),
        other => other.name().replace('_', " "),
    }
}

fn slug_label(label: &str) -> String {
    let l = label.to_ascii_lowercase();
    if l.contains("crashloop") {
        "crashloop".to_owned()
    } else if l.contains("image") || l.contains("pull") {
        "image-pull".to_owned()
    } else {
        l.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Roots of one kind on one entity this close together are one cause (the first DNS
/// failures of two pods of one outage, seconds apart).
const SAME_ROOT_WITHIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

/// Explains every incident; incidents with the same root (its kind, on the same entity,
/// starting within two minutes) are merged into one insight (a cascade), best
/// first.
pub fn explain_incidents(analysis: &Analysis<'_>, incidents: &[Incident]) -> Vec<Insight> {
    let mut by_root: BTreeMap<String, Vec<Insight>> = BTreeMap::new();
    for incident in incidents {
        let Some(insight) = analysis.explain(incident) else {
            continue;
        };
        let root_key = format!(
            "{:?}|{}",
            insight.root_cause.kind, insight.root_cause.entity
        );
        let same_root = by_root.entry(root_key).or_default();
        let close = same_root.iter_mut().find(|i| {
            i.root_cause.at.duration_since(insight.root_cause.at).abs() <= SAME_ROOT_WITHIN
        });
        match close {
            Some(existing) => {
                extend_unique(&mut existing.affected, insight.affected);
                existing.affected.sort();
                existing.confidence = existing.confidence.max(insight.confidence);
            }
            None => same_root.push(insight),
        }
    }
    let mut out: Vec<Insight> = by_root.into_values().flatten().collect();
    absorb_cascades(&mut out);
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| b.root_cause.at.cmp(&a.root_cause.at))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// An incident of the failing dependency itself is part of the cascade that starts there:
/// its insight is folded into the cascade's (one incident, its whole blast radius).
fn absorb_cascades(insights: &mut Vec<Insight>) {
    let cascades: Vec<(String, Option<String>)> = insights
        .iter()
        .filter(|i| i.root_cause.kind == RootCauseKind::DependencyFailure)
        .map(|i| (i.id.clone(), i.root_cause.workload.clone()))
        .collect();
    for (id, workload) in cascades {
        let Some(workload) = workload else { continue };
        let absorbed: Vec<Insight> = insights
            .extract_if(.., |i| {
                i.id != id
                    && i.root_cause.workload.as_deref() == Some(workload.as_str())
                    && i.root_cause.kind == RootCauseKind::ApplicationError
            })
            .collect();
        if let Some(cascade) = insights.iter_mut().find(|i| i.id == id) {
            extend_unique(
                &mut cascade.affected,
                absorbed.into_iter().flat_map(|i| i.affected),
            );
            cascade.affected.sort();
        }
    }
}
