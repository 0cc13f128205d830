//! The insights of several partitions as one cluster's: each partition analyses its own
//! namespaces' evidence, so an incident that crosses partitions can be reported twice: by
//! the partition of its root, and by a partition whose pods fail downstream, which sees no
//! further than a step of that incident (another partition's failing service, a node's
//! memory pressure) and names that step as the root.

use std::collections::HashSet;

use tapio_domain::{EntityName, Insight, RootCause, RootCauseKind, SignedDuration};

use super::extend_unique;
use super::roots::is_workload_change;

/// Whether `e` names the root: the same object, or the root's workload or service.
fn names_root(e: &EntityName, root: &RootCause) -> bool {
    if *e == root.entity {
        return true;
    }
    if e.namespace != root.entity.namespace {
        return false;
    }
    let workload = root
        .workload
        .as_deref()
        .and_then(|w| w.split_once('/'))
        .is_some_and(|(kind, name)| e.kind == kind && e.name == name);
    let service = e.kind == "Service" && root.service.as_deref() == Some(e.name.as_str());
    workload || service
}

/// How close in time two partitions' views of one incident must be: a step of one chain
/// and the root of the other, or their failing calls into one dependency.
const SAME_OUTAGE: SignedDuration = SignedDuration::from_secs(600);

/// Whether `cause` explains the root of `downstream`: that root is a step of its causal
/// chain, after its own root (at about the same time); or `cause` is a dependency whose
/// calls fail at the same time as those `downstream` blames on a change (see
/// [`shares_the_failing_dependency`]), which then does not explain the dependency in turn.
fn explains(cause: &Insight, downstream: &Insight) -> bool {
    let root = &downstream.root_cause;
    if cause.root_cause.entity == root.entity {
        return false;
    }
    let in_chain =
        cause.chain.iter().skip(1).any(|s| {
            names_root(&s.entity, root) && s.at.duration_since(root.at).abs() <= SAME_OUTAGE
        });
    shares_the_failing_dependency(cause, downstream)
        || (in_chain && !shares_the_failing_dependency(downstream, cause))
}

/// Whether `dependency` is a dependency failing its callers and `change` blames a change to
/// its own service for calls into that same dependency failing at the same time: calls into
/// one dependency failing for services of two partitions at once are not explained by a
/// change to one of them (the engine reasons the same way within one partition).
fn shares_the_failing_dependency(dependency: &Insight, change: &Insight) -> bool {
    let failing = &dependency.root_cause;
    failing.kind == RootCauseKind::DependencyFailure
        && is_workload_change(change.root_cause.kind)
        && change.chain.iter().skip(1).any(|s| {
            s.kind == "CallsFailing"
                && s.entity == failing.entity
                && s.at.duration_since(failing.at).abs() <= SAME_OUTAGE
        })
}

