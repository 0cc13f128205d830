//! Container lifecycle: repeated exits become CrashLoopBackOff; failed pulls become
//! ImagePullBackOff; liveness failures restart containers.

use tapio_domain::event::ProbeKind;
use tapio_domain::{Event, EventKind};

use super::{
    is_crash_loop, is_failed_termination, is_image_pull_waiting, is_probe_or_exit_failure, minutes,
    waiting_reason, CausalRule,
};
use crate::correlation::link::Link;

fn termination_text(e: &Event) -> String {
    match &e.kind {
        EventKind::ContainerTerminated {
            reason, exit_code, ..
        } => format!("{reason}, exit code {exit_code}"),
        _ => String::new(),
    }
}

fn is_pull_failure(e: &Event) -> bool {
    matches!(e.kind, EventKind::ImagePullFailed { .. }) || waiting_reason(e) == Some("ErrImagePull")
}

fn is_liveness_failure(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::ProbeFailed {
            probe: ProbeKind::Liveness,
            ..
        }
    )
}

fn is_error_log_spike(e: &Event) -> bool {
    super::metric_up(e).is_some_and(|m| m.starts_with("error_logs"))
}

pub(super) const RULES: &[CausalRule] = &[
    CausalRule {
        name: "errors-precede-failure",
        cause: is_error_log_spike,
        effect: is_probe_or_exit_failure,
        link: Link::SameEntity,
        max_delay: minutes(15),
        prior: 0.7,
        why: |c, _| match &c.kind {
            EventKind::MetricAnomaly {
                metric, observed, ..
            } => format!(
                "the application started logging \"{}\" ({observed:.0} a minute), then failed",
                metric.trim_start_matches("error_logs: ")
            ),
            _ => String::new(),
        },
    },
    CausalRule {
        name: "exits-cause-crashloop",
        cause: is_failed_termination,
        effect: is_crash_loop,
        link: Link::SameEntity,
        max_delay: minutes(15),
        prior: 0.95,
        why: |c, _| {
            format!("the container exited ({}) and kept exiting, so the kubelet backs off restarting it (CrashLoopBackOff)", termination_text(c))
        },
    },
    CausalRule {
        name: "pull-failures-cause-backoff",
        cause: is_pull_failure,
        effect: is_image_pull_waiting,
        link: Link::SameEntity,
        max_delay: minutes(15),
        prior: 0.9,
        why: |_, _| {
            "pulling the image failed, so the kubelet backs off pulling it (ImagePullBackOff)"
                .to_owned()
        },
    },
    CausalRule {
        name: "liveness-failures-restart-container",
        cause: is_liveness_failure,
        effect: is_failed_termination,
        link: Link::SameEntity,
        max_delay: minutes(5),
        prior: 0.85,
        why: |_, _| {
            "the liveness probe kept failing, so the kubelet killed and restarted the container"
                .to_owned()
        },
    },
];
