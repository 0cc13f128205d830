//! The CNI collector: reads the node's CNI network configurations and watches the
//! allocations of their `host-local` IP pools (one file per address under the pool's
//! data directory, written by the IPAM plugin itself), writing a `cni` line for every
//! address handed to a pod sandbox or given back, and an error line, in the words the
//! plugin uses when it fails, as soon as a pool has no address left. [`links`] sees the
//! pod network interfaces the plugins create and remove.

pub mod links;

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tapio_domain::Source;

use super::{LineSender, LiveLine};

/// Settings of the CNI collector.
#[derive(Debug, Clone)]
pub struct CniConfig {
    pub node: String,
    /// Where the runtime reads CNI configurations.
    pub conf_dir: PathBuf,
    /// How often the pools are read.
    pub poll: Duration,
}

impl Default for CniConfig {
    fn default() -> Self {
        Self {
            node: super::node_name(),
            conf_dir: PathBuf::from("/etc/cni/net.d"),
            poll: Duration::from_secs(1),
        }
    }
}

/// Why the CNI collector cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CniError {
    #[error("cannot read CNI configurations in {path}: {source}")]
    ConfDir {
        path: String,
        source: std::io::Error,
    },
    #[error("no CNI network in {0} uses host-local IPAM")]
    NoPools(String),
}

/// A host-local IPv4 pool of one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub network: String,
    /// Where host-local keeps the allocations (`<dataDir>/<network>`).
    pub dir: PathBuf,
    /// Inclusive address ranges.
    pub ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
}

impl Pool {
    /// How many addresses the ranges hold.
    pub fn capacity(&self) -> u64 {
        self.ranges
            .iter()
            .map(|(a, b)| u64::from(u32::from(*b)).saturating_sub(u64::from(u32::from(*a))) + 1)
            .sum()
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        self.ranges.iter().any(|(a, b)| (*a..=*b).contains(&ip))
    }

    /// The ranges as host-local names them in its errors (`a-b,c-d`).
    fn describe(&self) -> String {
        let ranges: Vec<String> = self
            .ranges
            .iter()
            .map(|(a, b)| format!("{a}-{b}"))
            .collect();
        ranges.join(",")
    }
}

#[derive(Deserialize)]
struct NetConf {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    plugins: Vec<PluginConf>,
    #[serde(flatten)]
    single: PluginConf,
}

#[derive(Deserialize, Default)]
struct PluginConf {
    #[serde(default)]
    ipam: Option<Ipam>,
}

#[derive(Deserialize, Default)]
struct Ipam {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default, rename = "dataDir")]
    data_dir: Option<PathBuf>,
    /// `ranges: [[{subnet, rangeStart?, rangeEnd?}]]` (a range set per entry).
    #[serde(default)]
    ranges: Vec<Vec<RangeConf>>,
    /// The older single-range form.
    #[serde(flatten)]
    legacy: RangeConf,
}

#[derive(Deserialize, Default)]
struct RangeConf {
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default, rename = "rangeStart")]
    start: Option<Ipv4Addr>,
    #[serde(default, rename = "rangeEnd")]
    end: Option<Ipv4Addr>,
}

/// The usable range of an IPv4 range entry, as host-local computes it: the subnet
/// without its network address, its first address (the gateway) and its broadcast,
/// narrowed by `rangeStart`/`rangeEnd`. `None` for IPv6 or a malformed subnet.
fn usable(range: &RangeConf) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let (addr, bits) = range.subnet.as_deref()?.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let bits: u32 = bits.parse().ok().filter(|b| *b <= 30)?;
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    let network = u32::from(addr) & mask;
    let broadcast = network | !mask;
    let start = range.start.map_or(network + 2, u32::from);
    let end = range.end.map_or(broadcast - 1, u32::from);
    (start <= end).then(|| (Ipv4Addr::from(start), Ipv4Addr::from(end)))
}

/// The host-local pools of one configuration file's text (`.conf` or `.conflist`).
pub fn pools_of(text: &str) -> Vec<Pool> {
    let Ok(conf) = serde_json::from_str::<NetConf>(text) else {
        return Vec::new();
    };
    let Some(network) = conf.name else {
        return Vec::new();
    };
    let plugins = if conf.plugins.is_empty() {
        vec![conf.single]
    } else {
        conf.plugins
    };
    plugins
        .into_iter()
        .filter_map(|p| p.ipam)
        .filter(|ipam| ipam.kind == "host-local")
        .map(|ipam| {
            let mut ranges: Vec<_> = ipam.ranges.iter().flatten().filter_map(usable).collect();
            ranges.extend(usable(&ipam.legacy));
            let data_dir = ipam
                .data_dir
                .unwrap_or_else(|| PathBuf::from("/var/lib/cni/networks"));
            Pool {
                dir: data_dir.join(&network),
                network: network.clone(),
                ranges,
            }
        })
        .filter(|p| !p.ranges.is_empty())
        .collect()
}

