"""Building blocks for the incident suite, on top of tools/examples/generate.py.

Imports the examples generator as a library (its output is not touched) and adds what the
incident scenarios need: Secrets, StatefulSet-less pending pods, scheduler events with
series, node conditions/taints/heartbeats, evictions, probe failures, Jobs/CronJobs,
ResourceQuota, NetworkPolicy, PVC/StorageClass, and the node-level sources (systemd
journal export JSON, dns, cni, ebpf, etcd status) plus OTLP spans and HTTP metrics.

Standard library only; all randomness comes from the Recording's seeded generator.
"""

import base64
import copy
import datetime as dt
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "examples"))

import generate as g  # noqa: E402

T, add, ktime, mtime, unix_nano, kv, Mi = g.T, g.add, g.ktime, g.mtime, g.unix_nano, g.kv, g.Mi
UTC = g.UTC
ECR = g.ECR


# --------------------------------------------------------------------------- cluster

NODE_DEFS = [
    ("ip-10-0-1-23.eu-west-1.compute.internal", "10.0.1.23", "eu-west-1a", "euw1-az1", "i-0a41c7e2b9d35f16e"),
    ("ip-10-0-2-141.eu-west-1.compute.internal", "10.0.2.141", "eu-west-1b", "euw1-az2", "i-05e9d13c7a2b84f40"),
    ("ip-10-0-3-78.eu-west-1.compute.internal", "10.0.3.78", "eu-west-1c", "euw1-az3", "i-0c6b2f58d1e97a034"),
    ("ip-10-0-1-187.eu-west-1.compute.internal", "10.0.1.187", "eu-west-1a", "euw1-az1", "i-07d2e9a4c1b6f3580"),
    ("ip-10-0-2-59.eu-west-1.compute.internal", "10.0.2.59", "eu-west-1b", "euw1-az2", "i-0e3f81c5a7d294b61"),
    ("ip-10-0-3-212.eu-west-1.compute.internal", "10.0.3.212", "eu-west-1c", "euw1-az3", "i-0b95c2d7e4a1f6832"),
]


