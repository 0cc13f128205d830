//! Pod network setup and teardown as the kernel announces it: the host side of every
//! veth pair a CNI plugin creates for a sandbox, and removes with it, read from rtnetlink
//! link notifications (parsed with `netlink-packet-route`).

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use jiff::Timestamp;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use serde::Serialize;
use tapio_domain::Source;

use crate::node_agents::{send_from_thread, LineSender, LiveLine};

/// The rtnetlink multicast group of link changes (`RTNLGRP_LINK`).
const RTNLGRP_LINK: u32 = 1;

/// Why link notifications cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot subscribe to rtnetlink link notifications: {0}")]
pub struct LinksError(#[from] io::Error);

/// The running link watcher; dropping it stops it.
pub struct LinksHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for LinksHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A veth seen appearing or going away: a `cni` line.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct LinkLine {
    pub node: String,
    pub op: &'static str,
    pub ifname: String,
    pub link: &'static str,
    /// The peer's network namespace id (the sandbox's), as this namespace numbers it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netnsid: Option<i32>,
    /// The bridge the host side is attached to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
}

/// Turns link notifications into lines: one `ADD` when a veth first has carrier (both
/// ends up: the plugin has finished with it, attached it to its bridge and configured
/// the sandbox side), one `DEL` when it goes. The kernel sends many `NEWLINK`s per link
/// as its state changes; a veth that never comes up makes no `ADD`.
#[derive(Debug, Default)]
pub struct LinkTracker {
    node: String,
    /// Interface index -> name, of every link seen (veths and the bridges they join).
    names: HashMap<u32, String>,
    veths: HashMap<u32, String>,
}

impl LinkTracker {
    pub fn new(node: &str) -> Self {
        Self {
            node: node.to_owned(),
            ..Self::default()
        }
    }

    /// The line one netlink message makes, if any.
    pub fn message(&mut self, message: &RouteNetlinkMessage) -> Option<LinkLine> {
        match message {
            RouteNetlinkMessage::NewLink(link) => self.new_link(link),
            RouteNetlinkMessage::DelLink(link) => {
                let index = link.header.index;
                self.names.remove(&index);
                let ifname = self.veths.remove(&index)?;
                Some(self.line("DEL", ifname, None, None))
            }
            _ => None,
        }
    }

    fn new_link(&mut self, link: &LinkMessage) -> Option<LinkLine> {
        let index = link.header.index;
        let mut name = None;
        let mut veth = false;
        let mut netnsid = None;
        let mut master = None;
        for attribute in &link.attributes {
            match attribute {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::LinkInfo(infos) => {
                    veth |= infos
                        .iter()
                        .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Veth)));
                }
                LinkAttribute::LinkNetNsId(id) => netnsid = Some(*id),
                LinkAttribute::Controller(m) => master = Some(*m),
                _ => {}
            }
        }
        let name = name?;
        self.names.insert(index, name.clone());
        let carrier = link.header.flags.contains(LinkFlags::LowerUp);
        if !veth || !carrier || self.veths.contains_key(&index) {
            return None;
        }
        self.veths.insert(index, name.clone());
        let master = master.and_then(|m| self.names.get(&m).cloned());
        Some(self.line("ADD", name, netnsid, master))
    }

    fn line(
        &self,
        op: &'static str,
        ifname: String,
        netnsid: Option<i32>,
        master: Option<String>,
    ) -> LinkLine {
        LinkLine {
            node: self.node.clone(),
            op,
            ifname,
            link: "veth",
            netnsid,
            master,
        }
    }
}

/// The netlink messages in one datagram.
pub fn messages(datagram: &[u8]) -> Vec<RouteNetlinkMessage> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < datagram.len() {
        let Ok(message) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&datagram[at..])
        else {
            break;
        };
        let len = message.header.length as usize;
        if let NetlinkPayload::InnerMessage(inner) = message.payload {
            out.push(inner);
        }
        if len == 0 {
            break;
        }
        at += (len + 3) & !3;
    }
    out
}

/// Starts watching link notifications in this network namespace.
pub fn watch_links(node: &str, out: LineSender) -> Result<LinksHandle, LinksError> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind(&SocketAddr::new(0, 0))?;
    socket.add_membership(RTNLGRP_LINK)?;
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: setsockopt with a valid timeval for SO_RCVTIMEO.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error().into());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (stop, node) = (stop.clone(), node.to_owned());
        std::thread::Builder::new()
            .name("tapio-links".into())
            .spawn(move || {
                let mut tracker = LinkTracker::new(&node);
                let mut buf = Vec::with_capacity(1 << 16);
                while !stop.load(Ordering::Relaxed) {
                    buf.clear();
                    if socket.recv(&mut buf, 0).is_err() {
                        continue; // the receive timeout: look at `stop` again
                    }
                    for message in messages(&buf) {
                        let Some(line) = tracker.message(&message) else {
                            continue;
                        };
                        let Ok(data) = serde_json::value::to_raw_value(&line) else {
                            continue;
                        };
                        let line = LiveLine {
                            ts: Timestamp::now(),
                            source: Source::Cni,
                            data,
                        };
                        if !send_from_thread(&out, line, &stop) {
                            return;
                        }
                    }
                }
            })?
    };
    Ok(LinksHandle {
        stop,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_datagram_is_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut tracker = LinkTracker::new("n");
            for m in messages(&bytes) {
                let _ = tracker.message(&m);
            }
        }
    }
}
