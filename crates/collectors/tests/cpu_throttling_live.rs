//! CPU throttling read from a real container-style cgroup: a busy loop confined by a real
//! CFS quota (cgroup v1 `cpu.cfs_quota_us`, or v2 `cpu.max`) in a cgroup named as the
//! kubelet names a container's, read back through the same `cpu.stat` reader and kubelet
//! parser `tapio run` uses. Needs root.

use std::fs;
use std::process::Command;

use tapio_collectors::kubelet;
use tapio_collectors::node_agents::cgroups::Hierarchy;
use tapio_collectors::node_agents::cpu_stat::{read_containers, CpuStatBody};
use tapio_collectors::recording::Record;
use tapio_domain::telemetry::metric_names;
use tapio_domain::{Observation, Source};

const POD_UID: &str = "7c3e1b2a-9d4f-4e6a-8b1c-2d3e4f5a6b7c";
const CONTAINER_ID: &str = "3a4b5c6d7e8f90123456789abcdef0123456789abcdef0123456789abcdef012";

#[test]
fn a_busy_loop_under_a_cfs_quota_is_reported_throttled() {
    let hierarchy = Hierarchy::discover("cpu").expect("a cgroup hierarchy with the cpu controller");
    let root = hierarchy.mount_point.clone();
    let mut made = Vec::new();
    let mut dir = root.clone();
    for part in [
        "kubepods",
        "burstable",
        &format!("pod{POD_UID}"),
        CONTAINER_ID,
    ] {
        dir = dir.join(part);
        if !dir.exists() {
            fs::create_dir(&dir)
                .unwrap_or_else(|e| panic!("cannot create {} (needs root): {e}", dir.display()));
            made.push(dir.clone());
        }
        if hierarchy.unified && part != CONTAINER_ID {
            let _ = fs::write(dir.join("cgroup.subtree_control"), "+cpu");
        }
    }
    // 10 ms of CPU per 100 ms period.
    if hierarchy.unified {
        fs::write(dir.join("cpu.max"), "10000 100000").unwrap();
    } else {
        fs::write(dir.join("cpu.cfs_quota_us"), "10000").unwrap();
    }
    let procs = dir.join("cgroup.procs");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {} && exec timeout 1 sh -c 'while :; do :; done'",
            procs.display()
        ))
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(124),
        "the loop runs until timeout stops it"
    );

    let found = read_containers(&root);
    for d in made.iter().rev() {
        let _ = fs::remove_dir(d);
    }
    let stat = found
        .iter()
        .find(|c| c.container_id == CONTAINER_ID)
        .unwrap_or_else(|| panic!("the container's cgroup: {found:?}"));
    assert_eq!(stat.pod_uid, POD_UID);
    assert!(stat.nr_periods >= 5, "{stat:?}");
    assert!(
        stat.nr_throttled >= 5,
        "a 10% quota throttles a busy loop: {stat:?}"
    );
    assert!(stat.throttled_seconds > 0.3, "{stat:?}");

    // The same parser as replay turns them into counters on the pod.
    let body = CpuStatBody {
        containers: vec![stat.clone()],
    };
    let data = serde_json::json!({"node": "n1", "endpoint": "cgroup/cpu.stat", "body": body});
    let record = Record::live(Source::Kubelet, &data);
    let mut out = Vec::new();
    kubelet::parse(&record, &mut Default::default(), &mut out).unwrap();
    let throttled = out
        .iter()
        .find_map(|o| match o {
            Observation::Metric(m) if m.name == metric_names::CFS_THROTTLED_PERIODS => Some(m),
            _ => None,
        })
        .expect("a throttled-periods counter");
    assert_eq!(throttled.entity.uid.as_deref(), Some(POD_UID));
    assert!(throttled.counter);
    assert_eq!(throttled.value, stat.nr_throttled as f64);
}