def cluster(rec, start, end, n_nodes=3):
    """g.base_cluster with a configurable number of nodes (same objects for the first three)."""
    if n_nodes == 3:
        return g.base_cluster(rec, start, end)
    c = g.Cluster(rec, start, end)
    created = T("2026-02-23T08:14:55+00:00")
    for i, (name, ip, zone, zid, iid) in enumerate(NODE_DEFS[:n_nodes]):
        c.node(name, ip, zone, zid, iid, add(created, [0, 7, 11, 86400 * 3, 86400 * 3 + 5, 86400 * 3 + 9][i]))
    cl_created = T("2026-02-23T08:06:29+00:00")
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        c.namespace(ns, cl_created)
    c.service("default", "kubernetes", 443, 443, cl_created, cluster_ip="172.20.0.1",
              labels={"component": "apiserver", "provider": "kubernetes"})
    kp = g.App("kube-proxy", ECR + "/eks/kube-proxy:v1.33.3-minimal-eksbuild.6", 10256, lang="go",
               requests={"cpu": "100m"}, probe_path=None, mem_mb=24, cpu_m=3, image_size=30_125_116, sa="kube-proxy",
               args=["--v=2", "--config=/var/lib/kube-proxy-config/config", "--hostname-override=$(NODE_NAME)"],
               env=[{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
               volumes=[{"name": "config", "configMap": {"name": "kube-proxy-config", "defaultMode": 420}}],
               mounts=[{"name": "config", "mountPath": "/var/lib/kube-proxy-config/"}])
    c.configmap("kube-system", "kube-proxy-config", {"config": g.KUBE_PROXY_CONFIG}, add(cl_created, 400),
                labels={"eks.amazonaws.com/component": "kube-proxy", "k8s-app": "kube-proxy"}, manager="eks")
    g.DaemonSet(c, "kube-system", kp, add(cl_created, 400), {"k8s-app": "kube-proxy"})
    coredns = g.App("coredns", ECR + "/eks/coredns:v1.12.1-eksbuild.2", 53, lang="go",
                    requests={"cpu": "100m", "memory": "70Mi"}, limits={"memory": "170Mi"}, probe_path="/health",
                    mem_mb=21, cpu_m=4, image_size=24_991_230, sa="coredns", args=["-conf", "/etc/coredns/Corefile"],
                    volumes=[{"name": "config-volume", "configMap": {"name": "coredns", "items": [
                        {"key": "Corefile", "path": "Corefile"}], "defaultMode": 420}}],
                    mounts=[{"name": "config-volume", "readOnly": True, "mountPath": "/etc/coredns"}])
    c.configmap("kube-system", "coredns", {"Corefile": g.COREFILE}, add(cl_created, 410),
                labels={"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"}, manager="eks")
    c.service("kube-system", "kube-dns", 53, 53, add(cl_created, 410), selector={"k8s-app": "kube-dns"},
              cluster_ip="172.20.0.10", labels={"eks.amazonaws.com/component": "kube-dns", "k8s-app": "kube-dns"})
    d = g.Deployment(c, "kube-system", coredns, 2, add(cl_created, 410), 1, manager="eks",
                     labels={"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"},
                     selector={"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"})
    d.seed(c.nodes[:2], add(cl_created, 920))
    return c


def coredns_pods(c):
    return [p for p in c.pods if p.ns == "kube-system" and p.cname == "coredns"]


def app_deploy(c, ns, name, image, *, replicas, nodes, port=8080, lang="go", requests=None, limits=None,
               mem_mb=60, cpu_m=40, env=None, env_from=None, volumes=None, mounts=None, probe_path="/healthz",
               revision=5, part_of=None, created=None, hist_image=None, profile_fn=None, run_info=None,
               service=True, ready_delay=6, exit_on_term=0, tmp_policy="File", sa=None, image_size=None,
               manager="kubectl-client-side-apply", template_annotations=None, age_days=2.0, labels=None):
    """An application Deployment with its Service, already running when the recording starts."""
    created = created or add(c.start, -86400 * 20)
    app = g.App(name, image, port, lang=lang, requests=requests or {"cpu": "100m", "memory": "128Mi"},
                limits=limits if limits is not None else {"memory": "256Mi"}, env=env, env_from=env_from,
                volumes=volumes, mounts=mounts, probe_path=probe_path, mem_mb=mem_mb, cpu_m=cpu_m,
                image_size=image_size or (20_000_000 + g.shash(image) % 150_000_000), sa=sa or name,
                ready_delay=ready_delay, exit_on_term=exit_on_term, tmp_policy=tmp_policy,
                cache_mb=max(2, mem_mb // 12))
    hist = None
    if hist_image:
        hist = {"image": hist_image, "created": add(c.start, -86400 * (age_days + 5)),
                "rolled": add(c.start, -86400 * age_days)}
    d = g.Deployment(c, ns, app, replicas, created, revision, part_of=part_of or ns, manager=manager,
                     history=hist, template_annotations=template_annotations, labels=labels)
    d.seed(nodes, add(c.start, -86400 * age_days + 30), profile_fn=profile_fn, run_info=run_info)
    if service:
        c.service(ns, name, 80, "http" if probe_path else port, add(created, 5),
                  selector={"app.kubernetes.io/name": name},
                  labels={"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": part_of or ns})
    return d


def live_pods(d, t=None):
    return [p for p in d.all_pods() if p.deleted is None and p.terminating is None]


# --------------------------------------------------------------------------- objects

def b64(s):
    return base64.b64encode(s.encode()).decode()


def secret(c, ns, name, data, created, labels=None, annotations=None, manager="external-secrets",
           type_="Opaque", owner=None):
    md = {"name": name, "namespace": ns, "uid": c.uid(), "resourceVersion": None, "creationTimestamp": ktime(created)}
    if labels:
        md["labels"] = dict(labels)
    if annotations:
        md["annotations"] = dict(annotations)
    if owner:
        md["ownerReferences"] = [owner]
    md["managedFields"] = [{"manager": manager, "operation": "Update", "apiVersion": "v1", "time": ktime(created),
                            "fieldsType": "FieldsV1",
                            "fieldsV1": {"f:data": {".": {}, **{"f:" + k: {} for k in data}}, "f:type": {}}}]
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": md, "data": {k: b64(v) for k, v in data.items()},
           "type": type_}
    c.initial_add(21, obj)
    return obj


def edit_secret(c, t, s, changes, annotations=None):
    for k, v in changes.items():
        s["data"][k] = b64(v)
    if annotations:
        s["metadata"].setdefault("annotations", {}).update(annotations)
    s["metadata"]["managedFields"][0]["time"] = ktime(t)
    c.kube(t, "MODIFIED", s)


def simple_obj(c, api, kind, ns, name, created, spec=None, status=None, labels=None, annotations=None, order=35,
               initial=True, extra=None):
    md = {"name": name}
    if ns:
        md["namespace"] = ns
    md.update({"uid": c.uid(), "resourceVersion": None, "creationTimestamp": ktime(created)})
    if labels:
        md["labels"] = dict(labels)
    if annotations:
        md["annotations"] = dict(annotations)
    obj = {"apiVersion": api, "kind": kind, "metadata": md}
    if spec is not None:
        obj["spec"] = spec
    if status is not None:
        obj["status"] = status
    if extra:
        obj.update(extra)
    if initial:
        c.initial_add(order, obj)
    return obj


def owner_ref(obj, api=None):
    return {"apiVersion": api or obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


# --------------------------------------------------------------------------- events

def sched_event(c, t, pod, reason, message, etype="Warning", action="Scheduling"):
    """events.k8s.io/v1 Event written by kube-scheduler, seen through the core/v1 watch: eventTime, series
    for repeats (isomorphic events are aggregated into one object), no first/lastTimestamp."""
    md = pod.obj["metadata"]
    key = ("sched", md["uid"], reason, message)
    ev = c.events.get(key)
    if ev is None:
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": "%s.%x" % (md["name"], unix_nano(t)), "namespace": md["namespace"],
                           "uid": c.uid(), "resourceVersion": None, "creationTimestamp": ktime(t)},
              "involvedObject": {"kind": "Pod", "namespace": md["namespace"], "name": md["name"], "uid": md["uid"],
                                 "apiVersion": "v1", "resourceVersion": None},
              "reason": reason, "message": message, "source": {}, "firstTimestamp": None, "lastTimestamp": None,
              "type": etype, "eventTime": mtime(t), "action": action,
              "reportingComponent": "default-scheduler",
              "reportingInstance": "default-scheduler-ip-172-16-118-42.eu-west-1.compute.internal"}
        c.events[key] = ev
        c.kube(add(t, 0.02), "ADDED", ev)
    else:
        s = ev.setdefault("series", {"count": 1, "lastObservedTime": ev["eventTime"]})
        s["count"] += 1
        s["lastObservedTime"] = mtime(t)
        c.kube(add(t, 0.02), "MODIFIED", ev)
    return ev


def ctrl_event(c, t, obj, reason, message, etype="Normal", component="replicaset-controller"):
    return c.event(t, obj, reason, message, etype, component=component)


def node_event(c, t, node, reason, message, etype="Normal", component="kubelet", real_uid=False):
    """Event about a Node. The kubelet's node reference uses the node *name* as uid (kubelet nodeRef);
    controllers (node-controller) use the real uid."""
    key = ("node", node.name, reason, message, component)
    ev = c.events.get(key)
    if ev is None:
        inv = {"kind": "Node", "name": node.name, "uid": node.uid if real_uid else node.name}
        if real_uid:
            inv["apiVersion"] = "v1"
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": "%s.%x" % (node.name, unix_nano(t)), "namespace": "default", "uid": c.uid(),
                           "resourceVersion": None, "creationTimestamp": ktime(t)},
              "involvedObject": inv, "reason": reason, "message": message,
              "source": {"component": component, **({"host": node.name} if component == "kubelet" else {})},
              "firstTimestamp": ktime(t), "lastTimestamp": ktime(t), "count": 1, "type": etype, "eventTime": None,
              "reportingComponent": component, "reportingInstance": node.name if component == "kubelet" else ""}
        c.events[key] = ev
        c.kube(add(t, 0.015), "ADDED", ev)
    else:
        ev["count"] += 1
        ev["lastTimestamp"] = ktime(t)
        c.kube(add(t, 0.015), "MODIFIED", ev)
    return ev


