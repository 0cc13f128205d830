//! CPU throttling, which the kubelet's Summary API does not report: read from each pod
//! container's cgroup `cpu.stat` on this node (cgroup v1 `nr_throttled`/`throttled_time`
//! in nanoseconds, v2 `nr_throttled`/`throttled_usec`), for the cgroups the kubelet made
//! (named by pod uid and container id). Written as `kubelet` lines of the endpoint
//! `cgroup/cpu.stat`; nothing is estimated — a container whose file cannot be read is
//! left out.

use std::fs;
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tapio_domain::Source;

use super::cgroups::{self, Hierarchy};
use super::{LineSender, LiveLine};
use crate::cgroup::parse_cgroup_path;

/// Throttling counters of one container, cumulative since it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerCpuStat {
    pub pod_uid: String,
    pub container_id: String,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub throttled_seconds: f64,
}

/// Reads `cpu.stat` text (either version).
pub fn parse_cpu_stat(text: &str) -> Option<(u64, u64, f64)> {
    let mut periods = None;
    let mut throttled = None;
    let mut seconds = None;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(key), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        match key {
            "nr_periods" => periods = Some(value),
            "nr_throttled" => throttled = Some(value),
            "throttled_time" => seconds = Some(value as f64 / 1e9),
            "throttled_usec" => seconds = Some(value as f64 / 1e6),
            _ => {}
        }
    }
    Some((periods?, throttled?, seconds?))
}

/// The containers under `root` (a cgroup directory tree) and their counters.
pub fn read_containers(root: &Path) -> Vec<ContainerCpuStat> {
    let mut out = Vec::new();
    cgroups::walk(root, "", &mut |dir, name| {
        let Some(ids) = parse_cgroup_path(name) else {
            return true;
        };
        let (Some(pod_uid), Some(container_id)) = (ids.pod_uid, ids.container_id) else {
            return true;
        };
        let stat = fs::read_to_string(dir.join("cpu.stat")).ok();
        if let Some((nr_periods, nr_throttled, throttled_seconds)) =
            stat.as_deref().and_then(parse_cpu_stat)
        {
            out.push(ContainerCpuStat {
                pod_uid,
                container_id,
                nr_periods,
                nr_throttled,
                throttled_seconds,
            });
        }
        false
    });
    out
}

/// The `kubelet` line body of the `cgroup/cpu.stat` endpoint.
#[derive(Debug, Serialize, Deserialize)]
pub struct CpuStatBody {
    pub containers: Vec<ContainerCpuStat>,
}

/// Reads every container's counters each `every` until `shutdown` completes or `out`
/// closes.
pub async fn poll(
    node: String,
    hierarchy: Hierarchy,
    every: Duration,
    out: LineSender,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        let root = hierarchy.mount_point.clone();
        let Ok(containers) = tokio::task::spawn_blocking(move || read_containers(&root)).await
        else {
            return;
        };
        if containers.is_empty() {
            continue;
        }
        let data = serde_json::json!({"node": node, "endpoint": "cgroup/cpu.stat",
                                      "body": CpuStatBody { containers }});
        let Ok(data) = serde_json::value::to_raw_value(&data) else {
            continue;
        };
        let line = LiveLine {
            ts: Timestamp::now(),
            source: Source::Kubelet,
            data,
        };
        if out.send(line).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::PathBuf;

    #[test]
    fn both_versions_of_cpu_stat() {
        let v1 = "nr_periods 100\nnr_throttled 40\nthrottled_time 2500000000\n";
        assert_eq!(parse_cpu_stat(v1), Some((100, 40, 2.5)));
        let v2 = "usage_usec 10\nuser_usec 5\nsystem_usec 5\nnr_periods 7\nnr_throttled 3\nthrottled_usec 1500000\n";
        assert_eq!(parse_cpu_stat(v2), Some((7, 3, 1.5)));
        assert_eq!(
            parse_cpu_stat("usage_usec 10\n"),
            None,
            "no CFS quota: nothing to report"
        );
    }

    #[test]
    fn container_cgroups_of_a_real_tree_are_found() {
        let root = std::env::temp_dir().join(format!("tapio-cpustat-{}", std::process::id()));
        let id = "0b7f0a7c4a3e2b1d9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a49382";
        let dir = root.join(format!(
            "kubepods/burstable/pod6f2a8f3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b/{id}"
        ));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("cpu.stat"),
            "nr_periods 10\nnr_throttled 4\nthrottled_time 1000000000\n",
        )
        .unwrap();
        let found = read_containers(&root);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pod_uid, "6f2a8f3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b");
        assert_eq!(
            (found[0].nr_throttled, found[0].throttled_seconds),
            (4, 1.0)
        );
    }

    #[test]
    fn the_cpu_hierarchy_is_found_in_mountinfo() {
        let text = "38 34 0:33 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let h = Hierarchy::from_mountinfo(text, "cpu").unwrap();
        assert_eq!(
            (h.mount_point, h.unified),
            (PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"), false)
        );
    }

    proptest! {
        #[test]
        fn any_text_parses_or_not_without_panicking(text in ".{0,200}") {
            let _ = parse_cpu_stat(&text);
            let _ = Hierarchy::from_mountinfo(&text, "cpu");
        }
    }
}
