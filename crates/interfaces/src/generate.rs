//! `tapio generate`: a synthetic but realistically shaped recording of a large cluster —
//! nodes, namespaces, Deployments with their ReplicaSets, Pods, Services and ConfigMaps —
//! through hours of ordinary churn (rollouts, scale changes, ConfigMap edits, the normal
//! Events), with a few injected incidents. For demos, load tests and the memory benchmark.

use anyhow::Result;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, value::RawValue, Value};
use tapio_collectors::recording::RecordingWriter;
use tapio_domain::Source;

/// Size and length of the generated cluster (also the `tapio generate` options).
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterShape {
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 50)]
    pub nodes: usize,
    /// Pods in the cluster.
    #[arg(long, default_value_t = 1500)]
    pub pods: usize,
    /// Pods per Deployment.
    #[arg(long, default_value_t = 10)]
    pub replicas: usize,
    /// Hours of churn after the initial list.
    #[arg(long, default_value_t = 1.0)]
    pub hours: f64,
    /// Fraction of Deployments rolled out per hour.
    #[arg(long, default_value_t = 0.1)]
    pub rollouts_per_hour: f64,
    /// Seed of the pseudo-random choices (same seed, same recording).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Inject the incidents (a ConfigMap change that OOM-kills, a bad image rollout);
    /// `--no-incidents` gives a healthy cluster.
    #[arg(long = "no-incidents", action = clap::ArgAction::SetFalse)]
    pub incidents: bool,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub lines: u64,
    pub deployments: usize,
    /// `(root entity, what happened)` of each injected incident.
    pub incidents: Vec<(String, String)>,
}

#[derive(Clone)]
struct Deployment {
    ns: String,
    name: String,
    uid: String,
    rs: String,
    rs_uid: String,
    config_uid: String,
    revision: u64,
    image_tag: u64,
    pods: Vec<(String, String, usize)>,
}

struct Gen<'w> {
    out: &'w mut RecordingWriter,
    rng: fastrand::Rng,
    rv: u64,
    uid: u64,
    now: Timestamp,
    lines: u64,
    nodes: Vec<String>,
}