# --------------------------------------------------------------------------- pods

def set_ready(p, t, ready, emit=True):
    cs = p.cstatus()
    if cs.get("ready") == ready and (p.ready_at is not None) == ready:
        return
    cs["ready"] = ready
    unready = "containers with unready status: [%s]" % p.cname
    if ready:
        g.set_cond(p.conds(), "Ready", "True", t)
        g.set_cond(p.conds(), "ContainersReady", "True", t)
    else:
        g.set_cond(p.conds(), "Ready", "False", t, "ContainersNotReady", unready)
        g.set_cond(p.conds(), "ContainersReady", "False", t, "ContainersNotReady", unready)
    if emit:
        p.c.kube(t, "MODIFIED", p.obj)
    if ready and p.ready_at is None:
        p._ready(t)
    elif not ready and p.ready_at is not None:
        p._unready(t)


def probe_failures(p, t0, t1, message, period=5.0, kind="Readiness", threshold=3, unready=True):
    """kubelet probe failures every `period` from t0 until t1 (Unhealthy events re-counted). The pod goes
    unready after `threshold` consecutive failures. Returns the time it went unready (or None)."""
    t = t0
    n = 0
    went = None
    while t < t1:
        p.kev(t, "Unhealthy", "%s probe failed: %s" % (kind, message), "Warning")
        n += 1
        if unready and n == threshold and kind == "Readiness":
            went = add(t, 0.05)
            set_ready(p, went, False)
        t = add(t, period + p.c.rng.uniform(-0.05, 0.05))
    return went


