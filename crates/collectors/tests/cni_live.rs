//! The CNI collector against the real CNI plugins (Debian `containernetworking-plugins`:
//! bridge + host-local) run the way a container runtime runs them, for sandboxes in real
//! network namespaces, with a two-address range so the pool runs out; and the veths they
//! create and remove, seen through real rtnetlink notifications. Needs root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tapio_collectors::node_agents::cni::links::watch_links;
use tapio_collectors::node_agents::cni::{discover_pools, watch, CniConfig};
use tapio_collectors::node_agents::LiveLine;
use tapio_collectors::node_sources::parse_cni;
use tapio_collectors::recording::Record;
use tapio_domain::{EventKind, Observation, Source};
use tokio::sync::mpsc;

const PLUGINS: &str = "/usr/lib/cni";

/// A sandbox's network namespace, and the bridge the plugin makes; removed on drop.
struct Sandboxes {
    names: Vec<String>,
    bridge: String,
    conf: String,
}

impl Sandboxes {
    fn netns(&self, i: usize) -> PathBuf {
        Path::new("/var/run/netns").join(&self.names[i])
    }

    /// Runs the bridge plugin as a runtime does; its standard output (result or error).
    fn cni(&self, command: &str, i: usize) -> serde_json::Value {
        let mut child = Command::new(Path::new(PLUGINS).join("bridge"))
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", format!("sandbox-{i}"))
            .env("CNI_NETNS", self.netns(i))
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", PLUGINS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the CNI plugins are installed (containernetworking-plugins)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(self.conf.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }
}

impl Drop for Sandboxes {
    fn drop(&mut self) {
        for i in 0..self.names.len() {
            let _ = self.cni("DEL", i);
            let _ = Command::new("ip")
                .args(["netns", "del", &self.names[i]])
                .status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

async fn next(rx: &mut mpsc::Receiver<LiveLine>, what: &str) -> serde_json::Value {
    let line = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no cni line for {what} within 10 s"))
        .expect("the collector runs");
    serde_json::from_str(line.data.get()).unwrap()
}

#[tokio::test]
async fn allocations_releases_and_pool_exhaustion_from_real_plugins() {
    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("tapio-cni-{id}"));
    let (conf_dir, data_dir) = (dir.join("net.d"), dir.join("ipam"));
    std::fs::create_dir_all(&conf_dir).unwrap();
    let network = format!("tapio-test-{id}");
    let bridge = format!("tbr{}", id % 100_000);
    let conf = serde_json::json!({
        "cniVersion": "1.0.0", "name": network, "type": "bridge", "bridge": bridge,
        "isGateway": true,
        "ipam": {"type": "host-local", "dataDir": data_dir,
                 "ranges": [[{"subnet": "10.99.0.0/29", "rangeStart": "10.99.0.2", "rangeEnd": "10.99.0.3"}]]}
    });
    let list = serde_json::json!({"cniVersion": "1.0.0", "name": network, "plugins": [
        {"type": "bridge", "bridge": bridge, "ipam": conf["ipam"]}, {"type": "portmap"}]});
    std::fs::write(conf_dir.join("10-test.conflist"), list.to_string()).unwrap();

    let pools = discover_pools(&conf_dir).unwrap();
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].capacity(), 2);
    let (tx, mut rx) = mpsc::channel(64);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = CniConfig {
        node: "cni-test-node".into(),
        conf_dir: conf_dir.clone(),
        poll: Duration::from_millis(50),
    };
    let task = tokio::spawn(watch(config, pools, tx, async {
        let _ = stopped.await;
    }));

    let names: Vec<String> = (0..3).map(|i| format!("tapio-cni-{id}-{i}")).collect();
    for n in &names {
        assert!(Command::new("ip")
            .args(["netns", "add", n])
            .status()
            .unwrap()
            .success());
    }
    let sandboxes = Sandboxes {
        names,
        bridge,
        conf: conf.to_string(),
    };

    let (links_tx, mut links_rx) = mpsc::channel(64);
    let links = watch_links("cni-test-node", links_tx).expect("rtnetlink (needs root)");
    let first = sandboxes.cni("ADD", 0);
    assert_eq!(first["ips"][0]["address"], "10.99.0.2/29", "{first}");
    // The host side of the sandbox's veth pair, on the plugin's bridge.
    let veth = first["interfaces"][1]["name"].as_str().unwrap().to_owned();
    let link = loop {
        let l = next(&mut links_rx, "the veth").await;
        if l["ifname"] == veth.as_str() {
            break l;
        }
    };
    assert_eq!(
        (link["op"].as_str(), link["master"].as_str()),
        (Some("ADD"), Some(sandboxes.bridge.as_str()))
    );
    assert!(link["netnsid"].is_i64(), "{link}");
    let add = next(&mut rx, "the first ADD").await;
    assert_eq!(
        (
            add["op"].as_str(),
            add["container_id"].as_str(),
            add["ips"][0].as_str(),
            add["ifname"].as_str()
        ),
        (
            Some("ADD"),
            Some("sandbox-0"),
            Some("10.99.0.2"),
            Some("eth0")
        )
    );
    sandboxes.cni("ADD", 1);
    let add = next(&mut rx, "the second ADD").await;
    assert_eq!(add["container_id"], "sandbox-1");
    // The pool is full: the collector says so before any sandbox fails.
    let full = next(&mut rx, "exhaustion").await;
    let error = full["error"].as_str().expect("an error line");
    let failed = sandboxes.cni("ADD", 2);
    let plugin_error = failed["msg"].as_str().expect("the third ADD fails");
    assert!(
        error.starts_with(plugin_error),
        "{error:?} vs the plugin's {plugin_error:?}"
    );

    // The same parser as replay makes it a CNI failure of the node.
    let record = Record::live(Source::Cni, &full);
    let mut out = Vec::new();
    parse_cni(&record, &mut out).unwrap();
    assert!(
        matches!(&out[..], [Observation::Event(e)] if matches!(e.kind, EventKind::CniFailure { .. })
            && e.entity.name == "cni-test-node"),
        "{out:?}"
    );

    sandboxes.cni("DEL", 0);
    let del = next(&mut rx, "the DEL").await;
    assert_eq!(
        (del["op"].as_str(), del["container_id"].as_str()),
        (Some("DEL"), Some("sandbox-0"))
    );
    let gone = loop {
        let l = next(&mut links_rx, "the veth's removal").await;
        if l["ifname"] == veth.as_str() {
            break l;
        }
    };
    assert_eq!(gone["op"], "DEL");
    drop(links);
    stop.send(()).unwrap();
    task.await.unwrap();
    drop(sandboxes);
    std::fs::remove_dir_all(&dir).unwrap();
}
