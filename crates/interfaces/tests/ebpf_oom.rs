//! A real OOM kill, seen by Tapio's eBPF programs in this kernel and attributed to the pod
//! whose container cgroup it happened in, end to end through `tapio analyze`.
//!
//! Real parts: the kernel's memory cgroup (v1 `memory.limit_in_bytes` or v2 `memory.max`),
//! named the way the kubelet's cgroupfs driver names a container's cgroup; a python process
//! that allocates past the limit; the kernel's OOM killer; the CO-RE programs loaded with
//! libbpf-rs. The Kubernetes API's part (the Pod object and the kubelet's report of the
//! OOMKilled container) cannot run here and is written as the API server would stream it.
//! Needs root and kernel BTF: it fails, with the reason, where they are missing.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{json, Value};
use tapio_collectors::node_agents::cgroups::Hierarchy;
use tapio_collectors::node_agents::ebpf::{self, EbpfConfig};
use tapio_collectors::node_agents::LiveLine;
use tapio_collectors::recording::{Compression, RecordingWriter};
use tapio_domain::Source;

const POD_UID: &str = "5b0c8d2e-7a41-4f3b-9c6d-2e8f1a7b3c90";
const CONTAINER_ID: &str = "8f4e2a1c9b7d3e5f6a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";
const LIMIT: u64 = 24 << 20;

/// A kubelet-style container cgroup, removed on drop.
struct ContainerCgroup {
    dirs: Vec<PathBuf>,
    unified: bool,
}

impl ContainerCgroup {
    fn create(hierarchy: &Hierarchy) -> Self {
        let base = hierarchy.mount_point.clone();
        let rel = format!("kubepods/burstable/pod{POD_UID}/{CONTAINER_ID}");
        let mut dirs = Vec::new();
        let mut at = base.clone();
        for part in rel.split('/') {
            at = at.join(part);
            if !at.exists() {
                fs::create_dir(&at)
                    .unwrap_or_else(|e| panic!("cannot create {}: {e}", at.display()));
                dirs.push(at.clone());
            }
            if hierarchy.unified && part != CONTAINER_ID {
                // Children only get the memory controller if their parent hands it down.
                let _ = fs::write(at.join("cgroup.subtree_control"), "+memory");
            }
        }
        let cg = Self {
            dirs,
            unified: hierarchy.unified,
        };
        let leaf = cg.leaf();
        if cg.unified {
            fs::write(leaf.join("memory.max"), LIMIT.to_string()).unwrap();
            let _ = fs::write(leaf.join("memory.swap.max"), "0");
        } else {
            fs::write(leaf.join("memory.limit_in_bytes"), LIMIT.to_string()).unwrap();
            let _ = fs::write(leaf.join("memory.swappiness"), "0");
        }
        cg
    }

    fn leaf(&self) -> &Path {
        self.dirs.last().expect("the container cgroup is new")
    }
}

impl Drop for ContainerCgroup {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn require_root_and_btf() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test loads eBPF programs and creates memory cgroups: run it as root"
    );
    assert!(
        Path::new(ebpf::KERNEL_BTF).exists(),
        "kernel BTF is missing ({}), CO-RE programs cannot load",
        ebpf::KERNEL_BTF
    );
}

/// Waits for the collector's line that `pick` accepts.
fn wait_for(
    rx: &mut tokio::sync::mpsc::Receiver<LiveLine>,
    seen: &mut Vec<LiveLine>,
    what: &str,
    pick: impl Fn(&Value) -> bool,
) -> (Value, Timestamp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        while let Ok(line) = rx.try_recv() {
            let v: Value = serde_json::from_str(line.data.get()).unwrap();
            let (hit, ts) = (pick(&v), line.ts);
            seen.push(line);
            if hit {
                return (v, ts);
            }
        }
        assert!(Instant::now() < deadline, "no {what} event within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kube_line(ts: Timestamp, kind: &str, object: Value) -> (Timestamp, Value) {
    (ts, json!({"type": kind, "object": object}))
}

fn pod(phase_state: Value, restarts: u32) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "cart-7d9f6c5b8-x2k4q", "namespace": "shop", "uid": POD_UID,
                     "resourceVersion": (1000 + restarts).to_string(),
                     "labels": {"app": "cart", "pod-template-hash": "7d9f6c5b8"}},
        "spec": {"nodeName": ebpf_node(),
                 "containers": [{"name": "cart", "image": "shop/cart:1.4.2",
                                 "resources": {"limits": {"memory": "24Mi"}}}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "cart", "image": "shop/cart:1.4.2", "ready": restarts == 0,
            "restartCount": restarts, "containerID": format!("containerd://{CONTAINER_ID}"),
            "state": {"running": {"startedAt": "2026-11-26T00:00:00Z"}},
            "lastState": phase_state}]}
    })
}