def liveness_kill(p, t_first, message, until, code=137, period=10.0, grace=30.0, exit_after=None, threshold=3):
    """Three liveness failures -> 'Container x failed liveness probe, will be restarted' -> the container
    exits (143 if it honours SIGTERM, 137 if killed after the grace period) -> restart with back-off.
    Returns the next Run (or None)."""
    t = t_first
    for i in range(threshold):
        p.kev(t, "Unhealthy", "Liveness probe failed: %s" % message, "Warning")
        t = add(t, period)
    tk = add(t, -period + 0.02)
    p.kev(tk, "Killing", "Container %s failed liveness probe, will be restarted" % p.cname)
    t_fin = add(tk, exit_after if exit_after is not None else (grace if code == 137 else p.c.rng.uniform(0.4, 2.5)))
    if t_fin >= until:
        return None
    return p.crash(t_fin, "Error", code, None, until)


def create_pending(d, rs, t, node_hint=None):
    """A pod the ReplicaSet controller created that the scheduler cannot place."""
    p = d.make_pod(rs, node_hint or d.c.nodes[0], t)
    p.node = node_hint or d.c.nodes[0]  # placeholder for stats (never used: never started)
    p.obj["spec"].pop("nodeName", None)
    p.create(t)
    return p


def unschedulable(p, t, message, repeats=()):
    """Scheduler marks PodScheduled=False/Unschedulable and records FailedScheduling (re-observed at `repeats`)."""
    g.set_cond(p.conds(), "PodScheduled", "False", t, "Unschedulable", message)
    p.c.kube(add(t, 0.01), "MODIFIED", p.obj)
    sched_event(p.c, t, p, "FailedScheduling", message)
    for tr in repeats:
        sched_event(p.c, tr, p, "FailedScheduling", message)


def schedule_late(p, t, node):
    """A pending pod finally gets bound."""
    p.node = node
    for cnd in p.conds():
        if cnd["type"] == "PodScheduled":
            cnd.pop("reason", None)
            cnd.pop("message", None)
    p.schedule(t)


def evict(p, t, message, code=137, deleted_after=None):
    """kubelet eviction: DisruptionTarget condition, container killed, phase Failed/Evicted, Evicted event."""
    c = p.c
    c.event(t, p.obj, "Evicted", message, "Warning", "kubelet", p.node.name)
    conds = p.conds()
    g.set_cond(conds, "DisruptionTarget", "True", t, "TerminationByKubelet", message)
    c.kube(add(t, 0.05), "MODIFIED", p.obj)
    p.kev(add(t, 0.1), "Killing", "Stopping container %s" % p.cname)
    t_exit = add(t, c.rng.uniform(0.8, 2.5))
    run = p.run_at(t)
    cs = p.cstatus()
    if run:
        run.end = t_exit
        run.exit = code
        cs["state"] = {"terminated": {"exitCode": code, "reason": "Error" if code else "Completed",
                                      "startedAt": ktime(run.start), "finishedAt": ktime(t_exit),
                                      "containerID": run.cid}}
    cs["ready"] = False
    cs["started"] = False
    g.set_cond(conds, "Ready", "False", t_exit, "PodFailed")
    g.set_cond(conds, "ContainersReady", "False", t_exit, "PodFailed")
    g.set_cond(conds, "PodReadyToStartContainers", "False", add(t_exit, 0.5))
    st = p.obj["status"]
    st["phase"] = "Failed"
    st["message"] = message
    st["reason"] = "Evicted"
    c.kube(add(t_exit, 0.6), "MODIFIED", p.obj)
    if p.ready_at is not None:
        p._unready(add(t_exit, 0.6))
    # the ReplicaSet no longer counts a Failed pod as active
    p.terminating = add(t_exit, 0.6)
    p._notify(add(t_exit, 0.7))
    if deleted_after:
        p.deleted = add(t_exit, deleted_after)
        c.kube(p.deleted, "DELETED", p.obj)
    else:
        p.deleted = None
    return t_exit


