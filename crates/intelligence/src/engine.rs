//! The engine facade: observations in, insights out. The same code runs in one process
//! (`tapio analyze`, `tapio run`) and behind the bus in `correlation-service`.

use tapio_domain::{
    EntityKind, EntityRef, Event, EventId, EventKind, Insight, Observation, Partition, RawRef,
    Severity, SignedDuration, Source, Timestamp,
};

use crate::analysis::{
    explain_incidents, find_incidents, service_insights, widen_with_callers, Analysis,
};
use crate::anomaly::{detect_growth_runs, detect_onset, GrowthParams, Onset, OnsetParams};
use crate::correlation::Timeline;
use crate::service_rca::rank_services;
use crate::telemetry::{CallStore, ErrorLogs, SeriesStore, SpanStore};
use crate::topology::Topology;

/// Metrics that describe configuration, not behaviour: never anomalies.
fn is_static_metric(name: &str) -> bool {
    name.contains("limit") || name.contains("request") || name.ends_with(".max")
}

/// A metric departure as an event, its id derived from the series and the onset.
fn anomaly_event(series_id: &str, entity: EntityRef, metric: String, onset: &Onset) -> Event {
    Event {
        id: EventId::derive(Source::Engine, series_id.as_bytes(), "onset"),
        at: onset.at,
        source: Source::Engine,
        kind: EventKind::MetricAnomaly {
            metric,
            score: onset.score,
            baseline: onset.baseline,
            observed: onset.peak,
        },
        severity: Severity::Warning,
        entity,
        node: None,
        raw: RawRef::default(),
    }
}

/// Counts of what the engine holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineStats {
    pub events: u64,
    pub entities: u64,
    pub metric_series: u64,
    pub spans: u64,
    pub logs: u64,
    /// Events, samples, spans and logs about namespaces of other partitions, left to them.
    pub elsewhere: u64,
    /// Events forgotten for being older than the retention, or arriving after it.
    pub expired: u64,
}

/// Correlation and analysis over everything ingested so far.
#[derive(Debug, Default)]
pub struct Engine {
    topology: Topology,
    timeline: Timeline,
    series: SeriesStore,
    spans: SpanStore,
    calls: CallStore,
    error_logs: ErrorLogs,
    events_in: u64,
    spans_in: u64,
    logs_in: u64,
    /// The partition this engine analyses (`None`: the whole cluster).
    partition: Option<Partition>,
    elsewhere: u64,
    /// The latest event time seen, and the horizon before which everything was forgotten.
    latest: Option<Timestamp>,
    horizon: Option<Timestamp>,
}

/// How far back in event time the engine remembers (as long as the bus keeps events).
const RETENTION: SignedDuration = SignedDuration::from_hours(24);
/// How far event time must move on before the engine forgets again.
const FORGET_EVERY: SignedDuration = SignedDuration::from_hours(1);

