#!/usr/bin/env python3
"""Generate Tapio example recordings (examples/*.jsonl).

Standard library only and fully deterministic: every scenario has a fixed seed
and fixed start time, so running this twice produces byte-identical files.

    python3 tools/examples/generate.py            # writes examples/*.jsonl
    python3 tools/examples/generate.py --timeline # also prints story timelines
    python3 tools/examples/validate.py            # checks the files

Each recording is a small three-node EKS-like cluster. Every line is
{"ts", "source", "data"} as specified in the recording contract; kubeapi data is
a watch event, kubelet data wraps the kubelet's own Summary API / PodList JSON,
otlp data is an OTLP/HTTP JSON ExportMetricsServiceRequest.

Message formats follow Kubernetes v1.33 sources (see examples/README.md for the
references): kubelet container events, image pull errors as containerd reports
them, CrashLoopBackOff back-off arithmetic (10s doubling, 5m cap, reset after
10m), deployment-controller ScalingReplicaSet messages, etc.
"""

import copy
import datetime as dt
import hashlib
import json
import os
import random
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "examples")

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand alphabet
Mi = 1024 * 1024
KUBELET_VERSION = "v1.33.5-eks-113cf36"
CONTAINERD_VERSION = "containerd://1.7.27"
ECR = "602401143452.dkr.ecr.eu-west-1.amazonaws.com"


# --------------------------------------------------------------------------- time

def T(s):
    return dt.datetime.fromisoformat(s)


def add(t, seconds):
    return t + dt.timedelta(seconds=seconds)