fn ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Gen<'_> {
    fn uid(&mut self) -> String {
        self.uid += 1;
        let n = self.uid;
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            n as u32,
            (n >> 32) as u16 ^ 0x5a5a,
            n % 4096,
            (n / 7) % 4096,
            n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16
        )
    }

    fn rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    fn suffix(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n)
            .map(|_| ALPHABET[self.rng.usize(..ALPHABET.len())] as char)
            .collect()
    }

    fn emit(&mut self, source: Source, data: &Value) -> Result<()> {
        let raw = RawValue::from_string(data.to_string())?;
        self.out.write(self.now, source, &raw)?;
        self.lines += 1;
        Ok(())
    }

    fn watch(&mut self, kind: &str, object: Value) -> Result<()> {
        self.emit(Source::Kubeapi, &json!({"type": kind, "object": object}))
    }

    fn advance(&mut self, secs: f64) {
        self.now += SignedDuration::from_secs_f64(secs.max(0.0));
    }

    fn node(&mut self, name: &str, i: usize) -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": self.uid(), "resourceVersion": self.rv(),
            "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": format!("zone-{}", i % 3), "node.kubernetes.io/instance-type": "m6i.2xlarge"}},
            "status": {"addresses": [{"type": "InternalIP", "address": format!("10.{}.{}.{}", 1 + i / 65536, (i / 256) % 256, i % 256)}],
                "capacity": {"cpu": "8", "memory": "32386552Ki", "pods": "110"},
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                    {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                    {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                    {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    }

    fn pod_template(d: &Deployment, limit: &str) -> Value {
        json!({"metadata": {"labels": {"app.kubernetes.io/name": d.name}},
            "spec": {"containers": [{"name": "app", "image": format!("registry.example.com/{}/{}:1.{}", d.ns, d.name, d.image_tag),
                "envFrom": [{"configMapRef": {"name": format!("{}-config", d.name)}}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": limit}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10}}]}})
    }

    fn deployment(&mut self, d: &Deployment, replicas: usize, limit: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": d.name, "namespace": d.ns, "uid": d.uid, "resourceVersion": self.rv(), "generation": d.revision,
                "labels": {"app.kubernetes.io/name": d.name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": d.name}}, "template": Self::pod_template(d, limit)}})
    }

    fn replica_set(&mut self, d: &Deployment, replicas: usize, limit: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": d.rs, "namespace": d.ns, "uid": d.rs_uid, "resourceVersion": self.rv(),
                "labels": {"app.kubernetes.io/name": d.name, "pod-template-hash": d.rs.rsplit('-').next()},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": d.name, "uid": d.uid, "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": d.name}}, "template": Self::pod_template(d, limit)}})
    }

    fn pod(
        &mut self,
        d: &Deployment,
        name: &str,
        uid: &str,
        node: usize,
        status: Value,
        deleting: bool,
    ) -> Value {
        let mut meta = json!({"name": name, "namespace": d.ns, "uid": uid, "resourceVersion": self.rv(),
            "labels": {"app.kubernetes.io/name": d.name, "pod-template-hash": d.rs.rsplit('-').next()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": d.rs, "uid": d.rs_uid, "controller": true, "blockOwnerDeletion": true}]});
        if deleting {
            meta["deletionTimestamp"] = json!(ts(self.now));
        }
        let mut spec = Self::pod_template(d, "512Mi")["spec"].clone();
        spec["nodeName"] = json!(self.nodes[node]);
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status})
    }

    fn running(&self, started: Timestamp, restarts: i32, last: Value, state: Value) -> Value {
        json!({"phase": "Running", "podIP": format!("100.64.{}.{}", self.uid / 256 % 256, self.uid % 256),
            "containerStatuses": [{"name": "app", "image": "app", "imageID": "", "ready": restarts == 0, "restartCount": restarts,
                "lastState": last, "state": if state.is_null() { json!({"running": {"startedAt": ts(started)}}) } else { state }}]})
    }

    /// A v1 Event about `involved` (`{"kind","namespace","name","uid"}`).
    fn event(
        &mut self,
        involved: Value,
        reason: &str,
        message: &str,
        warning: bool,
        count: i32,
    ) -> Result<()> {
        let ns = involved["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let name = involved["name"].as_str().unwrap_or_default();
        let ev_name = format!("{name}.{:016x}", self.rng.u64(..));
        let ev = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": ev_name, "namespace": ns, "uid": self.uid(), "resourceVersion": self.rv()},
            "involvedObject": involved,
            "reason": reason, "message": message, "type": if warning { "Warning" } else { "Normal" }, "count": count,
            "firstTimestamp": ts(self.now), "lastTimestamp": ts(self.now), "source": {"component": "kubelet"}});
        self.watch("ADDED", ev)
    }

    /// Replaces every pod of `d` with a new ReplicaSet's pods (a rolling update).
    fn rollout(&mut self, d: &mut Deployment, limit: &str) -> Result<()> {
        d.revision += 1;
        let old = std::mem::take(&mut d.pods);
        let old_rs = d.rs.clone();
        let hash = self.suffix(10);
        d.rs = format!("{}-{hash}", d.name);
        d.rs_uid = self.uid();
        let dep = self.deployment(d, old.len(), limit);
        self.watch("MODIFIED", dep)?;
        let rs = self.replica_set(d, old.len(), limit);
        self.watch("ADDED", rs)?;
        self.event(
            json!({"kind": "Deployment", "namespace": d.ns, "name": d.name, "uid": d.uid}),
            "ScalingReplicaSet",
            &format!("Scaled up replica set {} from 0 to {}", d.rs, old.len()),
            false,
            1,
        )?;
        for (old_name, old_uid, node) in old {
            let name = format!("{}-{}", d.rs, self.suffix(5));
            let uid = self.uid();
            let status = self.running(self.now, 0, json!({}), Value::Null);
            let pod = self.pod(d, &name, &uid, node, status, false);
            self.watch("ADDED", pod)?;
            self.event(
                json!({"kind": "Pod", "namespace": d.ns, "name": name, "uid": uid}),
                "Pulled",
                "Container image already present on machine",
                false,
                1,
            )?;
            self.advance(0.2);
            // The old pod is shut down: deletionTimestamp first, then DELETED.
            let tmp = Deployment {
                rs: old_rs.clone(),
                ..d.clone()
            };
            let status = self.running(self.now, 0, json!({}), json!({"terminated": {"exitCode": 143, "reason": "Error", "finishedAt": ts(self.now)}}));
            let stopping = self.pod(&tmp, &old_name, &old_uid, node, status.clone(), true);
            self.watch("MODIFIED", stopping)?;
            let gone = self.pod(&tmp, &old_name, &old_uid, node, status, true);
            self.watch("DELETED", gone)?;
            d.pods.push((name, uid, node));
        }
        Ok(())
    }
}

/// Writes the recording.
pub fn generate(shape: &ClusterShape, out: &mut RecordingWriter) -> Result<Generated> {
    let mut g = Gen {
        out,
        rng: fastrand::Rng::with_seed(shape.seed),
        rv: 1_000_000,
        uid: 0,
        now: "2026-06-01T00:00:00Z".parse()?,
        lines: 0,
        nodes: (0..shape.nodes.max(1))
            .map(|i| format!("node-{i:05}"))
            .collect(),
    };
    let mut result = Generated::default();
    // Initial list: nodes, then per namespace ConfigMaps, Services, Deployments, ReplicaSets, Pods.
    for i in 0..g.nodes.len() {
        let name = g.nodes[i].clone();
        let node = g.node(&name, i);
        g.watch("ADDED", node)?;
    }
    let deployments = (shape.pods / shape.replicas.max(1)).max(1);
    let per_namespace = 30;
    let mut ds: Vec<Deployment> = Vec::with_capacity(deployments);
    for i in 0..deployments {
        let ns = format!("team-{:04}", i / per_namespace);
        let name = format!("svc-{i:05}");
        let hash = g.suffix(10);
        let mut d = Deployment {
            rs: format!("{name}-{hash}"),
            rs_uid: g.uid(),
            uid: g.uid(),
            config_uid: g.uid(),
            ns,
            name,
            revision: 1,
            image_tag: 0,
            pods: Vec::new(),
        };
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{}-config", d.name), "namespace": d.ns, "uid": d.config_uid, "resourceVersion": g.rv()},
            "data": {"LOG_LEVEL": "info", "POOL_SIZE": "20"}});
        g.watch("ADDED", cm)?;
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": d.name, "namespace": d.ns, "uid": g.uid(), "resourceVersion": g.rv()},
            "spec": {"selector": {"app.kubernetes.io/name": d.name}, "clusterIP": format!("172.20.{}.{}", i / 256 % 256, i % 256), "ports": [{"port": 80, "targetPort": 8080}]}});
        g.watch("ADDED", svc)?;
        for _ in 0..shape.replicas {
            let node = g.rng.usize(..g.nodes.len());
            let name = format!("{}-{}", d.rs, g.suffix(5));
            let uid = g.uid();
            d.pods.push((name, uid, node));
        }
        let dep = g.deployment(&d, shape.replicas, "512Mi");
        g.watch("ADDED", dep)?;
        let rs = g.replica_set(&d, shape.replicas, "512Mi");
        g.watch("ADDED", rs)?;
        for (name, uid, node) in d.pods.clone() {
            let started = g.now - SignedDuration::from_hours(24);
            let status = g.running(started, 0, json!({}), Value::Null);
            let pod = g.pod(&d, &name, &uid, node, status, false);
            g.watch("ADDED", pod)?;
        }
        ds.push(d);
    }
    result.deployments = ds.len();
    // Churn: rollouts, ConfigMap edits with no effect, scale changes; incidents injected at
    // fixed fractions of the run.
    let total_secs = shape.hours * 3600.0;
    let rollouts = ((ds.len() as f64) * shape.rollouts_per_hour * shape.hours).round() as usize;
    let steps = rollouts.max(1);
    let step_secs = total_secs / steps as f64;
    let oom_at = steps * 2 / 5;
    let image_at = steps * 7 / 10;
    for step in 0..steps {
        let jitter = 0.5 + g.rng.f64();
        g.advance(step_secs * jitter);
        let idx = g.rng.usize(..ds.len());
        if shape.incidents && step == oom_at {
            result.incidents.push(inject_oom(&mut g, &mut ds[idx])?);
            continue;
        }
        if shape.incidents && step == image_at {
            result
                .incidents
                .push(inject_bad_image(&mut g, &mut ds[idx])?);
            continue;
        }
        match g.rng.u8(..10) {
            0 => {
                let d = &ds[idx];
                let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{}-config", d.name), "namespace": d.ns, "uid": d.config_uid, "resourceVersion": g.rv()},
                    "data": {"LOG_LEVEL": if g.rng.bool() { "debug" } else { "info" }, "POOL_SIZE": "20"}});
                g.watch("MODIFIED", cm)?;
            }
            _ => {
                ds[idx].image_tag += 1;
                g.rollout(&mut ds[idx], "512Mi")?;
            }
        }
    }
    result.lines = g.lines;
    Ok(result)
}

/// A ConfigMap edit, a rollout restart, then the new pods grow memory and are OOM-killed
/// into CrashLoopBackOff.
fn inject_oom(g: &mut Gen<'_>, d: &mut Deployment) -> Result<(String, String)> {
    let cm_name = format!("{}-config", d.name);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cm_name, "namespace": d.ns, "uid": d.config_uid, "resourceVersion": g.rv()},
        "data": {"LOG_LEVEL": "info", "POOL_SIZE": "400"}});
    g.watch("MODIFIED", cm)?;
    g.advance(40.0);
    g.rollout(d, "512Mi")?;
    let limit = 512.0 * 1024.0 * 1024.0;
    for minute in 0..6 {
        g.advance(60.0);
        let pods: Vec<Value> = d.pods.iter().map(|(name, uid, _)| json!({"podRef": {"name": name, "namespace": d.ns, "uid": uid},
            "containers": [{"name": "app", "memory": {"time": ts(g.now), "workingSetBytes": (limit * (0.35 + 0.11 * minute as f64)) as u64}}]})).collect();
        let node = g.nodes[d.pods[0].2].clone();
        g.emit(Source::Kubelet, &json!({"node": node, "endpoint": "stats/summary", "body": {"node": {"nodeName": node}, "pods": pods}}))?;
    }
    let finished = g.now;
    for (restarts, (name, uid, node)) in d
        .pods
        .clone()
        .into_iter()
        .enumerate()
        .map(|(i, p)| (1 + i as i32 % 2, p))
    {
        let last = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": ts(finished - SignedDuration::from_mins(6)), "finishedAt": ts(finished)}});
        let waiting = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off 10s restarting failed container=app pod={name}_{}({uid})", d.ns)}});
        let status = g.running(finished, restarts, last, waiting);
        let pod = g.pod(d, &name, &uid, node, status, false);
        g.watch("MODIFIED", pod)?;
        g.event(
            json!({"kind": "Pod", "namespace": d.ns, "name": name, "uid": uid}),
            "BackOff",
            &format!(
                "Back-off restarting failed container app in pod {name}_{}({uid})",
                d.ns
            ),
            true,
            3,
        )?;
    }
    Ok((
        format!("ConfigMap {}/{cm_name}", d.ns),
        "POOL_SIZE raised; pods OOM-killed into CrashLoopBackOff".to_owned(),
    ))
}