def replace_pod(d, rs, t, node, **launch_kw):
    """ReplicaSet controller replaces a pod that is gone/failed."""
    p = d.make_pod(rs, node, t)
    p.launch(t, **launch_kw)
    return p


# --------------------------------------------------------------------------- nodes

def node_update(c, node, t, conds=None, taints_add=(), taints_remove=(), heartbeat=True):
    """kubelet (or node-controller) status update, replayed in time order through Cluster.defer.
    conds: {type: (status, reason, message)}."""
    def op(tt):
        st = node.obj["status"]
        for cnd in st["conditions"]:
            if heartbeat:
                cnd["lastHeartbeatTime"] = ktime(tt)
            if conds and cnd["type"] in conds:
                s, r, m = conds[cnd["type"]]
                if cnd["status"] != s:
                    cnd["lastTransitionTime"] = ktime(tt)
                cnd["status"], cnd["reason"], cnd["message"] = s, r, m
        spec = node.obj["spec"]
        for tn in taints_add:
            spec.setdefault("taints", [])
            if not any(x["key"] == tn["key"] and x["effect"] == tn["effect"] for x in spec["taints"]):
                tn = dict(tn)
                if tn["effect"] == "NoExecute" and "timeAdded" not in tn:
                    tn["timeAdded"] = ktime(tt)
                spec["taints"].append(tn)
        for key in taints_remove:
            if "taints" in spec:
                spec["taints"] = [x for x in spec["taints"] if x["key"] != key]
                if not spec["taints"]:
                    del spec["taints"]
        c.kube(tt, "MODIFIED", node.obj)
    c.defer(t, op)


def settle(c, kubelet_interval):
    """Ends a story: what was deferred, the nodes' status heartbeats, and kubelet stats every
    `kubelet_interval` seconds."""
    c.run_deferred()
    node_heartbeats(c)
    c.run_deferred()
    sample_kubelet(c, kubelet_interval)


def node_heartbeats(c, every=300.0, skip=None):
    """nodeStatusReportFrequency: the kubelet re-posts an unchanged status every 5 minutes."""
    for i, n in enumerate(c.nodes):
        t = add(c.start, 40 + i * 17.3)
        while t < c.end:
            if not (skip and skip(n, t)):
                node_update(c, n, t)
            t = add(t, every + c.rng.uniform(-2, 2))


def sample_kubelet(c, interval, offset=10.0, patch=None, down=None):
    """stats/summary for every node; `patch(body, node, t)` adjusts node-level numbers, `down(node, t)`
    means the kubelet does not answer (no line)."""
    t0 = add(c.start, offset)
    k = 0
    while True:
        for i, n in enumerate(c.nodes):
            t = add(t0, k * interval + i * 0.9 + c.rng.uniform(0, 0.3))
            if t >= c.end:
                return
            if down and down(n, t):
                continue
            body = g.summary(c, n, t)
            if patch:
                patch(body, n, t)
            c.rec.add(add(t, 0.2), "kubelet", {"node": n.name, "endpoint": "stats/summary", "body": body})
        k += 1


# --------------------------------------------------------------------------- node-level sources

BOOT_IDS = {}


def _boot_id(c, node):
    if node.name not in BOOT_IDS:
        BOOT_IDS[node.name] = hashlib.md5(("boot" + node.name).encode()).hexdigest()
    return BOOT_IDS[node.name]


