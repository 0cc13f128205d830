#!/usr/bin/env python3
"""Check the incident suite (tests-data/incidents/*.jsonl + expected.json).

Reuses tools/examples/validate.py's Checker (framing, RFC 3339 ts with offset, ordering,
watch-event shape, UUIDs, cluster-wide resourceVersion strictly increasing, ownerReferences
resolving to owner uids, Event involvedObject uids, containerd ids, pod identity across kubeapi,
kubelet and OTLP, memory never above the limit) and adds:

* Events about Nodes written by the kubelet (involvedObject.uid = node name, as kubelet's
  nodeRef does) are accepted;
* OTLP resourceSpans (ids are hex of the right length, resource identity as for metrics);
* systemd: journal export fields, _HOSTNAME is a node, __REALTIME_TIMESTAMP agrees with ts;
* dns: client is the IP of a pod on that node (or a node IP); rcode in the contract's set;
* cni: pod exists, runs on that node; op in ADD/DEL/CHECK;
* ebpf: pod_uid is a pod on that node, cgroup_path names the pod uid;
* etcd: status envelope;
* expected.json: every file listed, root entity present in the file (an ExternalService as the
  server.address of a client span), secret values absent
  outside Secret objects, size limits.

    python3 tools/incidents/validate.py [FILE ...]
"""

import datetime as dt
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "examples"))

import validate as ex  # noqa: E402