/// An image change to a tag that does not exist: the new pods cannot pull it.
fn inject_bad_image(g: &mut Gen<'_>, d: &mut Deployment) -> Result<(String, String)> {
    d.revision += 1;
    d.image_tag = 999;
    let old_rs = (d.rs.clone(), d.rs_uid.clone());
    d.rs = format!("{}-{}", d.name, g.suffix(10));
    d.rs_uid = g.uid();
    let dep = g.deployment(d, d.pods.len(), "512Mi");
    g.watch("MODIFIED", dep)?;
    let rs = g.replica_set(d, d.pods.len(), "512Mi");
    g.watch("ADDED", rs)?;
    let name = format!("{}-{}", d.rs, g.suffix(5));
    let uid = g.uid();
    let node = d.pods[0].2;
    let image = format!("registry.example.com/{}/{}:1.999", d.ns, d.name);
    for (reason, message, waiting) in [
        ("Failed", format!("Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found"), "ErrImagePull"),
        ("BackOff", format!("Back-off pulling image \"{image}\""), "ImagePullBackOff"),
    ] {
        g.advance(15.0);
        let status = json!({"phase": "Pending", "containerStatuses": [{"name": "app", "image": image, "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": waiting, "message": message}}}]});
        let pod = g.pod(d, &name, &uid, node, status, false);
        g.watch(if waiting == "ErrImagePull" { "ADDED" } else { "MODIFIED" }, pod)?;
        g.event(json!({"kind": "Pod", "namespace": d.ns, "name": name, "uid": uid}), reason, &message, true, 1)?;
    }
    // The old ReplicaSet keeps serving: the rollout stalls.
    d.rs = old_rs.0;
    d.rs_uid = old_rs.1;
    Ok((
        format!("Deployment {}/{}", d.ns, d.name),
        "image changed to a tag that does not exist".to_owned(),
    ))
}