def ktime(t):
    """metav1.Time: RFC 3339, second precision, UTC."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mtime(t):
    """metav1.MicroTime."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unix_nano(t):
    return ((t - EPOCH) // dt.timedelta(microseconds=1)) * 1000


def go_secs(s):
    """time.Duration.String() for a sub-minute duration with millisecond resolution."""
    return ("%.3f" % s).rstrip("0").rstrip(".") + "s"


def go_duration(seconds):
    seconds = int(seconds)
    if seconds < 60:
        return "%ds" % seconds
    m, s = divmod(seconds, 60)
    return "%dm%ds" % (m, s)


def q_mi(b):
    return "%dMi" % (b // Mi)


def shash(s):
    """Stable (process-independent) small hash."""
    return int(hashlib.md5(str(s).encode()).hexdigest()[:8], 16)


# --------------------------------------------------------------------------- recording

class Recording:
    def __init__(self, name, seed, tz, rv_base):
        self.name = name
        self.rng = random.Random(seed)
        self.rv_rng = random.Random(seed * 7 + 1)
        self.tz = tz  # "Z" or a datetime.timezone
        self.rv_base = rv_base
        self.items = []
        self.seq = 0

    def add(self, t, source, data):
        self.items.append([t, self.seq, source, data])
        self.seq += 1

    def fmt_ts(self, t):
        if self.tz == "Z":
            return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return t.astimezone(self.tz).isoformat(timespec="milliseconds")

    def write(self, path):
        self.items.sort(key=lambda it: (it[0], it[1]))
        rv = self.rv_base
        last_rv = {}
        lines = []
        for t, _, source, data in self.items:
            if source == "kubeapi":
                rv += self.rv_rng.randint(1, 29)
                obj = data["object"]
                obj["metadata"]["resourceVersion"] = str(rv)
                last_rv[obj["metadata"]["uid"]] = rv
                io = obj.get("involvedObject")
                if io is not None and io.get("uid") in last_rv:
                    io["resourceVersion"] = str(last_rv[io["uid"]])
            elif source == "kubelet" and data["endpoint"] == "pods":
                for item in data["body"]["items"]:
                    item["metadata"]["resourceVersion"] = str(last_rv[item["metadata"]["uid"]])
            line = {"ts": self.fmt_ts(t), "source": source, "data": data}
            lines.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return len(lines)


# --------------------------------------------------------------------------- cluster

META_ORDER = ["name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
              "finalizers", "managedFields"]
POD_SPEC_ORDER = ["volumes", "containers", "restartPolicy", "terminationGracePeriodSeconds", "dnsPolicy",
                  "serviceAccountName", "serviceAccount", "nodeName", "hostNetwork", "securityContext", "affinity",
                  "schedulerName", "tolerations", "priorityClassName", "priority", "enableServiceLinks",
                  "preemptionPolicy"]
POD_STATUS_ORDER = ["phase", "conditions", "message", "reason", "hostIP", "hostIPs", "podIP", "podIPs", "startTime",
                    "containerStatuses", "qosClass"]


def _ordered(d, order):
    out = {k: d[k] for k in order if k in d}
    out.update({k: v for k, v in d.items() if k not in out})
    return out


CONTAINER_ORDER = ["name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources",
                   "volumeMounts", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
                   "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext"]


def api_order(obj):
    """Field order as the API server serializes the Go structs (cosmetic, keeps diffs readable)."""
    obj["metadata"] = _ordered(obj["metadata"], META_ORDER)
    if obj.get("kind") == "Pod":
        obj["spec"] = _ordered(obj["spec"], POD_SPEC_ORDER)
        obj["spec"]["containers"] = [_ordered(c, CONTAINER_ORDER) for c in obj["spec"]["containers"]]
        obj["status"] = _ordered(obj["status"], POD_STATUS_ORDER)
    return obj


def set_cond(conds, ctype, status, t, reason=None, message=None, probe=True):
    for c in conds:
        if c["type"] == ctype:
            if c["status"] != status:
                c["lastTransitionTime"] = ktime(t)
            c["status"] = status
            if reason is None:
                c.pop("reason", None)
                c.pop("message", None)
            else:
                c["reason"] = reason
                if message is not None:
                    c["message"] = message
            return
    c = {"type": ctype, "status": status}
    if probe:
        c["lastProbeTime"] = None
    c["lastTransitionTime"] = ktime(t)
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    conds.append(c)


def kv(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


MAP_FIELDS = {"labels", "annotations", "data", "matchLabels", "limits", "requests", "nodeSelector", "rollingUpdate"}
ATOMIC_FIELDS = {"selector"}


def fields_v1(obj):
    """Approximate the FieldsV1 set a manager owns for the given object subtree: maps and keyed list
    items carry ".", struct fields do not; selectors are atomic."""
    out = {}
    for k, v in obj.items():
        if k in ATOMIC_FIELDS or not isinstance(v, (dict, list)) or v in ({}, []):
            out["f:" + k] = {}
        elif isinstance(v, dict):
            inner = fields_v1(v) if k not in ("labels", "annotations", "data", "matchLabels", "limits", "requests") \
                else {"f:" + kk: {} for kk in v}
            out["f:" + k] = dict({".": {}}, **inner) if k in MAP_FIELDS else inner
        elif isinstance(v[0], dict) and "name" in v[0]:
            out["f:" + k] = {"k:" + json.dumps({"name": it["name"]}, separators=(",", ":")): dict({".": {}}, **fields_v1(it))
                             for it in v}
        else:
            out["f:" + k] = {}
    return out


class Node:
    def __init__(self, c, name, ip, zone, zone_id, instance_id, created):
        self.c, self.name, self.ip, self.zone = c, name, ip, zone
        self.uid = c.uid()
        self.boot = add(created, -40)
        self.used_ips = set()
        self.cpu_base = c.rng.randint(130, 210) * 1_000_000
        self.net_rx = c.rng.randint(4, 9) * 10**9
        self.net_tx = c.rng.randint(2, 6) * 10**9
        self.fs_cap = 85886742528
        self.fs_used = c.rng.randint(9_000_000, 14_000_000) * 1024
        self.image_fs_used = c.rng.randint(4_000_000, 7_000_000) * 1024
        self.obj = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": name, "uid": self.uid, "resourceVersion": None,
                "creationTimestamp": ktime(created),
                "labels": {
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/instance-type": "m6i.xlarge",
                    "beta.kubernetes.io/os": "linux",
                    "eks.amazonaws.com/capacityType": "ON_DEMAND",
                    "eks.amazonaws.com/nodegroup": "general-20260223081455",
                    "eks.amazonaws.com/nodegroup-image": "ami-0c1f4e3a9d2b57e86",
                    "failure-domain.beta.kubernetes.io/region": "eu-west-1",
                    "failure-domain.beta.kubernetes.io/zone": zone,
                    "k8s.io/cloud-provider-aws": "4bb0a5b1a4d8e0f1c3b66b1f0d8a6e2c",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "node.kubernetes.io/instance-type": "m6i.xlarge",
                    "topology.k8s.aws/zone-id": zone_id,
                    "topology.kubernetes.io/region": "eu-west-1",
                    "topology.kubernetes.io/zone": zone,
                },
                "annotations": {
                    "alpha.kubernetes.io/provided-node-ip": ip,
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {"providerID": "aws:///%s/%s" % (zone, instance_id)},
            "status": {
                "capacity": {"cpu": "4", "ephemeral-storage": "83873772Ki", "hugepages-1Gi": "0",
                             "hugepages-2Mi": "0", "memory": "15896064Ki", "pods": "58"},
                "allocatable": {"cpu": "3920m", "ephemeral-storage": "76224326324", "hugepages-1Gi": "0",
                                "hugepages-2Mi": "0", "memory": "14880256Ki", "pods": "58"},
                "conditions": [],
                "addresses": [
                    {"type": "InternalIP", "address": ip},
                    {"type": "InternalDNS", "address": name},
                    {"type": "Hostname", "address": name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": c.hexs(32), "systemUUID": "ec2" + c.hexs(5) + "-" + c.hexs(4) + "-" + c.hexs(4) + "-" + c.hexs(4) + "-" + c.hexs(12),
                    "bootID": c.uid(), "kernelVersion": "6.1.158-180.294.amzn2023.x86_64",
                    "osImage": "Amazon Linux 2023.9.20251208", "containerRuntimeVersion": CONTAINERD_VERSION,
                    "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": "", "operatingSystem": "linux",
                    "architecture": "amd64",
                },
                "images": [],
                "runtimeHandlers": [
                    {"name": "runc", "features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}},
                    {"name": "", "features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}},
                ],
                "features": {"supplementalGroupsPolicy": True},
            },
        }
        st = self.obj["status"]
        hb = add(c.start, -c.rng.randint(5, 50))
        for ctype, reason, msg, status in [
            ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "False"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "False"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available", "False"),
            ("Ready", "KubeletReady", "kubelet is posting ready status", "True"),
        ]:
            st["conditions"].append({"type": ctype, "status": status, "lastHeartbeatTime": ktime(hb),
                                     "lastTransitionTime": ktime(add(created, 12 if ctype == "Ready" else 0)),
                                     "reason": reason, "message": msg})

    def alloc_ip(self):
        base = self.ip.rsplit(".", 1)[0]
        while True:
            ip = "%s.%d" % (base, self.c.rng.randint(30, 250))
            if ip != self.ip and ip not in self.used_ips:
                self.used_ips.add(ip)
                return ip


class Cluster:
    def __init__(self, rec, start, end):
        self.rec = rec
        self.rng = rec.rng
        self.start, self.end = start, end
        self.nodes = []
        self.pods = []  # every Pod ever seen
        self.events = {}
        self.initial = []  # (kind order, obj) for the initial list
        self.images = {}
        self.svc_ips = set()
        self.deferred = []

    def defer(self, t, fn):
        """Controller-side object updates are replayed in time order after the pods are simulated."""
        self.deferred.append((t, len(self.deferred), fn))

    def run_deferred(self):
        ops, self.deferred = sorted(self.deferred, key=lambda x: (x[0], x[1])), []
        for t, _, fn in ops:
            fn(t)
        if self.deferred:
            self.run_deferred()

    # ids
    def uid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hexs(self, n):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def alnum(self, n):
        return "".join(self.rng.choice(ALNUM) for _ in range(n))

    def jitter(self, lo=0.02, hi=0.25):
        return self.rng.uniform(lo, hi)

    def image_digest(self, image):
        return hashlib.sha256(("digest:" + image).encode()).hexdigest()

    def image_ref(self, image):
        """(status.image, status.imageID) as containerd reports them."""
        full = image
        first = image.split("/")[0]
        if "/" not in image:
            full = "docker.io/library/" + image
        elif "." not in first and ":" not in first:
            full = "docker.io/" + image
        repo = full.rsplit(":", 1)[0]
        return full, "%s@sha256:%s" % (repo, self.image_digest(full))

    # emission
    def kube(self, t, etype, obj):
        self.rec.add(t, "kubeapi", {"type": etype, "object": api_order(copy.deepcopy(obj))})

    def initial_add(self, order, obj):
        self.initial.append((order, len(self.initial), obj))

    def flush_initial(self):
        t = add(self.start, 0.05)
        for _, _, obj in sorted(self.initial, key=lambda x: (x[0], x[1])):
            t = add(t, self.rng.uniform(0.002, 0.03))
            self.kube(t, "ADDED", obj)
        self.initial = []

    # events
    def _event_obj(self, t, ns, involved, reason, message, etype, component, host):
        name = "%s.%x" % (involved["name"], unix_nano(t))
        ev = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns, "uid": self.uid(), "resourceVersion": None,
                         "creationTimestamp": ktime(t)},
            "involvedObject": involved,
            "reason": reason, "message": message,
            "source": {"component": component},
            "firstTimestamp": ktime(t), "lastTimestamp": ktime(t), "count": 1,
            "type": etype, "eventTime": None,
            "reportingComponent": component, "reportingInstance": host or "",
        }
        if host:
            ev["source"]["host"] = host
        return ev

    def event(self, t, obj, reason, message, etype="Normal", component="kubelet", host=None,
              field_path=None, initial=False, first=None, count=None):
        md = obj["metadata"]
        involved = {"kind": obj["kind"], "namespace": md.get("namespace", "default"), "name": md["name"],
                    "uid": md["uid"], "apiVersion": obj["apiVersion"], "resourceVersion": None}
        if field_path:
            involved["fieldPath"] = field_path
        key = (md["uid"], field_path, reason, message, component)
        ev = self.events.get(key)
        if ev is None:
            ev = self._event_obj(first or t, involved["namespace"], involved, reason, message, etype, component, host)
            self.events[key] = ev
            if count:
                ev["count"] = count
                ev["lastTimestamp"] = ktime(t)
            if initial:
                self.initial_add(90, ev)
            else:
                self.kube(add(t, 0.015), "ADDED", ev)
        else:
            ev["count"] += 1
            ev["lastTimestamp"] = ktime(t)
            self.kube(add(t, 0.015), "MODIFIED", ev)
        return ev

    def scheduled_event(self, t, pod, node_name):
        """events.k8s.io/v1 event written by kube-scheduler, as seen through the core/v1 watch."""
        md = pod.obj["metadata"]
        ev = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "%s.%x" % (md["name"], unix_nano(t)), "namespace": md["namespace"],
                         "uid": self.uid(), "resourceVersion": None, "creationTimestamp": ktime(t)},
            "involvedObject": {"kind": "Pod", "namespace": md["namespace"], "name": md["name"], "uid": md["uid"],
                               "apiVersion": "v1", "resourceVersion": None},
            "reason": "Scheduled",
            "message": "Successfully assigned %s/%s to %s" % (md["namespace"], md["name"], node_name),
            "source": {}, "firstTimestamp": None, "lastTimestamp": None, "type": "Normal",
            "eventTime": mtime(t), "action": "Binding",
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler-ip-172-16-118-42.eu-west-1.compute.internal",
        }
        self.kube(add(t, self.jitter(0.01, 0.05)), "ADDED", ev)

    # objects
    def namespace(self, name, created, labels=None):
        lab = {"kubernetes.io/metadata.name": name}
        lab.update(labels or {})
        obj = {"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": name, "uid": self.uid(), "resourceVersion": None,
                            "creationTimestamp": ktime(created), "labels": lab},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
        self.initial_add(10, obj)
        root_ca = {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "kube-root-ca.crt", "namespace": name, "uid": self.uid(),
                                "resourceVersion": None, "creationTimestamp": ktime(add(created, 1)),
                                "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                   "data": {"ca.crt": ROOT_CA}}
        self.initial_add(20, root_ca)
        return obj

    def configmap(self, ns, name, data, created, labels=None, manager="kubectl-client-side-apply"):
        md = {"name": name, "namespace": ns, "uid": self.uid(), "resourceVersion": None,
              "creationTimestamp": ktime(created)}
        if labels:
            md["labels"] = labels
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": dict(data)}
        if manager == "kubectl-client-side-apply":
            last = {"apiVersion": "v1", "data": data, "kind": "ConfigMap",
                    "metadata": {"annotations": {}, "labels": labels or {}, "name": name, "namespace": ns}}
            md["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration":
                                 json.dumps(last, sort_keys=True, separators=(",", ":")) + "\n"}
        owned = {"data": data, "metadata": {k: v for k, v in (("annotations", md.get("annotations")), ("labels", labels)) if v}}
        md["managedFields"] = [{"manager": manager, "operation": "Update", "apiVersion": "v1",
                                "time": ktime(created), "fieldsType": "FieldsV1", "fieldsV1": fields_v1(owned)}]
        self.initial_add(20, obj)
        return obj

    def edit_configmap(self, t, cm, changes, manager="kubectl-edit"):
        cm["data"].update(changes)
        mf = cm["metadata"]["managedFields"]
        entry = next((m for m in mf if m["manager"] == manager), None)
        if entry is None:
            entry = {"manager": manager, "operation": "Update", "apiVersion": "v1", "time": ktime(t),
                     "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}
            mf.append(entry)
            if manager != mf[0]["manager"]:
                for k in changes:
                    mf[0]["fieldsV1"].get("f:data", {}).pop("f:" + k, None)
        entry["time"] = ktime(t)
        for k in changes:
            entry["fieldsV1"]["f:data"]["f:" + k] = {}
        if manager == "kubectl-client-side-apply" and "annotations" in cm["metadata"]:
            last = json.loads(cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
            last["data"] = dict(cm["data"])
            cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = \
                json.dumps(last, sort_keys=True, separators=(",", ":")) + "\n"
        self.kube(t, "MODIFIED", cm)

    def service(self, ns, name, port, target, created, selector=None, cluster_ip=None, labels=None):
        if cluster_ip is None:
            while True:
                cluster_ip = "172.20.%d.%d" % (self.rng.randint(1, 254), self.rng.randint(2, 254))
                if cluster_ip not in self.svc_ips:
                    break
        self.svc_ips.add(cluster_ip)
        spec = {"ports": [{"name": "http" if isinstance(target, str) else "tcp-%d" % port, "protocol": "TCP",
                           "port": port, "targetPort": target}]}
        if selector:
            spec["selector"] = selector
        spec.update({"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "type": "ClusterIP",
                     "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "internalTrafficPolicy": "Cluster"})
        md = {"name": name, "namespace": ns, "uid": self.uid(), "resourceVersion": None,
              "creationTimestamp": ktime(created)}
        if labels:
            md["labels"] = labels
        obj = {"apiVersion": "v1", "kind": "Service", "metadata": md, "spec": spec,
               "status": {"loadBalancer": {}}}
        self.initial_add(30, obj)
        return obj

    def node(self, *a):
        n = Node(self, *a)
        self.nodes.append(n)
        self.initial_add(0, n.obj)
        return n

    def node_by_name(self, name):
        return next(n for n in self.nodes if n.name == name)

    def finalize_nodes(self):
        for n in self.nodes:
            imgs = {}
            for p in self.pods:
                if p.node is n:
                    imgs[p.app.image] = p.app.image_size
            n.obj["status"]["images"] = [
                {"names": [self.image_ref(i)[1], self.image_ref(i)[0]], "sizeBytes": s}
                for i, s in sorted(imgs.items(), key=lambda x: -x[1])
            ] + [{"names": [ECR + "/eks/pause@sha256:" + self.image_digest("pause"), ECR + "/eks/pause:3.10"],
                  "sizeBytes": 318731}]

    # samplers
    def sample_kubelet(self, interval=30.0, offset=10.0, pods_at=None):
        t0 = add(self.start, offset)
        k = 0
        while True:
            for i, n in enumerate(self.nodes):
                t = add(t0, k * interval + i * 0.9 + self.rng.uniform(0, 0.3))
                if t >= self.end:
                    return
                self.rec.add(add(t, 0.2), "kubelet",
                             {"node": n.name, "endpoint": "stats/summary", "body": summary(self, n, t)})
            k += 1

    def kubelet_pods(self, t):
        for i, n in enumerate(self.nodes):
            tt = add(t, i * 0.4)
            items = [api_order(copy.deepcopy(p.obj)) for p in self.pods if p.node is n and p.alive(tt) and p.created <= tt]
            self.rec.add(tt, "kubelet", {"node": n.name, "endpoint": "pods",
                                         "body": {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}})


ROOT_CA = ("-----BEGIN CERTIFICATE-----\n"
           "MIIDBTCCAe2gAwIBAgIIWx3yW8xbq6QwDQYJKoZIhvcNAQELBQAwFTETMBEGA1UE\n"
           "AxMKa3ViZXJuZXRlczAeFw0yNjAyMjMwODA2MjlaFw0zNjAyMjEwODExMjlaMBUx\n"
           "EzARBgNVBAMTCmt1YmVybmV0ZXMwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEK\n"
           "AoIBAQDM1Zq7v3kL0x9YxT3nV0d2bqK8u5Nw4m1f0E7oPqzYl2r6tW1c9uX8s3Hd\n"
           "Qx4n2KpT7yVb3mZ8f1sLw0gR5cUe9jN6aH2kD4vB7xQm1oP3tY8zE5iW0rS9fG2u\n"
           "-----END CERTIFICATE-----\n")


# --------------------------------------------------------------------------- apps

class App:
    """A container image plus how it behaves (resources, probes, footprint)."""

    def __init__(self, name, image, port, *, lang, requests, limits=None, env=None, env_from=None,
                 volumes=None, mounts=None, probe_path="/healthz", ready_delay=10, image_size=None,
                 exit_on_term=0, mem_mb=100, cpu_m=20, labels=None, args=None, sa=None, tmp_policy="File",
                 cache_mb=12, procs=1, version=None):
        self.name, self.image, self.port, self.lang = name, image, port, lang
        self.requests, self.limits = requests, limits or {}
        self.env, self.env_from = env or [], env_from or []
        self.volumes, self.mounts = volumes or [], mounts or []
        self.probe_path, self.ready_delay = probe_path, ready_delay
        self.image_size = image_size or 50_000_000
        self.exit_on_term = exit_on_term
        self.mem_mb, self.cpu_m = mem_mb, cpu_m
        self.labels = labels or {}
        self.args = args
        self.sa = sa or "default"
        self.tmp_policy = tmp_policy
        self.cache_mb = cache_mb
        self.procs = procs
        self.version = version or image.rsplit(":", 1)[-1]

    def clone(self, **kw):
        a = copy.copy(self)
        for k, v in kw.items():
            setattr(a, k, v)
        return a

    @property
    def mem_limit(self):
        v = self.limits.get("memory")
        if v is None:
            return None
        if v.endswith("Mi"):
            return int(v[:-2]) * Mi
        if v.endswith("Gi"):
            return int(v[:-2]) * 1024 * Mi
        raise ValueError(v)

    def container_spec(self):
        c = {"name": self.name, "image": self.image}
        if self.args:
            c["args"] = list(self.args)
        c["ports"] = [{"name": "http", "containerPort": self.port, "protocol": "TCP"}]
        if self.env_from:
            c["envFrom"] = copy.deepcopy(self.env_from)
        if self.env:
            c["env"] = copy.deepcopy(self.env)
        res = {}
        if self.limits:
            res["limits"] = dict(self.limits)
        res["requests"] = dict(self.requests)
        c["resources"] = res
        if self.mounts:
            c["volumeMounts"] = copy.deepcopy(self.mounts)
        if self.probe_path:
            c["livenessProbe"] = {"httpGet": {"path": self.probe_path, "port": "http", "scheme": "HTTP"},
                                  "initialDelaySeconds": 20, "timeoutSeconds": 2, "periodSeconds": 10,
                                  "successThreshold": 1, "failureThreshold": 3}
            c["readinessProbe"] = {"httpGet": {"path": self.probe_path, "port": "http", "scheme": "HTTP"},
                                   "initialDelaySeconds": 5, "timeoutSeconds": 1, "periodSeconds": 5,
                                   "successThreshold": 1, "failureThreshold": 3}
        else:
            c["readinessProbe"] = {"tcpSocket": {"port": self.port}, "initialDelaySeconds": 3,
                                   "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1,
                                   "failureThreshold": 3}
        c["terminationMessagePath"] = "/dev/termination-log"
        c["terminationMessagePolicy"] = self.tmp_policy
        c["imagePullPolicy"] = "IfNotPresent"
        return c

    def pod_spec(self):
        spec = {
            "volumes": copy.deepcopy(self.volumes),
            "containers": [self.container_spec()],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": self.sa, "serviceAccount": self.sa, "securityContext": {},
            "schedulerName": "default-scheduler",
        }
        if not spec["volumes"]:
            del spec["volumes"]
        return spec


# ----------------------------------------------------------------- resource profiles

class Profile:
    """Working set / CPU of one container run. Subclasses model growth."""

    def __init__(self, c, app, seed_extra=0):
        self.base = app.mem_mb * Mi
        self.cpu = app.cpu_m * 1_000_000
        r = random.Random(shash((app.name, seed_extra)))
        self.noise_phase = r.uniform(0, 6.28)
        self.cache = app.cache_mb * Mi

    def ws(self, pod, run, t):
        el = (t - run.start).total_seconds()
        warm = min(1.0, 0.55 + el / 120.0)
        wobble = ((unix_nano(t) // 10**9 * 2654435761 + int(self.noise_phase * 1000)) % 1000) / 1000.0
        return int(self.base * warm + (wobble - 0.5) * 3 * Mi)

    def cpu_nc(self, pod, run, t):
        wobble = ((unix_nano(t) // 10**9 * 40503 + int(self.noise_phase * 977)) % 1000) / 1000.0
        return int(self.cpu * (0.8 + 0.4 * wobble))

    def crash_after(self, pod, run, limit):
        return None


class PoolProfile(Profile):
    """cart: JVM whose native footprint grows with open DB connections."""

    def __init__(self, c, app, per_conn_mb=1.5):
        super().__init__(c, app)
        self.per_conn = per_conn_mb * Mi

    def conns(self, pod, run, t):
        el = max(0.0, (t - run.start).total_seconds())
        mx = run.info.get("pool_max", 20)
        if mx <= 20:
            # pool exhausted: every connection busy and requests queueing (why someone raised the max)
            return mx, 2 + (unix_nano(t) // 10**9 // 30 + shash(pod.uid)) % 8
        rate = run.info.get("conn_rate", 26.0) / 60.0
        return min(mx, run.info.get("conn_start", 12) + rate * el), 0

    def ws(self, pod, run, t):
        el = (t - run.start).total_seconds()
        warm = min(1.0, 0.7 + el / 90.0)
        open_c, _ = self.conns(pod, run, t)
        wobble = ((unix_nano(t) // 10**9 * 2654435761) % 1000) / 1000.0
        return int(self.base * warm + self.per_conn * (open_c + 3) + (wobble - 0.5) * 4 * Mi)

    def crash_after(self, pod, run, limit):
        if run.info.get("pool_max", 20) <= 20:
            return None
        for s in range(1, 3600):
            tt = add(run.start, s)
            if self.ws(pod, run, tt) >= limit - 1 * Mi:
                return s
        return None


class LeakProfile(Profile):
    """ledger: heap grows linearly with processed messages (unbounded cache)."""

    def __init__(self, c, app, rate_mb_per_min):
        super().__init__(c, app)
        self.rate = rate_mb_per_min * Mi / 60.0

    def ws(self, pod, run, t):
        el = max(0.0, (t - run.start).total_seconds())
        wobble = ((unix_nano(t) // 10**9 * 2654435761) % 1000) / 1000.0
        return int(self.base + self.rate * el + (wobble - 0.5) * 2 * Mi)

    def crash_after(self, pod, run, limit):
        for s in range(1, 7200):
            if self.ws(pod, run, add(run.start, s)) >= limit - 1 * Mi:
                return s
        return None


class Run:
    def __init__(self, start, cid, attempt, info=None):
        self.start, self.end, self.cid, self.attempt = start, None, cid, attempt
        self.info = info or {}
        self.exit = None


# --------------------------------------------------------------------------- pods

class Pod:
    def __init__(self, c, owner, name, app, node, created, profile=None, owner_kind="ReplicaSet",
                 extra_labels=None, template=None):
        self.c, self.owner, self.app, self.node, self.created = c, owner, app, node, created
        self.uid = c.uid()
        self.runs = []
        self.deleted = None
        self.started = None
        self.ip = None
        self.profile = profile or Profile(c, app)
        self.backoff = None  # kubelet flowcontrol.Backoff entry: (lastUpdate, duration seconds)
        self.restarts = 0
        self.ready_at = None  # simulation cursor: Ready since
        self.ready_iv = []  # [[from, until|None], ...] for time-aware readiness
        self.workload = None
        self.terminating = None  # deletionTimestamp set at
        self.net_rx_rate = c.rng.randint(20, 400) * 1000
        self.net_tx_rate = c.rng.randint(20, 400) * 1000
        tmpl = template or {"metadata": {"labels": dict(app.labels)}, "spec": app.pod_spec()}
        md = {"name": name, "generateName": name[: name.rfind("-") + 1], "namespace": owner["metadata"]["namespace"],
              "uid": self.uid, "resourceVersion": None, "generation": 1, "creationTimestamp": ktime(created),
              "labels": dict(tmpl["metadata"].get("labels", {}))}
        if extra_labels:
            md["labels"].update(extra_labels)
        if tmpl["metadata"].get("annotations"):
            md["annotations"] = dict(tmpl["metadata"]["annotations"])
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
        spec = copy.deepcopy(tmpl["spec"])
        vol_name = "kube-api-access-" + c.alnum(5)
        spec.setdefault("volumes", []).append({"name": vol_name, "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                         "fieldPath": "metadata.namespace"}}]}}],
            "defaultMode": 420}})
        for ctr in spec["containers"]:
            ctr.setdefault("volumeMounts", []).append({"name": vol_name, "readOnly": True,
                                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
        spec["enableServiceLinks"] = True
        spec["preemptionPolicy"] = "PreemptLowerPriority"
        spec["priority"] = spec.get("priority", 0)
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}])
        self.obj = {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec,
                    "status": {"phase": "Pending", "qosClass": self.qos()}}
        c.pods.append(self)

    # helpers
    @property
    def name(self):
        return self.obj["metadata"]["name"]

    @property
    def ns(self):
        return self.obj["metadata"]["namespace"]

    @property
    def cname(self):
        return self.app.name

    def qos(self):
        a = self.app
        if a.limits and a.limits == a.requests and "cpu" in a.limits and "memory" in a.limits:
            return "Guaranteed"
        return "Burstable"

    def alive(self, t):
        return t >= self.created and (self.deleted is None or t < self.deleted)

    def run_at(self, t):
        for r in self.runs:
            if r.start <= t and (r.end is None or t < r.end):
                return r
        return None

    def is_ready(self, t):
        return any(a <= t and (b is None or t < b) for a, b in self.ready_iv)

    def _ready(self, t):
        self.ready_at = t
        self.ready_iv.append([t, None])
        self._notify(t)

    def _unready(self, t):
        self.ready_at = None
        if self.ready_iv and self.ready_iv[-1][1] is None:
            self.ready_iv[-1][1] = t
        self._notify(t)

    def _notify(self, t):
        if self.workload is not None:
            self.workload.pod_changed(t, self.owner)

    def fmt(self):
        """format.Pod(): name_namespace(uid)."""
        return "%s_%s(%s)" % (self.name, self.ns, self.uid)

    def cstatus(self):
        return self.obj["status"]["containerStatuses"][0]

    def conds(self):
        return self.obj["status"].setdefault("conditions", [])

    def new_cid(self):
        return "containerd://" + self.c.hexs(64)

    def status_mounts(self):
        return [dict({"name": m["name"], "mountPath": m["mountPath"]},
                     **({"readOnly": True, "recursiveReadOnly": "Disabled"} if m.get("readOnly") else {}))
                for m in self.obj["spec"]["containers"][0]["volumeMounts"]]

    def waiting_cstatus(self, image, reason):
        """Status of a container the runtime has not created yet."""
        return {"name": self.cname, "state": {"waiting": {"reason": reason}}, "lastState": {}, "ready": False,
                "restartCount": self.restarts, "image": image, "imageID": "", "started": False}

    def created_cstatus(self, image):
        img, img_id = self.c.image_ref(image)
        res = {k: dict(v) for k, v in self.obj["spec"]["containers"][0]["resources"].items()}
        return {"name": self.cname, "state": {}, "lastState": {}, "ready": False, "restartCount": self.restarts,
                "image": img, "imageID": img_id, "started": False, "resources": res,
                "volumeMounts": self.status_mounts()}

    def field(self):
        return "spec.containers{%s}" % self.cname

    def kev(self, t, reason, message, etype="Normal", **kw):
        return self.c.event(t, self.obj, reason, message, etype, "kubelet", self.node.name, self.field(), **kw)

    def _alloc_ip(self):
        if self.obj["spec"].get("hostNetwork"):
            return self.node.ip
        return self.node.alloc_ip()

    # --- initial snapshot of an already-running pod (for the initial list)
    def seed_running(self, scheduled, started, restarts=0, last_term=None, waiting=None, ready=True, run_info=None):
        self.created = min(self.created, scheduled)
        self.started = scheduled
        self.restarts = restarts
        self.ip = self._alloc_ip()
        st = self.obj["status"]
        self.obj["spec"]["nodeName"] = self.node.name
        st["phase"] = "Running"
        conds = self.conds()
        unready = "containers with unready status: [%s]" % self.cname
        set_cond(conds, "PodReadyToStartContainers", "True", add(scheduled, 3))
        set_cond(conds, "Initialized", "True", add(scheduled, 1))
        if ready:
            set_cond(conds, "Ready", "True", add(started, self.app.ready_delay))
            set_cond(conds, "ContainersReady", "True", add(started, self.app.ready_delay))
        else:
            set_cond(conds, "Ready", "False", add(started, 1), "ContainersNotReady", unready)
            set_cond(conds, "ContainersReady", "False", add(started, 1), "ContainersNotReady", unready)
        set_cond(conds, "PodScheduled", "True", scheduled)
        st["hostIP"] = self.node.ip
        st["hostIPs"] = [{"ip": self.node.ip}]
        st["podIP"] = self.ip
        st["podIPs"] = [{"ip": self.ip}]
        st["startTime"] = ktime(scheduled)
        cs = self.created_cstatus(self.app.image)
        if waiting:
            cs["state"] = {"waiting": waiting}
            cs["containerID"] = last_term["containerID"]
        else:
            run = Run(started, self.new_cid(), restarts, run_info)
            self.runs.append(run)
            cs["state"] = {"running": {"startedAt": ktime(started)}}
            cs["containerID"] = run.cid
            cs["started"] = True
            cs["ready"] = ready
        if last_term:
            cs["lastState"] = {"terminated": last_term}
        st["containerStatuses"] = [cs]
        st["qosClass"] = self.qos()
        if ready:
            self.ready_at = add(started, self.app.ready_delay)
            self.ready_iv.append([self.ready_at, None])

    # --- lifecycle (watch-visible transitions)
    def create(self, t):
        self.created = t
        self.obj["metadata"]["creationTimestamp"] = ktime(t)
        self.c.kube(t, "ADDED", self.obj)
        self.c.event(add(t, 0.01), self.owner, "SuccessfulCreate", "Created pod: %s" % self.name,
                     component="replicaset-controller")
        self._notify(t)

    def schedule(self, t):
        self.obj["spec"]["nodeName"] = self.node.name
        set_cond(self.conds(), "PodScheduled", "True", t)
        self.c.kube(t, "MODIFIED", self.obj)
        self.c.scheduled_event(t, self, self.node.name)

    def kubelet_accept(self, t):
        """First kubelet status: sandbox being created, container waiting."""
        st = self.obj["status"]
        conds = self.conds()
        unready = "containers with unready status: [%s]" % self.cname
        set_cond(conds, "PodReadyToStartContainers", "False", t)
        set_cond(conds, "Initialized", "True", t)
        set_cond(conds, "Ready", "False", t, "ContainersNotReady", unready)
        set_cond(conds, "ContainersReady", "False", t, "ContainersNotReady", unready)
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        conds.sort(key=lambda c: order.index(c["type"]))
        st["hostIP"] = self.node.ip
        st["hostIPs"] = [{"ip": self.node.ip}]
        st["startTime"] = ktime(t)
        st["containerStatuses"] = [self.waiting_cstatus(self.app.image, "ContainerCreating")]
        self.started = t
        self.c.kube(t, "MODIFIED", self.obj)

    def sandbox_ready(self, t):
        self.ip = self._alloc_ip()
        st = self.obj["status"]
        st["podIP"] = self.ip
        st["podIPs"] = [{"ip": self.ip}]
        set_cond(self.conds(), "PodReadyToStartContainers", "True", t)

    def pull(self, t, cached):
        if cached:
            self.kev(t, "Pulled", 'Container image "%s" already present on machine' % self.app.image)
            return 0.0
        self.kev(t, "Pulling", 'Pulling image "%s"' % self.app.image)
        secs = self.c.rng.uniform(1.8, 6.5)
        wait = secs + self.c.rng.uniform(0, 0.4)
        self.kev(add(t, wait), "Pulled", 'Successfully pulled image "%s" in %s (%s including waiting). Image size: %d bytes.'
                 % (self.app.image, go_secs(secs), go_secs(wait), self.app.image_size))
        return wait

    def start_container(self, t, run_info=None, cached=True):
        """Pull (or not), create and start; returns the Run."""
        d = self.pull(t, cached)
        t1 = add(t, d + 0.15)
        self.kev(t1, "Created", "Created container: %s" % self.cname)
        t2 = add(t1, self.c.rng.uniform(0.2, 0.6))
        self.kev(t2, "Started", "Started container %s" % self.cname)
        run = Run(t2, self.new_cid(), self.restarts, run_info)
        self.runs.append(run)
        prev = self.obj["status"]["containerStatuses"][0]
        cs = self.created_cstatus(self.app.image)
        cs["lastState"] = prev.get("lastState", {})
        cs["restartCount"] = self.restarts
        cs["state"] = {"running": {"startedAt": ktime(t2)}}
        cs["containerID"] = run.cid
        cs["started"] = True
        cs["ready"] = False
        # keep key order as the API server renders ContainerStatus
        order = ["name", "state", "lastState", "ready", "restartCount", "image", "imageID", "containerID", "started",
                 "resources", "volumeMounts"]
        self.obj["status"]["containerStatuses"] = [{k: cs[k] for k in order if k in cs}]
        self.obj["status"]["phase"] = "Running"
        self.c.kube(add(t2, self.c.rng.uniform(0.4, 1.2)), "MODIFIED", self.obj)
        return run

    def become_ready(self, t):
        cs = self.cstatus()
        cs["ready"] = True
        set_cond(self.conds(), "Ready", "True", t)
        set_cond(self.conds(), "ContainersReady", "True", t)
        self.c.kube(t, "MODIFIED", self.obj)
        self._ready(t)

    def launch(self, t, run_info=None, cached=True, ready=True, probe_hiccup=False, start=True):
        """Full path from creation to Ready. Returns the ready time (or None)."""
        c = self.c
        self.create(t)
        t_s = add(t, c.rng.uniform(0.01, 0.06))
        self.schedule(t_s)
        t_k = add(t_s, c.rng.uniform(0.3, 0.9))
        self.kubelet_accept(t_k)
        t_sb = add(t_k, c.rng.uniform(0.4, 1.1))
        self.sandbox_ready(t_sb)
        if not start:
            return None
        run = self.start_container(t_sb, run_info, cached)
        if not ready:
            return None
        t_r = add(run.start, self.app.ready_delay + c.rng.uniform(0.5, 3.5))
        if probe_hiccup:
            ip = self.ip
            self.kev(add(run.start, 5.3), "Unhealthy",
                     'Readiness probe failed: Get "http://%s:%d%s": dial tcp %s:%d: connect: connection refused'
                     % (ip, self.app.port, self.app.probe_path, ip, self.app.port), "Warning")
            t_r = add(t_r, 5)
        self.become_ready(t_r)
        return t_r

    def terminate(self, t):
        """Graceful deletion by the ReplicaSet controller."""
        c = self.c
        md = self.obj["metadata"]
        md["deletionTimestamp"] = ktime(add(t, 30))
        md["deletionGracePeriodSeconds"] = 30
        self.terminating = add(t, 0.02)
        c.event(t, self.owner, "SuccessfulDelete", "Deleted pod: %s" % self.name, component="replicaset-controller")
        c.kube(add(t, 0.02), "MODIFIED", self.obj)
        self.kev(add(t, c.rng.uniform(0.05, 0.3)), "Killing", "Stopping container %s" % self.cname)
        # endpoints drop the pod as soon as it is terminating
        self._unready(add(t, 0.02))
        t_exit = add(t, c.rng.uniform(1.2, 4.5))
        run = self.run_at(t)
        cs = self.cstatus()
        code = self.app.exit_on_term
        if run:
            run.end = t_exit
            run.exit = code
            term = {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                    "startedAt": ktime(run.start), "finishedAt": ktime(t_exit), "containerID": run.cid}
            cs["state"] = {"terminated": term}
        cs["ready"] = False
        cs["started"] = False
        conds = self.conds()
        if code == 0:
            set_cond(conds, "Ready", "False", t_exit, "PodCompleted")
            set_cond(conds, "ContainersReady", "False", t_exit, "PodCompleted")
        else:
            unready = "containers with unready status: [%s]" % self.cname
            set_cond(conds, "Ready", "False", t_exit, "ContainersNotReady", unready)
            set_cond(conds, "ContainersReady", "False", t_exit, "ContainersNotReady", unready)
        set_cond(conds, "PodReadyToStartContainers", "False", add(t_exit, 0.6))
        self.obj["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
        c.kube(add(t_exit, 0.7), "MODIFIED", self.obj)
        md["deletionGracePeriodSeconds"] = 0
        self.deleted = add(t_exit, 1.1)
        c.kube(self.deleted, "MODIFIED", self.obj)
        c.kube(add(self.deleted, 0.02), "DELETED", self.obj)
        self._notify(add(self.deleted, 0.03))

    # --- failures
    def crash(self, t_fin, reason, code, message=None, until=None, next_info=None):
        """The running container exited at t_fin. Applies kubelet back-off; returns the next Run or None."""
        c = self.c
        run = self.run_at(add(t_fin, -0.001))
        run.end = t_fin
        run.exit = code
        cs = self.cstatus()
        term = {"exitCode": code, "reason": reason}
        if message:
            term["message"] = message
        term.update({"startedAt": ktime(run.start), "finishedAt": ktime(t_fin), "containerID": run.cid})
        unready = "containers with unready status: [%s]" % self.cname
        # 1) PLEG notices the exit: terminated state, pod not ready
        t1 = add(t_fin, c.rng.uniform(0.6, 1.4))
        cs["state"] = {"terminated": term}
        cs["ready"] = False
        cs["started"] = False
        set_cond(self.conds(), "Ready", "False", t1, "ContainersNotReady", unready)
        set_cond(self.conds(), "ContainersReady", "False", t1, "ContainersNotReady", unready)
        c.kube(t1, "MODIFIED", self.obj)
        if self.ready_at is not None:
            self._unready(t1)
        # 2) kubelet back-off decision (flowcontrol.Backoff: 10s initial, x2, 5m cap, forgotten after 2 x 5m)
        in_backoff = self.backoff is not None and (t_fin - self.backoff[0]).total_seconds() <= 600
        t2 = add(t1, c.rng.uniform(0.1, 0.5))
        cs["lastState"] = {"terminated": term}
        if in_backoff:
            dur = self.backoff[1]
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off %s restarting failed container=%s pod=%s"
                                       % (go_duration(dur), self.cname, self.fmt())}}
            c.kube(t2, "MODIFIED", self.obj)
            bo_msg = "Back-off restarting failed container %s in pod %s" % (self.cname, self.fmt())
            self.kev(t2, "BackOff", bo_msg, "Warning")
            restart = add(t_fin, dur + c.rng.uniform(1.0, 7.0))
            # the pod worker keeps re-syncing while the back-off runs; each attempt re-records BackOff
            tb = t2
            while True:
                tb = add(tb, c.rng.uniform(12.0, 18.0) if dur <= 40 else c.rng.uniform(28.0, 45.0))
                if tb >= add(restart, -1) or (until and tb >= until):
                    break
                self.kev(tb, "BackOff", bo_msg, "Warning")
            self.backoff = (t_fin, min(dur * 2, 300))
        else:
            restart = add(t2, c.rng.uniform(0.2, 0.9))
            self.backoff = (t_fin, 10)
        if until and restart >= until:
            return None
        # 3) restart
        self.restarts += 1
        return self.start_container(restart, next_info, cached=True)

    def crashloop(self, run, until, reason="OOMKilled", code=137, message=None, info_fn=None):
        """Drive repeated out-of-memory kills of this pod until `until`."""
        limit = self.app.mem_limit
        while run is not None:
            secs = self.profile.crash_after(self, run, limit)
            if secs is None:
                return
            ready_t = add(run.start, self.app.ready_delay + self.c.rng.uniform(0.5, 3.0))
            t_fin = add(run.start, secs)
            if self.ready_at is None and ready_t < t_fin and ready_t < until:
                self.become_ready(ready_t)
            if t_fin >= until:
                return
            info = info_fn(self, len(self.runs)) if info_fn else None
            run = self.crash(t_fin, reason, code, message, until, info)


# --------------------------------------------------------------------------- workloads

def template_hash(obj, salt):
    h = hashlib.sha256((salt + json.dumps(obj, sort_keys=True)).encode()).digest()
    return "".join(ALNUM[b % len(ALNUM)] for b in h[:10])


class Deployment:
    """Deployment + its ReplicaSets. Pods are simulated eagerly; the Deployment/ReplicaSet objects are
    mutated and emitted through Cluster.defer so their watch snapshots are consistent in time."""

    def __init__(self, c, ns, app, replicas, created, revision, *, part_of="shop", manager="kubectl-client-side-apply",
                 template_annotations=None, history=None, labels=None, selector=None):
        self.c, self.ns, self.app = c, ns, app
        self.labels = labels or {"app.kubernetes.io/name": app.name, "app.kubernetes.io/part-of": part_of}
        app.labels = dict(self.labels)
        self.selector = selector or {"app.kubernetes.io/name": app.name}
        self.uid = c.uid()
        self.revision = revision
        self.replicas = replicas  # eager view of spec.replicas
        self.rs_list = []
        self.rs_replicas = {}  # eager view of each RS spec.replicas
        self.pods = {}
        self.tmpl = self.template(app, template_annotations)
        self.obj = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app.name, "namespace": ns, "uid": self.uid, "resourceVersion": None,
                         "generation": revision + 1, "creationTimestamp": ktime(created),
                         "labels": dict(self.labels),
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(self.selector)},
                     "template": copy.deepcopy(self.tmpl),
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
            "status": {},
        }
        apply_fields = fields_v1({"metadata": {"labels": self.labels}, "spec": self.obj["spec"]})
        self.obj["metadata"]["managedFields"] = [
            {"manager": manager, "operation": "Update", "apiVersion": "apps/v1", "time": ktime(created),
             "fieldsType": "FieldsV1", "fieldsV1": apply_fields},
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
             "time": ktime(created), "fieldsType": "FieldsV1", "subresource": "status",
             "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
                          "f:status": {"f:availableReplicas": {}, "f:conditions": {".": {}}, "f:observedGeneration": {},
                                       "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}}}},
        ]
        if history:
            old_tmpl = self.template(app.clone(image=history["image"]), history.get("annotations"))
            rs = self.new_rs(old_tmpl, revision - 1, history["created"], 0)
            rs["metadata"]["generation"] = 3
            rs["status"] = {"replicas": 0, "observedGeneration": 3}
            c.initial_add(41, rs)
        self.cur_rs = self.new_rs(self.tmpl, revision, history["rolled"] if history else created, replicas)

    def template(self, app, annotations=None):
        md = {"creationTimestamp": None, "labels": dict(self.labels)}
        if annotations:
            md["annotations"] = dict(annotations)
        return {"metadata": md, "spec": app.pod_spec()}

    def max_surge(self):
        return max(1, -(-self.replicas // 4))

    def new_rs(self, tmpl, revision, created, replicas):
        h = template_hash(tmpl, self.uid)
        t = copy.deepcopy(tmpl)
        t["metadata"]["labels"]["pod-template-hash"] = h
        name = "%s-%s" % (self.app.name, h)
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": name, "namespace": self.ns, "uid": self.c.uid(),
                           "resourceVersion": None, "generation": 1, "creationTimestamp": ktime(created),
                           "labels": dict(self.labels, **{"pod-template-hash": h}),
                           "annotations": {"deployment.kubernetes.io/desired-replicas": str(self.replicas),
                                           "deployment.kubernetes.io/max-replicas": str(self.replicas + self.max_surge()),
                                           "deployment.kubernetes.io/revision": str(revision)},
                           "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": self.app.name,
                                                "uid": self.uid, "controller": True, "blockOwnerDeletion": True}]},
              "spec": {"replicas": replicas, "selector": {"matchLabels": dict(self.selector, **{"pod-template-hash": h})},
                       "template": t},
              "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": replicas,
                         "availableReplicas": replicas, "observedGeneration": 1}}
        if replicas == 0:
            rs["status"] = {"replicas": 0, "observedGeneration": 1}
        self.rs_list.append(rs)
        self.rs_replicas[name] = replicas
        self.pods[name] = []
        return rs

    def make_pod(self, rs, node, created, profile=None):
        name = "%s-%s" % (rs["metadata"]["name"], self.c.alnum(5))
        img = rs["spec"]["template"]["spec"]["containers"][0]["image"]
        app = self.app if img == self.app.image else self.app.clone(image=img, version=img.rsplit(":", 1)[-1])
        p = Pod(self.c, rs, name, app, node, created, profile, template=rs["spec"]["template"])
        p.workload = self
        self.pods[rs["metadata"]["name"]].append(p)
        return p

    def all_pods(self):
        return [p for rs in self.rs_list for p in self.pods[rs["metadata"]["name"]]]

    # ---- deferred status computation
    def _live(self, rs, t):
        """Active pods as the ReplicaSet controller counts them (terminating pods are filtered out)."""
        return [p for p in self.pods[rs["metadata"]["name"]]
                if p.created <= t and (p.terminating is None or p.terminating > t)]

    def _apply_status(self, t, progressing):
        reps = self.obj["spec"]["replicas"]
        all_pods = [p for rs in self.rs_list for p in self._live(rs, t)]
        updated = self._live(self.cur_rs_at(t), t)
        ready = [p for p in all_pods if p.is_ready(t)]
        before = json.dumps(self.obj["status"], sort_keys=True)
        st = self.obj["status"]
        st["observedGeneration"] = self.obj["metadata"]["generation"]
        st["replicas"] = len(all_pods)
        st["updatedReplicas"] = len(updated)
        st["readyReplicas"] = len(ready)
        st["availableReplicas"] = len(ready)
        for k in ("readyReplicas", "availableReplicas"):
            if not st[k]:
                st.pop(k)
        unav = max(0, len(all_pods) - len(ready), reps - len(ready))
        if unav:
            st["unavailableReplicas"] = unav
        else:
            st.pop("unavailableReplicas", None)
        conds = st.setdefault("conditions", [])
        ok = len(ready) >= reps - (reps * 25 // 100)
        if ok:
            self._dcond(conds, "Available", "True", t, "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            self._dcond(conds, "Available", "False", t, "MinimumReplicasUnavailable",
                        "Deployment does not have minimum availability.")
        if progressing:
            self._dcond(conds, "Progressing", progressing[0], t, progressing[1], progressing[2])
        if json.dumps(st, sort_keys=True) != before:
            self.c.kube(t, "MODIFIED", self.obj)

    def cur_rs_at(self, t):
        cur = self.rs_list[0]
        for rs in self.rs_list:
            if T(rs["metadata"]["creationTimestamp"].replace("Z", "+00:00")) <= add(t, 1):
                cur = rs if self._rs_rev(rs) >= self._rs_rev(cur) else cur
        return cur

    @staticmethod
    def _rs_rev(rs):
        return int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])

    @staticmethod
    def _dcond(conds, ctype, status, t, reason, message):
        for c in conds:
            if c["type"] == ctype:
                if c["status"] != status:
                    c["lastTransitionTime"] = ktime(t)
                if c["reason"] != reason or c["message"] != message or c["status"] != status or ctype == "Progressing":
                    c["lastUpdateTime"] = ktime(t)
                c["status"], c["reason"], c["message"] = status, reason, message
                return
        conds.append({"type": ctype, "status": status, "lastUpdateTime": ktime(t), "lastTransitionTime": ktime(t),
                      "reason": reason, "message": message})
        conds.sort(key=lambda c: ["Available", "Progressing", "ReplicaFailure"].index(c["type"]))

    def set_status(self, t, progressing=None):
        self.c.defer(t, lambda tt: self._apply_status(tt, progressing))

    def rs_status(self, rs, t):
        def op(tt):
            pods = self._live(rs, tt)
            ready = [p for p in pods if p.is_ready(tt)]
            st = {"replicas": len(pods)}
            if pods:
                st["fullyLabeledReplicas"] = len(pods)
            if ready:
                st["readyReplicas"] = len(ready)
                st["availableReplicas"] = len(ready)
            st["observedGeneration"] = rs["metadata"]["generation"]
            if st != rs["status"]:
                rs["status"] = st
                self.c.kube(tt, "MODIFIED", rs)
        self.c.defer(t, op)

    def pod_changed(self, t, rs):
        """A pod's readiness changed: ReplicaSet and Deployment controllers update their status."""
        self.rs_status(rs, add(t, 0.04))
        self.set_status(add(t, 0.07))

    def seed_status(self, t_avail, t_prog):
        reps = self.replicas
        self.obj["status"] = {"observedGeneration": self.obj["metadata"]["generation"], "replicas": reps,
                              "updatedReplicas": reps, "readyReplicas": reps, "availableReplicas": reps,
                              "conditions": [
                                  {"type": "Available", "status": "True", "lastUpdateTime": ktime(t_avail),
                                   "lastTransitionTime": ktime(t_avail), "reason": "MinimumReplicasAvailable",
                                   "message": "Deployment has minimum availability."},
                                  {"type": "Progressing", "status": "True", "lastUpdateTime": ktime(t_prog),
                                   "lastTransitionTime": ktime(t_avail), "reason": "NewReplicaSetAvailable",
                                   "message": 'ReplicaSet "%s" has successfully progressed.' % self.cur_rs["metadata"]["name"]}]}

    def seed(self, placements, started, profile_fn=None, run_info=None):
        """Create already-running pods of the current RS for the initial list."""
        c = self.c
        for i, node in enumerate(placements):
            sched = add(started, i * c.rng.uniform(14, 25))
            p = self.make_pod(self.cur_rs, node, sched, profile_fn(self) if profile_fn else None)
            p.seed_running(sched, add(sched, c.rng.uniform(1.5, 3.0)), run_info=run_info)
        last = max(p.ready_at or p.started for p in self.pods[self.cur_rs["metadata"]["name"]])
        self.seed_status(add(last, -60 if len(placements) > 1 else 0), last)
        self.cur_rs["metadata"]["creationTimestamp"] = ktime(add(started, -0.2))
        c.initial_add(40, self.obj)
        c.initial_add(41, self.cur_rs)
        for p in self.pods[self.cur_rs["metadata"]["name"]]:
            c.initial_add(50, p.obj)

    def scale_rs(self, t, rs, n, event=True):
        name = rs["metadata"]["name"]
        old = self.rs_replicas[name]
        self.rs_replicas[name] = n
        desired, maxr = self.replicas, self.replicas + self.max_surge()
        if event:
            self.c.event(add(t, 0.003), self.obj, "ScalingReplicaSet",
                         "Scaled %s replica set %s to %d from %d" % ("up" if n > old else "down", name, n, old),
                         component="deployment-controller")

        def op(tt):
            rs["spec"]["replicas"] = n
            rs["metadata"]["generation"] += 1
            rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(desired)
            rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] = str(maxr)
            self.c.kube(tt, "MODIFIED", rs)
        self.c.defer(t, op)

    # ---- change operations
    def change_template(self, t, mutate, manager, fields):
        mutate(self.tmpl)
        snap = copy.deepcopy(self.tmpl)

        def op(tt):
            self.obj["spec"]["template"] = snap
            self.obj["metadata"]["generation"] += 1
            mf = self.obj["metadata"]["managedFields"]
            entry = next((m for m in mf if m["manager"] == manager), None)
            if entry is None:
                entry = {"manager": manager, "operation": "Update", "apiVersion": "apps/v1", "time": ktime(tt),
                         "fieldsType": "FieldsV1", "fieldsV1": {}}
                mf.insert(len(mf) - 1, entry)
            entry["time"] = ktime(tt)
            entry["fieldsV1"] = fields
            self.c.kube(tt, "MODIFIED", self.obj)
        self.c.defer(t, op)

    def rollout(self, t, nodes, *, profile_fn=None, run_info=None, new_pods_ok=True, start_new=True, pull=False,
                on_new_pod=None, hiccup_index=None, until=None):
        """Rolling update (maxSurge 25% -> 1, maxUnavailable 25% -> 0 for our sizes).

        If new_pods_ok is False the first new pod never becomes Ready: the rollout stalls with the old
        ReplicaSet still serving, and on_new_pod(pod, t) scripts its failure.
        """
        c = self.c
        reps = self.replicas
        old_rs = self.cur_rs
        self.revision += 1
        rev = self.revision
        t1 = add(t, c.rng.uniform(0.01, 0.05))
        new_rs = self.new_rs(self.tmpl, rev, t1, 1)
        new_rs["status"] = {"replicas": 0, "observedGeneration": 1}
        self.cur_rs = new_rs
        c.defer(t1, lambda tt: c.kube(tt, "ADDED", new_rs))
        c.event(add(t1, 0.002), self.obj, "ScalingReplicaSet",
                "Scaled up replica set %s to 1 from 0" % new_rs["metadata"]["name"], component="deployment-controller")

        def bump(tt):
            self.obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(rev)
        c.defer(add(t1, 0.015), bump)
        nm = new_rs["metadata"]["name"]
        progressing = ("True", "ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % nm)
        tp = add(t1, 0.01)
        p = self.make_pod(new_rs, nodes[0], tp, profile_fn(self) if profile_fn else None)
        self.set_status(add(t1, 0.02), progressing)
        if not new_pods_ok:
            p.launch(tp, run_info, cached=not pull, ready=False, start=start_new)
            self.rs_status(new_rs, add(tp, 0.05))
            self.set_status(add(tp, 0.08), progressing)
            if on_new_pod:
                on_new_pod(p, tp)
            tdl = add(t, 600 + c.rng.uniform(0.5, 2.0))
            if until is None or tdl < until:
                self.set_status(tdl, ("False", "ProgressDeadlineExceeded",
                                      'ReplicaSet "%s" has timed out progressing.' % nm))
            return new_rs, [p]
        new_pods = [p]
        old_pods = [q for q in self.pods[old_rs["metadata"]["name"]] if q.deleted is None]
        tr = p.launch(tp, run_info, cached=not pull, probe_hiccup=(hiccup_index == 0))
        for i in range(1, reps + 1):
            td = add(tr, c.rng.uniform(0.05, 0.2))
            self.scale_rs(td, old_rs, reps - i)
            victim = old_pods.pop(0)
            victim.terminate(add(td, 0.01))
            if i == reps:
                break
            tu = add(td, 0.03)
            self.scale_rs(tu, new_rs, i + 1)
            q = self.make_pod(new_rs, nodes[i % len(nodes)], add(tu, 0.01), profile_fn(self) if profile_fn else None)
            new_pods.append(q)
            self.set_status(add(tu, 0.02), progressing)
            tr = q.launch(add(tu, 0.01), run_info, cached=not pull, probe_hiccup=(hiccup_index == i))
        self.set_status(add(victim.deleted, 0.3), ("True", "NewReplicaSetAvailable",
                                                   'ReplicaSet "%s" has successfully progressed.' % nm))
        return new_rs, new_pods

    def scale(self, t, n, nodes, profile_fn=None, run_info=None):
        """Scale the deployment (HPA); returns new pods."""
        c = self.c
        old = self.replicas
        self.replicas = n

        def op(tt):
            self.obj["spec"]["replicas"] = n
            self.obj["metadata"]["generation"] += 1
            mf = self.obj["metadata"]["managedFields"]
            entry = next((m for m in mf if m.get("subresource") == "scale"), None)
            if entry is None:
                # the HPA writes through the scale subresource
                entry = {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
                         "time": ktime(tt), "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}},
                         "subresource": "scale"}
                mf.append(entry)
                mf[0]["fieldsV1"].get("f:spec", {}).pop("f:replicas", None)
            entry["time"] = ktime(tt)
            c.kube(tt, "MODIFIED", self.obj)
        c.defer(t, op)
        rs = self.cur_rs
        t1 = add(t, c.rng.uniform(0.02, 0.08))
        self.scale_rs(t1, rs, n)
        out = []
        if n > old:
            for i in range(n - old):
                p = self.make_pod(rs, nodes[i], add(t1, 0.01 + i * 0.01), profile_fn(self) if profile_fn else None)
                out.append(p)
                p.launch(add(t1, 0.01 + i * 0.01), run_info)
                self.set_status(add(t1, 0.03 + i * 0.01))
        else:
            live = [p for p in self.pods[rs["metadata"]["name"]] if p.deleted is None]
            for p in live[n:]:
                p.terminate(add(t1, 0.01))
        return out


class DaemonSet:
    def __init__(self, c, ns, app, created, labels):
        self.c, self.ns, self.app = c, ns, app
        self.uid = c.uid()
        self.labels = labels
        app.labels = dict(labels)
        self.crh = c.alnum(9)
        n = len(c.nodes)
        self.obj = {"apiVersion": "apps/v1", "kind": "DaemonSet",
                    "metadata": {"name": app.name, "namespace": ns, "uid": self.uid, "resourceVersion": None,
                                 "generation": 1, "creationTimestamp": ktime(created), "labels": dict(labels),
                                 "annotations": {"deprecated.daemonset.template.generation": "1"}},
                    "spec": {"selector": {"matchLabels": dict(labels)},
                             "template": {"metadata": {"creationTimestamp": None, "labels": dict(labels)},
                                          "spec": dict(app.pod_spec(), hostNetwork=True,
                                                       priorityClassName="system-node-critical")},
                             "updateStrategy": {"type": "RollingUpdate",
                                                "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0}},
                             "revisionHistoryLimit": 10},
                    "status": {"currentNumberScheduled": n, "numberMisscheduled": 0, "desiredNumberScheduled": n,
                               "numberReady": n, "observedGeneration": 1, "updatedNumberScheduled": n,
                               "numberAvailable": n}}
        self.pods = []
        for node in c.nodes:
            name = "%s-%s" % (app.name, c.alnum(5))
            tmpl = copy.deepcopy(self.obj["spec"]["template"])
            tmpl["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node.name]}]}]}}}
            tmpl["spec"]["tolerations"] = [
                {"operator": "Exists"},
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
                {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]
            tmpl["spec"]["priorityClassName"] = "system-node-critical"
            tmpl["spec"]["priority"] = 2000001000
            p = Pod(c, self.obj, name, app, node, add(node.boot, 30), owner_kind="DaemonSet", template=tmpl,
                    extra_labels={"controller-revision-hash": self.crh, "pod-template-generation": "1"})
            p.seed_running(add(node.boot, 31), add(node.boot, 38))
            self.pods.append(p)
        c.initial_add(45, self.obj)
        for p in self.pods:
            c.initial_add(50, p.obj)


class HPA:
    def __init__(self, c, dep, created, min_r, max_r, util):
        self.c, self.dep = c, dep
        self.obj = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": dep.app.name, "namespace": dep.ns, "uid": c.uid(), "resourceVersion": None,
                                 "creationTimestamp": ktime(created)},
                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": dep.app.name, "apiVersion": "apps/v1"},
                             "minReplicas": min_r, "maxReplicas": max_r,
                             "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                                 "type": "Utilization", "averageUtilization": 70}}}]},
                    "status": {"lastScaleTime": ktime(add(c.start, -5400)),
                               "currentReplicas": dep.obj["spec"]["replicas"], "desiredReplicas": dep.obj["spec"]["replicas"],
                               "currentMetrics": [], "conditions": []}}
        self.util(util)
        st = self.obj["status"]
        t0 = add(c.start, -5400)
        st["conditions"] = [
            {"type": "AbleToScale", "status": "True", "lastTransitionTime": ktime(t0), "reason": "ReadyForNewScale",
             "message": "recommended size matches current size"},
            {"type": "ScalingActive", "status": "True", "lastTransitionTime": ktime(t0), "reason": "ValidMetricFound",
             "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
            {"type": "ScalingLimited", "status": "False", "lastTransitionTime": ktime(t0), "reason": "DesiredWithinRange",
             "message": "the desired count is within the acceptable range"}]
        c.initial_add(60, self.obj)

    def util(self, pct):
        req = int(self.dep.app.requests["cpu"].rstrip("m"))
        self.obj["status"]["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageValue": "%dm" % (req * pct // 100), "averageUtilization": pct}}}]

    def rescale(self, t, n, pct, nodes, profile_fn=None):
        c = self.c
        up = n > self.obj["status"]["currentReplicas"]
        self.util(pct)
        c.event(t, self.obj, "SuccessfulRescale", "New size: %d; reason: %s" % (
            n, "cpu resource utilization (percentage of request) above target" if up else "All metrics below target"),
            component="horizontal-pod-autoscaler")
        pods = self.dep.scale(add(t, 0.03), n, nodes, profile_fn)
        st = self.obj["status"]
        st["lastScaleTime"] = ktime(t)
        st["desiredReplicas"] = n
        st["conditions"][0].update({"reason": "SucceededRescale", "lastTransitionTime": ktime(t),
                                    "message": "the HPA controller was able to update the target scale to %d" % n})
        c.kube(add(t, 0.05), "MODIFIED", self.obj)
        t2 = add(t, 15.2)
        st["currentReplicas"] = n
        st["conditions"][0].update({"reason": "ReadyForNewScale", "lastTransitionTime": ktime(t2),
                                    "message": "recommended size matches current size"})
        self.util(pct * self.dep.obj["spec"]["replicas"] // max(1, n) if up else pct)
        c.kube(t2, "MODIFIED", self.obj)
        return pods


# --------------------------------------------------------------------------- kubelet summary

def fs(t, cap, avail, used, inodes=5242880, ifree=None, iused=None):
    d = {"time": ktime(t), "availableBytes": avail, "capacityBytes": cap, "usedBytes": used,
         "inodesFree": ifree if ifree is not None else inodes - 180000, "inodes": inodes}
    if iused is not None:
        d["inodesUsed"] = iused
    return d


def summary(c, node, t):
    pods = []
    tot_ws = tot_usage = tot_rss = 0
    tot_cpu = 0
    node_avail = node.fs_cap - node.fs_used
    for p in c.pods:
        if p.node is not node or p.started is None or not p.alive(t) or t < p.started:
            continue
        ts = add(t, -c.rng.uniform(0.5, 9.5))
        containers = []
        pod_ws = 524288 + 81920 * 3  # pause container + pod cgroup overhead
        pod_cpu = 0
        pod_ucns = 0
        pod_usage = pod_ws
        pod_rss = 409600
        logs_used = rootfs_used = 0
        run = p.run_at(t)
        if run is not None:
            el = max(1.0, (ts - run.start).total_seconds())
            ws = max(4 * Mi, p.profile.ws(p, run, ts))
            usage = ws + p.profile.cache
            rss = int(ws * 0.9)
            nc = p.profile.cpu_nc(p, run, ts)
            ucns = int(p.profile.cpu * el)
            mem = {"time": ktime(ts)}
            lim = p.app.mem_limit
            if lim:
                mem["availableBytes"] = max(0, lim - ws)
            mem.update({"usageBytes": usage, "workingSetBytes": ws, "rssBytes": rss,
                        "pageFaults": int(el * 37) + 12000, "majorPageFaults": 3 + run.attempt % 5})
            rootfs_used = 45056 + 4096 * (run.attempt % 3)
            logs_used = 20480 + int(el * 180)
            containers.append({
                "name": p.cname, "startTime": ktime(run.start),
                "cpu": {"time": ktime(ts), "usageNanoCores": nc, "usageCoreNanoSeconds": ucns},
                "memory": mem,
                "rootfs": fs(ts, node.fs_cap, node_avail, rootfs_used, 5242880, 5242880 - 180000, 12),
                "logs": fs(ts, node.fs_cap, node_avail, logs_used, 5242880, 5242880 - 180000, 1),
            })
            pod_ws += ws
            pod_usage += usage
            pod_rss += rss
            pod_cpu += nc
            pod_ucns += ucns
        pel = max(1.0, (ts - p.started).total_seconds())
        prior = sum(int(p.profile.cpu * ((r.end or ts) - r.start).total_seconds()) for r in p.runs if r is not run and r.start < ts)
        pod_ucns += prior + int(pel * 180000)
        pod_cpu += 90000
        vols = []
        for v in p.obj["spec"]["volumes"]:
            used = 16384 if "projected" in v else 8192 * max(1, len(v.get("configMap", {}).get("items", [1, 1])))
            vols.append(dict(fs(ts, 16277151744 if "projected" in v else node.fs_cap,
                                16277135360 if "projected" in v else node_avail, used,
                                3968557 if "projected" in v else 5242880,
                                3968548 if "projected" in v else 5242880 - 180000, 9 if "projected" in v else 5),
                             name=v["name"]))
        pods.append({
            "podRef": {"name": p.name, "namespace": p.ns, "uid": p.uid},
            "startTime": ktime(p.started),
            "containers": containers,
            "cpu": {"time": ktime(ts), "usageNanoCores": pod_cpu, "usageCoreNanoSeconds": pod_ucns},
            "memory": {"time": ktime(ts), **({"availableBytes": max(0, p.app.mem_limit - pod_ws)} if p.app.mem_limit else {}),
                       "usageBytes": pod_usage, "workingSetBytes": pod_ws, "rssBytes": pod_rss,
                       "pageFaults": 0, "majorPageFaults": 0},
            "network": {"time": ktime(ts), "name": "eth0", "rxBytes": int(pel * p.net_rx_rate), "rxErrors": 0,
                        "txBytes": int(pel * p.net_tx_rate), "txErrors": 0,
                        "interfaces": [{"name": "eth0", "rxBytes": int(pel * p.net_rx_rate), "rxErrors": 0,
                                        "txBytes": int(pel * p.net_tx_rate), "txErrors": 0}]},
            "volume": vols,
            "ephemeral-storage": fs(ts, node.fs_cap, node_avail, rootfs_used + logs_used + 8192,
                                    5242880, 5242880 - 180000, 18),
            "process_stats": {"process_count": p.app.procs if run else 0},
        })
        tot_ws += pod_ws
        tot_usage += pod_usage
        tot_rss += pod_rss
        tot_cpu += pod_cpu
    cap = 15896064 * 1024
    up = (t - node.boot).total_seconds()
    kubelet_ws = 68 * Mi + int(up) % (3 * Mi)
    runtime_ws = 112 * Mi + int(up * 7) % (5 * Mi)
    node_ws = tot_ws + kubelet_ws + runtime_ws + 410 * Mi
    node_cpu = tot_cpu + node.cpu_base
    sys_cont = [
        {"name": "kubelet", "startTime": ktime(add(node.boot, 21)),
         "cpu": {"time": ktime(t), "usageNanoCores": 41000000 + int(up) % 9000000, "usageCoreNanoSeconds": int(up * 43000000)},
         "memory": {"time": ktime(t), "usageBytes": kubelet_ws + 22 * Mi, "workingSetBytes": kubelet_ws,
                    "rssBytes": kubelet_ws - 9 * Mi, "pageFaults": int(up * 3), "majorPageFaults": 41}},
        {"name": "pods", "startTime": ktime(add(node.boot, 21)),
         "cpu": {"time": ktime(t), "usageNanoCores": tot_cpu, "usageCoreNanoSeconds": int(up * 90000000)},
         "memory": {"time": ktime(t), "availableBytes": 14880256 * 1024 - tot_ws, "usageBytes": tot_usage + 64 * Mi,
                    "workingSetBytes": tot_ws, "rssBytes": tot_rss, "pageFaults": 0, "majorPageFaults": 0}},
        {"name": "runtime", "startTime": ktime(add(node.boot, 18)),
         "cpu": {"time": ktime(t), "usageNanoCores": 17000000 + int(up) % 6000000, "usageCoreNanoSeconds": int(up * 19000000)},
         "memory": {"time": ktime(t), "usageBytes": runtime_ws + 880 * Mi, "workingSetBytes": runtime_ws,
                    "rssBytes": runtime_ws - 31 * Mi, "pageFaults": int(up * 5), "majorPageFaults": 12}},
    ]
    return {
        "node": {
            "nodeName": node.name, "systemContainers": sys_cont, "startTime": ktime(node.boot),
            "cpu": {"time": ktime(t), "usageNanoCores": node_cpu, "usageCoreNanoSeconds": int(up * 260000000)},
            "memory": {"time": ktime(t), "availableBytes": cap - node_ws, "usageBytes": node_ws + 1900 * Mi,
                       "workingSetBytes": node_ws, "rssBytes": tot_rss + 310 * Mi, "pageFaults": int(up * 211),
                       "majorPageFaults": 1093},
            "network": {"time": ktime(t), "name": "eth0", "rxBytes": node.net_rx + int(up * 90000), "rxErrors": 0,
                        "txBytes": node.net_tx + int(up * 60000), "txErrors": 0,
                        "interfaces": [{"name": "eth0", "rxBytes": node.net_rx + int(up * 90000), "rxErrors": 0,
                                        "txBytes": node.net_tx + int(up * 60000), "txErrors": 0}]},
            "fs": fs(t, node.fs_cap, node_avail, node.fs_used, 41942016, 41790000, 152016),
            "runtime": {"imageFs": fs(t, node.fs_cap, node_avail, node.image_fs_used, 41942016, 41790000, 152016)},
            "rlimit": {"time": ktime(t), "maxpid": 4194304, "curproc": 410 + len(pods) * 23},
        },
        "pods": pods,
    }


# --------------------------------------------------------------------------- OTLP

def otlp_resource(pod, extra=None):
    a = pod.app
    attrs = [kv("service.name", a.name), kv("service.namespace", pod.ns), kv("service.version", a.version),
             kv("service.instance.id", pod.uid), kv("k8s.namespace.name", pod.ns), kv("k8s.pod.name", pod.name),
             kv("k8s.pod.uid", pod.uid), kv("k8s.node.name", pod.node.name), kv("k8s.container.name", a.name),
             kv("k8s.deployment.name", a.name), kv("host.name", pod.name)]
    return {"attributes": attrs + (extra or [])}


JAVA_SDK = [kv("telemetry.sdk.language", "java"), kv("telemetry.sdk.name", "opentelemetry"),
            kv("telemetry.sdk.version", "1.46.0"), kv("telemetry.distro.name", "opentelemetry-java-instrumentation"),
            kv("telemetry.distro.version", "2.12.0"), kv("process.runtime.name", "OpenJDK Runtime Environment"),
            kv("process.runtime.version", "21.0.6+7-LTS")]
GO_SDK = [kv("telemetry.sdk.language", "go"), kv("telemetry.sdk.name", "opentelemetry"),
          kv("telemetry.sdk.version", "1.35.0"), kv("process.runtime.name", "go"),
          kv("process.runtime.version", "go1.24.1")]


def otlp_pool(c, pod, t):
    run = pod.run_at(t)
    if run is None:
        return None
    prof = pod.profile
    open_c, pending = prof.conns(pod, run, t)
    mx = run.info.get("pool_max", 20)
    open_c = int(open_c)
    idle = 2 + (unix_nano(t) // 10**9 // 30 + shash(pod.uid)) % 4 if mx > 20 else 0
    used = max(0, open_c - idle)
    start = str(unix_nano(run.start))
    now = str(unix_nano(t))
    pool = kv("db.client.connection.pool.name", "cart-pg")
    metrics = [
        {"name": "db.client.connection.count",
         "description": "The number of connections that are currently in state described by the `state` attribute.",
         "unit": "{connection}",
         "sum": {"dataPoints": [
             {"attributes": [pool, kv("db.client.connection.state", "idle")], "startTimeUnixNano": start,
              "timeUnixNano": now, "asInt": str(idle)},
             {"attributes": [pool, kv("db.client.connection.state", "used")], "startTimeUnixNano": start,
              "timeUnixNano": now, "asInt": str(used)}], "aggregationTemporality": 2}},
        {"name": "db.client.connection.max", "description": "The maximum number of open connections allowed.",
         "unit": "{connection}",
         "sum": {"dataPoints": [{"attributes": [pool], "startTimeUnixNano": start, "timeUnixNano": now,
                                 "asInt": str(mx)}], "aggregationTemporality": 2}},
        {"name": "db.client.connection.pending_requests",
         "description": "The number of current pending requests for an open connection.",
         "unit": "{request}",
         "sum": {"dataPoints": [{"attributes": [pool], "startTimeUnixNano": start, "timeUnixNano": now,
                                 "asInt": str(pending)}], "aggregationTemporality": 2}},
    ]
    return {"resourceMetrics": [{"resource": otlp_resource(pod, JAVA_SDK), "scopeMetrics": [
        {"scope": {"name": "io.opentelemetry.hikaricp-3.0", "version": "2.12.0-alpha"}, "metrics": metrics}]}]}


def otlp_go_runtime(c, pod, t):
    run = pod.run_at(t)
    if run is None:
        return None
    ws = pod.profile.ws(pod, run, t)
    start = str(unix_nano(run.start))
    now = str(unix_nano(t))
    stack = 1_572_864 + (unix_nano(t) // 10**9 % 5) * 32768
    other = max(8 * Mi, ws - 22 * Mi - stack)
    gor = 46 + (unix_nano(t) // 10**9) % 9
    metrics = [
        {"name": "go.memory.used", "description": "Memory used by the Go runtime.", "unit": "By",
         "sum": {"dataPoints": [
             {"attributes": [kv("go.memory.type", "stack")], "startTimeUnixNano": start, "timeUnixNano": now,
              "asInt": str(stack)},
             {"attributes": [kv("go.memory.type", "other")], "startTimeUnixNano": start, "timeUnixNano": now,
              "asInt": str(other)}], "aggregationTemporality": 2}},
        {"name": "go.memory.limit", "description": "Go runtime memory limit configured by the user, if a limit exists.",
         "unit": "By", "sum": {"dataPoints": [{"startTimeUnixNano": start, "timeUnixNano": now,
                                               "asInt": str(230 * Mi)}], "aggregationTemporality": 2}},
        {"name": "go.goroutine.count", "description": "Count of live goroutines.", "unit": "{goroutine}",
         "sum": {"dataPoints": [{"startTimeUnixNano": start, "timeUnixNano": now, "asInt": str(gor)}],
                 "aggregationTemporality": 2}},
    ]
    return {"resourceMetrics": [{"resource": otlp_resource(pod, GO_SDK), "scopeMetrics": [
        {"scope": {"name": "go.opentelemetry.io/contrib/instrumentation/runtime", "version": "0.60.0"},
         "metrics": metrics}]}]}


def sample_otlp(c, pods_fn, builder, interval=30.0, offset=20.0):
    k = 0
    while True:
        t = add(c.start, offset + k * interval)
        if t >= c.end:
            return
        for p in pods_fn():
            tt = add(t, (shash(p.uid) % 1000) / 1000.0 * 4)
            if p.alive(tt):
                body = builder(c, p, tt)
                if body:
                    c.rec.add(add(tt, 0.05), "otlp", body)
        k += 1


# --------------------------------------------------------------------------- shared cluster

def base_cluster(rec, start, end):
    c = Cluster(rec, start, end)
    created = T("2026-02-23T08:14:55+00:00")
    c.node("ip-10-0-1-23.eu-west-1.compute.internal", "10.0.1.23", "eu-west-1a", "euw1-az1",
           "i-0a41c7e2b9d35f16e", created)
    c.node("ip-10-0-2-141.eu-west-1.compute.internal", "10.0.2.141", "eu-west-1b", "euw1-az2",
           "i-05e9d13c7a2b84f40", add(created, 7))
    c.node("ip-10-0-3-78.eu-west-1.compute.internal", "10.0.3.78", "eu-west-1c", "euw1-az3",
           "i-0c6b2f58d1e97a034", add(created, 11))
    cl_created = T("2026-02-23T08:06:29+00:00")
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        c.namespace(ns, cl_created)
    c.service("default", "kubernetes", 443, 443, cl_created, cluster_ip="172.20.0.1",
              labels={"component": "apiserver", "provider": "kubernetes"})
    # kube-system
    kp = App("kube-proxy", ECR + "/eks/kube-proxy:v1.33.3-minimal-eksbuild.6", 10256, lang="go",
             requests={"cpu": "100m"}, probe_path=None, mem_mb=24, cpu_m=3, image_size=30_125_116, sa="kube-proxy",
             args=["--v=2", "--config=/var/lib/kube-proxy-config/config", "--hostname-override=$(NODE_NAME)"],
             env=[{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
             volumes=[{"name": "config", "configMap": {"name": "kube-proxy-config", "defaultMode": 420}}],
             mounts=[{"name": "config", "mountPath": "/var/lib/kube-proxy-config/"}])
    c.configmap("kube-system", "kube-proxy-config", {"config": KUBE_PROXY_CONFIG}, add(cl_created, 400),
                labels={"eks.amazonaws.com/component": "kube-proxy", "k8s-app": "kube-proxy"}, manager="eks")
    DaemonSet(c, "kube-system", kp, add(cl_created, 400), {"k8s-app": "kube-proxy"})
    coredns = App("coredns", ECR + "/eks/coredns:v1.12.1-eksbuild.2", 53, lang="go",
                  requests={"cpu": "100m", "memory": "70Mi"}, limits={"memory": "170Mi"}, probe_path="/health",
                  mem_mb=21, cpu_m=4, image_size=24_991_230, sa="coredns", args=["-conf", "/etc/coredns/Corefile"],
                  volumes=[{"name": "config-volume", "configMap": {"name": "coredns", "items": [
                      {"key": "Corefile", "path": "Corefile"}], "defaultMode": 420}}],
                  mounts=[{"name": "config-volume", "readOnly": True, "mountPath": "/etc/coredns"}])
    c.configmap("kube-system", "coredns", {"Corefile": COREFILE}, add(cl_created, 410),
                labels={"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"}, manager="eks")
    c.service("kube-system", "kube-dns", 53, 53, add(cl_created, 410), selector={"k8s-app": "kube-dns"},
              cluster_ip="172.20.0.10", labels={"eks.amazonaws.com/component": "kube-dns", "k8s-app": "kube-dns"})
    d = Deployment(c, "kube-system", coredns, 2, add(cl_created, 410), 1, manager="eks",
                   labels={"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"},
                   selector={"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"})
    d.seed(c.nodes[:2], add(cl_created, 920))
    return c


KUBE_PROXY_CONFIG = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nbindAddress: 0.0.0.0\nclientConnection:\n"
                     "  acceptContentTypes: \"\"\n  burst: 10\n  contentType: application/vnd.kubernetes.protobuf\n"
                     "  kubeconfig: /var/lib/kube-proxy/kubeconfig\n  qps: 5\nclusterCIDR: \"\"\nmode: \"iptables\"\n"
                     "metricsBindAddress: 0.0.0.0:10249\n")
COREFILE = (".:53 {\n    errors\n    health {\n        lameduck 5s\n      }\n    ready\n"
            "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n      pods insecure\n      fallthrough in-addr.arpa ip6.arpa\n    }\n"
            "    prometheus :9153\n    forward . /etc/resolv.conf\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n")
PROM_CONFIG = ("global:\n  scrape_interval: %s\n  evaluation_interval: 30s\nscrape_configs:\n"
               "  - job_name: kubernetes-pods\n    kubernetes_sd_configs:\n      - role: pod\n"
               "    relabel_configs:\n      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]\n"
               "        action: keep\n        regex: \"true\"\n")


def kube_env(name):
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": {
        "K8S_NODE_NAME": "spec.nodeName", "K8S_POD_NAME": "metadata.name", "K8S_POD_UID": "metadata.uid"}[name]}}}


def shop_namespace(c, ns_created, *, otel_interval="30000"):
    """namespace shop: frontend, cart, checkout, redis (+ HPA on frontend). Returns dict of handles."""
    N = c.nodes
    c.namespace("shop", ns_created, {"team": "storefront"})
    h = {}
    h["cart_cm"] = c.configmap("shop", "cart-config", {
        "DB_HOST": "cart-db.cluster-c7x2kq9v4m1d.eu-west-1.rds.amazonaws.com",
        "DB_NAME": "cart", "DB_POOL_MAX_SIZE": "20", "DB_POOL_MIN_IDLE": "5",
        "DB_POOL_CONNECTION_TIMEOUT_MS": "3000", "CACHE_URL": "redis://redis.shop.svc.cluster.local:6379/0",
        "LOG_LEVEL": "info",
        "application.yaml": "server:\n  port: 8080\n  shutdown: graceful\nmanagement:\n  endpoints:\n    web:\n      exposure:\n        include: health,info\nspring:\n  datasource:\n    hikari:\n      pool-name: cart-pg\n      maximum-pool-size: ${DB_POOL_MAX_SIZE}\n      minimum-idle: ${DB_POOL_MIN_IDLE}\n"},
        add(ns_created, 60), labels={"app.kubernetes.io/name": "cart", "app.kubernetes.io/part-of": "shop"})
    h["checkout_cm"] = c.configmap("shop", "checkout-config", {
        "PAYMENTS_URL": "http://payments-api.payments.svc.cluster.local", "PAYMENTS_TIMEOUT": "2s",
        "CART_URL": "http://cart.shop.svc.cluster.local", "LOG_FORMAT": "json"},
        add(ns_created, 61), labels={"app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop"})
    h["frontend_cm"] = c.configmap("shop", "frontend-config", {
        "API_BASE": "/api", "FEATURE_NEW_SEARCH": "false", "BANNER_TEXT": "Free shipping over 50 EUR",
        "CART_URL": "http://cart.shop.svc.cluster.local", "CHECKOUT_URL": "http://checkout.shop.svc.cluster.local"},
        add(ns_created, 62), labels={"app.kubernetes.io/name": "frontend", "app.kubernetes.io/part-of": "shop"})
    h["redis_cm"] = c.configmap("shop", "redis-config", {"redis.conf": "maxmemory 200mb\nmaxmemory-policy allkeys-lru\nappendonly no\n"},
                                add(ns_created, 63), labels={"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "shop"})
    for name, port in (("frontend", 3000), ("cart", 8080), ("checkout", 8080)):
        c.service("shop", name, 80, "http", add(ns_created, 70), selector={"app.kubernetes.io/name": name},
                  labels={"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop"})
    c.service("shop", "redis", 6379, 6379, add(ns_created, 70), selector={"app.kubernetes.io/name": "redis"},
              labels={"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "shop"})

    frontend = App("frontend", "ghcr.io/acme-shop/frontend:3.7.1", 3000, lang="node",
                   requests={"cpu": "200m", "memory": "192Mi"}, limits={"memory": "384Mi"},
                   env_from=[{"configMapRef": {"name": "frontend-config"}}],
                   env=[{"name": "NODE_OPTIONS", "value": "--max-old-space-size=256"}, kube_env("K8S_NODE_NAME")],
                   mem_mb=148, cpu_m=95, image_size=61_402_113, sa="frontend", ready_delay=7, procs=1, cache_mb=6)
    cart = App("cart", "ghcr.io/acme-shop/cart:1.14.2", 8080, lang="java",
               requests={"cpu": "250m", "memory": "384Mi"}, limits={"memory": "512Mi"},
               env_from=[{"configMapRef": {"name": "cart-config"}}],
               env=[{"name": "JAVA_TOOL_OPTIONS",
                     "value": "-XX:MaxRAMPercentage=60 -javaagent:/otel/opentelemetry-javaagent.jar"},
                    {"name": "OTEL_SEMCONV_STABILITY_OPT_IN", "value": "database"},
                    {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.monitoring:4318"},
                    {"name": "OTEL_METRIC_EXPORT_INTERVAL", "value": otel_interval},
                    {"name": "SPRING_CONFIG_ADDITIONAL_LOCATION", "value": "/etc/cart/"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "cart-db", "key": "password"}}},
                    kube_env("K8S_POD_NAME")],
               volumes=[{"name": "config", "configMap": {"name": "cart-config", "items": [
                   {"key": "application.yaml", "path": "application.yaml"}], "defaultMode": 420}}],
               mounts=[{"name": "config", "readOnly": True, "mountPath": "/etc/cart"}],
               probe_path="/actuator/health", mem_mb=235, cpu_m=160, image_size=187_322_904, sa="cart",
               exit_on_term=143, ready_delay=14, procs=1, cache_mb=21)
    checkout = App("checkout", "ghcr.io/acme-shop/checkout:v2.8.1", 8080, lang="go",
                   requests={"cpu": "100m", "memory": "64Mi"}, limits={"memory": "128Mi"},
                   env=[{"name": "PAYMENTS_URL", "valueFrom": {"configMapKeyRef": {"name": "checkout-config", "key": "PAYMENTS_URL"}}},
                        {"name": "PAYMENTS_TIMEOUT", "valueFrom": {"configMapKeyRef": {"name": "checkout-config", "key": "PAYMENTS_TIMEOUT"}}},
                        {"name": "CART_URL", "valueFrom": {"configMapKeyRef": {"name": "checkout-config", "key": "CART_URL"}}},
                        {"name": "LOG_FORMAT", "valueFrom": {"configMapKeyRef": {"name": "checkout-config", "key": "LOG_FORMAT"}}},
                        kube_env("K8S_POD_NAME")],
                   mem_mb=31, cpu_m=25, image_size=21_877_410, sa="checkout", ready_delay=4,
                   tmp_policy="FallbackToLogsOnError", cache_mb=3)
    redis = App("redis", "redis:7.2.5", 6379, lang="c", requests={"cpu": "100m", "memory": "128Mi"},
                limits={"memory": "256Mi"}, probe_path=None, args=["redis-server", "/usr/local/etc/redis/redis.conf"],
                volumes=[{"name": "config", "configMap": {"name": "redis-config", "defaultMode": 420}}],
                mounts=[{"name": "config", "mountPath": "/usr/local/etc/redis"}],
                mem_mb=58, cpu_m=12, image_size=40_013_322, ready_delay=4, cache_mb=2)
    h["frontend"] = Deployment(c, "shop", frontend, 2, add(ns_created, 80), 12,
                               history={"image": "ghcr.io/acme-shop/frontend:3.7.0", "created": add(c.start, -86400 * 4),
                                        "rolled": add(c.start, -86400 * 2)})
    h["frontend"].seed([N[0], N[2]], add(c.start, -86400 * 2 + 30))
    h["cart"] = Deployment(c, "shop", cart, 2, add(ns_created, 81), 8,
                           history={"image": "ghcr.io/acme-shop/cart:1.14.1", "created": add(c.start, -86400 * 9),
                                    "rolled": add(c.start, -86400 * 3 - 4000)})
    h["cart"].seed([N[1], N[2]], add(c.start, -86400 * 3 - 3970),
                   profile_fn=(lambda d: PoolProfile(c, d.app)), run_info={"pool_max": 20})
    h["checkout"] = Deployment(c, "shop", checkout, 2, add(ns_created, 82), 21,
                               history={"image": "ghcr.io/acme-shop/checkout:v2.8.0", "created": add(c.start, -86400 * 6),
                                        "rolled": add(c.start, -86400 * 1 - 7200)})
    h["checkout"].seed([N[0], N[1]], add(c.start, -86400 - 7170))
    h["redis"] = Deployment(c, "shop", redis, 1, add(ns_created, 83), 2)
    h["redis"].seed([N[2]], add(c.start, -86400 * 11))
    h["hpa"] = HPA(c, h["frontend"], add(ns_created, 90), 2, 6, 58)
    return h


def monitoring_namespace(c, node):
    c.namespace("monitoring", T("2026-02-23T09:02:11+00:00"), {"team": "platform"})
    cm = c.configmap("monitoring", "prometheus-server", {"prometheus.yml": PROM_CONFIG % "30s"},
                     T("2026-02-23T09:02:40+00:00"), labels={"app.kubernetes.io/name": "prometheus"})
    c.service("monitoring", "prometheus-server", 80, "http", T("2026-02-23T09:02:40+00:00"),
              selector={"app.kubernetes.io/name": "prometheus"}, labels={"app.kubernetes.io/name": "prometheus"})
    prom = App("prometheus", "quay.io/prometheus/prometheus:v3.2.1", 9090, lang="go",
               requests={"cpu": "200m", "memory": "1Gi"}, limits={"memory": "2Gi"}, probe_path="/-/ready",
               args=["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.retention.time=15d",
                     "--web.enable-lifecycle"],
               volumes=[{"name": "config-volume", "configMap": {"name": "prometheus-server", "defaultMode": 420}},
                        {"name": "storage-volume", "emptyDir": {}}],
               mounts=[{"name": "config-volume", "mountPath": "/etc/prometheus"},
                       {"name": "storage-volume", "mountPath": "/prometheus"}],
               mem_mb=690, cpu_m=85, image_size=124_551_031, sa="prometheus-server", cache_mb=220)
    d = Deployment(c, "monitoring", prom, 1, T("2026-02-23T09:02:41+00:00"), 3, part_of="monitoring",
                   manager="helm")
    d.seed([node], add(c.start, -86400 * 5))
    return cm, d


# --------------------------------------------------------------------------- scenarios

def scenario_flagship(timeline):
    start, end = T("2026-03-10T10:01:15+00:00"), T("2026-03-10T10:12:10+00:00")
    rec = Recording("flagship-configmap-oom", 1001, "Z", 48_211_034)
    c = base_cluster(rec, start, end)
    N = c.nodes
    h = shop_namespace(c, T("2026-02-23T09:15:02+00:00"))
    prom_cm, _ = monitoring_namespace(c, N[0])
    c.finalize_nodes()
    c.flush_initial()

    # decoy 1: unrelated ConfigMap change in monitoring (prometheus reloads itself, nothing restarts)
    t_decoy = T("2026-03-10T10:01:31.412+00:00")
    c.edit_configmap(t_decoy, prom_cm, {"prometheus.yml": PROM_CONFIG % "15s"}, manager="kubectl-client-side-apply")

    # T0: cart-config DB_POOL_MAX_SIZE 20 -> 200
    t0 = T("2026-03-10T10:02:03.218+00:00")
    c.edit_configmap(t0, h["cart_cm"], {"DB_POOL_MAX_SIZE": "200"}, manager="kubectl-edit")

    # kubectl rollout restart deployment/cart (restartedAt is written in the operator's local time)
    t_rr = T("2026-03-10T10:02:41.077+00:00")
    cart = h["cart"]
    restarted = t_rr.astimezone(dt.timezone(dt.timedelta(hours=2))).replace(microsecond=0).isoformat()

    def mutate(tmpl):
        tmpl["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = restarted
    cart.change_template(t_rr, mutate, "kubectl-rollout",
                         {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {
                             ".": {}, "f:kubectl.kubernetes.io/restartedAt": {}}}}}})
    rates = iter([55.0, 51.5])

    def first_info(_d):
        return {"pool_max": 200, "conn_rate": next(rates), "conn_start": 12}
    new_rs, new_pods = cart.rollout(add(t_rr, 0.05), [N[2], N[1]], profile_fn=lambda d: PoolProfile(c, d.app),
                                    run_info=None)
    for p in new_pods:
        p.runs[0].info = first_info(None)

    # normal churn: HPA scales frontend 2 -> 3 (healthy)
    h["hpa"].rescale(T("2026-03-10T10:03:37.530+00:00"), 3, 81, [N[1]])

    # the config change makes each cart JVM open up to 200 connections -> memory climbs to the 512Mi limit
    def restart_info(pod, n):
        return {"pool_max": 200, "conn_rate": 118.0 + (n % 2) * 5.5, "conn_start": 10}
    for p in new_pods:
        p.crashloop(p.runs[0], end, reason="OOMKilled", code=137, info_fn=restart_info)

    c.run_deferred()
    c.sample_kubelet(30.0, 10.0)
    sample_otlp(c, lambda: [p for rs in cart.rs_list for p in cart.pods[rs["metadata"]["name"]]], otlp_pool)
    n = rec.write(os.path.join(OUT, "flagship-configmap-oom.jsonl"))
    if timeline:
        print_timeline("flagship", c, new_pods, new_rs, cart)
    return n


def scenario_bad_image(timeline):
    start, end = T("2026-03-12T14:21:00+00:00"), T("2026-03-12T14:37:00+00:00")
    rec = Recording("bad-image-rollout", 2002, dt.timezone.utc, 51_870_112)
    rec.tz = dt.timezone.utc  # "+00:00" offsets
    c = base_cluster(rec, start, end)
    N = c.nodes
    h = shop_namespace(c, T("2026-02-23T09:15:02+00:00"))
    monitoring_namespace(c, N[0])
    c.finalize_nodes()
    c.flush_initial()
    c.kubelet_pods(add(start, 2.0))

    # decoy: banner text change in an unrelated ConfigMap, no restart
    c.edit_configmap(T("2026-03-12T14:22:31.904+00:00"), h["frontend_cm"],
                     {"BANNER_TEXT": "Spring sale: 20% off everything"}, manager="kubectl-client-side-apply")

    # kubectl set image deployment/checkout checkout=...:v2.9.0 (tag was never pushed)
    chk = h["checkout"]
    bad = "ghcr.io/acme-shop/checkout:v2.9.0"
    t_set = T("2026-03-12T14:24:10.336+00:00")

    def mutate(tmpl):
        tmpl["spec"]["containers"][0]["image"] = bad
    chk.change_template(t_set, mutate, "kubectl-set",
                        {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                            'k:{"name":"checkout"}': {"f:image": {}}}}}}})

    def fail_pull(p, t):
        image_pull_backoff(c, p, add(t, 1.6), end)
    rs, pods = chk.rollout(add(t_set, 0.04), [N[2]], new_pods_ok=False, start_new=False,
                          on_new_pod=fail_pull, until=end)

    c.run_deferred()
    c.sample_kubelet(60.0, 10.0)
    sample_otlp(c, lambda: [p for rs_ in h["cart"].rs_list for p in h["cart"].pods[rs_["metadata"]["name"]]], otlp_pool)
    n = rec.write(os.path.join(OUT, "bad-image-rollout.jsonl"))
    if timeline:
        print("bad-image: new RS", rs["metadata"]["name"], "pod", pods[0].name, pods[0].node.name)
    return n


def image_pull_backoff(c, p, t, until):
    """ErrImagePull -> ImagePullBackOff with kubelet's image back-off (10s initial, x2, 300s cap)."""
    img = p.app.image
    full = c.image_ref(img)[0]
    err = ('rpc error: code = NotFound desc = failed to pull and unpack image "%s": failed to resolve reference '
           '"%s": %s: not found' % (full, full, full))
    cs = p.cstatus()
    backoff = 10
    tt = t
    bo_msg = 'Back-off pulling image "%s"' % img
    while tt < until:
        p.kev(tt, "Pulling", 'Pulling image "%s"' % img)
        tf = add(tt, c.rng.uniform(0.35, 0.9))
        p.kev(tf, "Failed", 'Failed to pull image "%s": %s' % (img, err), "Warning")
        p.kev(add(tf, 0.03), "Failed", "Error: ErrImagePull", "Warning")
        cs["state"] = {"waiting": {"reason": "ErrImagePull", "message": err}}
        c.kube(add(tf, c.rng.uniform(0.3, 0.8)), "MODIFIED", p.obj)
        retry = add(tf, backoff + c.rng.uniform(0.5, 6.0))
        # the pod worker re-syncs during the back-off; each sync records BackOff + Failed(ImagePullBackOff)
        tb = add(tf, c.rng.uniform(1.0, 2.5))
        first = True
        while tb < retry and tb < until:
            p.kev(tb, "BackOff", bo_msg)
            p.kev(add(tb, 0.03), "Failed", "Error: ImagePullBackOff", "Warning")
            if first:
                cs["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                           "message": "%s: ErrImagePull: %s" % (bo_msg, err)}}
                c.kube(add(tb, c.rng.uniform(0.2, 0.6)), "MODIFIED", p.obj)
                first = False
            tb = add(tb, c.rng.uniform(11.0, 16.0))
        tt = retry
        backoff = min(backoff * 2, 300)


def scenario_crashloop(timeline):
    start, end = T("2026-03-16T08:42:00+00:00"), T("2026-03-16T08:56:30+00:00")
    rec = Recording("crashloop-bad-config", 3003, "Z", 55_002_871)
    c = base_cluster(rec, start, end)
    N = c.nodes
    h = shop_namespace(c, T("2026-02-23T09:15:02+00:00"))
    monitoring_namespace(c, N[0])
    c.finalize_nodes()
    c.flush_initial()
    c.kubelet_pods(add(start, 2.0))

    # normal churn
    h["hpa"].rescale(T("2026-03-16T08:42:37.120+00:00"), 3, 79, [N[1]])

    # the bad value: a duration without a unit
    t0 = T("2026-03-16T08:44:20.650+00:00")
    c.edit_configmap(t0, h["checkout_cm"], {"PAYMENTS_TIMEOUT": "2000"}, manager="kubectl-edit")
    chk = h["checkout"]
    t_rr = T("2026-03-16T08:45:05.913+00:00")
    restarted = t_rr.astimezone(dt.timezone(dt.timedelta(hours=1))).replace(microsecond=0).isoformat()

    def mutate(tmpl):
        tmpl["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = restarted
    chk.change_template(t_rr, mutate, "kubectl-rollout",
                        {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {
                            ".": {}, "f:kubectl.kubernetes.io/restartedAt": {}}}}}})
    msg = ('{"level":"info","ts":"%s","msg":"starting checkout","version":"v2.8.1"}\n'
           '{"level":"fatal","ts":"%s","msg":"invalid configuration","error":"PAYMENTS_TIMEOUT: time: missing unit in duration \\"2000\\""}\n')

    def crash(p, t):
        run = p.runs[0]
        while run is not None:
            secs = c.rng.uniform(0.9, 1.6)
            t_fin = add(run.start, secs)
            if t_fin >= end:
                return
            m = msg % (mtime(add(run.start, 0.05)), mtime(add(t_fin, -0.01)))
            run = p.crash(t_fin, "Error", 1, m, end)
    rs, pods = chk.rollout(add(t_rr, 0.04), [N[2]], new_pods_ok=False, on_new_pod=crash, until=end)
    c.run_deferred()
    c.sample_kubelet(60.0, 10.0)
    n = rec.write(os.path.join(OUT, "crashloop-bad-config.jsonl"))
    if timeline:
        print("crashloop: new RS", rs["metadata"]["name"], "pod", pods[0].name, pods[0].node.name)
        for r in pods[0].runs:
            print("   run", r.attempt, ktime(r.start), r.end and ktime(r.end))
    return n


def scenario_healthy(timeline):
    tz = dt.timezone(dt.timedelta(hours=2))
    start, end = T("2026-03-18T11:00:00+02:00"), T("2026-03-18T11:30:00+02:00")
    rec = Recording("healthy-cluster", 4004, tz, 60_119_540)
    c = base_cluster(rec, start, end)
    N = c.nodes
    h = shop_namespace(c, T("2026-02-23T09:15:02+00:00"), otel_interval="60000")
    prom_cm, _ = monitoring_namespace(c, N[0])
    c.finalize_nodes()
    c.flush_initial()
    hpa = h["hpa"]
    hpa.rescale(T("2026-03-18T11:03:15.402+02:00"), 3, 78, [N[1]])

    # image bump rolled out by Argo CD, succeeds
    chk = h["checkout"]
    t_img = T("2026-03-18T11:06:40.118+02:00")
    good = "ghcr.io/acme-shop/checkout:v2.8.2"

    def mutate(tmpl):
        tmpl["spec"]["containers"][0]["image"] = good
    chk.change_template(t_img, mutate, "argocd-controller",
                        {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                            'k:{"name":"checkout"}': {"f:image": {}}}}}}})
    chk.app = chk.app.clone(image=good, version="v2.8.2")
    chk.rollout(add(t_img, 0.04), [N[2], N[0]], pull=True)

    # feature flag flip + rollout restart of frontend: succeeds (one transient readiness failure on start-up)
    t_cm = T("2026-03-18T11:12:00.771+02:00")
    c.edit_configmap(t_cm, h["frontend_cm"], {"FEATURE_NEW_SEARCH": "true"}, manager="kubectl-edit")
    fe = h["frontend"]
    t_rr = T("2026-03-18T11:12:35.250+02:00")

    def mutate2(tmpl):
        tmpl["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = \
            t_rr.replace(microsecond=0).isoformat()
    fe.change_template(t_rr, mutate2, "kubectl-rollout",
                       {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {
                           ".": {}, "f:kubectl.kubernetes.io/restartedAt": {}}}}}})
    fe.rollout(add(t_rr, 0.05), [N[1], N[2], N[0]], hiccup_index=1)

    c.edit_configmap(T("2026-03-18T11:15:20.066+02:00"), prom_cm, {"prometheus.yml": PROM_CONFIG % "20s"},
                     manager="kubectl-client-side-apply")
    hpa.rescale(T("2026-03-18T11:20:31.884+02:00"), 4, 76, [N[0]])
    hpa.rescale(T("2026-03-18T11:27:45.310+02:00"), 3, 41, [])

    c.run_deferred()
    c.sample_kubelet(90.0, 10.0)
    cart = h["cart"]
    sample_otlp(c, lambda: [p for rs in cart.rs_list for p in cart.pods[rs["metadata"]["name"]]], otlp_pool, 60.0)
    return rec.write(os.path.join(OUT, "healthy-cluster.jsonl"))


def scenario_leak(timeline):
    start, end = T("2026-03-20T21:30:00+00:00"), T("2026-03-20T21:58:00+00:00")
    rec = Recording("oom-memory-leak", 5005, "Z", 63_480_006)
    c = base_cluster(rec, start, end)
    N = c.nodes
    ns_created = T("2026-02-24T10:41:19+00:00")
    c.namespace("payments", ns_created, {"team": "payments"})
    ledger_cm = c.configmap("payments", "ledger-config", {
        "KAFKA_BROKERS": "b-1.payments.x3k9qa.c4.kafka.eu-west-1.amazonaws.com:9098",
        "KAFKA_TOPIC": "payments.settled", "CONSUMER_GROUP": "ledger", "GOMEMLIMIT": "230MiB",
        "DEDUP_CACHE_TTL": "24h"}, add(ns_created, 30),
        labels={"app.kubernetes.io/name": "ledger", "app.kubernetes.io/part-of": "payments"})
    api_cm = c.configmap("payments", "payments-api-config", {
        "RATE_LIMIT_RPS": "200", "LEDGER_URL": "http://ledger.payments.svc.cluster.local",
        "PSP_ENDPOINT": "https://api.psp.example.net/v2", "LOG_LEVEL": "info"}, add(ns_created, 31),
        labels={"app.kubernetes.io/name": "payments-api", "app.kubernetes.io/part-of": "payments"})
    for name in ("ledger", "payments-api"):
        c.service("payments", name, 80, "http", add(ns_created, 40), selector={"app.kubernetes.io/name": name},
                  labels={"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "payments"})
    ledger = App("ledger", "ghcr.io/acme-pay/ledger:4.3.0", 8080, lang="go",
                 requests={"cpu": "150m", "memory": "128Mi"}, limits={"memory": "256Mi"},
                 env_from=[{"configMapRef": {"name": "ledger-config"}}],
                 env=[{"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.monitoring:4318"},
                      {"name": "OTEL_METRIC_EXPORT_INTERVAL", "value": "30000"},
                      kube_env("K8S_POD_NAME")],
                 mem_mb=92, cpu_m=140, image_size=28_336_918, sa="ledger", ready_delay=6, cache_mb=4)
    api = App("payments-api", "ghcr.io/acme-pay/payments-api:2.11.4", 8080, lang="go",
              requests={"cpu": "200m", "memory": "128Mi"}, limits={"memory": "384Mi"},
              env_from=[{"configMapRef": {"name": "payments-api-config"}}],
              volumes=[{"name": "config", "configMap": {"name": "payments-api-config", "defaultMode": 420}}],
              mounts=[{"name": "config", "readOnly": True, "mountPath": "/etc/payments-api"}],
              mem_mb=71, cpu_m=60, image_size=33_904_120, sa="payments-api", ready_delay=5, cache_mb=5)
    dl = Deployment(c, "payments", ledger, 2, add(ns_created, 45), 17, part_of="payments",
                    history={"image": "ghcr.io/acme-pay/ledger:4.2.9", "created": add(start, -86400 * 8),
                             "rolled": add(start, -86400 * 6)})
    da = Deployment(c, "payments", api, 2, add(ns_created, 46), 9, part_of="payments",
                    history={"image": "ghcr.io/acme-pay/payments-api:2.11.3", "created": add(start, -86400 * 12),
                             "rolled": add(start, -86400 * 5)})
    leak = lambda d: LeakProfile(c, d.app, 41.0)
    # ledger pods were rescheduled ~2h20m ago (node group AMI roll); they have been leaking since.
    created_at = T("2026-03-20T19:08:46+00:00")
    pA_fin = T("2026-03-20T21:24:52+00:00")
    pB_fin = T("2026-03-20T21:28:19+00:00")
    rsname = dl.cur_rs["metadata"]["name"]
    pA = dl.make_pod(dl.cur_rs, N[0], created_at, leak(dl))
    pB = dl.make_pod(dl.cur_rs, N[1], add(created_at, 0.3), leak(dl))
    cidA, cidB = pA.new_cid(), pB.new_cid()
    termA = {"exitCode": 137, "reason": "OOMKilled", "startedAt": ktime(add(pA_fin, -241)),
             "finishedAt": ktime(pA_fin), "containerID": cidA}
    termB = {"exitCode": 137, "reason": "OOMKilled", "startedAt": ktime(add(pB_fin, -238)),
             "finishedAt": ktime(pB_fin), "containerID": cidB}
    a_start = add(pA_fin, 300 + 3.4)
    pA.seed_running(add(created_at, 0.05), a_start, restarts=14, last_term=termA, ready=True)
    pA.backoff = (pA_fin, 300)
    pB.seed_running(add(created_at, 0.35), add(pB_fin, -238), restarts=13, last_term=termB, ready=False,
                    waiting={"reason": "CrashLoopBackOff",
                             "message": "back-off 5m0s restarting failed container=ledger pod=%s" % pB.fmt()})
    pB.backoff = (pB_fin, 300)
    dl.seed_status(add(start, -86400 * 6), add(start, -86400 * 6))
    st = dl.obj["status"]
    st.update({"readyReplicas": 1, "availableReplicas": 1, "unavailableReplicas": 1})
    st["conditions"][0].update({"status": "False", "reason": "MinimumReplicasUnavailable",
                                "message": "Deployment does not have minimum availability.",
                                "lastUpdateTime": ktime(add(pB_fin, 1)), "lastTransitionTime": ktime(add(pB_fin, 1))})
    dl.cur_rs["status"] = {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1, "availableReplicas": 1,
                           "observedGeneration": 1}
    dl.cur_rs["metadata"]["creationTimestamp"] = ktime(add(start, -86400 * 6))
    c.initial_add(40, dl.obj)
    c.initial_add(41, dl.cur_rs)
    c.initial_add(50, pA.obj)
    c.initial_add(50, pB.obj)
    # Events that already exist when the recording starts: the same Event object is re-counted on every
    # restart, so they carry the crash-loop history (first seen right after the pods were created).
    for p, last_start, last_bo in ((pA, a_start, add(start, -170)), (pB, add(pB_fin, -238), add(start, -9))):
        first = add(created_at, 1.9 if p is pA else 2.6)
        n = p.restarts + 1
        p.kev(add(last_start, -0.6), "Pulled", 'Container image "%s" already present on machine' % ledger.image,
              initial=True, first=first, count=n)
        p.kev(add(last_start, -0.3), "Created", "Created container: ledger", initial=True, first=add(first, 0.3), count=n)
        p.kev(last_start, "Started", "Started container ledger", initial=True, first=add(first, 0.6), count=n)
        p.kev(last_bo, "BackOff", "Back-off restarting failed container ledger in pod %s" % p.fmt(), "Warning",
              initial=True, first=add(created_at, 1260 if p is pA else 1391), count=(171 if p is pA else 164))
    da.seed([N[1], N[2]], add(start, -86400 * 5 + 40))
    monitoring_namespace(c, N[2])
    c.finalize_nodes()
    c.flush_initial()
    c.kubelet_pods(add(start, 2.0))

    # pod B restarts when its 5m back-off expires; both then keep leaking into OOMKilled
    pB.restarts = 14
    runB = pB.start_container(add(pB_fin, 303.1))
    pB.become_ready(add(runB.start, 7.2))
    pA.crashloop(pA.runs[0], end, reason="OOMKilled", code=137)
    pB.crashloop(runB, end, reason="OOMKilled", code=137)

    # decoy: a different deployment's ConfigMap changes + rollout restart, which succeeds
    t_cm = T("2026-03-20T21:41:12.508+00:00")
    c.edit_configmap(t_cm, api_cm, {"RATE_LIMIT_RPS": "300"}, manager="kubectl-edit")
    t_rr = T("2026-03-20T21:41:48.031+00:00")
    restarted = t_rr.replace(microsecond=0).isoformat().replace("+00:00", "Z")

    def mutate(tmpl):
        tmpl["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = restarted
    da.change_template(t_rr, mutate, "kubectl-rollout",
                       {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {
                           ".": {}, "f:kubectl.kubernetes.io/restartedAt": {}}}}}})
    da.rollout(add(t_rr, 0.05), [N[0], N[2]])

    c.run_deferred()
    c.sample_kubelet(60.0, 10.0)
    sample_otlp(c, lambda: [pA, pB], otlp_go_runtime)
    n = rec.write(os.path.join(OUT, "oom-memory-leak.jsonl"))
    if timeline:
        for p in (pA, pB):
            print("leak:", p.name, p.node.name)
            for r in p.runs:
                print("   run", r.attempt, ktime(r.start), r.end and ktime(r.end))
    return n


def print_timeline(label, c, new_pods, new_rs, cart):
    print("%s: new RS %s" % (label, new_rs["metadata"]["name"]))
    for p in new_pods:
        print("  pod", p.name, p.node.name, p.uid)
        for r in p.runs:
            print("     run attempt=%d start=%s end=%s" % (r.attempt, ktime(r.start), r.end and ktime(r.end)))


def main():
    timeline = "--timeline" in sys.argv
    os.makedirs(OUT, exist_ok=True)
    for fn in (scenario_flagship, scenario_bad_image, scenario_crashloop, scenario_healthy, scenario_leak):
        n = fn(timeline)
        print("%-22s %5d lines" % (fn.__name__, n))


if __name__ == "__main__":
    main()
