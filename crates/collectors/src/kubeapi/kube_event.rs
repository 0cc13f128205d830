//! Kubernetes Events (`v1` and `events.k8s.io/v1`): mapped from their reason and message
//! to typed event kinds. Reasons and message formats are the ones kubelet, scheduler and
//! controllers emit.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event as CoreEvent, ObjectReference};
use k8s_openapi::api::events::v1::Event as EventsEvent;
use tapio_domain::event::ProbeKind;
use tapio_domain::{EntityKind, EntityRef, EventKind, Severity};

use crate::emit::Emitter;

/// The fields both Event APIs share, normalised.
struct KubeEvent<'a> {
    reason: &'a str,
    message: &'a str,
    warning: bool,
    regarding: Option<&'a ObjectReference>,
    at: Option<Timestamp>,
    count: i32,
    host: Option<&'a str>,
}

/// Processes a `v1` Event.
pub fn observe_core(e: &CoreEvent, emit: &mut Emitter<'_>) {
    let at = e
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| {
            e.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0)
        })
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0));
    let count = e
        .series
        .as_ref()
        .and_then(|s| s.count)
        .or(e.count)
        .unwrap_or(1);
    observe(
        KubeEvent {
            reason: e.reason.as_deref().unwrap_or_default(),
            message: e.message.as_deref().unwrap_or_default(),
            warning: e.type_.as_deref() == Some("Warning"),
            regarding: Some(&e.involved_object),
            at,
            count,
            host: e.source.as_ref().and_then(|s| s.host.as_deref()),
        },
        emit,
    );
}

/// Processes an `events.k8s.io/v1` Event.
pub fn observe_events_v1(e: &EventsEvent, emit: &mut Emitter<'_>) {
    let at = e
        .series
        .as_ref()
        .map(|s| s.last_observed_time.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.deprecated_last_timestamp.as_ref().map(|t| t.0));
    let count = e
        .series
        .as_ref()
        .map(|s| s.count)
        .or(e.deprecated_count)
        .unwrap_or(1);
    observe(
        KubeEvent {
            reason: e.reason.as_deref().unwrap_or_default(),
            message: e.note.as_deref().unwrap_or_default(),
            warning: e.type_.as_deref() == Some("Warning"),
            regarding: e.regarding.as_ref(),
            at,
            count,
            host: e
                .deprecated_source
                .as_ref()
                .and_then(|s| s.host.as_deref())
                .or(e.reporting_instance.as_deref()),
        },
        emit,
    );
}

fn observe(e: KubeEvent<'_>, emit: &mut Emitter<'_>) {
    let Some(regarding) = e.regarding else { return };
    let Some(kind) = regarding.kind.as_deref().and_then(EntityKind::parse) else {
        return;
    };
    let entity = EntityRef {
        cluster: None,
        kind,
        namespace: if kind.is_namespaced() {
            regarding.namespace.clone()
        } else {
            None
        },
        name: regarding.name.clone().unwrap_or_default(),
        uid: regarding.uid.clone(),
    };
    let node = if kind == EntityKind::Node {
        Some(entity.name.clone())
    } else {
        e.host.map(str::to_owned)
    };
    let (mut event_kind, mut severity) = classify(e.reason, e.message, e.warning);
    // The node lifecycle controller also posts NodeNotReady on each pod of the node.
    if kind != EntityKind::Node && matches!(event_kind, EventKind::NodeConditionChanged { .. }) {
        event_kind = EventKind::Other {
            reason: e.reason.to_owned(),
            message: e.message.to_owned(),
        };
        severity = Severity::Warning;
    }
    let at = e.at.unwrap_or(emit.ts());
    emit.event(
        &format!("{}/{}", e.reason, e.count),
        at,
        event_kind,
        severity,
        entity,
        node,
    );
}