def journal(c, t, node, unit, message, priority=6, pid=None, identifier=None, systemd_about=None, extra=None):
    """One `journalctl -o json` entry. `systemd_about`: a message PID 1 logs about a unit (then
    _SYSTEMD_UNIT is init.scope and UNIT names the unit, as journald records it)."""
    boot = _boot_id(c, node)
    mono = int((t - node.boot).total_seconds() * 1e6)
    rt = unix_nano(t) // 1000
    seq = g.shash((node.name, rt, message)) & 0xFFFFFF
    e = {"__CURSOR": "s=%s;i=%x;b=%s;m=%x;t=%x;x=%016x" % (hashlib.md5(node.name.encode()).hexdigest(), seq, boot,
                                                          mono, rt, g.shash(message) * 7919),
         "__REALTIME_TIMESTAMP": str(rt), "__MONOTONIC_TIMESTAMP": str(mono), "_BOOT_ID": boot,
         "_MACHINE_ID": node.obj["status"]["nodeInfo"]["machineID"], "_HOSTNAME": node.name,
         "PRIORITY": str(priority), "SYSLOG_FACILITY": "3", "_UID": "0", "_GID": "0", "_CAP_EFFECTIVE": "1ffffffffff"}
    if systemd_about:
        e.update({"_TRANSPORT": "journal", "_PID": "1", "_COMM": "systemd", "_EXE": "/usr/lib/systemd/systemd",
                  "_CMDLINE": "/usr/lib/systemd/systemd --switched-root --system --deserialize=32",
                  "_SYSTEMD_CGROUP": "/init.scope", "_SYSTEMD_UNIT": "init.scope", "_SYSTEMD_SLICE": "-.slice",
                  "SYSLOG_IDENTIFIER": "systemd", "UNIT": systemd_about, "CODE_FILE": "src/core/unit.c",
                  "CODE_FUNC": "unit_log_failure", "CODE_LINE": "5889", "MESSAGE": message})
    else:
        exe = {"kubelet.service": "/usr/bin/kubelet", "containerd.service": "/usr/bin/containerd"}.get(unit, "/usr/bin/" + unit.split(".")[0])
        e.update({"_TRANSPORT": "stdout", "_STREAM_ID": hashlib.md5((node.name + unit).encode()).hexdigest(),
                  "_PID": str(pid or 2000 + g.shash(node.name + unit) % 2000), "_COMM": exe.rsplit("/", 1)[1],
                  "_EXE": exe, "_SYSTEMD_CGROUP": "/runtime.slice/" + unit, "_SYSTEMD_UNIT": unit,
                  "_SYSTEMD_SLICE": "runtime.slice", "_SYSTEMD_INVOCATION_ID": hashlib.md5((unit + str(pid)).encode()).hexdigest(),
                  "SYSLOG_IDENTIFIER": identifier or exe.rsplit("/", 1)[1], "MESSAGE": message})
    if extra:
        e.update(extra)
    c.rec.add(t, "systemd", e)


def klog(t, level, src, msg, pid):
    """A klog header line as the kubelet writes it to stderr: `E0415 10:02:03.123456    2841 file.go:12] msg`."""
    u = t.astimezone(UTC)
    return "%s%02d%02d %02d:%02d:%02d.%06d %7d %s] %s" % (level, u.month, u.day, u.hour, u.minute, u.second,
                                                          u.microsecond, pid, src, msg)


def dns(c, t, node, client, query, rcode, latency_ms, qtype="A", answers=None, server="172.20.0.10"):
    d = {"node": node.name, "client": client, "server": server, "query": query, "qtype": qtype, "rcode": rcode,
         "latency_ms": round(latency_ms, 3)}
    if answers:
        d["answers"] = answers
    c.rec.add(t, "dns", d)


def cni(c, t, node, op, pod, container_id, ips=None, error=None, ifname="eth0"):
    d = {"node": node.name, "op": op, "container_id": container_id,
         "netns": "/var/run/netns/cni-%s" % g.uuid.UUID(int=g.shash(container_id) << 96 | g.shash(container_id[::-1]), version=4),
         "ifname": ifname, "pod": "%s/%s" % (pod.ns, pod.name)}
    if ips:
        d["ips"] = ips
    if error:
        d["error"] = error
    c.rec.add(t, "cni", d)


def cgroup_path(p, cid=None):
    qos = p.obj["status"].get("qosClass", "Burstable").lower()
    uid = p.uid.replace("-", "_")
    base = "/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice" % (qos, qos, uid)
    if qos == "guaranteed":
        base = "/kubepods.slice/kubepods-pod%s.slice" % uid
    if cid:
        base += "/cri-containerd-%s.scope" % cid.split("//")[-1]
    return base


