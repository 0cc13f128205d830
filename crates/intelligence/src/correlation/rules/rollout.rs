//! Changes and rollouts: a ConfigMap/Secret or pod-template change creates pods that run
//! with it; what those pods then do (fail to pull, exit, grow) follows from the change.

use tapio_domain::{Event, EventKind};

use super::{
    is_config_change, is_config_error_waiting, is_failed_termination, is_image_pull_waiting,
    is_metric_anomaly, is_pod_created, is_template_change, minutes, CausalRule,
};
use crate::correlation::link::Link;

fn change_text(e: &Event) -> String {
    match &e.kind {
        EventKind::ConfigChanged { keys } => format!(
            "ConfigMap {} changed (keys: {})",
            e.entity.name,
            keys.join(", ")
        ),
        EventKind::SecretChanged { keys } => format!(
            "Secret {} changed (keys: {})",
            e.entity.name,
            keys.join(", ")
        ),
        EventKind::ImageChanged {
            container,
            from,
            to,
        } => format!("the image of container {container} changed from {from} to {to}"),
        EventKind::ResourcesChanged {
            container, change, ..
        } => format!("the resources of container {container} changed ({change})"),
        EventKind::ProbeChanged { container } => {
            format!("the probes of container {container} changed")
        }
        EventKind::EnvChanged { container } => {
            format!("the env/command of container {container} changed")
        }
        EventKind::RolloutRestarted => format!(
            "{} {} was restarted (rollout restart)",
            e.entity.kind, e.entity.name
        ),
        _ => e.kind.name().to_owned(),
    }
}

fn is_config_mount_failure(e: &Event) -> bool {
    matches!(&e.kind, EventKind::VolumeFailed { message } if message.contains("configmap") || message.contains("secret"))
}

fn is_restart(e: &Event) -> bool {
    matches!(e.kind, EventKind::RolloutRestarted)
}

fn is_image_change(e: &Event) -> bool {
    matches!(e.kind, EventKind::ImageChanged { .. })
}

fn is_pull_failure(e: &Event) -> bool {
    matches!(e.kind, EventKind::ImagePullFailed { .. }) || is_image_pull_waiting(e)
}

fn is_pod_trouble(e: &Event) -> bool {
    is_failed_termination(e)
        || is_metric_anomaly(e)
        || is_config_error_waiting(e)
        || is_pull_failure(e)
        || matches!(e.kind, EventKind::ProbeFailed { .. })
}

pub(super) const RULES: &[CausalRule] = &[
    CausalRule {
        name: "config-change-then-rollout",
        cause: is_config_change,
        effect: is_restart,
        link: Link::ConfigUsedByWorkload,
        max_delay: minutes(30),
        prior: 0.9,
        why: |c, _| {
            format!(
                "{}, and the workload that uses it was restarted to pick it up",
                change_text(c)
            )
        },
    },
    CausalRule {
        name: "config-change-restarts-pods",
        cause: is_config_change,
        effect: is_pod_created,
        link: Link::ConfigUsedByPod,
        max_delay: minutes(30),
        prior: 0.8,
        why: |c, _| {
            format!(
                "{}; pods that use it were recreated with the new values",
                change_text(c)
            )
        },
    },
    CausalRule {
        name: "template-change-rolls-out-pods",
        cause: is_template_change,
        effect: is_pod_created,
        link: Link::WorkloadOwnsPod,
        max_delay: minutes(30),
        prior: 0.9,
        why: |c, _| {
            format!(
                "{}, so the rollout created new pods with it",
                change_text(c)
            )
        },
    },
    CausalRule {
        name: "new-pod-runs-with-the-change",
        cause: is_pod_created,
        effect: is_pod_trouble,
        link: Link::SameEntity,
        max_delay: minutes(60),
        prior: 0.75,
        why: |_, _| "the new pod started with the change".to_owned(),
    },
    CausalRule {
        name: "image-change-fails-pulls",
        cause: is_image_change,
        effect: is_pull_failure,
        link: Link::WorkloadOwnsPod,
        max_delay: minutes(30),
        prior: 0.85,
        why: |c, _| format!("{}, and that image cannot be pulled", change_text(c)),
    },
    CausalRule {
        name: "config-change-breaks-running-pods",
        cause: is_config_change,
        effect: is_failed_termination,
        link: Link::ConfigMountedByPod,
        max_delay: minutes(15),
        prior: 0.6,
        why: |c, _| format!("{}; the running pod reloaded it and failed", change_text(c)),
    },
    CausalRule {
        name: "config-change-breaks-mount",
        cause: is_config_change,
        effect: is_config_mount_failure,
        link: Link::ConfigMountedByPod,
        max_delay: minutes(30),
        prior: 0.85,
        why: |c, _| {
            format!(
                "{}; the pod's volume now refers to a key or object that is not there",
                change_text(c)
            )
        },
    },
    CausalRule {
        name: "config-change-breaks-container-config",
        cause: is_config_change,
        effect: is_config_error_waiting,
        link: Link::ConfigUsedByPod,
        max_delay: minutes(30),
        prior: 0.85,
        why: |c, _| {
            format!(
                "{}; the container's env or volume now refers to something missing",
                change_text(c)
            )
        },
    },
];