/// Every host-local pool configured in `conf_dir`.
pub fn discover_pools(conf_dir: &Path) -> Result<Vec<Pool>, CniError> {
    let entries = fs::read_dir(conf_dir).map_err(|source| CniError::ConfDir {
        path: conf_dir.display().to_string(),
        source,
    })?;
    let mut pools = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_conf = path
            .extension()
            .is_some_and(|e| e == "conf" || e == "conflist" || e == "json");
        if let (true, Ok(text)) = (is_conf, fs::read_to_string(&path)) {
            pools.extend(pools_of(&text));
        }
    }
    if pools.is_empty() {
        return Err(CniError::NoPools(conf_dir.display().to_string()));
    }
    Ok(pools)
}

/// An address in use: the sandbox (container id) and interface it was given to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allocation {
    container_id: String,
    ifname: String,
}

/// The allocations of `pool` as host-local recorded them: a file named by the address,
/// holding the container id and, on its second line, the interface name.
fn allocations(pool: &Pool) -> BTreeMap<Ipv4Addr, Allocation> {
    let Ok(entries) = fs::read_dir(&pool.dir) else {
        return BTreeMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let ip: Ipv4Addr = e.file_name().to_str()?.parse().ok()?;
            let text = fs::read_to_string(e.path()).ok()?;
            let mut lines = text.lines();
            let container_id = lines.next()?.trim().to_owned();
            let ifname = lines.next().unwrap_or("").trim().to_owned();
            pool.contains(ip).then_some((
                ip,
                Allocation {
                    container_id,
                    ifname,
                },
            ))
        })
        .collect()
}

/// One `cni` line.
#[derive(Debug, Serialize)]
struct CniLine<'a> {
    node: &'a str,
    op: &'static str,
    network: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    container_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    ifname: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ips: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Reads the pools every `config.poll` until `shutdown` completes or `out` closes.
pub async fn watch(
    config: CniConfig,
    pools: Vec<Pool>,
    out: LineSender,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut known: Vec<BTreeMap<Ipv4Addr, Allocation>> = vec![BTreeMap::new(); pools.len()];
    let mut exhausted = vec![false; pools.len()];
    let mut ticker = tokio::time::interval(config.poll);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        for (i, pool) in pools.iter().enumerate() {
            let now = allocations(pool);
            let mut lines = Vec::new();
            for (ip, a) in &now {
                if known[i].get(ip) != Some(a) {
                    lines.push(line(&config.node, "ADD", pool, a, Some(*ip), None));
                }
            }
            for (ip, a) in &known[i] {
                if !now.contains_key(ip) {
                    lines.push(line(&config.node, "DEL", pool, a, Some(*ip), None));
                }
            }
            let full = now.len() as u64 >= pool.capacity();
            if full && !exhausted[i] {
                let error = format!(
                    "failed to allocate for range 0: no IP addresses available in range set: {} ({} of {} in use)",
                    pool.describe(),
                    now.len(),
                    pool.capacity()
                );
                let none = Allocation {
                    container_id: String::new(),
                    ifname: String::new(),
                };
                lines.push(line(&config.node, "ADD", pool, &none, None, Some(error)));
            }
            exhausted[i] = full;
            known[i] = now;
            for l in lines.into_iter().flatten() {
                if out.send(l).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn line(
    node: &str,
    op: &'static str,
    pool: &Pool,
    a: &Allocation,
    ip: Option<Ipv4Addr>,
    error: Option<String>,
) -> Option<LiveLine> {
    let data = CniLine {
        node,
        op,
        network: &pool.network,
        container_id: &a.container_id,
        ifname: &a.ifname,
        ips: ip.map(|ip| ip.to_string()).into_iter().collect(),
        error,
    };
    Some(LiveLine {
        ts: Timestamp::now(),
        source: Source::Cni,
        data: serde_json::value::to_raw_value(&data).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn conflists_and_single_confs_name_their_pools() {
        let list = r#"{"cniVersion":"1.0.0","name":"k8s-pod-network","plugins":[
            {"type":"bridge","ipam":{"type":"host-local","dataDir":"/tmp/x",
              "ranges":[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00::/64"}]]}},
            {"type":"portmap"}]}"#;
        let pools = pools_of(list);
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].dir, PathBuf::from("/tmp/x/k8s-pod-network"));
        assert_eq!(
            pools[0].ranges,
            [(
                "10.244.1.2".parse().unwrap(),
                "10.244.1.254".parse().unwrap()
            )]
        );
        assert_eq!(pools[0].capacity(), 253);
        let single = r#"{"name":"n","type":"bridge","ipam":{"type":"host-local",
            "subnet":"10.1.0.0/29","rangeStart":"10.1.0.4","rangeEnd":"10.1.0.5"}}"#;
        assert_eq!(pools_of(single)[0].capacity(), 2);
        assert!(
            pools_of(r#"{"name":"n","type":"calico","ipam":{"type":"calico-ipam"}}"#).is_empty()
        );
    }

    proptest! {
        #[test]
        fn any_configuration_is_read_without_panicking(text in ".{0,300}", subnet in "[0-9./]{0,20}") {
            let _ = pools_of(&text);
            let conf = format!(r#"{{"name":"n","ipam":{{"type":"host-local","subnet":"{subnet}"}}}}"#);
            for p in pools_of(&conf) {
                prop_assert!(p.capacity() >= 1);
            }
        }
    }
}
