#!/usr/bin/env python3
"""Generate the Tapio incident suite (tests-data/incidents/*.jsonl + expected.json).

Standard library only and deterministic (fixed seeds and start times). Builds on
tools/examples/generate.py (imported as a library through kit.py; its own output is not
touched). One or more recordings per causal-rule family plus noise-only recordings.

    python3 tools/incidents/generate.py [--only NAME_PREFIX]
    python3 tools/incidents/validate.py
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import kit  # noqa: E402
from kit import g, T, add, ktime, kv, Mi  # noqa: E402

ROOT = kit.ROOT
OUT = os.path.join(ROOT, "tests-data", "incidents")
EXPECTED = []
SCENARIOS = []
N0 = kit.NODE_DEFS


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def expect(file, family, kind=None, entity=None, acceptable=None, symptom=None, notes="", **extra):
    e = {"file": file + ".jsonl", "family": family, "expect": "incident" if kind else "none"}
    if kind:
        e["root_cause_kind"] = kind
        e["root_entity"] = {"kind": entity[0], "namespace": entity[1], "name": entity[2]}
        e["acceptable_root_kinds"] = acceptable or [kind]
        e["symptom_entity_workload"] = symptom
    e["notes"] = notes
    e.update(extra)
    EXPECTED.append(e)


def write(rec, name):
    path = os.path.join(OUT, name + ".jsonl")
    n = rec.write(path)
    return n, os.path.getsize(path)


def new(name, seed, start, minutes, tzone="Z", nodes=3):
    start = T(start)
    end = add(start, minutes * 60)
    rec = g.Recording(name, seed, tzone, 40_000_000 + seed * 1013)
    kit.BOOT_IDS.clear()
    c = kit.cluster(rec, start, end, nodes)
    return rec, c


def restarted_at(t, hours=0):
    return t.astimezone(kit.tz(hours)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def rollout_restart(d, t, hours=0, manager="kubectl-rollout"):
    ra = restarted_at(t, hours)

    def mutate(tmpl):
        tmpl["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = ra
    d.change_template(t, mutate, manager, {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {
        ".": {}, "f:kubectl.kubernetes.io/restartedAt": {}}}}}})


def set_image(d, t, image, manager="kubectl-set"):
    def mutate(tmpl):
        tmpl["spec"]["containers"][0]["image"] = image
    d.change_template(t, mutate, manager, {"f:spec": {"f:template": {"f:spec": {"f:containers": {
        'k:{"name":"%s"}' % d.app.name: {"f:image": {}}}}}}})
    d.app = d.app.clone(image=image, version=image.rsplit(":", 1)[-1])


def container_mutation(d, t, fn, manager, fields):
    def mutate(tmpl):
        fn(tmpl["spec"]["containers"][0])
    d.change_template(t, mutate, manager, {"f:spec": {"f:template": {"f:spec": {"f:containers": {
        'k:{"name":"%s"}' % d.app.name: fields}}}}})


# --------------------------------------------------------------------------- decoys / background

def monitoring(c, node):
    return g.monitoring_namespace(c, node)


def web_namespace(c, nodes, ns="web"):
    c.namespace(ns, T("2026-02-25T12:00:00+00:00"), {"team": "web"})
    cm = c.configmap(ns, "storefront-config", {"THEME": "spring", "CDN_URL": "https://cdn.acme-shop.example",
                                               "SEARCH_PAGE_SIZE": "24"}, T("2026-02-25T12:01:00+00:00"),
                     labels={"app.kubernetes.io/name": "storefront"})
    d = kit.app_deploy(c, ns, "storefront", "ghcr.io/acme-shop/storefront:5.2.0", replicas=2, nodes=nodes,
                       port=3000, lang="node", requests={"cpu": "150m", "memory": "160Mi"}, limits={"memory": "320Mi"},
                       mem_mb=120, cpu_m=60, env_from=[{"configMapRef": {"name": "storefront-config"}}],
                       revision=31, hist_image="ghcr.io/acme-shop/storefront:5.1.9", ready_delay=5)
    return cm, d


def healthy_image_bump(c, d, t, image, nodes, manager="argocd-controller", hiccup=None):
    set_image(d, t, image, manager)
    return d.rollout(add(t, 0.04), nodes, pull=True, hiccup_index=hiccup)


def payments_ns(c, nodes, *, secret_ref=False, reloader=False, ledger_limits=None, ledger_profile=None):
    ns_created = T("2026-02-24T10:41:19+00:00")
    c.namespace("payments", ns_created, {"team": "payments"})
    h = {}
    h["ledger_cm"] = c.configmap("payments", "ledger-config", {
        "KAFKA_BROKERS": "b-1.payments.x3k9qa.c4.kafka.eu-west-1.amazonaws.com:9098",
        "KAFKA_TOPIC": "payments.settled", "CONSUMER_GROUP": "ledger", "GOMEMLIMIT": "230MiB",
        "DB_HOST": "ledger-db.cluster-c7x2kq9v4m1d.eu-west-1.rds.amazonaws.com", "DB_NAME": "ledger"},
        add(ns_created, 30), labels={"app.kubernetes.io/name": "ledger", "app.kubernetes.io/part-of": "payments"})
    h["api_cm"] = c.configmap("payments", "payments-api-config", {
        "RATE_LIMIT_RPS": "200", "LEDGER_URL": "http://ledger.payments.svc.cluster.local",
        "PSP_ENDPOINT": "https://api.psp.example.net/v2", "LOG_LEVEL": "info"}, add(ns_created, 31),
        labels={"app.kubernetes.io/name": "payments-api", "app.kubernetes.io/part-of": "payments"})
    env = [{"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.monitoring:4318"},
           g.kube_env("K8S_POD_NAME")]
    ann = None
    if secret_ref:
        env = [{"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "ledger-db", "key": "username"}}},
               {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "ledger-db", "key": "password"}}}] + env
        h["secret"] = kit.secret(c, "payments", "ledger-db", {
            "username": "ledger", "password": "Qm7#vT2p!xWz9LkR4s", "port": "5432"}, add(ns_created, 33),
            labels={"reconcile.external-secrets.io/created-by": "7c1e0a9b2d4f6e8a3b5c7d9e1f2a4b6c"},
            annotations={"reconcile.external-secrets.io/data-hash": "0f7b3c9e2a1d4b6c8e5f7a9b1c3d5e7f"},
            owner={"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "ledger-db",
                   "uid": c.uid(), "controller": True, "blockOwnerDeletion": True})
    if reloader:
        ann = None
    h["ledger"] = kit.app_deploy(c, "payments", "ledger", "ghcr.io/acme-pay/ledger:4.3.0", replicas=2,
                                 nodes=nodes[:2], requests={"cpu": "150m", "memory": "128Mi"},
                                 limits=ledger_limits or {"memory": "256Mi"}, mem_mb=92, cpu_m=140,
                                 env_from=[{"configMapRef": {"name": "ledger-config"}}], env=env, revision=17,
                                 hist_image="ghcr.io/acme-pay/ledger:4.2.9", tmp_policy="FallbackToLogsOnError",
                                 created=add(ns_created, 45), profile_fn=ledger_profile, template_annotations=ann)
    if reloader:
        h["ledger"].obj["metadata"]["annotations"]["secret.reloader.stakater.com/reload"] = "ledger-db"
    h["api"] = kit.app_deploy(c, "payments", "payments-api", "ghcr.io/acme-pay/payments-api:2.11.4", replicas=2,
                              nodes=nodes[1:3], requests={"cpu": "200m", "memory": "128Mi"},
                              limits={"memory": "384Mi"}, mem_mb=71, cpu_m=60,
                              env_from=[{"configMapRef": {"name": "payments-api-config"}}],
                              volumes=[{"name": "config", "configMap": {"name": "payments-api-config", "defaultMode": 420}}],
                              mounts=[{"name": "config", "readOnly": True, "mountPath": "/etc/payments-api"}],
                              revision=9, hist_image="ghcr.io/acme-pay/payments-api:2.11.3", created=add(ns_created, 46))
    return h


def crash_forever(c, p, until, secs, reason, code, message_fn=None):
    run = p.runs[-1] if p.runs else None
    while run is not None:
        t_fin = add(run.start, secs())
        if t_fin >= until:
            return
        run = p.crash(t_fin, reason, code, message_fn(run, t_fin) if message_fn else None, until)


# =========================================================================== 1. config / secret

@scenario
def config_secret_rotation():
    name = "config-secret-rotated-db-password"
    rec, c = new(name, 11001, "2026-04-02T09:10:00+00:00", 15)
    N = c.nodes
    h = payments_ns(c, N, secret_ref=True, reloader=True)
    prom_cm, _ = monitoring(c, N[0])
    _, sf = web_namespace(c, [N[1], N[2]])
    c.finalize_nodes()
    c.flush_initial()
    # decoys: prometheus scrape interval, payments-api rate limit (volume-mounted, hot reloaded, no restart)
    c.edit_configmap(T("2026-04-02T09:11:12.402+00:00"), prom_cm, {"prometheus.yml": g.PROM_CONFIG % "15s"},
                     manager="kubectl-client-side-apply")
    c.edit_configmap(T("2026-04-02T09:12:03.914+00:00"), h["api_cm"], {"RATE_LIMIT_RPS": "250"})
    # T0: External Secrets Operator syncs a rotated password (rotated in Secrets Manager, but the DB
    # user was not updated: the rotation lambda failed half-way)
    t0 = T("2026-04-02T09:13:41.266+00:00")
    kit.edit_secret(c, t0, h["secret"], {"password": "nV4!rX8s#Lq2Zt6Wb1"},
                    annotations={"reconcile.external-secrets.io/data-hash": "9a2e4c6b8d0f1a3c5e7b9d2f4a6c8e0b"})
    # Stakater Reloader notices and changes the pod template env (env-vars strategy)
    led = h["ledger"]
    t_rl = add(t0, 0.912)

    def mut(ctr):
        ctr["env"].append({"name": "STAKATER_LEDGER_DB_SECRET", "value": "5d41c7a0e9b3f2864a1c0d9e7b2f6a3c8e5d1b04"})
    kit_env_fields = {"f:env": {'k:{"name":"STAKATER_LEDGER_DB_SECRET"}': {".": {}, "f:name": {}, "f:value": {}}}}
    container_mutation(led, t_rl, mut, "Reloader", kit_env_fields)
    end = c.end
    msg = ('{"level":"info","ts":"%s","msg":"starting ledger","version":"4.3.0"}\n'
           '{"level":"fatal","ts":"%s","msg":"connect to ledger database","error":"failed to connect to `user=ledger '
           'database=ledger`: 10.0.2.77:5432 (ledger-db.cluster-c7x2kq9v4m1d.eu-west-1.rds.amazonaws.com): failed SASL '
           'auth: FATAL: password authentication failed for user \\"ledger\\" (SQLSTATE 28P01)"}\n')

    def fail(p, t):
        crash_forever(c, p, end, lambda: c.rng.uniform(1.1, 1.9), "Error", 1,
                      lambda run, tf: msg % (g.mtime(add(run.start, 0.04)), g.mtime(add(tf, -0.01))))
    led.rollout(add(t_rl, 0.05), [N[2]], new_pods_ok=False, on_new_pod=fail, until=end)
    # healthy rollout elsewhere
    healthy_image_bump(c, sf, T("2026-04-02T09:16:20.530+00:00"), "ghcr.io/acme-shop/storefront:5.2.1", [N[0], N[2]])
    c.run_deferred()
    kit.node_heartbeats(c)
    c.run_deferred()
    kit.sample_kubelet(c, 120.0)
    expect(name, "config-secret", "SecretChange", ("Secret", "payments", "ledger-db"),
           ["SecretChange"], "Deployment/ledger",
           "Secret password rotated by external-secrets; Reloader adds STAKATER_LEDGER_DB_SECRET env -> rollout; new "
           "ledger pod exits 1 (password authentication failed) -> CrashLoopBackOff; rollout stalls "
           "(ProgressDeadlineExceeded). The env change by Reloader only applies the Secret (SpecChange is wrong). "
           "Decoys: prometheus-server and payments-api-config edits, storefront image bump.",
           secret_values_must_not_appear=["Qm7#vT2p!xWz9LkR4s", "nV4!rX8s#Lq2Zt6Wb1", kit.b64("Qm7#vT2p!xWz9LkR4s"),
                                          kit.b64("nV4!rX8s#Lq2Zt6Wb1")])
    return write(rec, name)


@scenario
def config_live_reload():
    """ConfigMap mounted as a volume; the app watches the file and reloads: running pods break without any
    rollout (kubelet syncs the projected file ~60s after the edit)."""
    name = "config-volume-live-reload"
    rec, c = new(name, 11002, "2026-04-03T13:40:00+00:00", 16, tzone=kit.tz(3))
    N = c.nodes
    c.namespace("orders", T("2026-02-26T08:00:00+00:00"), {"team": "orders"})
    yaml_ok = ("server:\n  port: 8080\nupstreams:\n  inventory: http://inventory.orders.svc.cluster.local\n"
               "  pricing: http://pricing.orders.svc.cluster.local\nretry:\n  attempts: 3\n  backoff: 200ms\n")
    cm = c.configmap("orders", "order-router-config", {"router.yaml": yaml_ok}, T("2026-02-26T08:01:00+00:00"),
                     labels={"app.kubernetes.io/name": "order-router"})
    c.configmap("orders", "inventory-config", {"CACHE_TTL": "30s", "LOG_LEVEL": "info"},
                T("2026-02-26T08:01:02+00:00"), labels={"app.kubernetes.io/name": "inventory"})
    app = g.App("order-router", "ghcr.io/acme-shop/order-router:1.8.3", 8080, lang="go",
                requests={"cpu": "100m", "memory": "64Mi"}, limits={"memory": "192Mi"},
                args=["--config=/etc/order-router/router.yaml", "--watch-config"],
                volumes=[{"name": "config", "configMap": {"name": "order-router-config", "defaultMode": 420}}],
                mounts=[{"name": "config", "readOnly": True, "mountPath": "/etc/order-router"}],
                mem_mb=44, cpu_m=70, image_size=19_223_004, sa="order-router", tmp_policy="FallbackToLogsOnError")
    router = g.Deployment(c, "orders", app, 3, T("2026-02-26T08:02:00+00:00"), 14, part_of="orders",
                          history={"image": "ghcr.io/acme-shop/order-router:1.8.2", "created": add(c.start, -86400 * 9),
                                   "rolled": add(c.start, -86400 * 3)})
    router.seed(N, add(c.start, -86400 * 3 + 20))
    c.service("orders", "order-router", 80, "http", T("2026-02-26T08:02:00+00:00"),
              selector={"app.kubernetes.io/name": "order-router"}, labels={"app.kubernetes.io/name": "order-router"})
    inv = kit.app_deploy(c, "orders", "inventory", "ghcr.io/acme-shop/inventory:3.0.7", replicas=2, nodes=[N[0], N[1]],
                         env_from=[{"configMapRef": {"name": "inventory-config"}}], revision=22,
                         hist_image="ghcr.io/acme-shop/inventory:3.0.6", mem_mb=80)
    kit.app_deploy(c, "orders", "pricing", "ghcr.io/acme-shop/pricing:2.4.0", replicas=2, nodes=[N[1], N[2]],
                   revision=8, mem_mb=55)
    prom_cm, _ = monitoring(c, N[0])
    c.finalize_nodes()
    c.flush_initial()
    # decoy: inventory config edit + rollout restart that succeeds
    t_d = T("2026-04-03T13:41:30.118+00:00")
    # T0: someone edits the router config: the retry backoff loses its unit -> config parse error on reload
    t0 = T("2026-04-03T13:43:52.604+00:00")
    c.edit_configmap(t0, cm, {"router.yaml": yaml_ok.replace("backoff: 200ms", "backoff: 200")}, manager="kubectl-edit")
    # decoy (after T0, different workload): inventory rollout restart
    rollout_restart(inv, add(t_d, 150), hours=3)
    inv.rollout(add(t_d, 150.05), [N[2], N[0]])
    end = c.end
    fatal = ('{"level":"info","msg":"starting order-router","version":"1.8.3"}\n'
             '{"level":"fatal","msg":"invalid configuration","path":"/etc/order-router/router.yaml",'
             '"error":"retry.backoff: time: missing unit in duration \\"200\\""}\n')
    for i, p in enumerate(kit.live_pods(router)):
        # kubelet's periodic sync updates the atomic-writer symlink 40-95 s later on each node
        t_sync = add(t0, 41 + i * 23.7 + c.rng.uniform(0, 6))
        t_fail = add(t_sync, 0.8)
        kit.probe_failures(p, add(t_fail, 2.1), add(t_fail, 30), "HTTP probe failed with statuscode: 503")
        kit.liveness_kill(p, add(t_fail, 9.3), "HTTP probe failed with statuscode: 503", end, code=143,
                                exit_after=0.6)
        crash_forever(c, p, end, lambda: c.rng.uniform(0.3, 0.7), "Error", 1, lambda r, tf: fatal)
    c.run_deferred()
    kit.node_heartbeats(c)
    c.run_deferred()
    kit.sample_kubelet(c, 120.0)
    expect(name, "config-secret", "ConfigChange", ("ConfigMap", "orders", "order-router-config"),
           ["ConfigChange"], "Deployment/order-router",
           "router.yaml edited (backoff 200ms -> 200) with no rollout; the kubelet syncs the mounted file 40-95 s "
           "later, order-router reloads and fails: readiness 503, liveness kill (exit 143), then exit 1 on start -> "
           "CrashLoopBackOff on all 3 running pods (no new pods, no template change). Decoys: inventory rollout "
           "restart (healthy), prometheus.")
    return write(rec, name)


# --------------------------------------------------------------------------- profiles

class RampProfile(g.Profile):
    """Working set ramps to `target_mb` over `ramp_s` (model/cache load), then holds."""

    def __init__(self, c, app, target_mb, ramp_s):
        super().__init__(c, app)
        self.target = target_mb * Mi
        self.ramp = ramp_s

    def ws(self, pod, run, t):
        el = max(0.0, (t - run.start).total_seconds())
        f = min(1.0, el / self.ramp)
        wob = ((g.unix_nano(t) // 10**9 * 2654435761) % 1000) / 1000.0
        return int(self.base * 0.4 + (self.target - self.base * 0.4) * f + (wob - 0.5) * 3 * Mi)

    def crash_after(self, pod, run, limit):
        for s in range(1, 3600):
            if self.ws(pod, run, add(run.start, s)) >= limit - Mi:
                return s
        return None


class CpuProfile(g.Profile):
    """CPU demand that follows `demand_fn(t)` (millicores), capped by the CFS quota."""

    def __init__(self, c, app, demand_fn, limit_m):
        super().__init__(c, app)
        self.demand_fn, self.limit_m = demand_fn, limit_m

    def cpu_nc(self, pod, run, t):
        wob = ((g.unix_nano(t) // 10**9 * 40503) % 1000) / 1000.0
        d = self.demand_fn(t) * (0.92 + 0.16 * wob)
        return int(min(d, self.limit_m * (0.965 + 0.03 * wob)) * 1_000_000)


def cadvisor_throttling(c, p, t, limit_m, demand_m):
    """cAdvisor's CFS counters scraped from the kubelet (/metrics/cadvisor) by the OpenTelemetry Collector's
    prometheus receiver; groupbyattrs + transform move namespace/pod/container into k8s.* resource attributes."""
    run = p.run_at(t)
    if run is None:
        return
    el = (t - run.start).total_seconds()
    frac = max(0.0, min(0.92, (demand_m - limit_m) / max(demand_m, 1) * 1.6)) if demand_m > limit_m * 0.85 else 0.01
    periods = int(el * 10 * 0.97)
    thr = int(periods * frac)
    start = run.start
    res = {"attributes": [kv("service.name", "kubernetes-cadvisor"), kv("service.instance.id", p.node.ip + ":10250"),
                          kv("server.address", p.node.ip), kv("server.port", "10250"), kv("url.scheme", "https"),
                          kv("k8s.namespace.name", p.ns), kv("k8s.pod.name", p.name), kv("k8s.pod.uid", p.uid),
                          kv("k8s.container.name", p.cname), kv("k8s.node.name", p.node.name),
                          kv("container.id", run.cid.split("//")[1])]}
    ms = [kit.sum_metric("container_cpu_cfs_periods_total", "", "Number of elapsed enforcement period intervals.",
                         [kit.point([], start, t, periods)], monotonic=True),
          kit.sum_metric("container_cpu_cfs_throttled_periods_total", "", "Number of throttled period intervals.",
                         [kit.point([], start, t, thr)], monotonic=True),
          kit.sum_metric("container_cpu_cfs_throttled_seconds_total", "s",
                         "Total time duration the container has been throttled.",
                         [kit.point([], start, t, round(thr * 0.1 * frac * 0.8, 3))], monotonic=True)]
    kit.export_metrics(c, add(t, 0.05), p, ms, scope="github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver",
                       version="0.123.0", res=res)


# =========================================================================== 2. probes / spec

def catalog_ns(c, N, *, probe_path="/healthz"):
    c.namespace("catalog", T("2026-02-27T10:00:00+00:00"), {"team": "catalog"})
    c.configmap("catalog", "catalog-api-config", {"DB_HOST": "catalog-db.cluster-c7x2kq9v4m1d.eu-west-1.rds.amazonaws.com",
                                                  "CACHE_TTL": "60s", "PAGE_SIZE": "48"},
                T("2026-02-27T10:00:30+00:00"), labels={"app.kubernetes.io/name": "catalog-api"})
    api = kit.app_deploy(c, "catalog", "catalog-api", "ghcr.io/acme-shop/catalog-api:7.4.1", replicas=3, nodes=N,
                         env_from=[{"configMapRef": {"name": "catalog-api-config"}}], probe_path=probe_path,
                         revision=41, hist_image="ghcr.io/acme-shop/catalog-api:7.4.0", mem_mb=88, cpu_m=120,
                         manager="helm", part_of="catalog")
    img = kit.app_deploy(c, "catalog", "image-resizer", "ghcr.io/acme-shop/image-resizer:1.2.9", replicas=2,
                         nodes=[N[1], N[2]], revision=6, mem_mb=64, part_of="catalog", manager="helm")
    return api, img


@scenario
def probe_readiness_path():
    name = "probe-readiness-path-404"
    rec, c = new(name, 12001, "2026-04-06T11:20:00+00:00", 16)
    N = c.nodes
    api, img = catalog_ns(c, N)
    prom_cm, _ = monitoring(c, N[0])
    _, sf = web_namespace(c, [N[0], N[1]])
    c.finalize_nodes()
    c.flush_initial()
    c.edit_configmap(T("2026-04-06T11:21:44.051+00:00"), prom_cm, {"prometheus.yml": g.PROM_CONFIG % "20s"},
                     manager="kubectl-client-side-apply")
    t0 = T("2026-04-06T11:23:09.772+00:00")

    def mut(ctr):
        ctr["readinessProbe"]["httpGet"]["path"] = "/readyz"
    container_mutation(api, t0, mut, "helm", {"f:readinessProbe": {"f:httpGet": {"f:path": {}}}})
    end = c.end

    def fail(p, t):
        run = p.runs[0]
        kit.probe_failures(p, add(run.start, 5.4), end, "HTTP probe failed with statuscode: 404", unready=False)
    api.rollout(add(t0, 0.05), [N[1]], new_pods_ok=False, on_new_pod=fail, until=end)
    healthy_image_bump(c, img, T("2026-04-06T11:27:31.118+00:00"), "ghcr.io/acme-shop/image-resizer:1.3.0",
                       [N[0], N[2]], manager="helm", hiccup=0)
    c.run_deferred()
    kit.node_heartbeats(c)
    c.run_deferred()
    kit.sample_kubelet(c, 120.0)
    expect(name, "probe-spec", "ProbeMisconfig", ("Deployment", "catalog", "catalog-api"),
           ["ProbeMisconfig", "SpecChange"], "Deployment/catalog-api",
           "helm upgrade changes readinessProbe path /healthz -> /readyz (the app serves /healthz only): the new pod "
           "runs but never becomes Ready (HTTP 404), rollout stalls, ProgressDeadlineExceeded after 600 s; old pods "
           "keep serving, no container restarts. Decoys: image-resizer helm upgrade (healthy, one transient startup "
           "readiness failure), prometheus config edit.")
    return write(rec, name)


@scenario
def probe_liveness_delay():
    name = "probe-liveness-initial-delay"
    rec, c = new(name, 12002, "2026-04-07T07:50:00+00:00", 15, tzone=kit.tz(2))
    N = c.nodes
    c.namespace("search", T("2026-02-28T10:00:00+00:00"), {"team": "search"})
    c.configmap("search", "search-api-config", {"OPENSEARCH_URL": "https://search-prod.eu-west-1.es.amazonaws.com",
                                                "JAVA_OPTS": "-XX:MaxRAMPercentage=70"},
                T("2026-02-28T10:00:30+00:00"), labels={"app.kubernetes.io/name": "search-api"})
    api = kit.app_deploy(c, "search", "search-api", "ghcr.io/acme-shop/search-api:2.19.0", replicas=2,
                         nodes=[N[0], N[2]], lang="java", requests={"cpu": "500m", "memory": "768Mi"},
                         limits={"memory": "1Gi"}, mem_mb=610, cpu_m=260, probe_path="/actuator/health",
                         env_from=[{"configMapRef": {"name": "search-api-config"}}], revision=12,
                         hist_image="ghcr.io/acme-shop/search-api:2.18.4", ready_delay=48, exit_on_term=143,
                         part_of="search")
    for p in api.all_pods():
        p.obj["spec"]["containers"][0]["livenessProbe"]["initialDelaySeconds"] = 60
    api.tmpl["spec"]["containers"][0]["livenessProbe"]["initialDelaySeconds"] = 60
    api.obj["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["initialDelaySeconds"] = 60
    api.cur_rs["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["initialDelaySeconds"] = 60
    sug = kit.app_deploy(c, "search", "suggest", "ghcr.io/acme-shop/suggest:0.9.4", replicas=2, nodes=[N[1], N[2]],
                         revision=4, mem_mb=40, part_of="search")
    monitoring(c, N[1])
    c.finalize_nodes()
    c.flush_initial()
    t0 = T("2026-04-07T07:52:18.330+00:00")

    def mut(ctr):
        ctr["livenessProbe"]["initialDelaySeconds"] = 5
        ctr["livenessProbe"]["timeoutSeconds"] = 1
    container_mutation(api, t0, mut, "kubectl-client-side-apply",
                       {"f:livenessProbe": {"f:initialDelaySeconds": {}, "f:timeoutSeconds": {}}})
    end = c.end

    def fail(p, t):
        run = p.runs[0]
        while run is not None:
            ip = p.ip
            msg = 'Get "http://%s:8080/actuator/health": dial tcp %s:8080: connect: connection refused' % (ip, ip)
            kit.probe_failures(p, add(run.start, 5.2), add(run.start, 30), msg, unready=False)
            run = kit.liveness_kill(p, add(run.start, 5.3), msg, end, code=143, exit_after=1.4)
    api.rollout(add(t0, 0.05), [N[1]], new_pods_ok=False, on_new_pod=fail, until=end)
    # decoy: suggest scaled 2 -> 3 by hand, healthy
    sug.scale(T("2026-04-07T07:55:02.610+00:00"), 3, [N[0]])
    c.run_deferred()
    kit.node_heartbeats(c)
    c.run_deferred()
    kit.sample_kubelet(c, 90.0)
    expect(name, "probe-spec", "ProbeMisconfig", ("Deployment", "search", "search-api"),
           ["ProbeMisconfig", "SpecChange"], "Deployment/search-api",
           "livenessProbe initialDelaySeconds 60 -> 5 on a JVM that needs ~45 s to listen: liveness 'connection "
           "refused' x3 -> 'failed liveness probe, will be restarted' -> exit 143 -> CrashLoopBackOff on the new pod; "
           "rollout stalls. Not ApplicationError (the app is fine with the old probe). Decoy: suggest scaled 2 -> 3.")
    return write(rec, name)


@scenario
def image_change_panic():
    name = "image-change-crash-on-start"
    rec, c = new(name, 12003, "2026-04-08T13:05:00+00:00", 14)
    N = c.nodes
    h = payments_ns(c, N)
    _, sf = web_namespace(c, [N[1], N[2]])
    monitoring(c, N[0])
    c.finalize_nodes()
    c.flush_initial()
    c.edit_configmap(T("2026-04-08T13:06:10.400+00:00"), h["ledger_cm"], {"DB_NAME": "ledger"}, manager="kubectl-edit")
    t0 = T("2026-04-08T13:07:45.019+00:00")
    api = h["api"]
    set_image(api, t0, "ghcr.io/acme-pay/payments-api:2.12.0", manager="argocd-controller")
    end = c.end
    msg = ("panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation "
           "violation code=0x1 addr=0x28 pc=0x9f3c21]\n\ngoroutine 1 [running]:\ngithub.com/acme-pay/payments-api/"
           "internal/psp.(*Client).Warmup(0x0)\n\t/src/internal/psp/client.go:88 +0x21\nmain.main()\n\t/src/cmd/"
           "payments-api/main.go:61 +0x3c5\n")

    def fail(p, t):
        crash_forever(c, p, end, lambda: c.rng.uniform(0.4, 0.9), "Error", 2, lambda r, tf: msg)
    api.rollout(add(t0, 0.05), [N[0]], new_pods_ok=False, on_new_pod=fail, until=end, pull=True)
    healthy_image_bump(c, sf, T("2026-04-08T13:10:02.777+00:00"), "ghcr.io/acme-shop/storefront:5.2.1", [N[2], N[1]])
    c.run_deferred()
    kit.node_heartbeats(c)
    c.run_deferred()
    kit.sample_kubelet(c, 120.0)
    expect(name, "probe-spec", "ImageChange", ("Deployment", "payments", "payments-api"),
           ["ImageChange", "ApplicationError"], "Deployment/payments-api",
           "Argo CD rolls payments-api 2.11.4 -> 2.12.0; the new image panics (nil pointer, exit 2) within a second -> "
           "CrashLoopBackOff; rollout stalls. Decoys: a no-op-looking ledger-config edit (same value, no data change), "
           "storefront image bump succeeds.")
    return write(rec, name)


# =========================================================================== 3. memory

@scenario
def memory_limit_lowered():
    name = "memory-limit-lowered-oom"
    rec, c = new(name, 13001, "2026-04-09T10:00:00+00:00", 13)
    N = c.nodes
    c.namespace("reco", T("2026-03-01T10:00:00+00:00"), {"team": "ml"})
    c.configmap("reco", "recommender-config", {"MODEL_URI": "s3://acme-models/reco/2026-03-28/model.onnx",
                                               "WORKERS": "2"}, T("2026-03-01T10:00:30+00:00"),
                labels={"app.kubernetes.io/name": "recommender"})
    prof = lambda d: RampProfile(c, d.app, 640, 50)  # noqa: E731
    rec_d = kit.app_deploy(c, "reco", "recommender", "ghcr.io/acme-shop/recommender:3.3.0", replicas=3, nodes=N,
                           lang="python", requests={"cpu": "300m", "memory": "768Mi"}, limits={"memory": "1Gi"},
                           mem_mb=640, cpu_m=210, env_from=[{"configMapRef": {"name": "recommender-config"}}],
                           revision=27, hist_image="ghcr.io/acme-shop/recommender:3.2.8", manager="argocd-controller",
                           profile_fn=prof, ready_delay=20, part_of="reco")
    feat = kit.app_deploy(c, "reco", "feature-store", "ghcr.io/acme-shop/feature-store:1.1.2", replicas=2,
                          nodes=[N[0], N[1]], requests={"cpu": "200m", "memory": "256Mi"}, limits={"memory": "512Mi"},
                          mem_mb=300, revision=9, part_of="reco", manager="argocd-controller")
    prom_cm, _ = monitoring(c, N[2])
    c.finalize_nodes()
    c.flush_initial()
    c.edit_configmap(T("2026-04-09T10:00:50.300+00:00"), prom_cm, {"prometheus.yml": g.PROM_CONFIG % "15s"},
                     manager="kubectl-client-side-apply")
    # T0: "right-sizing" PR merged; Argo CD syncs limits.memory 1Gi -> 512Mi and requests 768Mi -> 384Mi
    t0 = T("2026-04-09T10:02:12.845+00:00")

    def mut(ctr):
        ctr["resources"]["limits"]["memory"] = "512Mi"
        ctr["resources"]["requests"]["memory"] = "384Mi"
    container_mutation(rec_d, t0, mut, "argocd-controller",
                       {"f:resources": {"f:limits": {"f:memory": {}}, "f:requests": {"f:memory": {}}}})
    rec_d.app = rec_d.app.clone(limits={"memory": "512Mi"}, requests={"cpu": "300m", "memory": "384Mi"})
    end = c.end

    def fail(p, t):
        p.crashloop(p.runs[0], end, reason="OOMKilled", code=137)
    rec_d.rollout(add(t0, 0.05), [N[1]], profile_fn=prof, new_pods_ok=False, on_new_pod=fail, until=end)
    # decoy: feature-store rollout restart (healthy)
    t_d = T("2026-04-09T10:06:40.010+00:00")
    rollout_restart(feat, t_d)
    feat.rollout(add(t_d, 0.05), [N[2], N[0]])
    c.run_deferred()
    kit.node_heartbeats(c)
    c.run_deferred()
    kit.sample_kubelet(c, 60.0)
    expect(name, "memory", "MemoryLimit", ("Deployment", "reco", "recommender"), ["MemoryLimit"],
           "Deployment/recommender",
           "Argo CD applies limits.memory 1Gi -> 512Mi; the new pod loads its ~640 MiB model and is OOMKilled "
           "(137) ~30 s after each start -> CrashLoopBackOff; old pods at ~640 MiB/1Gi are fine. Not MemoryLeak "
           "(working set plateaus). Decoys: feature-store rollout restart, prometheus edit.")
    return write(rec, name)


@scenario
def memory_leak_sessions():
    name = "memory-leak-session-store"
    rec, c = new(name, 13002, "2026-04-10T15:00:00+00:00", 34, tzone=kit.tz(3))
    N = c.nodes
    c.namespace("identity", T("2026-03-02T10:00:00+00:00"), {"team": "identity"})
    c.configmap("identity", "session-store-config", {"SESSION_TTL": "24h", "REDIS_URL": "redis://sessions-redis:6379"},
                T("2026-03-02T10:00:30+00:00"), labels={"app.kubernetes.io/name": "session-store"})
    c.configmap("identity", "auth-config", {"ISSUER": "https://id.acme-shop.example", "TOKEN_TTL": "15m"},
                T("2026-03-02T10:00:31+00:00"), labels={"app.kubernetes.io/name": "auth"})
    leak = lambda d: g.LeakProfile(c, d.app, 15.5)  # noqa: E731
    ss = g.App("session-store", "ghcr.io/acme-shop/session-store:1.6.2", 3000, lang="node",
               requests={"cpu": "100m", "memory": "192Mi"}, limits={"memory": "384Mi"},
               env_from=[{"configMapRef": {"name": "session-store-config"}}],
               env=[{"name": "NODE_OPTIONS", "value": "--max-old-space-size=512"}], mem_mb=140, cpu_m=45,
               image_size=58_114_020, sa="session-store", ready_delay=4, cache_mb=5)
    d = g.Deployment(c, "identity", ss, 2, T("2026-03-02T10:01:00+00:00"), 11, part_of="identity",
                     history={"image": "ghcr.io/acme-shop/session-store:1.6.1", "created": add(c.start, -86400 * 8),
                              "rolled": add(c.start, -86400 * 2)})
    # pods restarted 11 min / 4 min before the recording (previous OOMs happened before it, too)
    pa = d.make_pod(d.cur_rs, N[0], add(c.start, -86400 * 2), leak(d))
    pb = d.make_pod(d.cur_rs, N[2], add(c.start, -86400 * 2 + 21), leak(d))
    for p, ago, rc in ((pa, 11 * 60 + 14, 6), (pb, 4 * 60 + 41, 6)):
        term = {"exitCode": 137, "reason": "OOMKilled", "startedAt": ktime(add(c.start, -ago - 900)),
                "finishedAt": ktime(add(c.start, -ago - 1.2)), "containerID": p.new_cid()}
        p.seed_running(p.created, add(c.start, -ago), restarts=rc, last_term=term)
        p.backoff = (add(c.start, -ago - 1.2), 10)
    d.seed_status(add(c.start, -ago), add(c.start, -86400 * 2))
    d.cur_rs["metadata"]["creationTimestamp"] = ktime(add(c.start, -86400 * 2 - 1))
    c.initial_add(40, d.obj)
    c.initial_add(41, d.cur_rs)
    c.initial_add(50, pa.obj)
    c.initial_add(50, pb.obj)
    c.service("identity", "session-store", 80, "http", T("2026-03-02T10:01:00+00:00"),
              selector={"app.kubernetes.io/name": "session-store"}, labels={"app.kubernetes.io/name": "session-store"})
    auth = kit.app_deploy(c, "identity", "auth", "ghcr.io/acme-shop/auth:4.0.3", replicas=2, nodes=[N[1], N[2]],
                          env_from=[{"configMapRef": {"name": "auth-config"}}], revision=19, mem_mb=70, part_of="identity",
                          hist_image="ghcr.io/acme-shop/auth:4.0.2")
    monitoring(c, N[1])
    c.finalize_nodes()
    c.flush_initial()
    end = c.end
    for p in (pa, pb):
        p.crashloop(p.runs[0], end, reason="OOMKilled", code=137)
    # decoys: auth-config change + rollout restart; an image bump of auth later
    t_d = T("2026-04-10T18:12:30.000+03:00")
    rollout_restart(auth, t_d, hours=3)
    auth.rollout(add(t_d, 0.05), [N[0], N[1]])
    c.run_deferred()

    def v8(c_, p, t):
        run = p.run_at(t)
        if run is None:
            return None
        ws = p.profile.ws(p, run, t)
        st = str(g.unix_nano(run.start))
        now = str(g.unix_nano(t))
        heap = int(ws * 0.78)
        body = {"resourceMetrics": [{"resource": g.otlp_resource(p, [
            kv("telemetry.sdk.language", "nodejs"), kv("telemetry.sdk.name", "opentelemetry"),
            kv("telemetry.sdk.version", "1.30.1"), kv("process.runtime.name", "nodejs"),
            kv("process.runtime.version", "22.14.0")]), "scopeMetrics": [
            {"scope": {"name": "@opentelemetry/instrumentation-runtime-node", "version": "0.12.2"}, "metrics": [
                kit.sum_metric("v8js.memory.heap.used", "By", "Heap Memory size allocated.", [
                    kit.point([kv("v8js.heap.space.name", "old_space")], run.start, t, heap)]),
                kit.sum_metric("v8js.memory.heap.limit", "By", "Total heap memory size pre-allocated.", [
                    kit.point([kv("v8js.heap.space.name", "old_space")], run.start, t, 528 * Mi)]),
                kit.gauge("nodejs.eventloop.delay.p99", "s", "Event loop 99 percentile delay.",
                          [{"startTimeUnixNano": st, "timeUnixNano": now, "asDouble": 0.012}])]}]}]}
        return body
    g.sample_otlp(c, lambda: [pa, pb], v8, 60.0, 25.0)
    kit.node_heartbeats(c)
    c.run_deferred()
    kit.sample_kubelet(c, 120.0)
    expect(name, "memory", "MemoryLeak", ("Deployment", "identity", "session-store"), ["MemoryLeak"],
           "Deployment/session-store",
           "session-store (Node.js) heap grows ~15 MiB/min from every start until the 384Mi limit -> OOMKilled every "
           "~16 min on both pods (restartCount 6 at start), CrashLoopBackOff back-off 10s..; no spec, config or image "
           "change. OTLP v8js.memory.heap.used tracks it. Decoy: auth rollout restart.")
    return write(rec, name)


# =========================================================================== 4. CPU

def cpu_story(name, seed, start, ns, app_name, image, *, lowered, hist, tzone="Z"):
    rec, c = new(name, seed, start, 16, tzone=tzone)
    N = c.nodes
    c.namespace(ns, T("2026-03-03T10:00:00+00:00"), {"team": ns})
    old_lim = 2000 if lowered else 1000
    t0 = add(c.start, 150.317)
    surge = add(c.start, 60) if lowered else add(c.start, 240.0)

    def demand(t):
        base = 380 if lowered else 520
        if t < surge:
            return base
        return base + min(1.0, (t - surge).total_seconds() / 180.0) * (430 if lowered else 900)
    lim_now = {"v": old_lim}
    prof = lambda d: CpuProfile(c, d.app, demand, lim_now["v"])  # noqa: E731
    d = kit.app_deploy(c, ns, app_name, image, replicas=2, nodes=[N[0], N[1]],
                       requests={"cpu": "250m", "memory": "256Mi"},
                       limits={"cpu": "%dm" % old_lim if old_lim < 1000 else str(old_lim // 1000), "memory": "512Mi"},
                       mem_mb=180, cpu_m=380, revision=15, profile_fn=prof, part_of=ns,
                       hist_image=hist)
    other = kit.app_deploy(c, ns, "uploader", "ghcr.io/acme-media/uploader:2.0.1", replicas=2, nodes=[N[1], N[2]],
                           revision=7, mem_mb=60, part_of=ns)
    prom_cm, _ = monitoring(c, N[2])
    c.finalize_nodes()
    c.flush_initial()
    end = c.end
    targets = kit.live_pods(d)
    if lowered:
        def mut(ctr):
            ctr["resources"]["limits"]["cpu"] = "500m"
        container_mutation(d, t0, mut, "kubectl-client-side-apply", {"f:resources": {"f:limits": {"f:cpu": {}}}})
        d.app = d.app.clone(limits={"cpu": "500m", "memory": "512Mi"})
        lim_now["v"] = 500
        _, new_pods = d.rollout(add(t0, 0.05), [N[2], N[0]], profile_fn=prof)
        targets = new_pods
        lim = 500
    else:
        lim = old_lim
        c.edit_configmap(add(c.start, 95), prom_cm, {"prometheus.yml": g.PROM_CONFIG % "15s"},
                         manager="kubectl-client-side-apply")
    # throttled: probe latency > timeoutSeconds (1s)
    for i, p in enumerate(targets):
        ip = p.ip
        tmo = 'Get "http://%s:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)' % ip
        t = add(surge, 200 + i * 47)
        t = max(t, add(p.ready_at or surge, 90))
        k = 0
        while t < add(end, -60):
            kit.probe_failures(p, t, add(t, 11), tmo, unready=True)
            kit.set_ready(p, add(t, 19.5), True)
            run = kit.liveness_kill(p, add(t, 24), tmo, end, code=143, exit_after=2.2) if k % 2 == 1 else None
            if k % 2 == 1 and run is not None:
                kit.set_ready(p, add(run.start, 12), True)
                t = add(run.start, 150 + c.rng.uniform(0, 60))
            else:
                t = add(t, 120 + c.rng.uniform(0, 50))
            k += 1
    other.scale(add(c.start, 420), 3, [N[0]])
    c.run_deferred()
    kit.node_heartbeats(c)
    c.run_deferred()
    k = 0
    while True:
        t = add(c.start, 20 + 30 * k)
        if t >= end:
            break
        for p in targets:
            if p.alive(t):
                cadvisor_throttling(c, p, add(t, (g.shash(p.uid) % 1000) / 500.0), lim, demand(t))
        k += 1
    kit.sample_kubelet(c, 60.0)
    return rec, c, d


@scenario
def cpu_limit_lowered():
    name = "cpu-limit-lowered-throttling"
    rec, c, d = cpu_story(name, 14001, "2026-04-11T09:00:00+00:00", "media", "thumbnailer",
                          "ghcr.io/acme-media/thumbnailer:6.1.0", lowered=True,
                          hist="ghcr.io/acme-media/thumbnailer:6.0.7")
    expect(name, "cpu", "SpecChange", ("Deployment", "media", "thumbnailer"), ["SpecChange", "CpuThrottling"],
           "Deployment/thumbnailer",
           "limits.cpu 2 -> 500m (kubectl apply); rollout completes, then demand ~800m is capped at 500m: kubelet "
           "usageNanoCores pinned at ~490m, OTLP cAdvisor container_cpu_cfs_throttled_periods_total climbs; probes "
           "time out (context deadline exceeded), pods flap unready and get liveness-restarted (exit 143). Decoy: "
           "uploader scaled 2 -> 3.")
    return write(rec, name)


@scenario
def cpu_load_throttling():
    name = "cpu-load-throttling-no-change"
    rec, c, d = cpu_story(name, 14002, "2026-04-12T21:30:00+00:00", "docs", "pdf-renderer",
                          "ghcr.io/acme-media/pdf-renderer:3.9.2", lowered=False, tzone=kit.tz(-4),
                          hist="ghcr.io/acme-media/pdf-renderer:3.9.1")
    expect(name, "cpu", "CpuThrottling", ("Deployment", "docs", "pdf-renderer"), ["CpuThrottling", "CpuSaturation"],
           "Deployment/pdf-renderer",
           "no change at all: month-end batch traffic raises pdf-renderer CPU demand from ~520m to ~1.4 cores against a "
           "1-core limit; kubelet usage pinned at ~1 core, cAdvisor throttled periods climb, liveness/readiness time "
           "out -> restarts (exit 143). Decoys: prometheus config edit, uploader scaled 2 -> 3.")
    return write(rec, name)


# =========================================================================== main

def main():
    only = None
    if "--only" in sys.argv:
        only = sys.argv[sys.argv.index("--only") + 1]
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for fn in SCENARIOS:
        if only and only not in fn.__name__ and not any(only in e["file"] for e in EXPECTED):
            pass
        if only and only not in fn.__name__:
            continue
        n, size = fn()
        total += size
        print("%-44s %5d lines %8d bytes" % (EXPECTED[-1]["file"], n, size))
    if not only:
        with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
            json.dump(EXPECTED, f, indent=2, ensure_ascii=False)
            f.write("\n")
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