/// Maps a reason and message to a typed kind and a severity.
pub fn classify(reason: &str, message: &str, warning: bool) -> (EventKind, Severity) {
    let msg = message.to_owned();
    let base = if warning {
        Severity::Warning
    } else {
        Severity::Info
    };
    let kind = match reason {
        "BackOff" if message.contains("pulling image") => EventKind::ContainerWaiting {
            container: String::new(),
            reason: "ImagePullBackOff".to_owned(),
            message: msg,
        },
        "BackOff" => EventKind::ContainerWaiting {
            container: String::new(),
            reason: "CrashLoopBackOff".to_owned(),
            message: msg,
        },
        "Failed" | "ErrImagePull" | "InspectFailed" | "ErrImageNeverPull"
            if message.contains("pull")
                || message.contains("ErrImagePull")
                || message.contains("ImagePullBackOff") =>
        {
            EventKind::ImagePullFailed {
                image: quoted(message).unwrap_or_default(),
                message: msg,
            }
        }
        "Failed" if message.contains("not found") || message.contains("couldn't find key") => {
            EventKind::ContainerWaiting {
                container: String::new(),
                reason: "CreateContainerConfigError".to_owned(),
                message: msg,
            }
        }
        "Unhealthy" => EventKind::ProbeFailed {
            probe: if message.starts_with("Liveness") {
                ProbeKind::Liveness
            } else if message.starts_with("Startup") {
                ProbeKind::Startup
            } else {
                ProbeKind::Readiness
            },
            message: msg,
        },
        "Killing" if warning || message.contains("failed") => {
            EventKind::ContainerKilled { message: msg }
        }
        "Evicted" | "Preempting" => EventKind::PodEvicted { message: msg },
        "FailedScheduling" => EventKind::SchedulingFailed { message: msg },
        "FailedCreate" => EventKind::CreateFailed { message: msg },
        "FailedCreatePodSandBox" | "FailedKillPod" => EventKind::SandboxFailed { message: msg },
        "FailedMount" | "FailedAttachVolume" | "ProvisioningFailed" | "FailedBinding" => {
            EventKind::VolumeFailed { message: msg }
        }
        "BackoffLimitExceeded" | "DeadlineExceeded" => EventKind::JobFailed {
            reason: reason.to_owned(),
            message: msg,
        },
        "OOMKilling" | "SystemOOM" => oom_from_message(message),
        "NodeNotReady" => EventKind::NodeConditionChanged {
            condition: "Ready".to_owned(),
            status: "False".to_owned(),
            message: msg,
        },
        _ => EventKind::Other {
            reason: reason.to_owned(),
            message: msg,
        },
    };
    let severity = match &kind {
        EventKind::Other { .. } => base,
        EventKind::ContainerKilled { .. } => Severity::Warning,
        _ if warning => Severity::Error,
        _ => base,
    };
    (kind, severity)
}

/// The first double-quoted part of a message (`Failed to pull image "x:y": ...`).
fn quoted(message: &str) -> Option<String> {
    let start = message.find('"')? + 1;
    let len = message[start..].find('"')?;
    Some(message[start..start + len].to_owned())
}

/// Reads pid and process name from kernel and kubelet OOM messages:
/// `Memory cgroup out of memory: Killed process 1234 (java) ...` and
/// `System OOM encountered, victim process: java, pid: 1234`.
fn oom_from_message(message: &str) -> EventKind {
    let number_after = |marker: &str| -> Option<u32> {
        let rest = &message[message.find(marker)? + marker.len()..];
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let (pid, comm) = if let Some(pid) = number_after("Killed process") {
        let comm = message
            .find('(')
            .and_then(|s| {
                message[s + 1..]
                    .find(')')
                    .map(|e| message[s + 1..s + 1 + e].to_owned())
            })
            .unwrap_or_default();
        (pid, comm)
    } else {
        let comm = message
            .split("victim process:")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        (number_after("pid:").unwrap_or(0), comm)
    };
    EventKind::OomKill {
        pid,
        comm,
        memcg_limit_bytes: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_back_off_messages_map_to_their_waiting_reasons() {
        let (k, s) = classify(
            "BackOff",
            "Back-off restarting failed container cart in pod cart-7d9f_shop(1234)",
            true,
        );
        assert!(
            matches!(k, EventKind::ContainerWaiting { ref reason, .. } if reason == "CrashLoopBackOff")
        );
        assert_eq!(s, Severity::Error);
        let (k, _) = classify(
            "BackOff",
            "Back-off pulling image \"shop/checkout:v9\"",
            true,
        );
        assert!(
            matches!(k, EventKind::ContainerWaiting { ref reason, .. } if reason == "ImagePullBackOff")
        );
    }

    #[test]
    fn failed_pull_names_the_image() {
        let (k, _) = classify(
            "Failed",
            "Failed to pull image \"shop/checkout:v9\": rpc error: code = NotFound desc = failed to pull and unpack image",
            true,
        );
        assert_eq!(
            k,
            EventKind::ImagePullFailed {
                image: "shop/checkout:v9".into(),
                message: "Failed to pull image \"shop/checkout:v9\": rpc error: code = NotFound desc = failed to pull and unpack image".into()
            }
        );
    }

    #[test]
    fn oom_messages_give_pid_and_process() {
        let k = oom_from_message(
            "Memory cgroup out of memory: Killed process 4242 (java) total-vm:1kB",
        );
        assert!(matches!(k, EventKind::OomKill { pid: 4242, ref comm, .. } if comm == "java"));
        let k = oom_from_message("System OOM encountered, victim process: node, pid: 77");
        assert!(matches!(k, EventKind::OomKill { pid: 77, ref comm, .. } if comm == "node"));
    }

    #[test]
    fn normal_reasons_are_kept_as_info() {
        let (k, s) = classify("Pulled", "Successfully pulled image", false);
        assert!(matches!(k, EventKind::Other { .. }));
        assert_eq!(s, Severity::Info);
    }
}
