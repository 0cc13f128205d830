//! What to do: concrete next steps per root cause, with the kubectl command where one
//! exists.

use tapio_domain::{EntityKey, EntityKind, Event, EventKind, RootCauseKind};

/// `kubectl -n <ns>` prefix for an entity's namespace.
fn ns_flag(key: &EntityKey) -> String {
    key.namespace
        .as_deref()
        .map(|ns| format!("-n {ns} "))
        .unwrap_or_default()
}

fn workload_arg(w: &EntityKey) -> String {
    format!("{}/{}", w.kind.as_str().to_ascii_lowercase(), w.name)
}

/// Next steps for an incident whose root is `root`, affecting `workload`, whose chain
/// went through an OOM kill when `oom` is set (with the limit in bytes when known).
pub fn recommend(
    kind: RootCauseKind,
    root: &Event,
    workload: Option<&EntityKey>,
    container: Option<&str>,
    oom_limit: Option<f64>,
) -> Vec<String> {
    let rk = root.entity.key();
    let ns = ns_flag(&rk);
    let mut out = Vec::new();
    let rolls_out = |w: &&EntityKey| {
        w.kind == EntityKind::Deployment
            || w.kind == EntityKind::StatefulSet
            || w.kind == EntityKind::DaemonSet
    };
    let rollback = workload.filter(rolls_out);
    let raise_limit = |out: &mut Vec<String>| {
        if let Some(w) = workload {
            let c = container.map(|c| format!("-c {c} ")).unwrap_or_default();
            let current = oom_limit
                .map(|l| format!(" (now {})", mebibytes(l)))
                .unwrap_or_default();
            out.push(format!(
                "Raise the memory limit{current}: kubectl {}set resources {} {c}--limits=memory=<new limit>",
                ns_flag(w),
                workload_arg(w)
            ));
        }
    };
    match kind {
        RootCauseKind::ConfigChange | RootCauseKind::SecretChange => {
            let what = if kind == RootCauseKind::ConfigChange {
                "configmap"
            } else {
                "secret"
            };
            let keys = match &root.kind {
                EventKind::ConfigChanged { keys } | EventKind::SecretChanged { keys } => {
                    format!(" (changed keys: {})", keys.join(", "))
                }
                _ => String::new(),
            };
            out.push(format!(
                "Roll back {} {}{keys} to its previous content: kubectl {ns}edit {what} {} (or re-apply it from version control)",
                rk.kind, rk.name, rk.name
            ));
            if let Some(w) = rollback {
                out.push(format!(
                    "Then restart the pods that use it: kubectl {}rollout restart {}",
                    ns_flag(w),
                    workload_arg(w)
                ));
            }
            if oom_limit.is_some() {
                raise_limit(&mut out);
            }
        }
        RootCauseKind::ImageChange | RootCauseKind::SpecChange | RootCauseKind::ProbeMisconfig => {
            // What to roll back is the workload that changed, which is not always the one
            // whose symptoms were seen (a caller whose new release breaks its calls).
            let changed = Some(&rk).filter(rolls_out).or(rollback);
            if let Some(w) = changed {
                out.push(format!(
                    "Roll back the rollout: kubectl {}rollout undo {}",
                    ns_flag(w),
                    workload_arg(w)
                ));
                out.push(format!(
                    "See what changed: kubectl {}rollout history {}",
                    ns_flag(w),
                    workload_arg(w)
                ));
            }
            if kind == RootCauseKind::ImageChange {
                if let EventKind::ImageChanged { to, .. } = &root.kind {
                    out.push(format!("Check that the image {to} exists and the node can pull it (registry, tag, imagePullSecrets)"));
                }
            }
        }
        RootCauseKind::MemoryLimit => {
            if let EventKind::ResourcesChanged { change, .. } = &root.kind {
                if let Some(w) = rollback {
                    out.push(format!(
                        "The limit was lowered ({change}); roll back: kubectl {}rollout undo {}",
                        ns_flag(w),
                        workload_arg(w)
                    ));
                }
            }
            raise_limit(&mut out);
        }
        RootCauseKind::MemoryLeak => {
            out.push(format!(
                "Look at memory per pod: kubectl {ns}top pod --containers"
            ));
            raise_limit(&mut out);
            out.push(
                "If usage keeps growing without load, profile the heap of the process (a leak)"
                    .to_owned(),
            );
        }
        RootCauseKind::ImagePull => {
            out.push(format!(
                "See the pull error: kubectl {ns}describe pod {}",
                rk.name
            ));
            out.push(
                "Check the image name and tag, registry reachability and imagePullSecrets"
                    .to_owned(),
            );
        }
        RootCauseKind::NodeMemoryPressure
        | RootCauseKind::NodeDiskPressure
        | RootCauseKind::NodePidPressure
        | RootCauseKind::NodeNotReady => {
            let node = if rk.kind == EntityKind::Node {
                rk.name.clone()
            } else {
                root.node.clone().unwrap_or_default()
            };
            out.push(format!("Inspect the node: kubectl describe node {node}"));
            out.push(format!("Move workloads off it while you fix it: kubectl cordon {node} && kubectl drain {node} --ignore-daemonsets"));
        }
        RootCauseKind::NodeServiceFailure => {
            let node = root.node.clone().unwrap_or_default();
            out.push(format!("On node {node}: journalctl -u kubelet -u containerd --since -30m, then restart the failing unit"));
        }
        RootCauseKind::Scheduling | RootCauseKind::ScaleChange => {
            out.push(format!("See why pods do not fit: kubectl {ns}get events --field-selector reason=FailedScheduling"));
            out.push("Add node capacity, lower the requests, or scale back".to_owned());
        }
        RootCauseKind::QuotaExceeded => {
            out.push(format!(
                "Compare usage with the quota: kubectl {ns}describe resourcequota"
            ));
        }
        RootCauseKind::NetworkPolicy => {
            out.push(format!(
                "Review the policy: kubectl {ns}describe networkpolicy {}",
                rk.name
            ));
        }
        RootCauseKind::CniFailure => {
            out.push(
                "Check the CNI plugin's logs and IP pool (host-local ranges, IPAM exhaustion)"
                    .to_owned(),
            );
        }
        // Something outside the cluster: nothing to kubectl on it; its provider, and a
        // look from a caller's side.
        RootCauseKind::DependencyFailure if rk.kind == EntityKind::ExternalService => {
            let host = &rk.name;
            if let Some(w) = workload {
                out.push(format!(
                    "Check {host} from a caller: kubectl {}exec {} -- curl -sS -o /dev/null -w '%{{http_code}}\\n' https://{host}/",
                    ns_flag(w),
                    workload_arg(w)
                ));
            }
            if let EventKind::CallsFailing { message, .. } = &root.kind {
                if !message.is_empty() {
                    out.push(format!("The callers get: {message}"));
                }
            }
            out.push(format!(
                "{host} is outside the cluster: check its provider's status page or your account's limits there; meanwhile make the callers degrade (timeouts, retries with back-off, a circuit breaker)"
            ));
        }
        // A dependency that is up but refuses or fails calls (saturated, out of
        // connections): its own logs and what fills it, not a crash.
        RootCauseKind::DependencyFailure
            if rk.kind == EntityKind::Pod
                && matches!(
                    root.kind,
                    EventKind::MetricAnomaly { .. } | EventKind::CallsFailing { .. }
                ) =>
        {
            out.push(format!(
                "Read what the dependency says: kubectl {ns}logs {} --since=30m",
                rk.name
            ));
            if let EventKind::MetricAnomaly {
                metric,
                baseline,
                observed,
                ..
            } = &root.kind
            {
                out.push(format!(
                    "{metric} went from about {baseline:.0} to {observed:.0}: find the clients that hold it (connections, sessions) or raise its limit"
                ));
            }
            out.push(format!(
                "See recent events: kubectl {ns}describe pod {}",
                rk.name
            ));
        }
        RootCauseKind::VolumeProvisioning => {
            out.push(format!("See the claim's events: kubectl {ns}describe pvc"));
        }
        _ => {
            if rk.kind == EntityKind::Pod {
                out.push(format!(
                    "Read the last crash: kubectl {ns}logs {} --previous",
                    rk.name
                ));
                out.push(format!(
                    "See recent events: kubectl {ns}describe pod {}",
                    rk.name
                ));
            } else if let Some(w) = workload {
                out.push(format!(
                    "See recent events: kubectl {}describe {}",
                    ns_flag(w),
                    workload_arg(w)
                ));
            }
        }
    }
    out
}

fn mebibytes(bytes: f64) -> String {
    format!("{:.0}Mi", bytes / (1024.0 * 1024.0))
}