def ebpf(c, t, p, event, pid, comm, **fields):
    run = p.run_at(t) or (p.runs[-1] if p.runs else None)
    cid = run.cid.split("//")[-1] if run else None
    d = {"node": p.node.name, "event": event, "pid": pid, "comm": comm,
         "cgroup_id": 10000 + g.shash(p.uid) % 90000, "cgroup_path": cgroup_path(p, run.cid if run else None)}
    if cid:
        d["container_id"] = cid
    d["pod_uid"] = p.uid
    d.update(fields)
    c.rec.add(t, "ebpf", d)


def etcd_status(c, t, endpoint, member_id, cluster_id, leader, term, revision, db_size, db_in_use, raft_index,
                errors=None, version="3.5.21"):
    """Maintenance/Status as the etcd JSON gateway renders it (int64/uint64 as strings), inside the
    recording's {"endpoint","status"} envelope; `errors` lists 'etcdserver: no leader' and alarms."""
    st = {"header": {"cluster_id": cluster_id, "member_id": member_id, "revision": str(revision),
                     "raft_term": str(term)},
          "version": version, "dbSize": str(db_size), "leader": str(leader), "raftIndex": str(raft_index),
          "raftTerm": str(term), "raftAppliedIndex": str(raft_index), "dbSizeInUse": str(db_in_use),
          # the field names the recording contract lists
          "raft_term": term, "db_size": db_size}
    if errors:
        st["errors"] = list(errors)
    c.rec.add(t, "etcd", {"endpoint": endpoint, "header": {"revision": revision}, "status": st})


# --------------------------------------------------------------------------- OTLP

def hexid(c, n):
    return c.hexs(n)


def resource(p, sdk=None, extra=None):
    return g.otlp_resource(p, (sdk or g.GO_SDK) + (extra or []))


def span(c, trace_id, span_id, parent, name, kind, start, end, attrs, error=None):
    s = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": kind,
         "startTimeUnixNano": str(unix_nano(start)), "endTimeUnixNano": str(unix_nano(end)),
         "attributes": [kv(k, v) for k, v in attrs]}
    if parent:
        s["parentSpanId"] = parent
    s["status"] = {"code": 2, "message": error} if error else {}
    return s


def export_spans(c, t, p, spans, scope="go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
                 version="0.60.0", sdk=None):
    c.rec.add(t, "otlp", {"resourceSpans": [{"resource": resource(p, sdk), "scopeSpans": [
        {"scope": {"name": scope, "version": version}, "spans": spans}]}]})


HTTP_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


def histogram_point(attrs, start, now, samples):
    counts = [0] * (len(HTTP_BOUNDS) + 1)
    for s in samples:
        i = 0
        while i < len(HTTP_BOUNDS) and s > HTTP_BOUNDS[i]:
            i += 1
        counts[i] += 1
    return {"attributes": attrs, "startTimeUnixNano": str(unix_nano(start)), "timeUnixNano": str(unix_nano(now)),
            "count": str(len(samples)), "sum": round(sum(samples), 6), "bucketCounts": [str(x) for x in counts],
            "explicitBounds": HTTP_BOUNDS, "min": round(min(samples), 6) if samples else 0,
            "max": round(max(samples), 6) if samples else 0}


def export_metrics(c, t, p, metrics, scope="go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
                   version="0.60.0", sdk=None, res=None):
    c.rec.add(t, "otlp", {"resourceMetrics": [{"resource": res or resource(p, sdk), "scopeMetrics": [
        {"scope": {"name": scope, "version": version}, "metrics": metrics}]}]})


def gauge(name, unit, desc, points):
    return {"name": name, "description": desc, "unit": unit, "gauge": {"dataPoints": points}}


def sum_metric(name, unit, desc, points, monotonic=False):
    d = {"dataPoints": points, "aggregationTemporality": 2}
    if monotonic:
        d["isMonotonic"] = True
    return {"name": name, "description": desc, "unit": unit, "sum": d}


def point(attrs, start, now, value):
    dp = {"attributes": attrs, "startTimeUnixNano": str(unix_nano(start)), "timeUnixNano": str(unix_nano(now))}
    if isinstance(value, int):
        dp["asInt"] = str(value)
    else:
        dp["asDouble"] = value
    if not attrs:
        del dp["attributes"]
    return dp


def delta_hist(name, desc, points):
    return {"name": name, "description": desc, "unit": "s",
            "histogram": {"dataPoints": points, "aggregationTemporality": 1}}


def deepcopy(x):
    return copy.deepcopy(x)


def tz(hours):
    return dt.timezone(dt.timedelta(hours=hours))
