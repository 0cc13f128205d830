//! The live collectors `tapio run` and `tapio record` start: each one whose prerequisites
//! exist, with a status line for every one that does not (and why), all sending their
//! lines into one bounded channel. A collector that fails later is reported and the
//! others go on.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use tapio_collectors::kubeapi::live::watch_cluster_objects;
use tapio_collectors::kubelet_poll::poll_kubelets;
use tapio_collectors::node_agents::{
    cgroups, cni, cpu_stat, dns, ebpf, etcd, journal, LineSender, LiveLine,
};
use tapio_collectors::otlp_receiver;

/// The reading end of the collectors' channel.
pub type LineReceiver = tokio::sync::mpsc::Receiver<LiveLine>;
use tapio_domain::Source;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What to collect and where.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Collector names (`crate::config::COLLECTORS`).
    pub collectors: Vec<String>,
    /// Namespaces the kubeapi collector watches; all when empty.
    pub namespaces: Vec<String>,
    /// How often every node's kubelet is polled through the API server.
    pub kubelet_interval: Duration,
    pub etcd_endpoints: Vec<String>,
    /// Network namespace the DNS collector captures in (its own when `None`).
    pub dns_netns: Option<PathBuf>,
    pub cni_conf_dir: PathBuf,
    pub journal: journal::JournalConfig,
    /// Where the OTLP receiver listens (gRPC, HTTP).
    pub otlp: otlp_receiver::OtlpConfig,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            collectors: crate::config::COLLECTORS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            namespaces: Vec::new(),
            kubelet_interval: Duration::from_secs(30),
            etcd_endpoints: etcd::EtcdConfig::default().endpoints,
            dns_netns: None,
            cni_conf_dir: cni::CniConfig::default().conf_dir,
            journal: journal::JournalConfig::default(),
            otlp: otlp_receiver::OtlpConfig::default(),
        }
    }
}

/// Whether a collector runs, and what it watches or why it does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorStatus {
    pub name: String,
    pub active: bool,
    pub detail: String,
}

impl std::fmt::Display for CollectorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.active { "active  " } else { "inactive" };
        write!(f, "{:<8} {state} {}", self.name, self.detail)
    }
}

/// The running collectors. Dropping them stops them.
pub struct Collectors {
    pub statuses: Vec<CollectorStatus>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<(String, Result<(), String>)>,
    #[cfg(feature = "ebpf")]
    _ebpf: Option<ebpf::EbpfHandle>,
    _dns: Option<dns::DnsHandle>,
    _links: Option<cni::links::LinksHandle>,
    /// The OTLP receiver's counters, when it runs.
    otlp: Option<std::sync::Arc<otlp_receiver::OtlpStats>>,
}

impl Collectors {
    /// Whether any collector task still runs (thread-based ones run until stopped).
    pub fn running(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// Waits for the next collector that ends and says how (`None` when none runs).
    pub async fn next_ended(&mut self) -> Option<(String, Result<(), String>)> {
        self.tasks
            .join_next()
            .await
            .map(|r| r.unwrap_or_else(|e| ("collector".to_owned(), Err(format!("panicked: {e}")))))
    }

    /// Asks every collector to stop and waits for them (journal cursors are saved).
    /// Whoever reads their channel must go on reading meanwhile (see [`stop_draining`]).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        // Their threads give up a full channel once told to stop.
        #[cfg(feature = "ebpf")]
        drop(self._ebpf.take());
        drop(self._dns.take());
        drop(self._links.take());
        while self.tasks.join_next().await.is_some() {}
    }

