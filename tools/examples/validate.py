#!/usr/bin/env python3
"""Check the example recordings against the recording contract and for internal consistency.

    python3 tools/examples/validate.py [FILE ...]     # default: examples/*.jsonl

Checks: JSON framing and required keys, RFC 3339 timestamps with offset, ts ordering,
watch-event shape, UUIDs, cluster-wide resourceVersion strictly increasing, ownerReferences
resolving to the owner's uid (and the Deployment -> ReplicaSet -> Pod naming chain),
Event involvedObject uids, containerd container ids, pod identity agreeing between kubeapi,
kubelet (stats/summary and pods) and OTLP, memory never above the container limit, and a
few per-scenario story assertions that examples/README.md documents.
Standard library only. Exit status 1 on any failure.
"""

import datetime as dt
import glob
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
K8S_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CID_RE = re.compile(r"^containerd://[0-9a-f]{64}$")
SOURCES = {"kubeapi", "kubelet", "systemd", "etcd", "otlp", "ebpf", "dns", "cni"}
MAX_BYTES = 1_600_000


def parse_ts(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def mem_bytes(q):
    if q.endswith("Mi"):
        return int(q[:-2]) * 1024 * 1024
    if q.endswith("Gi"):
        return int(q[:-2]) * 1024 ** 3
    if q.endswith("Ki"):
        return int(q[:-2]) * 1024
    return int(q)


class Checker:
    def __init__(self, path):
        self.path = path
        self.errors = []
        self.objs = {}  # uid -> (kind, ns, name)
        self.by_name = {}  # (kind, ns, name) -> uid
        self.pods = {}  # uid -> latest pod object
        self.deleted = set()
        self.lines = []

    def err(self, ln, msg):
        if len(self.errors) < 60:
            self.errors.append("%s:%d: %s" % (os.path.basename(self.path), ln, msg))

    def run(self):
        size = os.path.getsize(self.path)
        if size > MAX_BYTES:
            self.err(0, "file is %d bytes (> %d)" % (size, MAX_BYTES))
        last_rv = 0
        last_ts = None
        max_back = 0.0
        with open(self.path, encoding="utf-8") as f:
            for ln, raw in enumerate(f, 1):
                try:
                    line = json.loads(raw)
                except ValueError as e:
                    self.err(ln, "not JSON: %s" % e)
                    continue
                if set(line) != {"ts", "source", "data"}:
                    self.err(ln, "keys %s" % sorted(line))
                    continue
                ts, src, data = line["ts"], line["source"], line["data"]
                if not isinstance(ts, str) or not TS_RE.match(ts):
                    self.err(ln, "ts not RFC 3339 with offset: %r" % ts)
                    continue
                t = parse_ts(ts)
                if last_ts and t < last_ts:
                    max_back = max(max_back, (last_ts - t).total_seconds())
                last_ts = max(last_ts, t) if last_ts else t
                if src not in SOURCES:
                    self.err(ln, "unknown source %r" % src)
                if not isinstance(data, dict):
                    self.err(ln, "data is not an object")
                    continue
                self.lines.append((ln, t, src, data))
                if src == "kubeapi":
                    last_rv = self.kubeapi(ln, data, last_rv)
                elif src == "kubelet":
                    self.kubelet(ln, data)
                elif src == "otlp":
                    self.otlp(ln, data)
        if max_back > 60:
            self.err(0, "lines out of order by %.1fs (> 60s)" % max_back)
        return self.errors

    # ---------------------------------------------------------------- kubeapi
    def kubeapi(self, ln, data, last_rv):
        if set(data) != {"type", "object"} or data["type"] not in ("ADDED", "MODIFIED", "DELETED"):
            self.err(ln, "bad watch event envelope")
            return last_rv
        o = data["object"]
        for k in ("apiVersion", "kind", "metadata"):
            if k not in o:
                self.err(ln, "object without %s" % k)
                return last_rv
        md = o["metadata"]
        kind, ns, name, uid = o["kind"], md.get("namespace", ""), md.get("name"), md.get("uid")
        if not name or not uid or not UUID4_RE.match(uid):
            self.err(ln, "%s bad name/uid %r %r" % (kind, name, uid))
        rv = md.get("resourceVersion")
        if not isinstance(rv, str) or not rv.isdigit():
            self.err(ln, "resourceVersion %r" % rv)
        else:
            if int(rv) <= last_rv:
                self.err(ln, "resourceVersion %s not increasing (prev %d)" % (rv, last_rv))
            last_rv = int(rv)
        if not K8S_TIME_RE.match(md.get("creationTimestamp") or ""):
            self.err(ln, "creationTimestamp %r" % md.get("creationTimestamp"))
        key = (kind, ns, name)
        if data["type"] == "ADDED":
            if uid in self.objs:
                self.err(ln, "ADDED twice: %s %s" % (kind, name))
            if key in self.by_name and self.by_name[key] not in self.deleted:
                self.err(ln, "name reused while live: %s" % (key,))
        else:
            if uid not in self.objs:
                self.err(ln, "%s of unknown object %s %s" % (data["type"], kind, name))
            elif uid in self.deleted:
                self.err(ln, "%s after DELETED: %s" % (data["type"], name))
            elif self.objs[uid] != key:
                self.err(ln, "uid %s changed identity %s -> %s" % (uid, self.objs[uid], key))
        self.objs[uid] = key
        self.by_name[key] = uid
        if data["type"] == "DELETED":
            self.deleted.add(uid)
        for ref in md.get("ownerReferences", []):
            okey = (ref["kind"], ns, ref["name"])
            if self.by_name.get(okey) != ref["uid"]:
                self.err(ln, "%s %s ownerReference %s/%s uid %s does not match" % (kind, name, ref["kind"], ref["name"], ref["uid"]))
            if not (ref.get("controller") is True and ref.get("blockOwnerDeletion") is True and ref.get("apiVersion")):
                self.err(ln, "ownerReference fields incomplete on %s" % name)
            if kind == "Pod" and ref["kind"] == "ReplicaSet":
                if not re.match(r"^%s-[bcdfghjklmnpqrstvwxz2456789]{5}$" % re.escape(ref["name"]), name):
                    self.err(ln, "pod name %s does not extend its ReplicaSet %s" % (name, ref["name"]))
                h = md.get("labels", {}).get("pod-template-hash")
                if not ref["name"].endswith("-" + str(h)):
                    self.err(ln, "pod-template-hash %s vs RS %s" % (h, ref["name"]))
            if kind == "ReplicaSet" and ref["kind"] == "Deployment":
                h = md.get("labels", {}).get("pod-template-hash")
                if name != "%s-%s" % (ref["name"], h):
                    self.err(ln, "ReplicaSet %s is not <deployment>-<pod-template-hash>" % name)
        if kind == "Pod":
            self.pods[uid] = o
            self.check_pod(ln, o)
        if kind == "Event":
            io = o.get("involvedObject", {})
            ikey = (io.get("kind"), io.get("namespace", ""), io.get("name"))
            if io.get("kind") == "Node":
                ikey = ("Node", "", io.get("name"))
            if self.by_name.get(ikey) != io.get("uid"):
                self.err(ln, "Event %s involvedObject %s uid mismatch" % (name, ikey))
            if o.get("type") not in ("Normal", "Warning"):
                self.err(ln, "Event type %r" % o.get("type"))
        return last_rv

    def check_pod(self, ln, o):
        limits = {c["name"]: c.get("resources", {}).get("limits", {}) for c in o["spec"]["containers"]}
        for cs in o.get("status", {}).get("containerStatuses", []):
            if cs.get("containerID") and not CID_RE.match(cs["containerID"]):
                self.err(ln, "containerID %r" % cs["containerID"])
            for st in (cs.get("state", {}), cs.get("lastState", {})):
                term = st.get("terminated")
                if term:
                    if not CID_RE.match(term.get("containerID", "")):
                        self.err(ln, "terminated.containerID %r" % term.get("containerID"))
                    if term.get("reason") == "OOMKilled" and term.get("exitCode") != 137:
                        self.err(ln, "OOMKilled with exit code %r" % term.get("exitCode"))
                w = st.get("waiting")
                if w and w.get("reason") == "CrashLoopBackOff":
                    md = o["metadata"]
                    want = r"^back-off (\d+s|\d+m\d+s) restarting failed container=%s pod=%s_%s\(%s\)$" % (
                        re.escape(cs["name"]), re.escape(md["name"]), re.escape(md["namespace"]), md["uid"])
                    if not re.match(want, w.get("message", "")):
                        self.err(ln, "CrashLoopBackOff message %r" % w.get("message"))
            if cs["name"] not in limits:
                self.err(ln, "status for unknown container %s" % cs["name"])

    # ---------------------------------------------------------------- kubelet
    def pod_identity(self, ln, uid, name, ns, what):
        if uid not in self.pods:
            self.err(ln, "%s: pod uid %s (%s/%s) never seen on kubeapi" % (what, uid, ns, name))
            return None
        md = self.pods[uid]["metadata"]
        if (md["name"], md["namespace"]) != (name, ns):
            self.err(ln, "%s: pod %s/%s has uid of %s/%s" % (what, ns, name, md["namespace"], md["name"]))
        return self.pods[uid]

    def kubelet(self, ln, data):
        node = data.get("node")
        if ("Node", "", node) not in self.by_name:
            self.err(ln, "kubelet line for unknown node %r" % node)
        ep = data.get("endpoint")
        body = data.get("body")
        if ep == "pods":
            if body.get("kind") != "PodList":
                self.err(ln, "pods body is not a PodList")
            for p in body.get("items", []):
                md = p["metadata"]
                pod = self.pod_identity(ln, md["uid"], md["name"], md["namespace"], "kubelet/pods")
                if pod and pod["spec"].get("nodeName") != node:
                    self.err(ln, "kubelet/pods on %s lists pod of %s" % (node, pod["spec"].get("nodeName")))
            return
        if ep != "stats/summary":
            self.err(ln, "unknown kubelet endpoint %r" % ep)
            return
        if body["node"]["nodeName"] != node:
            self.err(ln, "summary nodeName mismatch")
        for ps in body["pods"]:
            ref = ps["podRef"]
            pod = self.pod_identity(ln, ref["uid"], ref["name"], ref["namespace"], "stats/summary")
            if not pod:
                continue
            if pod["spec"].get("nodeName") != node:
                self.err(ln, "stats for %s on %s but pod is on %s" % (ref["name"], node, pod["spec"].get("nodeName")))
            limits = {c["name"]: c.get("resources", {}).get("limits", {}) for c in pod["spec"]["containers"]}
            for c in ps["containers"]:
                if c["name"] not in limits:
                    self.err(ln, "stats for unknown container %s" % c["name"])
                    continue
                lim = limits[c["name"]].get("memory")
                ws = c["memory"]["workingSetBytes"]
                if lim and ws > mem_bytes(lim):
                    self.err(ln, "%s/%s workingSet %d above limit %s" % (ref["name"], c["name"], ws, lim))
                if lim and c["memory"].get("availableBytes") != mem_bytes(lim) - ws:
                    self.err(ln, "availableBytes != limit - workingSet for %s" % ref["name"])
                if c["memory"]["usageBytes"] < ws:
                    self.err(ln, "usageBytes < workingSetBytes for %s" % ref["name"])

    # ---------------------------------------------------------------- otlp
    def otlp(self, ln, data):
        rms = data.get("resourceMetrics")
        if not rms:
            self.err(ln, "otlp line without resourceMetrics")
            return
        for rm in rms:
            attrs = {a["key"]: list(a["value"].values())[0] for a in rm["resource"]["attributes"]}
            for k in ("k8s.pod.name", "k8s.namespace.name", "k8s.node.name", "service.name"):
                if k not in attrs:
                    self.err(ln, "resource attribute %s missing" % k)
            pod = None
            if "k8s.pod.uid" in attrs:
                pod = self.pod_identity(ln, attrs["k8s.pod.uid"], attrs.get("k8s.pod.name"),
                                        attrs.get("k8s.namespace.name"), "otlp")
            if pod and pod["spec"].get("nodeName") != attrs.get("k8s.node.name"):
                self.err(ln, "otlp k8s.node.name mismatch for %s" % attrs.get("k8s.pod.name"))
            for sm in rm["scopeMetrics"]:
                for m in sm["metrics"]:
                    body = m.get("sum") or m.get("gauge") or m.get("histogram")
                    if body is None:
                        self.err(ln, "metric %s without data" % m.get("name"))
                        continue
                    for dp in body["dataPoints"]:
                        for k in ("timeUnixNano", "startTimeUnixNano"):
                            if k in dp and not (isinstance(dp[k], str) and dp[k].isdigit()):
                                self.err(ln, "%s must be a decimal string" % k)
                        if "asInt" in dp and not (isinstance(dp["asInt"], str) and dp["asInt"].lstrip("-").isdigit()):
                            self.err(ln, "asInt must be an int64 string")


# -------------------------------------------------------------------- story assertions

def kube_objects(ch, kind, typ=None):
    for ln, t, src, d in ch.lines:
        if src == "kubeapi" and d["object"]["kind"] == kind and (typ is None or d["type"] == typ):
            yield ln, t, d["object"]


def events(ch, reason=None):
    for ln, t, o in kube_objects(ch, "Event"):
        if reason is None or o["reason"] == reason:
            yield ln, t, o


def term_reasons(ch, pod_prefix, ns):
    out = set()
    for ln, t, o in kube_objects(ch, "Pod"):
        if o["metadata"]["namespace"] == ns and o["metadata"]["name"].startswith(pod_prefix):
            for cs in o["status"].get("containerStatuses", []):
                for st in (cs["state"], cs["lastState"]):
                    if "terminated" in st:
                        out.add((st["terminated"]["reason"], st["terminated"]["exitCode"]))
    return out


def waiting_reasons(ch, ns, prefix=""):
    out = {}
    for ln, t, o in kube_objects(ch, "Pod"):
        if o["metadata"]["namespace"] == ns and o["metadata"]["name"].startswith(prefix):
            for cs in o["status"].get("containerStatuses", []):
                w = cs["state"].get("waiting")
                if w:
                    out.setdefault(w["reason"], w.get("message", ""))
    return out


def cm_changes(ch):
    seen = {}
    out = []
    for ln, t, o in kube_objects(ch, "ConfigMap"):
        key = (o["metadata"]["namespace"], o["metadata"]["name"])
        if key in seen and seen[key] != o.get("data"):
            diff = {k: (seen[key].get(k), v) for k, v in o["data"].items() if seen[key].get(k) != v}
            out.append((t, key, diff))
        seen[key] = o.get("data")
    return out


def story(ch):
    name = os.path.basename(ch.path)
    fails = []

    def need(cond, msg):
        if not cond:
            fails.append("%s: story: %s" % (name, msg))

    all_term = set()
    for ln, t, o in kube_objects(ch, "Pod"):
        for cs in o["status"].get("containerStatuses", []):
            for st in (cs["state"], cs["lastState"]):
                if "terminated" in st and o["metadata"].get("deletionTimestamp") is None:
                    all_term.add((o["metadata"]["namespace"], o["metadata"]["name"].rsplit("-", 2)[0],
                                  st["terminated"]["reason"]))
    changes = cm_changes(ch)
    if name.startswith("flagship"):
        need(any(k == ("shop", "cart-config") and d.get("DB_POOL_MAX_SIZE") == ("20", "200") for _, k, d in changes),
             "cart-config DB_POOL_MAX_SIZE 20 -> 200")
        need(any(k == ("monitoring", "prometheus-server") for _, k, d in changes), "decoy ConfigMap change in monitoring")
        need(("OOMKilled", 137) in term_reasons(ch, "cart-", "shop"), "cart OOMKilled 137")
        w = waiting_reasons(ch, "shop", "cart-")
        need("CrashLoopBackOff" in w, "cart CrashLoopBackOff")
        msgs = {cs["state"].get("waiting", {}).get("message", "")
                for _, _, o in kube_objects(ch, "Pod") if o["metadata"]["name"].startswith("cart-")
                for cs in o["status"].get("containerStatuses", [])}
        need(any(m.startswith("back-off 40s restarting failed container=cart pod=cart-") for m in msgs), "back-off 40s")
        need(any(o["message"].startswith("Back-off restarting failed container cart in pod cart-")
                 for _, _, o in events(ch, "BackOff")), "BackOff event")
        need(any("restartedAt" in json.dumps(o["spec"]["template"]["metadata"]) for _, _, o in kube_objects(ch, "Deployment", "MODIFIED")
                 if o["metadata"]["name"] == "cart"), "rollout restart")
        need(any(o["message"].startswith("Scaled up replica set frontend-") for _, _, o in events(ch, "ScalingReplicaSet")),
             "frontend scale-up churn")
        need(not any(ns != "shop" or dep != "cart" for ns, dep, r in all_term if r == "OOMKilled"), "only cart OOMs")
        names = set()
        for ln, t, src, d in ch.lines:
            if src == "otlp":
                for rm in d["resourceMetrics"]:
                    for sm in rm["scopeMetrics"]:
                        names |= {m["name"] for m in sm["metrics"]}
        need({"db.client.connection.count", "db.client.connection.max"} <= names, "pool metrics")
    elif name.startswith("bad-image"):
        w = waiting_reasons(ch, "shop", "checkout-")
        need("ErrImagePull" in w and "ImagePullBackOff" in w, "ErrImagePull and ImagePullBackOff")
        need(any(o["message"].startswith('Failed to pull image "ghcr.io/acme-shop/checkout:v2.9.0": ')
                 and o["message"].endswith(": not found") for _, _, o in events(ch, "Failed")), "Failed to pull ... not found")
        need(any(o["message"] == "Error: ImagePullBackOff" for _, _, o in events(ch, "Failed")), "Error: ImagePullBackOff")
        need(any(k == ("shop", "frontend-config") for _, k, d in changes), "decoy ConfigMap change")
        need(not all_term, "no crashed containers")
        need(any(c.get("reason") == "ProgressDeadlineExceeded"
                 for _, _, o in kube_objects(ch, "Deployment") for c in o["status"].get("conditions", [])),
             "ProgressDeadlineExceeded")
    elif name.startswith("crashloop"):
        need(any(k == ("shop", "checkout-config") and d.get("PAYMENTS_TIMEOUT") == ("2s", "2000") for _, k, d in changes),
             "checkout-config change")
        r = term_reasons(ch, "checkout-", "shop")
        need(("Error", 1) in r and not any(x[0] == "OOMKilled" for x in r), "Error/1 without OOM")
        need("CrashLoopBackOff" in waiting_reasons(ch, "shop", "checkout-"), "CrashLoopBackOff")
    elif name.startswith("healthy"):
        need(not any(r in ("OOMKilled", "Error") for _, _, r in all_term), "no crashes")
        need(not waiting_reasons(ch, "shop").keys() - {"ContainerCreating"}, "no bad waiting reasons")
        need(len(changes) >= 2, "config changes present")
        need(not any(o["type"] == "Warning" and o["reason"] != "Unhealthy" for _, _, o in events(ch)), "no warnings besides one probe")
    elif name.startswith("oom-memory-leak"):
        need(("OOMKilled", 137) in term_reasons(ch, "ledger-", "payments"), "ledger OOMKilled")
        need("CrashLoopBackOff" in waiting_reasons(ch, "payments", "ledger-"), "ledger CrashLoopBackOff")
        need(all(k[1] != "ledger-config" for _, k, _ in changes), "ledger-config unchanged")
        need(any(k == ("payments", "payments-api-config") for _, k, _ in changes), "decoy change")
        need(not any(o["metadata"]["name"] == "ledger" and o["metadata"]["generation"] != 18
                     for _, _, o in kube_objects(ch, "Deployment")), "ledger Deployment spec untouched")
    return fails


def main(argv):
    files = argv[1:] or sorted(glob.glob(os.path.join(ROOT, "examples", "*.jsonl")))
    bad = 0
    for path in files:
        ch = Checker(path)
        errs = ch.run() + story(ch)
        counts = {}
        for _, _, src, _ in ch.lines:
            counts[src] = counts.get(src, 0) + 1
        status = "ok" if not errs else "FAIL"
        print("%-32s %-4s %4d lines %8d bytes  %s" % (os.path.basename(path), status, len(ch.lines),
                                                    os.path.getsize(path), counts))
        for e in errs:
            print("   ", e)
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