DIR = os.path.join(ROOT, "tests-data", "incidents")
MAX_FILE = 1_300_000
MAX_TOTAL = 30_000_000
HEX_RE = re.compile(r"^[0-9a-f]+$")
RCODES = {"NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "TIMEOUT"}


class Checker(ex.Checker):
    def __init__(self, path):
        super().__init__(path)
        self.pod_ips = {}  # ip -> set of (node, pod uid)

    def run(self):
        errs = super().run()
        return [e for e in errs if "bytes (>" not in e]

    def kubeapi(self, ln, data, last_rv):
        o = data.get("object", {})
        io = o.get("involvedObject") if o.get("kind") == "Event" else None
        if io and io.get("kind") == "Node" and io.get("uid") == io.get("name"):
            # kubelet nodeRef: uid is the node name; validate the name instead
            if ("Node", "", io.get("name")) not in self.by_name:
                self.err(ln, "Event about unknown node %s" % io.get("name"))
            saved = io["uid"]
            io["uid"] = self.by_name.get(("Node", "", io.get("name")))
            r = super().kubeapi(ln, data, last_rv)
            io["uid"] = saved
            return r
        r = super().kubeapi(ln, data, last_rv)
        if o.get("kind") == "Pod":
            st = o.get("status", {})
            for ip in st.get("podIPs", []):
                self.pod_ips.setdefault(ip["ip"], set()).add((o["spec"].get("nodeName"), o["metadata"]["uid"]))
        return r

    def run_extra(self):
        nodes = {k[2] for k in self.by_name if k[0] == "Node"}
        node_ips = set()
        for ln, t, src, d in self.lines:
            if src == "kubeapi" and d["object"]["kind"] == "Node":
                node_ips |= {a["address"] for a in d["object"]["status"].get("addresses", []) if a["type"] == "InternalIP"}
        for ln, t, src, d in self.lines:
            if src == "systemd":
                for k in ("__REALTIME_TIMESTAMP", "_HOSTNAME", "PRIORITY", "MESSAGE", "_BOOT_ID", "SYSLOG_IDENTIFIER"):
                    if k not in d:
                        self.err(ln, "journal entry without %s" % k)
                if d.get("_HOSTNAME") not in nodes:
                    self.err(ln, "journal from unknown host %r" % d.get("_HOSTNAME"))
                rt = int(d.get("__REALTIME_TIMESTAMP", "0"))
                if abs(rt / 1e6 - t.timestamp()) > 0.002:
                    self.err(ln, "__REALTIME_TIMESTAMP disagrees with ts")
                if not all(isinstance(v, str) for v in d.values()):
                    self.err(ln, "journal export fields must be strings")
            elif src == "dns":
                if d.get("rcode") not in RCODES:
                    self.err(ln, "dns rcode %r" % d.get("rcode"))
                if d.get("node") not in nodes:
                    self.err(ln, "dns from unknown node")
                owners = self.pod_ips.get(d.get("client"), set())
                if d.get("client") not in node_ips and not any(n == d.get("node") for n, _ in owners):
                    self.err(ln, "dns client %s is not a pod on %s" % (d.get("client"), d.get("node")))
            elif src == "cni":
                if d.get("op") not in ("ADD", "DEL", "CHECK"):
                    self.err(ln, "cni op %r" % d.get("op"))
                ns, _, name = (d.get("pod") or "/").partition("/")
                uid = self.by_name.get(("Pod", ns, name))
                if uid is None:
                    self.err(ln, "cni pod %s unknown" % d.get("pod"))
                elif self.pods[uid]["spec"].get("nodeName") != d.get("node"):
                    self.err(ln, "cni pod %s not on %s" % (d.get("pod"), d.get("node")))
                if not HEX_RE.match(d.get("container_id", "")) or len(d["container_id"]) != 64:
                    self.err(ln, "cni container_id")
            elif src == "ebpf":
                uid = d.get("pod_uid")
                if uid not in self.pods:
                    self.err(ln, "ebpf pod_uid %s unknown" % uid)
                elif self.pods[uid]["spec"].get("nodeName") != d.get("node"):
                    self.err(ln, "ebpf pod not on %s" % d.get("node"))
                if uid and uid.replace("-", "_") not in d.get("cgroup_path", ""):
                    self.err(ln, "ebpf cgroup_path does not name the pod")
                if d.get("event") == "tcp_connect_failed" and not isinstance(d.get("errno"), int):
                    self.err(ln, "tcp_connect_failed without errno")
            elif src == "etcd":
                if "endpoint" not in d or not ("status" in d or "events" in d):
                    self.err(ln, "etcd line shape")
        return self.errors

    def otlp(self, ln, data):
        if "resourceMetrics" in data:
            return super().otlp(ln, data)
        for rs in data.get("resourceSpans", []):
            attrs = {a["key"]: list(a["value"].values())[0] for a in rs["resource"]["attributes"]}
            if "k8s.pod.uid" in attrs:
                pod = self.pod_identity(ln, attrs["k8s.pod.uid"], attrs.get("k8s.pod.name"),
                                        attrs.get("k8s.namespace.name"), "otlp spans")
                if pod and pod["spec"].get("nodeName") != attrs.get("k8s.node.name"):
                    self.err(ln, "otlp span k8s.node.name mismatch")
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    if len(s.get("traceId", "")) != 32 or len(s.get("spanId", "")) != 16 or not HEX_RE.match(s["traceId"] + s["spanId"]):
                        self.err(ln, "span ids")
                    if int(s["endTimeUnixNano"]) < int(s["startTimeUnixNano"]):
                        self.err(ln, "span ends before it starts")
        if not data.get("resourceSpans") and not data.get("resourceLogs"):
            self.err(ln, "otlp line without resourceMetrics/Spans/Logs")


def root_present(ch, root):
    kind, ns, name = root["kind"], root.get("namespace"), root["name"]
    if kind == "EtcdMember":
        return any(src == "etcd" and d.get("endpoint") == name for _, _, src, d in ch.lines)
    if kind == "ExternalService":
        # a host outside the cluster: present as the server.address of some client span
        return any(src == "otlp" and s.get("kind") == 3 and
                   any(a["key"] == "server.address" and a["value"].get("stringValue") == name
                       for a in s.get("attributes", []))
                   for _, _, src, d in ch.lines for rs in d.get("resourceSpans", [])
                   for ss in rs["scopeSpans"] for s in ss["spans"])
    return (kind, ns or "", name) in ch.by_name


def main(argv):
    with open(os.path.join(DIR, "expected.json"), encoding="utf-8") as f:
        expected = {e["file"]: e for e in json.load(f)}
    files = argv[1:] or sorted(glob.glob(os.path.join(DIR, "*.jsonl")))
    bad = 0
    total = 0
    for path in files:
        base = os.path.basename(path)
        ch = Checker(path)
        errs = ch.run()
        errs = ch.run_extra()
        size = os.path.getsize(path)
        total += size
        if size > MAX_FILE:
            errs.append("%s: %d bytes > %d" % (base, size, MAX_FILE))
        e = expected.get(base)
        if e is None:
            errs.append("%s: not in expected.json" % base)
        else:
            if e["expect"] == "incident" and not root_present(ch, e["root_entity"]):
                errs.append("%s: root entity %s not in the recording" % (base, e["root_entity"]))
            secrets = e.get("secret_values_must_not_appear", [])
            if secrets:
                with open(path, encoding="utf-8") as f:
                    for ln, raw in enumerate(f, 1):
                        if '"kind":"Secret"' in raw:
                            continue
                        for s in secrets:
                            if s in raw or json.dumps(s)[1:-1] in raw:
                                errs.append("%s:%d: secret value outside the Secret object" % (base, ln))
        counts = {}
        for _, _, src, _ in ch.lines:
            counts[src] = counts.get(src, 0) + 1
        print("%-56s %-4s %5d lines %8d bytes  %s" % (base, "ok" if not errs else "FAIL", len(ch.lines), size, counts))
        for x in errs[:25]:
            print("    ", x)
        bad += bool(errs)
    missing = set(expected) - {os.path.basename(p) for p in files}
    if not argv[1:] and missing:
        print("expected.json lists missing files:", sorted(missing))
        bad += 1
    if not argv[1:]:
        print("total %d bytes (limit %d)" % (total, MAX_TOTAL))
        if total > MAX_TOTAL:
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