fn ebpf_node() -> String {
    "oom-test-node".to_owned()
}

#[test]
fn a_real_oom_kill_is_attributed_to_the_pod_of_its_cgroup() {
    require_root_and_btf();
    let hierarchy = Hierarchy::discover("memory").expect("a memory cgroup hierarchy");
    let cgroup = ContainerCgroup::create(&hierarchy);
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let collector = ebpf::start(
        EbpfConfig {
            node: ebpf_node(),
            ring_bytes: 1 << 20,
        },
        tx,
    )
    .unwrap_or_else(|e| panic!("eBPF collector: {e}"));
    assert_eq!(collector.programs().len(), 5, "{:?}", collector.programs());
    let started = Timestamp::now();

    // The "container": joins the cgroup, then allocates four times its limit.
    let procs = cgroup.leaf().join("cgroup.procs");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {} && exec python3 -c 'b = bytearray(96 * 1024 * 1024); print(len(b))'",
            procs.display()
        ))
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the kernel should have killed it: {status:?}"
    );

    let mut seen = Vec::new();
    let (oom, oom_at) = wait_for(&mut rx, &mut seen, "oom_kill", |v| {
        v["event"] == "oom_kill" && v["pod_uid"] == POD_UID
    });
    assert_eq!(oom["node"], ebpf_node());
    assert_eq!(oom["victim_comm"], "python3");
    assert_eq!(oom["container_id"], CONTAINER_ID);
    assert_eq!(oom["memcg_limit_bytes"], LIMIT);
    let victim = oom["victim_pid"].as_u64().unwrap();
    wait_for(&mut rx, &mut seen, "process_exit", |v| {
        v["event"] == "process_exit" && v["pid"] == victim && v["signal"] == 9
    });
    let stats = collector.stats().snapshot();
    collector.stop().unwrap();
    assert_eq!(stats.1, 0, "kernel drops: {stats:?}");
    drop(cgroup);

    // The recording: the API server's view of the pod, then what the node saw.
    let added = kube_line(
        started - Duration::from_secs(60),
        "ADDED",
        pod(json!({}), 0),
    );
    let oom_killed = kube_line(
        oom_at + Duration::from_secs(2),
        "MODIFIED",
        pod(
            json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
                   "containerID": format!("containerd://{CONTAINER_ID}")}}),
            1,
        ),
    );
    let dir = std::env::temp_dir().join(format!("tapio-ebpf-oom-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("oom.jsonl");
    let file = Box::new(fs::File::create(&path).unwrap());
    let mut writer = RecordingWriter::new(file, Compression::None).unwrap();
    let raw = |v: &Value| serde_json::value::to_raw_value(v).unwrap();
    writer
        .write(added.0, Source::Kubeapi, &raw(&added.1))
        .unwrap();
    for line in &seen {
        writer.write(line.ts, line.source, &line.data).unwrap();
    }
    writer
        .write(oom_killed.0, Source::Kubeapi, &raw(&oom_killed.1))
        .unwrap();
    writer.finish().unwrap();

    let out = support::succeed(
        Command::new(env!("CARGO_BIN_EXE_tapio"))
            .args(["analyze", "--format", "json"])
            .arg(&path),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let insight = report["insights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["root_cause"]["entity"]["name"] == "cart-7d9f6c5b8-x2k4q")
        .unwrap_or_else(|| panic!("no insight about the pod: {report:#}"));
    assert_eq!(insight["pattern"], "memory-limit-oom", "{insight:#}");
    // The chain starts at the kernel's kill, on the pod: the kubelet's report came 2 s
    // later, so an unattributed kernel event would leave the chain starting then.
    let first = &insight["chain"][0];
    assert_eq!(
        first["entity"]["name"], "cart-7d9f6c5b8-x2k4q",
        "{insight:#}"
    );
    let first_at: Timestamp = first["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(first_at, oom_at, "{insight:#}");
    fs::remove_dir_all(&dir).unwrap();
}