impl Engine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine for one partition of the cluster: it keeps the whole topology and every
    /// change (every partition is sent all of them) but analyses only the other evidence
    /// (failures, samples, spans, logs) about its own namespaces and cluster-scoped
    /// objects, so that an incident is reported by the partition that owns its symptoms.
    pub fn for_partition(partition: Partition) -> Self {
        Self {
            partition: Some(partition),
            ..Self::default()
        }
    }

    /// Whether evidence about an object in `namespace` (none: cluster-scoped) is this
    /// engine's to analyse; what is not is counted as left to another partition.
    fn takes(&mut self, namespace: Option<&str>) -> bool {
        let ours = match (self.partition, namespace) {
            (Some(p), Some(ns)) => p.owns(ns),
            _ => true,
        };
        if !ours {
            self.elsewhere += 1;
        }
        ours
    }

    /// Takes one observation.
    pub fn ingest(&mut self, observation: Observation) {
        let at = observation.at();
        if self.latest.is_none_or(|l| at > l) {
            self.latest = Some(at);
        }
        match observation {
            Observation::Event(mut e) => {
                e.entity = self.topology.resolve(&e.entity);
                // A DNS failure is about the pod that asked, named by its address.
                if let EventKind::DnsFailure { client, .. } = &e.kind {
                    if let Some(pod) = self.topology.by_address(client) {
                        e.entity = pod.to_ref();
                    }
                }
                // Changes reach every partition: one in another namespace may explain a
                // failure in this one.
                if !e.kind.is_change() && !self.takes(e.entity.namespace.as_deref()) {
                    return;
                }
                self.events_in += 1;
                self.observe_traffic(&e);
                self.timeline.push(e);
            }
            Observation::Entity(snap) => self.topology.apply(&snap),
            Observation::EntityGone { at, entity } => self.topology.remove(&entity, at),
            Observation::Metric(mut m) => {
                // Node-level readers (cgroup files) know a pod only by its uid.
                if m.entity.name.is_empty() {
                    m.entity = self.topology.resolve(&m.entity);
                }
                if !self.takes(m.entity.namespace.as_deref()) {
                    return;
                }
                self.series.push(&m);
            }
            Observation::Span(s) => {
                if !self.takes(s.pod.as_ref().and_then(|p| p.namespace.as_deref())) {
                    return;
                }
                self.spans_in += 1;
                self.spans.push(&s);
                self.calls.push(&s);
            }
            Observation::Log(l) => {
                if !self.takes(l.entity.namespace.as_deref()) {
                    return;
                }
                self.logs_in += 1;
                self.error_logs.push(&l);
            }
        }
    }

    /// Service-to-service traffic seen below the traces: TCP connections (eBPF) from a pod
    /// to a pod or Service address, and DNS lookups of `<service>.<namespace>.svc...`.
    fn observe_traffic(&mut self, e: &Event) {
        let at = e.at;
        let from = e.entity.key();
        if from.kind != EntityKind::Pod {
            return;
        }
        let to = match &e.kind {
            EventKind::TcpConnectFailed { daddr, .. } | EventKind::TcpTrouble { daddr, .. } => {
                self.topology.by_address(daddr).cloned()
            }
            EventKind::DnsFailure { query, .. } => {
                let mut labels = query.trim_end_matches('.').split('.');
                match (labels.next(), labels.next(), labels.next()) {
                    (Some(service), Some(namespace), Some("svc")) => {
                        Some(EntityRef::new(EntityKind::Service, Some(namespace), service).key())
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(to) = to else { return };
        if let (Some(a), Some(b)) = (
            self.topology.service_name(&from, at),
            self.topology.service_name(&to, at),
        ) {
            self.topology.observe_call(&a, &b);
        }
    }

    /// What the engine holds.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            events: self.events_in,
            entities: self.topology.len() as u64,
            metric_series: self.series.len() as u64,
            spans: self.spans_in,
            logs: self.logs_in,
            elsewhere: self.elsewhere,
            expired: self.timeline.expired,
        }
    }

    /// The metric series held.
    pub fn series(&self) -> &SeriesStore {
        &self.series
    }

    /// The topology as built so far.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Turns metric departures from baseline into events on the timeline. Only series that
    /// changed since the last analysis are looked at again (the service keeps analysing).
    fn derive_metric_anomalies(&mut self) {
        let mut derived = Vec::new();
        for (key, points) in self.series.take_changed() {
            if key.entity.kind != EntityKind::Pod || is_static_metric(&key.metric) {
                continue;
            }
            let mut onsets: Vec<Onset> = detect_growth_runs(&points, GrowthParams::default());
            if let Some(level) = detect_onset(&points, true, OnsetParams::default()) {
                if onsets.iter().all(|o| o.at != level.at) {
                    onsets.push(level);
                }
            }
            for onset in onsets {
                let id = format!(
                    "{}|{}|{:?}|{}",
                    key.entity, key.metric, key.attributes, onset.at
                );
                derived.push(anomaly_event(
                    &id,
                    key.entity.to_ref(),
                    key.metric.clone(),
                    &onset,
                ));
            }
        }
        // Error-log templates that spike become anomalies of their entity too.
        for series in self.error_logs.series() {
            let (entity, template) = (series.entity, series.template);
            let points: Vec<(jiff::Timestamp, f64)> = series
                .counts
                .iter()
                .filter_map(|(m, c)| Some((jiff::Timestamp::from_second(m * 60).ok()?, *c)))
                .collect();
            let Some(onset) = detect_onset(&points, true, OnsetParams::default()) else {
                continue;
            };
            let metric = format!("error_logs: {template}");
            let id = format!("{entity}|{metric}|{}", onset.at);
            derived.push(anomaly_event(&id, entity.to_ref(), metric, &onset));
        }
        derived.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        for e in derived {
            self.timeline.push(e);
        }
    }

    /// Turns calls into a peer that started failing (seen in the callers' client spans)
    /// into events on the peer's pods, and records who calls whom.
    fn derive_failing_calls(&mut self) {
        let edges: Vec<(String, String)> = self
            .calls
            .edges()
            .into_iter()
            .filter_map(|(caller, ns, peer, at)| {
                let (callee, _) = self.topology.resolve_peer(peer, ns, at)?;
                Some((caller.to_owned(), callee))
            })
            .collect();
        for (caller, callee) in edges {
            if caller != callee {
                self.topology.observe_call(&caller, &callee);
            }
        }
        for f in self.calls.failing() {
            let at = f.at;
            // The pods behind the peer; a peer outside the cluster is itself the callee.
            let callees = match self
                .topology
                .resolve_peer(&f.peer, f.namespace.as_deref(), at)
            {
                Some((_, pods)) => pods,
                None => match self.topology.outside_host(&f.peer) {
                    Some(host) => {
                        vec![EntityRef::new(EntityKind::ExternalService, None, host).key()]
                    }
                    None => continue,
                },
            };
            for pod in callees {
                self.timeline.push(Event {
                    id: EventId::derive(
                        Source::Engine,
                        pod.to_string().as_bytes(),
                        &format!("calls from {} failing since {at}", f.peer),
                    ),
                    at,
                    source: Source::Engine,
                    kind: EventKind::CallsFailing {
                        callers: f.callers.clone(),
                        failed: f.failed,
                        total: f.total,
                        message: f.message.clone(),
                    },
                    severity: Severity::Warning,
                    entity: pod.to_ref(),
                    node: None,
                    raw: RawRef::default(),
                });
            }
        }
    }

    /// Forgets what happened more than [`RETENTION`] before the latest event time, once that
    /// moved on by [`FORGET_EVERY`] since the last time, and only while most of what is held
    /// (events and metric points) is within the retention: a single event with a time far
    /// ahead (a wrong clock, a hostile line) then never makes the engine forget the rest.
    fn forget_old(&mut self) {
        let Some(latest) = self.latest else { return };
        let horizon = latest - RETENTION;
        if self.horizon.is_some_and(|h| horizon < h + FORGET_EVERY) {
            return;
        }
        let (points, recent_points) = self.series.points_since(horizon);
        let held = self.timeline.len() + points;
        let recent = self.timeline.count_since(horizon) + recent_points;
        if recent * 2 < held {
            return;
        }
        self.timeline.forget_before(horizon);
        self.series.forget_before(horizon);
        self.error_logs.forget_before(horizon);
        self.topology.forget_versions_before(horizon);
        self.horizon = Some(horizon);
    }

    /// Correlates and explains everything ingested so far, best insight first.
    pub fn analyze(&mut self) -> Vec<Insight> {
        self.forget_old();
        self.derive_metric_anomalies();
        self.derive_failing_calls();
        for (caller, callee) in self.spans.service_calls() {
            self.topology.observe_call(&caller, &callee);
        }
        self.timeline.seal();
        let incidents = find_incidents(&self.timeline, &self.topology);
        let analysis = Analysis {
            timeline: &self.timeline,
            topology: &self.topology,
            series: &self.series,
        };
        let mut insights = explain_incidents(&analysis, &incidents);
        widen_with_callers(&mut insights, &self.topology, &self.spans);
        if let Some(ranking) = rank_services(&self.series, &self.spans) {
            let blamed: Vec<String> = insights
                .iter()
                .filter_map(|i| i.root_cause.service.clone())
                .collect();
            let namespace_of = |service: &str| {
                self.series
                    .iter()
                    .find(|(k, _)| k.service.as_deref() == Some(service))
                    .and_then(|(k, _)| k.entity.namespace.clone())
            };
            // Cluster events explain more than telemetry alone: a service already blamed
            // by a causal chain is not listed again.
            insights.extend(
                service_insights(&ranking, namespace_of)
                    .into_iter()
                    .filter(|i| {
                        !i.root_cause
                            .service
                            .as_ref()
                            .is_some_and(|s| blamed.contains(s))
                    }),
            );
        }
        insights
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_domain::{
        EntityKind, EntityRef, EntitySnapshot, LogRecord, SignedDuration, Timestamp,
    };

    fn pod() -> EntityRef {
        EntityRef::new(EntityKind::Pod, Some("shop"), "cart-1")
    }

    fn log(at: Timestamp, severity: i32, body: &str) -> Observation {
        Observation::Log(LogRecord {
            at,
            entity: pod(),
            service: Some("cart".to_owned()),
            severity_number: Some(severity),
            body: body.to_owned(),
        })
    }

    #[test]
    fn an_error_log_spike_before_a_crash_is_in_the_chain() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut engine = Engine::new();
        engine.ingest(Observation::Entity(EntitySnapshot::bare(t0, pod())));
        for minute in 0..20i64 {
            let at = t0 + SignedDuration::from_mins(minute);
            engine.ingest(log(at, 9, &format!("served request {minute}")));
            if minute >= 12 {
                for i in 0..30 {
                    engine.ingest(log(
                        at + SignedDuration::from_secs(i),
                        17,
                        &format!("connection refused to 10.0.3.{i}:5432"),
                    ));
                }
            }
        }
        let crash = t0 + SignedDuration::from_mins(16);
        engine.ingest(Observation::Event(Event {
            id: EventId::derive(Source::Kubeapi, b"crash", ""),
            at: crash,
            source: Source::Kubeapi,
            kind: EventKind::ContainerTerminated {
                container: "cart".to_owned(),
                reason: "Error".to_owned(),
                exit_code: 1,
                signal: None,
            },
            severity: Severity::Error,
            entity: pod(),
            node: None,
            raw: RawRef::default(),
        }));
        let insights = engine.analyze();
        let top = insights.first().expect("an insight");
        assert_eq!(
            top.root_cause.kind,
            tapio_domain::RootCauseKind::ApplicationError
        );
        let first = &top.chain[0];
        assert!(
            first.kind.contains("error_logs: connection refused to <*>"),
            "{:?}",
            top.chain
        );
        assert_eq!(first.at, t0 + SignedDuration::from_mins(12));
    }
}

#[cfg(test)]
mod fixtures {
    //! Observations the engine's tests are made of.

    use super::*;
    use tapio_domain::{EntitySnapshot, SpanRecord};

    /// `kind` `namespace/name` as seen at `at`, with its labels and addresses; a Service's
    /// or NetworkPolicy's labels are also its selector.
    pub fn snapshot(
        at: Timestamp,
        kind: EntityKind,
        namespace: &str,
        name: &str,
        labels: &[(&str, &str)],
        addresses: &[&str],
    ) -> Observation {
        let mut s = EntitySnapshot::bare(at, EntityRef::new(kind, Some(namespace), name));
        s.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        s.addresses = addresses.iter().map(|a| a.to_string()).collect();
        if matches!(kind, EntityKind::Service | EntityKind::NetworkPolicy) {
            s.selector = Some(s.labels.clone());
        }
        Observation::Entity(s)
    }

    /// An event about `entity` at `at`.
    pub fn event(at: Timestamp, kind: EventKind, entity: EntityRef) -> Observation {
        Observation::Event(Event {
            id: EventId::derive(
                Source::Kubeapi,
                format!("{entity} {at} {kind:?}").as_bytes(),
                "",
            ),
            at,
            source: Source::Kubeapi,
            kind,
            severity: Severity::Warning,
            entity,
            node: None,
            raw: RawRef::default(),
        })
    }

    /// A container of pod `namespace/name` restarted (the `n`th time) at `at`.
    pub fn restart(namespace: &str, name: &str, at: Timestamp, n: i32) -> Observation {
        let kind = EventKind::ContainerRestarted {
            container: "api".to_owned(),
            restarts: n,
        };
        event(
            at,
            kind,
            EntityRef::new(EntityKind::Pod, Some(namespace), name),
        )
    }

    /// A call from the pod `<service>-1` of `namespace` to `peer` at `at`; a failed one
    /// ends with `message`.
    pub fn client_span(
        namespace: &str,
        service: &str,
        peer: &str,
        at: Timestamp,
        failed: Option<&str>,
    ) -> Observation {
        Observation::Span(SpanRecord {
            trace_id: format!("{service}{at}"),
            span_id: format!("{service}{at}c"),
            parent_span_id: None,
            service: service.to_owned(),
            pod: Some(EntityRef::new(
                EntityKind::Pod,
                Some(namespace),
                &format!("{service}-1"),
            )),
            name: "POST".to_owned(),
            start: at,
            end: at + SignedDuration::from_millis(50),
            error: Some(failed.is_some()),
            peer: Some(peer.to_owned()),
            status_message: failed.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod traffic_tests {
    use super::fixtures::{event, snapshot};
    use super::*;

    #[test]
    fn tcp_failures_and_dns_lookups_add_service_calls() {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let mut engine = Engine::new();
        let shop = |kind, name, app, address| {
            snapshot(at, kind, "shop", name, &[("app", app)], &[address])
        };
        engine.ingest(shop(EntityKind::Pod, "checkout-1", "checkout", "10.1.0.5"));
        engine.ingest(shop(
            EntityKind::Service,
            "checkout",
            "checkout",
            "172.20.0.5",
        ));
        engine.ingest(shop(EntityKind::Pod, "ledger-1", "ledger", "10.1.0.9"));
        engine.ingest(shop(EntityKind::Service, "ledger", "ledger", "172.20.0.9"));
        let checkout = EntityRef::new(EntityKind::Pod, Some("shop"), "checkout-1");
        let later = at + SignedDuration::from_secs(100);
        engine.ingest(event(
            later,
            EventKind::TcpConnectFailed {
                daddr: "172.20.0.9".into(),
                dport: 5432,
                errno: 111,
            },
            checkout.clone(),
        ));
        assert_eq!(engine.topology().callees_of("checkout"), vec!["ledger"]);
        engine.ingest(event(
            later,
            EventKind::DnsFailure {
                client: "10.1.0.5".into(),
                query: "payments.shop.svc.cluster.local".into(),
                rcode: "SERVFAIL".into(),
                server: "172.20.0.10".into(),
            },
            checkout,
        ));
        assert_eq!(
            engine.topology().callees_of("checkout"),
            vec!["ledger", "payments"]
        );
    }
}

#[cfg(test)]
mod external_tests {
    use super::fixtures::{client_span, snapshot};
    use super::*;
    use tapio_domain::RootCauseKind;

    /// Two services in two namespaces call `peer` every 20 s for 30 minutes; from minute
    /// 15 every call fails.
    fn outage(peer: &str) -> Vec<Insight> {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let callers = [("billing", "invoicer"), ("accounts", "subscriptions")];
        let mut engine = Engine::new();
        for (ns, service) in callers {
            engine.ingest(snapshot(
                t0,
                EntityKind::Pod,
                ns,
                &format!("{service}-1"),
                &[],
                &[],
            ));
        }
        for i in 0..90 {
            let at = t0 + SignedDuration::from_secs(i * 20);
            let failed = (i >= 45).then_some("503 Service Unavailable");
            for (ns, service) in callers {
                engine.ingest(client_span(ns, service, peer, at, failed));
            }
        }
        engine.analyze()
    }

    #[test]
    fn calls_to_a_host_outside_the_cluster_that_start_failing_name_it() {
        let insights = outage("api.stripe.com");
        let top = insights.first().expect("an insight");
        assert_eq!(top.root_cause.kind, RootCauseKind::DependencyFailure);
        assert_eq!(top.root_cause.entity.kind, "ExternalService");
        assert_eq!(top.root_cause.entity.name, "api.stripe.com");
        assert!(top.summary.contains("api.stripe.com"), "{}", top.summary);
        assert!(
            top.recommendations
                .iter()
                .any(|r| r.contains("api.stripe.com is outside the cluster")),
            "{:?}",
            top.recommendations
        );
    }

    #[test]
    fn cluster_names_and_addresses_are_never_taken_for_outside_hosts() {
        for peer in [
            "payments.shop.svc.cluster.local",
            "ledger.payments.svc",
            "10.0.3.7",
            "ledger",
        ] {
            let insights = outage(peer);
            assert!(
                insights
                    .iter()
                    .all(|i| i.root_cause.entity.kind != "ExternalService"),
                "{peer}: {insights:?}"
            );
        }
    }
}

#[cfg(test)]
mod policy_direction_tests {
    use super::fixtures::{client_span, event, snapshot};
    use super::*;
    use tapio_domain::RootCauseKind;

    /// storefront (namespace web) calls catalog-api every 20 s for 30 minutes; at minute 14
    /// a NetworkPolicy selecting the catalog pods appears, restricting `ingress` and
    /// `egress`; from minute 15 every call fails. The top root cause.
    fn root_with_policy(ingress: bool, egress: bool) -> RootCauseKind {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut engine = Engine::new();
        let app = [("app", "catalog")];
        engine.ingest(snapshot(
            t0,
            EntityKind::Pod,
            "catalog",
            "catalog-1",
            &app,
            &[],
        ));
        engine.ingest(snapshot(
            t0,
            EntityKind::Service,
            "catalog",
            "catalog-api",
            &app,
            &[],
        ));
        let caller = [("app", "storefront")];
        engine.ingest(snapshot(
            t0,
            EntityKind::Pod,
            "web",
            "storefront-1",
            &caller,
            &[],
        ));
        let changed = t0 + SignedDuration::from_mins(14);
        engine.ingest(snapshot(
            changed,
            EntityKind::NetworkPolicy,
            "catalog",
            "lockdown",
            &[],
            &[],
        ));
        engine.ingest(event(
            changed,
            EventKind::PolicyChanged {
                created: true,
                ingress,
                egress,
            },
            EntityRef::new(EntityKind::NetworkPolicy, Some("catalog"), "lockdown"),
        ));
        for i in 0..90 {
            let at = t0 + SignedDuration::from_secs(i * 20);
            let failed = (i >= 45).then_some("connect ETIMEDOUT");
            let peer = "catalog-api.catalog.svc.cluster.local";
            engine.ingest(client_span("web", "storefront", peer, at, failed));
        }
        engine
            .analyze()
            .first()
            .expect("an insight")
            .root_cause
            .kind
    }

    #[test]
    fn only_a_policy_that_restricts_ingress_explains_calls_failing_into_its_pods() {
        assert_eq!(root_with_policy(true, false), RootCauseKind::NetworkPolicy);
        assert_eq!(root_with_policy(true, true), RootCauseKind::NetworkPolicy);
        assert_ne!(root_with_policy(false, true), RootCauseKind::NetworkPolicy);
    }
}

#[cfg(test)]
mod partition_tests {
    use super::fixtures::{event, restart, snapshot};
    use super::*;
    use tapio_domain::partition_of;

    #[test]
    fn a_partition_keeps_all_topology_and_changes_but_only_its_own_evidence() {
        let count = 3;
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let ours = (0..50)
            .map(|i| format!("team-{i}"))
            .find(|ns| partition_of(ns, count) == 0)
            .unwrap();
        let theirs = (0..50)
            .map(|i| format!("team-{i}"))
            .find(|ns| partition_of(ns, count) != 0)
            .unwrap();
        let mut engine = Engine::for_partition(Partition { index: 0, count });
        for ns in [&ours, &theirs] {
            engine.ingest(snapshot(at, EntityKind::Pod, ns, "api", &[], &[]));
            engine.ingest(restart(ns, "api", at, 1));
        }
        engine.ingest(event(
            at,
            EventKind::ConfigChanged {
                keys: vec!["K".to_owned()],
            },
            EntityRef::new(EntityKind::Pod, Some(&theirs), "api"),
        ));
        let stats = engine.stats();
        assert_eq!(stats.entities, 2, "both namespaces' topology");
        assert_eq!(stats.events, 2, "our restart and their change");
        assert_eq!(stats.elsewhere, 1, "their restart");
        // One partition analyses everything.
        let mut whole = Engine::new();
        whole.ingest(restart(&theirs, "api", at, 1));
        assert_eq!((whole.stats().events, whole.stats().elsewhere), (1, 0));
    }
}

#[cfg(test)]
mod retention_tests {
    use super::fixtures::{restart, snapshot};
    use super::*;
    use tapio_domain::MetricSample;

    /// 30 hours of a pod's restarts, metric points and status changes, one every 10 minutes.
    fn thirty_hours(engine: &mut Engine, t0: Timestamp) {
        for n in 0..180 {
            let at = t0 + SignedDuration::from_mins(10 * n);
            engine.ingest(snapshot(at, EntityKind::Pod, "shop", "api-1", &[], &[]));
            engine.ingest(restart("shop", "api-1", at, n as i32));
            engine.ingest(Observation::Metric(MetricSample {
                at,
                entity: EntityRef::new(EntityKind::Pod, Some("shop"), "api-1"),
                service: None,
                name: "container_memory_working_set_bytes".to_owned(),
                value: 1e8,
                counter: false,
                attributes: Vec::new(),
            }));
        }
    }

    #[test]
    fn what_is_older_than_a_day_of_event_time_is_forgotten() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut engine = Engine::new();
        thirty_hours(&mut engine, t0);
        engine.analyze();
        let latest = t0 + SignedDuration::from_mins(10 * 179);
        let horizon = latest - RETENTION;
        assert!(engine.timeline.events().iter().all(|e| e.at >= horizon));
        assert_eq!(
            engine.timeline.len(),
            145,
            "24 h of events, one every 10 min"
        );
        assert_eq!(engine.stats().expired, 35);
        assert_eq!(engine.series.points_since(horizon), (145, 145));
        let pod = EntityRef::new(EntityKind::Pod, Some("shop"), "api-1").key();
        assert!(engine.topology.version_at(&pod, latest).is_some());
        // An event from before the horizon that arrives now is not taken in.
        engine.ingest(restart("shop", "api-1", t0, 1000));
        assert_eq!((engine.timeline.len(), engine.stats().expired), (145, 36));
    }

    #[test]
    fn one_event_far_ahead_does_not_make_the_engine_forget() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut engine = Engine::new();
        thirty_hours(&mut engine, t0);
        engine.ingest(restart(
            "shop",
            "api-1",
            "2099-01-01T00:00:00Z".parse().unwrap(),
            9999,
        ));
        engine.analyze();
        assert_eq!(engine.timeline.len(), 181, "nothing forgotten");
        assert_eq!(engine.stats().expired, 0);
    }
}