/// The cluster's insights from each partition's (`None`: a partition not known), best
/// first, each with the partition whose copy is kept: each id once (its most confident
/// copy; of equal ones, the lowest partition's), and an insight whose root is a step in the
/// chain of another partition's insight (and not the other way round) folded into that
/// one, its affected objects added: the partition downstream saw no further than that step.
pub fn merge_partitions(mut all: Vec<(Option<u32>, Insight)>) -> Vec<(Option<u32>, Insight)> {
    all.sort_by(|(pa, a), (pb, b)| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| pa.cmp(pb))
    });
    let mut ids = HashSet::new();
    all.retain(|(_, i)| ids.insert(i.id.clone()));
    // Best first, each insight is folded into the most confident one still listed that
    // explains it; one folded away is no longer a candidate, so nothing folds in a circle.
    let mut folded = vec![false; all.len()];
    for x in 0..all.len() {
        let (partition, insight) = &all[x];
        let into = (0..all.len()).find(|&y| {
            y != x
                && !folded[y]
                && all[y].0 != *partition
                && explains(&all[y].1, insight)
                && !explains(insight, &all[y].1)
        });
        if let Some(y) = into {
            folded[x] = true;
            let affected = all[x].1.affected.clone();
            extend_unique(&mut all[y].1.affected, affected);
        }
    }
    all.into_iter()
        .zip(folded)
        .filter_map(|(kept, folded)| (!folded).then_some(kept))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insight(
        id: &str,
        confidence: f64,
        root: &str,
        chain: &[&str],
        affected: &[&str],
    ) -> Insight {
        let entity = |s: &str| {
            let (kind, rest) = s.split_once(' ').unwrap();
            let (ns, name) = rest.split_once('/').unwrap();
            serde_json::json!({"kind": kind, "namespace": ns, "name": name})
        };
        serde_json::from_value(serde_json::json!({
            "id": id, "pattern": "p", "confidence": confidence, "summary": id,
            "root_cause": {"kind": "DependencyFailure", "entity": entity(root),
                           "service": root.split('/').nth(1).unwrap().split('-').next(),
                           "at": "2026-01-01T00:00:00Z"},
            "symptom": {"kind": "CallsFailing", "entity": entity(root),
                        "at": "2026-01-01T00:01:00Z"},
            "chain": chain.iter().map(|s| serde_json::json!({
                "kind": "k", "entity": entity(s), "at": "2026-01-01T00:00:00Z",
                "evidence": [], "why": ""})).collect::<Vec<_>>(),
            "affected": affected.iter().map(|s| entity(s)).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn a_downstream_view_of_another_partitions_incident_is_folded_into_it() {
        // Partition 1 (payments) sees the ledger fail its callers; partition 0 (shop) sees
        // only payments-api failing its calls and names it.
        let ledger = insight(
            "ledger",
            0.51,
            "Pod payments/ledger-1",
            &["Pod payments/ledger-1", "Service payments/payments"],
            &["Pod payments/ledger-1", "Service payments/payments"],
        );
        let seen_from_shop = insight(
            "shop-view",
            0.45,
            "Pod payments/payments-7",
            &["Pod payments/payments-7"],
            &["Pod shop/web-1", "Pod payments/payments-7"],
        );
        let merged = merge_partitions(vec![
            (Some(0), seen_from_shop.clone()),
            (Some(1), ledger.clone()),
        ]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].0, Some(1));
        assert_eq!(merged[0].1.id, "ledger");
        assert!(merged[0].1.affected.iter().any(|e| e.name == "web-1"));
        // Within one partition nothing is folded: that analysis already chose.
        let one = merge_partitions(vec![(Some(1), seen_from_shop), (Some(1), ledger)]);
        assert_eq!(one.len(), 2);
    }

    #[test]
    fn a_more_confident_partial_view_folds_into_the_fuller_chain() {
        // One partition sees only the node's memory pressure; the other sees the pod whose
        // growth caused it, with the pressure as a step of its chain.
        let node = insight("node", 0.8, "Node x/n1", &["Node x/n1"], &["Node x/n1"]);
        let leak = insight(
            "leak",
            0.61,
            "Pod analytics/report-1",
            &["Pod analytics/report-1", "Node x/n1"],
            &["Pod analytics/report-1"],
        );
        let merged = merge_partitions(vec![(Some(0), node), (Some(1), leak)]);
        let ids: Vec<&str> = merged.iter().map(|(_, i)| i.id.as_str()).collect();
        assert_eq!(ids, ["leak"]);
        assert!(merged[0].1.affected.iter().any(|e| e.name == "n1"));
    }

    #[test]
    fn a_change_blamed_for_calls_another_partition_also_sees_failing_folds_into_the_dependency() {
        // Partition 0 sees only its own service's calls into the API fail, after a change
        // to that service; partition 1 sees its service's calls into the same API fail at
        // the same time, with nothing changed.
        let mut change = insight(
            "release",
            0.67,
            "Deployment accounts/subscriptions",
            &["Deployment accounts/subscriptions", "ExternalService x/api"],
            &["Deployment accounts/subscriptions"],
        );
        change.root_cause.kind = RootCauseKind::ImageChange;
        change.chain[1].kind = "CallsFailing".to_owned();
        let api = insight(
            "api",
            0.5,
            "ExternalService x/api",
            &["ExternalService x/api"],
            &["ExternalService x/api", "Deployment billing/invoicer"],
        );
        let merged = merge_partitions(vec![(Some(0), change.clone()), (Some(1), api.clone())]);
        let ids: Vec<&str> = merged.iter().map(|(_, i)| i.id.as_str()).collect();
        assert_eq!(ids, ["api"]);
        assert!(merged[0]
            .1
            .affected
            .iter()
            .any(|e| e.name == "subscriptions"));
        // An hour apart, they are two incidents.
        change.chain[1].at = "2026-01-01T01:00:00Z".parse().unwrap();
        assert_eq!(
            merge_partitions(vec![(Some(0), change), (Some(1), api)]).len(),
            2
        );
    }

    #[test]
    fn unrelated_insights_stay_and_copies_are_listed_once() {
        let a = insight(
            "a",
            0.7,
            "Pod shop/cart-1",
            &["Pod shop/cart-1"],
            &["Pod shop/cart-1"],
        );
        let b = insight(
            "b",
            0.8,
            "Pod web/front-1",
            &["Pod web/front-1"],
            &["Pod web/front-1"],
        );
        let merged = merge_partitions(vec![(Some(2), a.clone()), (Some(1), b), (Some(0), a)]);
        let kept: Vec<(Option<u32>, &str)> =
            merged.iter().map(|(p, i)| (*p, i.id.as_str())).collect();
        assert_eq!(
            kept,
            [(Some(1), "b"), (Some(0), "a")],
            "equal copies: the lowest partition's"
        );
    }
}