    /// What the collectors counted that a reader should know (drops above all).
    pub fn counters(&self) -> Vec<String> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut out = Vec::new();
        #[cfg(feature = "ebpf")]
        if let Some(h) = &self._ebpf {
            let (events, drops, undecodable) = h.stats().snapshot();
            out.push(format!(
                "ebpf: {events} events, {drops} dropped by the kernel (ring buffer full), {undecodable} undecodable"
            ));
        }
        if let Some(s) = &self.otlp {
            out.push(format!(
                "otlp: {} export requests, {} refused while the pipeline was full (retried by the exporters), {} malformed",
                s.accepted.load(Relaxed),
                s.busy.load(Relaxed),
                s.malformed.load(Relaxed)
            ));
        }
        if let Some(h) = &self._dns {
            let s = h.stats();
            out.push(format!(
                "dns: {} packets, {} exchanges, {} dropped by the kernel, {} queries given up (too many waiting), {} malformed",
                s.packets.load(Relaxed),
                s.exchanges.load(Relaxed),
                s.kernel_drops.load(Relaxed),
                s.evicted.load(Relaxed),
                s.malformed.load(Relaxed)
            ));
        }
        out
    }
}

/// Stops the collectors while still reading `lines`, so that none is stuck on a full
/// channel; returns what they had sent by then, in order.
pub async fn stop_draining(collectors: Collectors, lines: &mut LineReceiver) -> Vec<LiveLine> {
    for c in collectors.counters() {
        eprintln!("{c}");
    }
    let mut rest = Vec::new();
    let stopping = collectors.stop();
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => break,
            line = lines.recv() => match line {
                Some(line) => rest.push(line),
                None => break,
            },
        }
    }
    while let Ok(line) = lines.try_recv() {
        rest.push(line);
    }
    rest
}

/// Starts the collectors and says on standard error which run and why the others do
/// not; fails when none can.
pub async fn start_reporting(options: &LiveOptions, out: LineSender) -> anyhow::Result<Collectors> {
    let collectors = start(options, out).await;
    for s in &collectors.statuses {
        eprintln!("{s}");
    }
    anyhow::ensure!(
        collectors.statuses.iter().any(|s| s.active),
        "no collector could start (see above)"
    );
    Ok(collectors)
}

/// Completes after `duration`, or at Ctrl-C or SIGTERM (what Kubernetes sends a pod it
/// stops) when there is none.
pub async fn stop_after(duration: Option<Duration>) {
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = terminated => {}
            }
        }
    }
}

