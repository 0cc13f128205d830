//! `tapio`: explain why something broke in a Kubernetes cluster.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::time::Duration;
use tapio_collectors::recording::{decompress, open_input, ReaderOptions};

use tapio_collectors::node_agents::journal::JournalConfig;
use tapio_interfaces::{client, config, eval, generate, live, pipeline, render, run};

/// Parsing allocates and frees many small objects across the reading and analysing
/// threads; mimalloc handles that far better than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Most rejected lines printed one by one; the rest are counted in the summary.
const ERRORS_PRINTED: u64 = 20;

#[derive(Parser)]
#[command(
    name = "tapio",
    version,
    about = "Explain why something broke in a Kubernetes cluster: root cause, evidence chain, confidence, next steps.",
    long_about = None
)]
struct Cli {
    /// Configuration file (collectors, buffer size, pipeline endpoint).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// For people: the chain step by step, recommendation last.
    Text,
    /// The insight JSON contract (shared/spec/insights.md).
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse a recording (JSON Lines, .gz or .zst; `-` for stdin) and print ranked root causes.
    ///
    /// Example: tapio analyze examples/flagship-configmap-oom.jsonl
    Analyze {
        /// The recording to analyse.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the live collectors and the engine in this process, printing insights as they appear.
    ///
    /// Starts every enabled collector whose prerequisites exist (the API server through
    /// the kubeconfig or in-cluster account, this node's kernel, journal, DNS, CNI, etcd)
    /// and says which are active and why the others are not.
    ///
    /// Example: sudo tapio run --record incident.jsonl.zst
    Run {
        #[command(flatten)]
        live: LiveArgs,
        /// Also write everything seen to this recording (.jsonl, .gz or .zst).
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Re-analyse this often.
        #[arg(long, value_name = "SECONDS", default_value_t = 10)]
        interval: u64,
        /// Stop after this many seconds (default: at Ctrl-C).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<u64>,
        /// Publish to the NATS bus (nats://host:port) for correlation-service instead of
        /// analysing here.
        #[arg(long, value_name = "URL")]
        pipeline: Option<String>,
        /// Output format: text prints each new insight as it appears; json prints the
        /// final report (the insight JSON contract) at the end.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the live collectors and write what they see as a recording for `tapio analyze`.
    ///
    /// Example: tapio record -o incident.jsonl.zst --duration 600
    Record {
        /// Output recording (.jsonl, .gz or .zst).
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        live: LiveArgs,
        /// Stop after this many seconds (default: at Ctrl-C).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<u64>,
        /// Start a new file once this one holds this many MiB of lines (before
        /// compression); the full one becomes OUTPUT.1, older ones OUTPUT.2, ...
        #[arg(long, value_name = "MIB")]
        rotate_mib: Option<u64>,
        /// Completed files kept when rotating (older ones are removed).
        #[arg(long, value_name = "N", default_value_t = 5, requires = "rotate_mib")]
        keep: usize,
    },
    /// List the insights of a running correlation-service, or follow new ones as they appear.
    ///
    /// Example: tapio insights --server http://127.0.0.1:9091 --follow
    Insights {
        #[command(flatten)]
        server: ServerArgs,
        /// Keep printing new and changed insights until the service goes away.
        #[arg(long)]
        follow: bool,
        /// Output format (json: one insight per line with --follow, else the report).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Why is this pod (or workload) unhealthy: the chains that explain NAMESPACE/NAME.
    ///
    /// From a recording (--recording) or a running correlation-service (--server). Exit
    /// code 3 when no incident explains it.
    ///
    /// Example: tapio explain shop/cart-7d9f6c5b8-x2k4q --recording incident.jsonl.zst
    Explain {
        /// NAMESPACE/NAME of a pod, workload or other namespaced object.
        target: String,
        /// Analyse this recording.
        #[arg(long, value_name = "FILE", conflicts_with = "url")]
        recording: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// Example: tapio completions bash > /etc/bash_completion.d/tapio
    Completions { shell: clap_complete::Shell },
    /// Publish a recording onto the NATS JetStream bus, as node collectors do live.
    ///
    /// Example: tapio publish examples/flagship-configmap-oom.jsonl --nats nats://127.0.0.1:4222
    Publish {
        /// The recording to publish.
        file: PathBuf,
        /// NATS server URL (default: `pipeline.endpoint` when it is a nats:// URL).
        #[arg(long)]
        nats: Option<String>,
        /// Copies of each stream the NATS cluster keeps, when this creates them.
        #[arg(long, value_name = "N", default_value_t = 1)]
        stream_replicas: usize,
        /// Namespace partitions of the events stream (default: `pipeline.partitions`).
        #[arg(long, value_name = "N")]
        partitions: Option<u32>,
    },
    /// Write a synthetic recording of a large cluster with hours of churn and a few incidents.
    ///
    /// For demos, load tests and benchmarks: tapio generate --nodes 5000 --pods 150000 --hours 3 -o big.jsonl.zst
    Generate {
        /// Output recording (.jsonl, .gz or .zst).
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        shape: generate::ClusterShape,
    },
    /// Score the analysis on labelled incidents, beside an N-Sigma baseline run on the same data.
    ///
    /// DIR holds one folder per case with recording.jsonl[.gz|.zst] and truth.json
    /// ({"service": "...", "fault_type": "..."}). Prints AC@1, AC@3 and Avg@5 overall and
    /// per fault type, and the time per case.
    Eval {
        /// Directory of cases.
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// Where a correlation-service is.
#[derive(clap::Args)]
struct ServerArgs {
    /// The service's HTTP address.
    #[arg(
        long = "server",
        value_name = "URL",
        default_value = "http://127.0.0.1:9091"
    )]
    url: String,
    /// File holding the API token (or set TAPIO_API_TOKEN).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// CA certificate (PEM) to trust for an https:// server, beside the system's.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

impl ServerArgs {
    fn server(self) -> Result<client::Server> {
        let token = match self.token_file {
            Some(path) => {
                let token = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let token = token.trim().to_owned();
                anyhow::ensure!(!token.is_empty(), "{} is empty", path.display());
                Some(token)
            }
            None => std::env::var("TAPIO_API_TOKEN")
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
        };
        Ok(client::Server {
            url: self.url,
            token,
            ca: self.ca,
        })
    }
}

/// What the live collectors watch (shared by `run` and `record`).
#[derive(clap::Args)]
struct LiveArgs {
    /// Collectors to start (repeat): kubeapi, kubelet, cgroup, ebpf, etcd, systemd, cni, dns,
    /// otlp.
    /// Default: `collectors.enabled` of the configuration (all of them).
    #[arg(long = "collector", value_name = "NAME")]
    collectors: Vec<String>,
    /// Namespaces to watch (repeat); all when none is given. Nodes are always watched.
    #[arg(long = "namespace", value_name = "NAMESPACE")]
    namespaces: Vec<String>,
    /// Poll every node's kubelet (stats/summary, pods) through the API server this
    /// often; 0 turns it off.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    kubelet_interval: u64,
    /// etcd client URL (repeat) for the etcd collector.
    #[arg(
        long = "etcd",
        value_name = "URL",
        default_value = "http://127.0.0.1:2379"
    )]
    etcd: Vec<String>,
    /// Network namespace to capture DNS in (e.g. `/proc/<pid>/ns/net`); this one by default.
    #[arg(long, value_name = "PATH")]
    dns_netns: Option<PathBuf>,
    /// Directory of the node's CNI configuration.
    #[arg(long, value_name = "DIR", default_value = "/etc/cni/net.d")]
    cni_conf_dir: PathBuf,
    /// systemd unit (repeat) whose journal to follow; default kubelet and container runtimes.
    #[arg(long = "journal-unit", value_name = "UNIT")]
    journal_units: Vec<String>,
    /// File that keeps the journal cursor between runs.
    #[arg(long, value_name = "FILE")]
    journal_cursor: Option<PathBuf>,
    /// OTLP/gRPC address of the OTLP receiver ("off" turns it off).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317")]
    otlp_grpc: String,
    /// OTLP/HTTP address of the OTLP receiver ("off" turns it off).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318")]
    otlp_http: String,
}

/// An address option that may be "off".
fn address(value: &str, what: &str) -> Result<Option<std::net::SocketAddr>> {
    if value == "off" {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .with_context(|| format!("{what} {value:?} is not host:port (or off)"))
}

impl LiveArgs {
    fn options(self, config: &config::Config) -> Result<live::LiveOptions> {
        let mut collectors = if self.collectors.is_empty() {
            config.collectors.enabled.clone()
        } else {
            self.collectors
        };
        if self.kubelet_interval == 0 {
            collectors.retain(|c| c != "kubelet");
        }
        let mut journal = JournalConfig {
            cursor_file: self.journal_cursor,
            ..JournalConfig::default()
        };
        if !self.journal_units.is_empty() {
            journal.units = self.journal_units;
        }
        Ok(live::LiveOptions {
            collectors,
            namespaces: self.namespaces,
            kubelet_interval: Duration::from_secs(self.kubelet_interval.max(1)),
            etcd_endpoints: self.etcd,
            dns_netns: self.dns_netns,
            cni_conf_dir: self.cni_conf_dir,
            journal,
            otlp: tapio_collectors::otlp_receiver::OtlpConfig {
                grpc: address(&self.otlp_grpc, "--otlp-grpc")?,
                http: address(&self.otlp_http, "--otlp-http")?,
            },
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tapio: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config = match &cli.config {
        Some(path) => config::load(path)?,
        None => config::Config::default(),
    };
    match cli.command {
        Command::Analyze { file, format } => analyze(&file, format, &config),
        Command::Eval { dir, format } => eval(&dir, format),
        Command::Record {
            output,
            live,
            duration,
            rotate_mib,
            keep,
        } => {
            check_collectors(&live.collectors)?;
            let options = live.options(&config)?;
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            let recorded = runtime.block_on(tapio_interfaces::record::record(
                &output,
                &options,
                duration.map(Duration::from_secs),
                rotate_mib.map(|mib| tapio_interfaces::rotation::Rotation {
                    max_bytes: mib << 20,
                    keep,
                }),
            ))?;
            eprintln!("recorded {recorded} lines to {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            live,
            record,
            interval,
            duration,
            pipeline,
            format,
        } => {
            check_collectors(&live.collectors)?;
            let publishing = pipeline.is_some();
            let destination = match pipeline {
                Some(url) => {
                    let mut bus = tapio_integrations::bus::nats::NatsBusConfig::new(&url);
                    bus.max_in_flight = config.collectors.buffer_size;
                    bus.partitions = config.pipeline.partitions;
                    run::Destination::Publish(bus)
                }
                None => run::Destination::Analyse,
            };
            let options = run::RunOptions {
                live: live.options(&config)?,
                record,
                rotation: None,
                analyze_every: Duration::from_secs(interval.max(1)),
                duration: duration.map(Duration::from_secs),
                destination,
            };
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            let mut n = 0;
            let report = runtime.block_on(run::run(options, |insight| {
                if matches!(format, Format::Text) {
                    n += 1;
                    let mut text = String::new();
                    render::insight(&mut text, n, insight);
                    print!("{text}");
                    let _ = std::io::stdout().flush();
                }
            }))?;
            if matches!(format, Format::Json) {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if publishing {
                eprintln!(
                    "{} lines ({} rejected), {} observations published",
                    report.stats.lines, report.stats.rejected, report.stats.events
                );
            } else {
                eprintln!(
                    "{} lines ({} rejected), {} events, {} insights",
                    report.stats.lines,
                    report.stats.rejected,
                    report.stats.events,
                    report.insights.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Insights {
            server,
            follow,
            format,
        } => {
            let server = server.server()?;
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            if !follow {
                let report = runtime.block_on(server.report())?;
                return print(format, &report, || render::report(&report));
            }
            let mut n = 0;
            runtime.block_on(server.follow(|insight| {
                n += 1;
                let mut out = String::new();
                match format {
                    Format::Text => render::insight(&mut out, n, &insight),
                    Format::Json => {
                        out = serde_json::to_string(&insight).unwrap_or_default();
                        out.push('\n');
                    }
                }
                print!("{out}");
                let _ = std::io::stdout().flush();
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain {
            target,
            recording,
            server,
            format,
        } => {
            let Some((namespace, name)) = target.split_once('/') else {
                anyhow::bail!("{target:?} is not NAMESPACE/NAME");
            };
            let mut report = match recording {
                Some(file) => analyze_file(&file, &config)?.report,
                None => {
                    let server = server.server()?;
                    let runtime =
                        tokio::runtime::Runtime::new().context("cannot start the runtime")?;
                    runtime.block_on(server.report())?
                }
            };
            report
                .insights
                .retain(|i| client::concerns(i, namespace, name));
            if report.insights.is_empty() {
                eprintln!("no incident explains {target}: nothing Tapio saw points at it");
                return Ok(ExitCode::from(3));
            }
            print(format, &report, || render::report(&report))
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tapio", &mut script);
            // A closed pipe (`| head`) is not an error of ours.
            match std::io::stdout().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Command::Publish {
            file,
            nats,
            stream_replicas,
            partitions,
        } => {
            let url = nats.unwrap_or_else(|| config.pipeline.endpoint.clone());
            anyhow::ensure!(
                url.starts_with("nats://"),
                "publish needs a nats:// URL (--nats or pipeline.endpoint), got {url:?}"
            );
            let mut bus = tapio_integrations::bus::nats::NatsBusConfig::new(&url);
            bus.max_in_flight = config.collectors.buffer_size;
            bus.replicas = stream_replicas;
            bus.partitions = partitions.unwrap_or(config.pipeline.partitions);
            let input = open_input(&file)
                .with_context(|| format!("cannot open recording {}", file.display()))?;
            let name = file.display().to_string();
            let on_error = Box::new(move |e: &tapio_collectors::recording::LineError| {
                eprintln!("warning: {name}:{}: {}", e.line, e.detail)
            });
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            let published = runtime.block_on(tapio_interfaces::publish::publish_recording(
                input, &bus, on_error,
            ))?;
            eprintln!(
                "published {} observations to {url} ({} duplicates dropped by JetStream, {} rejected lines)",
                published.observations, published.duplicates, published.rejected_lines
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate { output, shape } => {
            let mut writer = tapio_collectors::recording::RecordingWriter::create(&output)
                .with_context(|| format!("cannot create {}", output.display()))?;
            let generated = generate::generate(&shape, &mut writer)?;
            writer.finish()?;
            eprintln!(
                "wrote {} lines, {} deployments to {}",
                generated.lines,
                generated.deployments,
                output.display()
            );
            for (root, what) in &generated.incidents {
                eprintln!("incident: {root}: {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Rejects unknown collector names before anything starts.
fn check_collectors(names: &[String]) -> Result<()> {
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !config::COLLECTORS.contains(&n.as_str()))
        .collect();
    anyhow::ensure!(
        unknown.is_empty(),
        "unknown collector(s) {unknown:?}; known: {}",
        config::COLLECTORS.join(", ")
    );
    Ok(())
}

fn eval(dir: &Path, format: Format) -> Result<ExitCode> {
    let report = eval::evaluate(dir, |c| {
        eprintln!(
            "{}: rank {} ({:.0} ms)",
            c.case,
            c.rank.map_or("-".to_owned(), |r| r.to_string()),
            c.elapsed_ms
        );
    })?;
    print(format, &report, || eval::render(&report))
}

/// Prints `value` as JSON, or the text `render` makes of it.
fn print<T: serde::Serialize>(
    format: Format,
    value: &T,
    render: impl FnOnce() -> String,
) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, value)?;
            writeln!(stdout)?;
        }
        Format::Text => write!(stdout, "{}", render())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn analyze(file: &Path, format: Format, config: &config::Config) -> Result<ExitCode> {
    let analysed = analyze_file(file, config)?;
    print(format, &analysed.report, || {
        render::report(&analysed.report)
    })
}

/// A progress bar for reading `file`, when standard error is a terminal and the file is
/// big enough for one to help.
fn progress_bar(file: &Path) -> Option<indicatif::ProgressBar> {
    const WORTH_A_BAR: u64 = 16 << 20;
    if !std::io::stderr().is_terminal() || file == Path::new("-") {
        return None;
    }
    let size = std::fs::metadata(file).ok()?.len();
    if size < WORTH_A_BAR {
        return None;
    }
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reading and correlating {bar:30} {bytes}/{total_bytes} ({eta} left)",
        )
        .ok()?,
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

/// Analyses a recording, reporting rejected lines and skipped kinds on standard error.
fn analyze_file(file: &Path, config: &config::Config) -> Result<pipeline::Analysed> {
    let progress = progress_bar(file);
    let input = match &progress {
        // On a terminal: the bar follows the bytes read from the file (compressed or not).
        Some(bar) => File::open(file)
            .map(|f| Box::new(bar.wrap_read(f)) as Box<dyn std::io::Read + Send>)
            .and_then(decompress),
        None => open_input(file),
    }
    .with_context(|| format!("cannot open recording {}", file.display()))?;
    let name = file.display().to_string();
    let printed = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&printed);
    let on_error = Box::new(move |e: &tapio_collectors::recording::LineError| {
        if counter.fetch_add(1, Ordering::Relaxed) < ERRORS_PRINTED {
            eprintln!("warning: {name}:{}: {}", e.line, e.detail);
        }
    });
    let batches = (config.collectors.buffer_size / 64).max(4);
    let analysed = pipeline::analyze(input, ReaderOptions::default(), batches, on_error);
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let read = &analysed.replay.read;
    let rejected = read.rejected_total();
    if rejected > ERRORS_PRINTED {
        eprintln!(
            "warning: {} more rejected lines not shown",
            rejected - ERRORS_PRINTED
        );
    }
    if rejected > 0 || !read.unknown_sources.is_empty() || read.late > 0 {
        eprintln!("summary: {read}");
    }
    let unknown_kinds = &analysed.replay.kubeapi.unknown_kinds;
    if !unknown_kinds.is_empty() {
        let kinds: Vec<String> = unknown_kinds
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        eprintln!(
            "note: kubeapi objects of kinds Tapio does not model were skipped: {}",
            kinds.join(", ")
        );
    }
    Ok(analysed)
}