/// Says on standard error that a collector stopped, and why.
pub fn report_ended(name: &str, how: &Result<(), String>) {
    match how {
        Ok(()) => eprintln!("collector {name} stopped"),
        Err(e) => eprintln!("collector {name} failed: {e} (the others go on)"),
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Starts every enabled collector whose prerequisites exist.
pub async fn start(options: &LiveOptions, out: LineSender) -> Collectors {
    let (stop, stop_rx) = watch::channel(false);
    let mut collectors = Collectors {
        statuses: Vec::new(),
        stop,
        tasks: JoinSet::new(),
        #[cfg(feature = "ebpf")]
        _ebpf: None,
        _dns: None,
        _links: None,
        otlp: None,
    };
    let enabled = |name: &str| options.collectors.iter().any(|c| c == name);
    let status = |name: &str, active: bool, detail: String| (name.to_owned(), active, detail);
    let mut statuses = Vec::new();

    // kubeapi and kubelet share the API server client.
    if enabled("kubeapi") || enabled("kubelet") {
        match kube::Client::try_default().await {
            Ok(client) => {
                if enabled("kubeapi") {
                    let stream = watch_cluster_objects(&client, &options.namespaces)
                        .map(|r| r.map(|l| (Source::Kubeapi, l)).map_err(|e| e.to_string()));
                    spawn_stream(
                        &mut collectors.tasks,
                        "kubeapi",
                        stream.boxed(),
                        out.clone(),
                        stop_rx.clone(),
                    );
                    let scope = if options.namespaces.is_empty() {
                        "all namespaces".to_owned()
                    } else {
                        options.namespaces.join(", ")
                    };
                    statuses.push(status("kubeapi", true, format!("watching {scope}")));
                }
                if enabled("kubelet") {
                    let stream = poll_kubelets(&client, options.kubelet_interval)
                        .map(|r| r.map(|l| (Source::Kubelet, l)).map_err(|e| e.to_string()));
                    spawn_stream(
                        &mut collectors.tasks,
                        "kubelet",
                        stream.boxed(),
                        out.clone(),
                        stop_rx.clone(),
                    );
                    let every = options.kubelet_interval.as_secs();
                    statuses.push(status(
                        "kubelet",
                        true,
                        format!("polling every node every {every} s through the API server"),
                    ));
                }
            }
            Err(e) => {
                let why =
                    format!("no Kubernetes API server: {e} (set KUBECONFIG, or run in a pod)");
                for name in ["kubeapi", "kubelet"].into_iter().filter(|n| enabled(n)) {
                    statuses.push(status(name, false, why.clone()));
                }
            }
        }
    }

    if enabled("cgroup") {
        match cgroups::Hierarchy::discover("cpu") {
            Ok(hierarchy) => {
                let detail = format!(
                    "reading CPU throttling from container cgroups under {}",
                    hierarchy.mount_point.display()
                );
                let (stop, out) = (stopped(stop_rx.clone()), out.clone());
                let every = options.kubelet_interval;
                let node = tapio_collectors::node_agents::node_name();
                collectors.tasks.spawn(async move {
                    cpu_stat::poll(node, hierarchy, every, out, stop).await;
                    ("cgroup".to_owned(), Ok(()))
                });
                statuses.push(status("cgroup", true, detail));
            }
            Err(e) => statuses.push(status("cgroup", false, e.to_string())),
        }
    }

    if enabled("ebpf") {
        #[cfg(feature = "ebpf")]
        match ebpf::start(ebpf::EbpfConfig::default(), out.clone()) {
            Ok(handle) => {
                let detail = format!("{} programs attached", handle.programs().len());
                collectors._ebpf = Some(handle);
                statuses.push(status("ebpf", true, detail));
            }
            Err(e) => statuses.push(status("ebpf", false, e.to_string())),
        }
        #[cfg(not(feature = "ebpf"))]
        statuses.push(status("ebpf", false, ebpf::EbpfError::NotBuilt.to_string()));
    }

    if enabled("systemd") {
        let config = options.journal.clone();
        match journal::check_prerequisites(&config).await {
            Ok(()) => {
                let mut follow: Vec<String> = config.units.clone();
                follow.extend(config.identifiers.iter().cloned());
                let stop = stopped(stop_rx.clone());
                let out = out.clone();
                collectors.tasks.spawn(async move {
                    let r = journal::follow(config, out, stop).await;
                    ("systemd".to_owned(), r.map_err(|e| e.to_string()))
                });
                statuses.push(status(
                    "systemd",
                    true,
                    format!("following {}", follow.join(", ")),
                ));
            }
            Err(e) => statuses.push(status("systemd", false, e.to_string())),
        }
    }

    if enabled("dns") {
        let config = dns::DnsConfig {
            netns: options.dns_netns.clone(),
            ..dns::DnsConfig::default()
        };
        let place = config
            .netns
            .as_ref()
            .map_or("this network namespace".to_owned(), |p| {
                p.display().to_string()
            });
        match dns::start(config, out.clone()) {
            Ok(handle) => {
                collectors._dns = Some(handle);
                statuses.push(status("dns", true, format!("capturing port 53 in {place}")));
            }
            Err(e) => statuses.push(status("dns", false, e.to_string())),
        }
    }

    if enabled("cni") {
        let links =
            cni::links::watch_links(&tapio_collectors::node_agents::node_name(), out.clone());
        let pools = cni::discover_pools(&options.cni_conf_dir);
        let mut seen = Vec::new();
        let mut missing = Vec::new();
        match links {
            Ok(handle) => {
                collectors._links = Some(handle);
                seen.push("pod network links".to_owned());
            }
            Err(e) => missing.push(e.to_string()),
        }
        match pools {
            Ok(pools) => {
                let names: Vec<String> = pools.iter().map(|p| p.network.clone()).collect();
                seen.push(format!("the IP pools of {}", names.join(", ")));
                let config = cni::CniConfig {
                    conf_dir: options.cni_conf_dir.clone(),
                    ..cni::CniConfig::default()
                };
                let (stop, out) = (stopped(stop_rx.clone()), out.clone());
                collectors.tasks.spawn(async move {
                    cni::watch(config, pools, out, stop).await;
                    ("cni".to_owned(), Ok(()))
                });
            }
            Err(e) => missing.push(e.to_string()),
        }
        let detail = match (seen.is_empty(), missing.is_empty()) {
            (true, _) => missing.join("; "),
            (false, true) => format!("watching {}", seen.join(" and ")),
            (false, false) => format!(
                "watching {} (not: {})",
                seen.join(" and "),
                missing.join("; ")
            ),
        };
        statuses.push(status("cni", !seen.is_empty(), detail));
    }

    if enabled("etcd") {
        let first = options.etcd_endpoints.first().cloned().unwrap_or_default();
        let probe = etcd::read_status(&first, Duration::from_secs(2)).await;
        if probe.errors.is_empty() {
            let config = etcd::EtcdConfig {
                endpoints: options.etcd_endpoints.clone(),
                ..etcd::EtcdConfig::default()
            };
            let (stop, out) = (stopped(stop_rx.clone()), out.clone());
            collectors.tasks.spawn(async move {
                let r = etcd::watch(config, out, stop).await;
                ("etcd".to_owned(), r.map(|_| ()).map_err(|e| e.to_string()))
            });
            statuses.push(status(
                "etcd",
                true,
                format!("watching {}", options.etcd_endpoints.join(", ")),
            ));
        } else {
            statuses.push(status(
                "etcd",
                false,
                format!(
                    "{} (set --etcd to a member's client URL)",
                    probe.errors.join("; ")
                ),
            ));
        }
    }

    if enabled("otlp") {
        let config = options.otlp.clone();
        let mut places = Vec::new();
        if let Some(a) = config.grpc {
            places.push(format!("OTLP/gRPC on {a}"));
        }
        if let Some(a) = config.http {
            places.push(format!("OTLP/HTTP on {a}"));
        }
        match otlp_receiver::OtlpReceiver::bind(&config).await {
            Ok(receiver) => {
                let stats = std::sync::Arc::new(otlp_receiver::OtlpStats::default());
                collectors.otlp = Some(stats.clone());
                let (stop, out) = (stopped(stop_rx.clone()), out.clone());
                collectors.tasks.spawn(async move {
                    let served = receiver.serve(out, stats, stop).await;
                    ("otlp".to_owned(), served.map_err(|e| e.to_string()))
                });
                let detail = format!("receiving {}", places.join(" and "));
                statuses.push(status("otlp", true, detail));
            }
            Err(e) => statuses.push(status("otlp", false, e.to_string())),
        }
    }

    collectors.statuses = statuses
        .into_iter()
        .map(|(name, active, detail)| CollectorStatus {
            name,
            active,
            detail,
        })
        .collect();
    collectors
}

/// Forwards a kube-rs stream into `out`; watch errors are retried by kube-runtime and
/// reported here (the first few).
fn spawn_stream<E: std::fmt::Display + Send + 'static>(
    tasks: &mut JoinSet<(String, Result<(), String>)>,
    name: &'static str,
    mut stream: futures_util::stream::BoxStream<
        'static,
        Result<(Source, tapio_collectors::kubeapi::live::WatchLine), E>,
    >,
    out: LineSender,
    stop_rx: watch::Receiver<bool>,
) {
    tasks.spawn(async move {
        let stop = stopped(stop_rx);
        tokio::pin!(stop);
        let mut errors = 0u64;
        loop {
            let next = tokio::select! {
                () = &mut stop => break,
                next = stream.next() => next,
            };
            match next {
                None => break,
                Some(Ok((source, line))) => {
                    let line = LiveLine {
                        ts: line.ts,
                        source,
                        data: line.data,
                    };
                    if out.send(line).await.is_err() {
                        break;
                    }
                }
                Some(Err(e)) => {
                    errors += 1;
                    if errors <= 20 {
                        eprintln!("warning: {name}: {e} (retrying)");
                    }
                }
            }
        }
        (name.to_owned(), Ok(()))
    });
}
